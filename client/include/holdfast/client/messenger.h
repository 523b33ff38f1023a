// Messenger: one device of a Holdfast account, as its user sees it. It registers, keeps the
// keys, contacts, conversations and groups in a LocalStore encrypted at rest, and talks to
// holdfastd (docs/wire.md). Every message is end-to-end encrypted with the Signal Protocol;
// what the server relays and stores is ciphertext. Grammar and flows: docs/client.md.
//
// A Messenger is used by one thread at a time. It holds the home directory's lock for its
// lifetime, so a second process on the same home gets kUnavailable ("in use").
#ifndef HOLDFAST_CLIENT_MESSENGER_H_
#define HOLDFAST_CLIENT_MESSENGER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/client/local_store.h"
#include "holdfast/common/result.h"
#include "holdfast/crypto/pwhash.h"
#include "holdfast/signal/fingerprint.h"

namespace holdfast::client {

struct MessengerOptions {
  // home is the directory of this device's state (created if missing, mode 0700).
  std::string home;
  // server_url is ws://HOST:PORT (loopback only) or wss://HOST:PORT. Needed the first
  // time; remembered afterwards. A different URL later is kInvalidArgument.
  std::string server_url;
  // tls_pin, when set, is the SHA-256 the server's certificate must have. Otherwise the
  // certificate seen at first contact is pinned, and a different one later is refused.
  std::string tls_pin;
  StoreSecret secret;
  crypto::Argon2idParams kdf = crypto::kArgon2idInteractive;
  std::chrono::milliseconds timeout{10000};
  std::string device_name = "holdfast";
  // signed_prekey_rotation is how old the signed prekey may get before Receive replaces it.
  std::chrono::milliseconds signed_prekey_rotation{std::chrono::hours(24 * 7)};
};

// Errors a person can act on, beyond the common codes:
//   kUntrustedIdentity  a contact's safety number changed; Trust() it before sending
//   kUnavailable        server unreachable (or the home is in use by another process)
//   kNotFound           no such user, or (on most calls) this device is not registered
//   kWrongSecret        wrong passphrase or key file

struct Contact {
  std::string phone;
  std::string account_id;  // 16 bytes
  std::vector<uint32_t> devices;
  bool verified = false;
  bool identity_changed = false;  // a new safety number waits for the user's consent
  bool sealed = false;            // we know their access key: messages go sealed
};

struct Message {
  std::string conversation;  // a phone number, or "group:<hex id>"
  std::string sender;        // phone; empty for our own messages
  std::string text;
  int64_t timestamp = 0;     // the sender's clock, ms; with the sender it names the message
  int64_t received_ms = 0;
  bool outgoing = false;
  enum class Status { kSent, kDelivered, kRead, kFailed };
  Status status = Status::kSent;  // outgoing
  bool read = false;              // incoming
  bool sealed = false;            // incoming, arrived with sealed sender
  bool notice = false;            // a notice (safety number change, group change, server)
  std::string id;                 // incoming: the envelope id in hex; outgoing: "out-<ts>"
};

struct Conversation {
  std::string id;
  std::string title;
  uint32_t unread = 0;
  int64_t last_ms = 0;
  std::string last_text;
};

struct Group {
  std::string id;  // 32 hex characters
  std::string name;
  std::vector<std::string> members;  // phones, ourselves excluded
  bool left = false;
};

struct DeviceEntry {
  uint32_t id = 0;
  std::string name;
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;
  bool current = false;
};

// Event is what Receive found, for the caller to show.
struct Event {
  enum class Kind {
    kMessage,          // a new message (message is set)
    kDelivered,        // an outgoing message was delivered (conversation, timestamp)
    kRead,             // ... was read
    kIdentityChanged,  // a contact's safety number changed (conversation = phone)
    kGroupUpdated,     // a group was created or changed (conversation = "group:<id>")
    kUndecryptable,    // a message could not be decrypted (conversation if known)
    kServerNotice,     // a notice from the server itself (message.text is its JSON)
    kDeviceLinked,     // a new device joined our account (message.text says which)
  };
  Kind kind = Kind::kMessage;
  std::string conversation;
  int64_t timestamp = 0;
  Message message;
};

struct SendResult {
  int64_t timestamp = 0;
  bool sealed = false;
  uint32_t devices = 0;  // device copies stored by the server
};

class Messenger {
 public:
  // Open opens (or creates) the device's local store under options.home. A wrong secret is
  // kWrongSecret; nothing is sent to the server.
  static Result<std::unique_ptr<Messenger>> Open(const MessengerOptions& options);
  ~Messenger();
  Messenger(const Messenger&) = delete;
  Messenger& operator=(const Messenger&) = delete;

