// LibsignalParty: one libsignal-protocol-c user with in-memory stores, for interop tests and
// benchmarks of the Signal Protocol. Keys and messages cross the boundary as bytes, so the
// tests exercise the wire formats exactly. Test-only.
#ifndef HOLDFAST_TESTING_LIBSIGNAL_PARTY_H_
#define HOLDFAST_TESTING_LIBSIGNAL_PARTY_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "holdfast/common/bytes.h"
#include "holdfast/testing/libsignal_peer.h"

struct signal_protocol_store_context;

namespace holdfast::testing {

// Public halves of a prekey bundle, in Signal's 33-byte key form.
struct PeerBundle {
  uint32_t registration_id = 0;
  uint32_t pre_key_id = 0;  // 0: no one-time prekey
  Bytes pre_key;
  uint32_t signed_pre_key_id = 0;
  Bytes signed_pre_key;
  Bytes signed_pre_key_signature;
  Bytes identity_key;
};

struct PeerMessage {
  int type = 0;  // CIPHERTEXT_PREKEY_TYPE (3) or CIPHERTEXT_SIGNAL_TYPE (2)
  Bytes body;
};

class LibsignalParty {
 public:
  explicit LibsignalParty(uint32_t registration_id);
  ~LibsignalParty();
  LibsignalParty(const LibsignalParty&) = delete;
  LibsignalParty& operator=(const LibsignalParty&) = delete;

  // MakeBundle creates and stores a signed prekey (id 1) and a one-time prekey (`pre_key_id`,
  // none when 0), and returns the public bundle.
  PeerBundle MakeBundle(uint32_t pre_key_id);
  // The return values below are libsignal's: 0 (SG_SUCCESS) or a negative SG_ERR_*.
  int ProcessBundle(const std::string& peer, const PeerBundle& bundle);
  int Encrypt(const std::string& peer, ByteSpan plaintext, PeerMessage* out);
  int Decrypt(const std::string& peer, const PeerMessage& message, Bytes* plaintext);
  // Sender Keys: `self` names this party as a sender in `group`.
  int GroupCreate(const std::string& group, const std::string& self, Bytes* distribution);
  int GroupProcess(const std::string& group, const std::string& sender, ByteSpan distribution);
  int GroupEncrypt(const std::string& group, const std::string& self, ByteSpan plaintext,
                   Bytes* out);
  int GroupDecrypt(const std::string& group, const std::string& sender, ByteSpan message,
                   Bytes* plaintext);

  // Untrust makes the next identity check for `peer` fail (an identity change).
  void ForgetIdentities() {
    identities_.clear();
    strict_identities_ = true;
  }

  // Store contents, public for the callbacks.
  std::map<std::string, Bytes> sessions_;
  std::map<uint32_t, Bytes> pre_keys_;
  std::map<uint32_t, Bytes> signed_pre_keys_;
  std::map<std::string, Bytes> identities_;
  std::map<std::string, Bytes> sender_keys_;
  bool strict_identities_ = false;
  Bytes identity_public_;
  Bytes identity_private_;
  uint32_t registration_id_;

 private:
  LibsignalPeer peer_;  // the signal_context with Holdfast's crypto provider
  signal_protocol_store_context* store_ = nullptr;
  void* identity_pair_ = nullptr;  // ratchet_identity_key_pair*
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTING_LIBSIGNAL_PARTY_H_