  // Register asks the server to send a code to `phone` (E.164).
  Result<void> Register(std::string_view phone);
  // Verify completes registration with the code: it creates this device's credential and
  // Signal identity, signed prekey and one-time prekeys and uploads them.
  Result<void> Verify(std::string_view code);
  bool registered() const;
  std::string phone() const;
  uint32_t device_id() const;

  // SendText sends `text` to the contact with phone number `phone`, to every device of
  // theirs and (as a sync message) to our other devices.
  Result<SendResult> SendText(std::string_view phone, std::string_view text);
  // Receive collects what the server has queued (waiting up to `wait` for more once the
  // queue is drained), decrypts and stores it, acks it, and sends delivery receipts.
  Result<std::vector<Event>> Receive(std::chrono::milliseconds wait);
  // MarkRead marks a conversation's messages read and sends read receipts for them.
  Result<void> MarkRead(std::string_view conversation);

  Result<std::vector<Contact>> Contacts();
  // SafetyNumber is the 60-digit number both users compare (kNotFound for an unknown
  // contact). With a pending identity change it is the new number.
  Result<signal::SafetyNumber> SafetyNumber(std::string_view phone);
  // Trust accepts the contact's identity key (after a change) and marks it verified. With
  // `compared_safety_number` (the 60 digits the user compared), it accepts only if that is
  // still the safety number: a key that changed again meanwhile is kUntrustedIdentity.
  Result<void> Trust(std::string_view phone, std::string_view compared_safety_number = "");

  Result<std::vector<Conversation>> Conversations();
  // History returns the last `limit` messages of a conversation, oldest first.
  Result<std::vector<Message>> History(std::string_view conversation, size_t limit = 100);

  // Groups. CreateGroup returns the group id.
  Result<std::string> CreateGroup(std::string_view name, const std::vector<std::string>& phones);
  Result<void> AddMembers(std::string_view group_id, const std::vector<std::string>& phones);
  // RemoveMembers removes members and rotates our sender key, so that they cannot read
  // what we send after.
  Result<void> RemoveMembers(std::string_view group_id, const std::vector<std::string>& phones);
  Result<SendResult> SendGroupText(std::string_view group_id, std::string_view text);
  Result<std::vector<Group>> Groups();

  // Devices of our account.
  Result<std::vector<DeviceEntry>> Devices();
  // CreateLinkCode (on a registered device) returns a code to type on a new device: the
  // server's single-use link code and a secret the server never sees, "CODE-SECRET". This
  // device must then Receive while the new one links: it answers the new device's request
  // with the account's identity key, sealed under the secret.
  Result<std::string> CreateLinkCode();
  // Link makes this new device part of an account, with a code from CreateLinkCode, waiting
  // up to `wait` for the other device's answer; then it uploads its own prekeys.
  Result<void> Link(std::string_view link_code, std::chrono::milliseconds wait);
  // RemoveDevice unlinks a device of our account (the primary removes any; a linked device
  // only itself).
  Result<void> RemoveDevice(uint32_t device_id);

  // The server's TLS certificate fingerprint as pinned ("" for ws://).
  std::string server_pin() const;

  class Impl;

 private:
  explicit Messenger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// PersonError turns an error from a Messenger call into a sentence for people.
std::string PersonError(const Error& e);

}  // namespace holdfast::client

#endif  // HOLDFAST_CLIENT_MESSENGER_H_
