#include "holdfast/client/messenger.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "content.h"
#include "holdfast/common/encoding.h"
#include "holdfast/common/phone.h"
#include "holdfast/common/transaction.h"
#include "holdfast/common/utf8.h"
#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/certificate.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/random.h"
#include "holdfast/signal/messenger.h"
#include "holdfast/signal/sealed_sender.h"
#include "holdfast/signal/wire.h"
#include "holdfast/wire/client.h"
#include "holdfast/wire/frame.h"
#include "proto/holdfast_content.pb.h"
#include "proto/local_records.pb.h"

namespace holdfast::client {
namespace {

namespace wpb = wire::pb;
namespace cpb = client::pb;

// Tables of the local store (the store hides their names and contents).
constexpr char kAccountTable[] = "account";
constexpr char kContactTable[] = "contact";
constexpr char kConversationTable[] = "conversation";
constexpr char kGroupTable[] = "group";
constexpr char kSeenTable[] = "seen";
constexpr char kOutgoingTable[] = "outgoing";  // sender timestamp -> conversation and key
constexpr char kLinkTable[] = "link";  // link codes shown, waiting for the new device
constexpr char kSelf[] = "self";

// Linking (docs/client.md "Linking a device"): provisioning envelopes start with this magic.
constexpr std::string_view kProvisionMagic{"HFPROV1\0", 8};
constexpr size_t kLinkSecretBytes = 16;
constexpr int64_t kLinkValidMs = 10 * 60 * 1000;
constexpr size_t kProvisionNonceBytes = 24;

constexpr uint32_t kPreKeysPerUpload = 100;        // the server's per-request limit
constexpr uint32_t kPreKeyRefillBelow = 20;         // refill when the server holds fewer
constexpr int64_t kMaintainEveryMs = 10 * 60 * 1000;
constexpr int64_t kCertificateRefreshMs = 3600 * 1000;  // renew an hour before expiry
constexpr int kSendAttempts = 4;
constexpr size_t kGroupIdBytes = 16;
constexpr size_t kMaxAcksPerRequest = 1000;
constexpr size_t kMaxEnvelopesPerReceive = 100000;
constexpr size_t kMaxTextBytes = 64 * 1024;
constexpr size_t kMaxGroupNameBytes = 128;
constexpr int kMaxGroupMembers = 1000;
// kMaxRevisionStep bounds how far one group update may move the revision, so that a
// member cannot freeze a group by jumping it to the end.
constexpr uint64_t kMaxRevisionStep = 1000;
// kMaxLocalPreKeys bounds the one-time prekeys kept, whatever the server says it holds.
constexpr size_t kMaxLocalPreKeys = 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Address(std::string_view account_id, uint32_t device) {
  return HexEncode(AsBytes(account_id)) + "." + std::to_string(device);
}

std::string GroupConversation(std::string_view group_id_hex) {
  return "group:" + std::string(group_id_hex);
}

std::string MessageTable(std::string_view conversation) {
  return "msg:" + std::string(conversation);
}

std::string SeqKey(uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

void WipeString(std::string& s) {
  SecureWipe(MutableByteSpan(reinterpret_cast<uint8_t*>(s.data()), s.size()));
  s.clear();
}

template <typename Proto>
Result<std::optional<Proto>> GetRecord(LocalStore& store, const char* table,
                                       const std::string& key) {
  HF_ASSIGN_OR_RETURN(auto bytes, store.Get(table, key));
  if (!bytes) {
    return std::optional<Proto>();
  }
  Proto p;
  if (!p.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
    return Error{ErrorCode::kStorageFailure, "corrupt local record"};
  }
  return std::optional<Proto>(std::move(p));
}

// AllRecords reads every record of a table, in key order; a record that does not parse is
// kStorageFailure.
template <typename Proto>
Result<std::vector<std::pair<std::string, Proto>>> AllRecords(LocalStore& store,
                                                              const char* table) {
  HF_ASSIGN_OR_RETURN(auto entries, store.Entries(table));
  std::vector<std::pair<std::string, Proto>> out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    Proto p;
    if (!p.ParseFromArray(e.value.data(), static_cast<int>(e.value.size()))) {
      return Error{ErrorCode::kStorageFailure, "corrupt local record"};
    }
    out.emplace_back(std::move(e.key), std::move(p));
  }
  return out;
}

template <typename Proto>
Result<void> PutRecord(LocalStore& store, const char* table, const std::string& key,
                       const Proto& p) {
  std::string bytes = p.SerializeAsString();
  auto r = store.Put(table, key, AsBytes(bytes));
  WipeString(bytes);
  return r;
}

// Void keeps only whether a Result succeeded.
template <typename T>
Result<void> Void(const Result<T>& r) {
  if (!r.ok()) {
    return r.error();
  }
  return Ok();
}

// StatusError turns a refusal from the server into an error.
Error StatusError(const wpb::Response& r) {
  switch (r.status()) {
    case wpb::UNAUTHENTICATED:
      return Error{ErrorCode::kAuthenticationFailed, "the server did not accept this device"};
    case wpb::NOT_FOUND:
      return Error{ErrorCode::kNotFound, "not found on the server"};
    case wpb::RATE_LIMITED:
      return Error{ErrorCode::kUnavailable, "the server asks to slow down; try again later"};
    case wpb::INVALID_CODE:
      return Error{ErrorCode::kAuthenticationFailed, "wrong or expired code"};
    case wpb::INVALID_ARGUMENT:
    case wpb::MALFORMED:
      return Error{ErrorCode::kInvalidArgument, "the server refused the request"};
    case wpb::TOO_LARGE:
      return Error{ErrorCode::kOversized, "message too large"};
    case wpb::QUEUE_FULL:
      return Error{ErrorCode::kUnavailable, "the recipient's queue is full"};
    case wpb::LIMIT_REACHED:
      return Error{ErrorCode::kOversized, "limit reached"};
    case wpb::FORBIDDEN:
      return Error{ErrorCode::kAuthenticationFailed, "not allowed"};
    default:
      return Error{ErrorCode::kUnavailable, "the server failed the request"};
  }
}

Result<signal::PreKeyBundle> ParseBundle(const wpb::Bundle& b) {
  signal::PreKeyBundle out;
  out.registration_id = b.registration_id();
  out.device_id = b.device_id();
  HF_ASSIGN_OR_RETURN(out.identity_key, crypto::X25519PublicKey::Parse(AsBytes(b.identity_key())));
  out.signed_pre_key_id = b.signed_pre_key().id();
  HF_ASSIGN_OR_RETURN(out.signed_pre_key,
                      crypto::X25519PublicKey::Parse(AsBytes(b.signed_pre_key().public_key())));
  out.signed_pre_key_signature = ToBytes(AsBytes(b.signed_pre_key().signature()));
  if (b.has_one_time_pre_key()) {
    out.pre_key_id = b.one_time_pre_key().id();
    HF_ASSIGN_OR_RETURN(auto key,
                        crypto::X25519PublicKey::Parse(AsBytes(b.one_time_pre_key().public_key())));
    out.pre_key = key;
  }
  return out;
}

std::string KeyString(const crypto::X25519PublicKey& key) {
  const auto s = key.Serialize();
  return std::string(s.begin(), s.end());
}

Message ToMessage(const local::Message& m, const std::string& key) {
  Message out;
  out.conversation = m.conversation();
  out.sender = m.sender();
  out.text = m.text();
  out.timestamp = m.timestamp();
  out.received_ms = m.received_ms();
  out.outgoing = m.outgoing();
  out.status = static_cast<Message::Status>(m.status());
  out.read = m.read();
  out.sealed = m.sealed();
  out.notice = m.notice();
  out.id = key;
  return out;
}


bool IsProvision(std::string_view content) { return content.starts_with(kProvisionMagic); }

Bytes ProvisionAad(std::string_view direction, std::string_view account_id, uint32_t device) {
  Bytes aad(kProvisionMagic.begin(), kProvisionMagic.end());
  aad.insert(aad.end(), direction.begin(), direction.end());
  aad.insert(aad.end(), account_id.begin(), account_id.end());
  for (int i = 3; i >= 0; --i) {
    aad.push_back(static_cast<uint8_t>(device >> (8 * i)));
  }
  return aad;
}

Result<Secret<crypto::kAeadKeyBytes>> ProvisionKey(ByteSpan secret) {
  Secret<crypto::kAeadKeyBytes> key;
  HF_RETURN_IF_ERROR(
      crypto::HkdfSha256(secret, {}, AsBytes("holdfast/provision/v1"), key.mutable_span()));
  return key;
}

Result<std::string> SealProvision(ByteSpan secret, ByteSpan aad, ByteSpan plaintext, Rng& rng) {
  HF_ASSIGN_OR_RETURN(const auto key, ProvisionKey(secret));
  Bytes nonce(kProvisionNonceBytes);
  rng.Fill(nonce);
  HF_ASSIGN_OR_RETURN(const Bytes sealed, crypto::AeadSeal(crypto::AeadAlgorithm::kXChaCha20Poly1305,
                                                           key.span(), nonce, aad, plaintext));
  std::string out(kProvisionMagic);
  out.append(nonce.begin(), nonce.end());
  out.append(sealed.begin(), sealed.end());
  return out;
}

Result<SecretBytes> OpenProvision(ByteSpan secret, ByteSpan aad, std::string_view content) {
  if (!IsProvision(content) || content.size() < kProvisionMagic.size() + kProvisionNonceBytes) {
    return Error{ErrorCode::kMalformed, "provisioning message"};
  }
  HF_ASSIGN_OR_RETURN(const auto key, ProvisionKey(secret));
  const ByteSpan body = AsBytes(content).subspan(kProvisionMagic.size());
  return crypto::AeadOpen(crypto::AeadAlgorithm::kXChaCha20Poly1305, key.span(),
                          body.first(kProvisionNonceBytes), aad,
                          body.subspan(kProvisionNonceBytes));
}

}  // namespace

class Messenger::Impl {
 public:
  // The options are kept without the store's secret, which is not needed after opening.
  Impl(const MessengerOptions& options, int lock_fd, std::unique_ptr<LocalStore> store)
      : options_(WithoutSecret(options)),
        lock_fd_(lock_fd),
        store_(std::move(store)),
        protocol_(signal::NewProtocolStore(*store_)) {}

  static MessengerOptions WithoutSecret(const MessengerOptions& o) {
    MessengerOptions copy;
    copy.home = o.home;
    copy.server_url = o.server_url;
    copy.tls_pin = o.tls_pin;
    copy.kdf = o.kdf;
    copy.timeout = o.timeout;
    copy.device_name = o.device_name;
    copy.signed_prekey_rotation = o.signed_prekey_rotation;
    return copy;
  }

  ~Impl() {
    if (conn_) {
      conn_->Close();
    }
    if (sealed_conn_) {
      sealed_conn_->Close();
    }
    protocol_.reset();
    store_.reset();
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);
    }
  }

  Result<void> Load() {
    HF_ASSIGN_OR_RETURN(auto account, GetRecord<local::Account>(*store_, kAccountTable, kSelf));
    if (account) {
      account_ = std::move(*account);
    }
    if (!options_.server_url.empty()) {
      if (account_.server_url().empty()) {
        account_.set_server_url(options_.server_url);
      } else if (account_.server_url() != options_.server_url) {
        return Error{ErrorCode::kInvalidArgument, "this device belongs to another server"};
      }
    }
    return Ok();
  }

  Result<void> SaveAccount() { return PutRecord(*store_, kAccountTable, kSelf, account_); }

  bool registered() const { return !account_.account_id().empty() && account_.keys_uploaded(); }

  Result<void> RequireRegistered() const {
    if (!registered()) {
      return Error{ErrorCode::kNotFound, "this device is not registered"};
    }
    return Ok();
  }

  // --- Connections ----------------------------------------------------------------------

  Result<std::unique_ptr<wire::Client>> Dial() {
    if (account_.server_url().empty()) {
      return Error{ErrorCode::kInvalidArgument, "no server URL given"};
    }
    wire::ClientOptions o;
    o.url = account_.server_url();
    o.timeout = options_.timeout;
    o.peer_fingerprint = &crypto::PeerCertificateFingerprintSha256;
    if (!account_.tls_pin().empty()) {
      o.pinned_sha256 = account_.tls_pin();
    } else if (!options_.tls_pin.empty()) {
      o.pinned_sha256 = options_.tls_pin;
    } else {
      o.trust_on_first_use = true;
    }
    auto client = wire::Client::Connect(o);
    if (!client.ok()) {
      if (client.code() == ErrorCode::kAuthenticationFailed) {
        return Error{ErrorCode::kAuthenticationFailed,
                     "the server's TLS certificate is not the one pinned at first contact"};
      }
      if (client.code() == ErrorCode::kInvalidArgument) {
        return client.error();
      }
      return Error{ErrorCode::kUnavailable, "server unreachable"};
    }
    std::unique_ptr<wire::Client> c = std::move(client).value();
    bool changed = false;
    if (account_.tls_pin().empty() && !c->server_fingerprint().empty()) {
      account_.set_tls_pin(c->server_fingerprint());
      changed = true;
    }
    if (account_.server_certificate_key().empty()) {
      wpb::Request r;
      r.mutable_server_info();
      HF_ASSIGN_OR_RETURN(const wpb::Response info, CallOn(*c, std::move(r)));
      if (info.server_info().certificate_public_key().size() != 32) {
        return Error{ErrorCode::kMalformed, "server info"};
      }
      account_.set_server_certificate_key(info.server_info().certificate_public_key());
      account_.set_server_certificate_key_id(info.server_info().certificate_key_id());
      changed = true;
    }
    if (changed) {
      HF_RETURN_IF_ERROR(SaveAccount());
    }
    return c;
  }

  // CallOn sends a request and returns an OK response; a refusal becomes an error.
  static Result<wpb::Response> CallOn(wire::Client& c, wpb::Request r) {
    auto res = c.Call(std::move(r));
    if (!res.ok()) {
      return Error{ErrorCode::kUnavailable, "server unreachable"};
    }
    if (res->status() != wpb::OK) {
      return StatusError(*res);
    }
    return std::move(res).value();
  }

  // Anonymous is a connection that is not signed in, for registration and sealed sends.
  Result<wire::Client*> Anonymous() {
    if (sealed_conn_ && sealed_conn_->closed()) {
      sealed_conn_.reset();
    }
    if (!sealed_conn_) {
      HF_ASSIGN_OR_RETURN(sealed_conn_, Dial());
    }
    return sealed_conn_.get();
  }

  // Authenticated is this device's signed-in connection. Signing in makes the server push
  // the queue, which Receive reads.
  Result<wire::Client*> Authenticated() {
    if (conn_ && conn_->closed()) {
      conn_.reset();
    }
    if (conn_) {
      return conn_.get();
    }
    if (account_.account_id().empty()) {
      return Error{ErrorCode::kNotFound, "this device is not registered"};
    }
    HF_ASSIGN_OR_RETURN(auto c, Dial());
    wpb::Request r;
    r.mutable_auth()->set_account_id(account_.account_id());
    r.mutable_auth()->set_device_id(account_.device_id());
    r.mutable_auth()->set_credential(account_.credential());
    auto res = c->Call(std::move(r));
    if (!res.ok()) {
      return Error{ErrorCode::kUnavailable, "server unreachable"};
    }
    if (res->status() == wpb::UNAUTHENTICATED) {
      return Error{ErrorCode::kAuthenticationFailed,
                   "this device is no longer registered (removed, or the number was "
                   "registered again)"};
    }
    if (res->status() != wpb::OK) {
      return StatusError(*res);
    }
    conn_ = std::move(c);
    queue_drained_ = false;
    return conn_.get();
  }

  // Exchange sends a request on the signed-in connection (or, `anonymous`, the other one)
  // and returns the response whatever its status. A connection kept from earlier may have
  // been closed by the server meanwhile (a restart): the request is then tried once more on
  // a fresh one. Receivers drop a message that arrives twice (by sender and timestamp).
  Result<wpb::Response> Exchange(wpb::Request r, bool anonymous) {
    auto& slot = anonymous ? sealed_conn_ : conn_;
    const bool reused = slot != nullptr && !slot->closed();
    for (int attempt = 0; attempt < 2; ++attempt) {
      wire::Client* c = nullptr;
      if (anonymous) {
        HF_ASSIGN_OR_RETURN(c, Anonymous());
      } else {
        HF_ASSIGN_OR_RETURN(c, Authenticated());
      }
      auto res = c->Call(r);
      if (res.ok()) {
        return std::move(res).value();
      }
      slot.reset();
      if (!reused) {
        break;
      }
    }
    return Error{ErrorCode::kUnavailable, "server unreachable"};
  }

  Result<wpb::Response> Call(wpb::Request r) {
    HF_ASSIGN_OR_RETURN(wpb::Response res, Exchange(std::move(r), false));
    if (res.status() != wpb::OK) {
      return StatusError(res);
    }
    return res;
  }

  // --- Registration -------------------------------------------------------------------

  Result<void> Register(std::string_view phone) {
    if (!IsE164(phone)) {
      return Error{ErrorCode::kInvalidArgument,
                   "a phone number is + and 8 to 15 digits, e.g. +14155550123"};
    }
    if (!account_.account_id().empty()) {
      return Error{ErrorCode::kAlreadyExists, "this device is already registered"};
    }
    HF_ASSIGN_OR_RETURN(wire::Client * c, Anonymous());
    wpb::Request r;
    r.mutable_register_()->set_phone(std::string(phone));
    HF_RETURN_IF_ERROR(CallOn(*c, std::move(r)));
    account_.set_pending_phone(std::string(phone));
    return SaveAccount();
  }

  Result<void> Verify(std::string_view code) {
    if (account_.account_id().empty()) {
      if (account_.pending_phone().empty()) {
        return Error{ErrorCode::kNotFound, "register a phone number first"};
      }
      // The identity is made before the server hears of the device, with the registration
      // id it is told, so that a failure anywhere after leaves nothing half made.
      uint32_t registration_id = 0;
      if (auto local = protocol_->GetLocalIdentity(); local.ok()) {
        registration_id = local->registration_id;
      } else {
        registration_id = 1 + static_cast<uint32_t>(rng_.Uniform(wire::kMaxRegistrationId));
        HF_RETURN_IF_ERROR(signal::InitLocal(*protocol_, rng_, registration_id, kPreKeysPerUpload));
      }
      std::string credential(wire::kMinCredentialBytes, '\0');
      rng_.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(credential.data()), credential.size()));
      std::string access_key(wire::kAccessKeyBytes, '\0');
      rng_.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(access_key.data()), access_key.size()));
      HF_ASSIGN_OR_RETURN(wire::Client * c, Anonymous());
      wpb::Request r;
      auto* v = r.mutable_verify();
      v->set_phone(account_.pending_phone());
      v->set_code(std::string(code));
      v->set_credential(credential);
      v->set_registration_id(registration_id);
      v->set_device_name(options_.device_name);
      HF_ASSIGN_OR_RETURN(const wpb::Response res, CallOn(*c, std::move(r)));
      if (res.verify().account_id().size() != wire::kAccountIdBytes) {
        return Error{ErrorCode::kMalformed, "verify response"};
      }
      account_.set_phone(account_.pending_phone());
      account_.clear_pending_phone();
      account_.set_account_id(res.verify().account_id());
      account_.set_device_id(res.verify().device_id());
      account_.set_credential(credential);
      account_.set_registration_id(registration_id);
      account_.set_access_key(access_key);
      WipeString(credential);
      HF_RETURN_IF_ERROR(SaveAccount());
    }
    if (!account_.keys_uploaded()) {
      HF_RETURN_IF_ERROR(UploadKeys());
    }
    return Ok();
  }

  Result<void> UploadKeys() {
    HF_ASSIGN_OR_RETURN(const signal::LocalIdentity local, protocol_->GetLocalIdentity());
    HF_ASSIGN_OR_RETURN(const signal::SignedPreKeyRecord spk, protocol_->LatestSignedPreKey());
    HF_ASSIGN_OR_RETURN(const auto prekeys, signal::OneTimePreKeys(*protocol_));
    wpb::Request r;
    auto* k = r.mutable_set_keys();
    k->set_identity_key(KeyString(local.identity.public_key));
    k->mutable_signed_pre_key()->set_id(spk.id);
    k->mutable_signed_pre_key()->set_public_key(KeyString(spk.key.public_key));
    k->mutable_signed_pre_key()->set_signature(std::string(spk.signature.begin(), spk.signature.end()));
    for (size_t i = 0; i < prekeys.size() && i < kPreKeysPerUpload; ++i) {
      auto* p = k->add_one_time_pre_keys();
      p->set_id(prekeys[i].id);
      p->set_public_key(KeyString(prekeys[i].key));
    }
    HF_RETURN_IF_ERROR(Call(std::move(r)));
    wpb::Request a;
    a.mutable_set_access_key()->set_unidentified_access_key(account_.access_key());
    HF_RETURN_IF_ERROR(Call(std::move(a)));
    account_.set_keys_uploaded(true);
    account_.set_signed_pre_key_created_ms(NowMs());
    account_.set_signed_pre_key_uploaded(spk.id);
    return SaveAccount();
  }

  // Maintain refills one-time prekeys when the server runs low and rotates the signed
  // prekey on schedule.
  Result<void> Maintain() {
    wpb::Request count;
    count.mutable_pre_key_count();
    HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(count)));
    HF_ASSIGN_OR_RETURN(const auto held, protocol_->PreKeyIds());
    const bool low = res.pre_key_count().count() < kPreKeyRefillBelow &&
                     held.size() + kPreKeysPerUpload <= kMaxLocalPreKeys;
    HF_ASSIGN_OR_RETURN(const signal::SignedPreKeyRecord latest, protocol_->LatestSignedPreKey());
    // A rotation whose upload failed is uploaded again rather than rotated past: the key
    // before it, which rotating again would delete, may be the one the server hands out.
    const bool reupload = latest.id != account_.signed_pre_key_uploaded();
    const bool rotate = !reupload && NowMs() - account_.signed_pre_key_created_ms() >=
                                         options_.signed_prekey_rotation.count();
    if (!low && !rotate && !reupload) {
      return Ok();
    }
    wpb::Request r;
    auto* k = r.mutable_set_keys();
    if (reupload) {
      k->mutable_signed_pre_key()->set_id(latest.id);
      k->mutable_signed_pre_key()->set_public_key(KeyString(latest.key.public_key));
      k->mutable_signed_pre_key()->set_signature(
          std::string(latest.signature.begin(), latest.signature.end()));
    }
    uint32_t uploading = latest.id;
    if (low) {
      HF_ASSIGN_OR_RETURN(const auto fresh,
                          signal::MakeMorePreKeys(*protocol_, rng_, kPreKeysPerUpload));
      for (const auto& p : fresh) {
        auto* o = k->add_one_time_pre_keys();
        o->set_id(p.id);
        o->set_public_key(KeyString(p.key));
      }
    }
    if (rotate) {
      HF_ASSIGN_OR_RETURN(const auto spk, signal::RotateSignedPreKey(*protocol_, rng_));
      account_.set_signed_pre_key_created_ms(NowMs());
      HF_RETURN_IF_ERROR(SaveAccount());
      uploading = spk.id;
      k->mutable_signed_pre_key()->set_id(spk.id);
      k->mutable_signed_pre_key()->set_public_key(KeyString(spk.key.public_key));
      k->mutable_signed_pre_key()->set_signature(
          std::string(spk.signature.begin(), spk.signature.end()));
    }
    HF_RETURN_IF_ERROR(Call(std::move(r)));
    account_.set_signed_pre_key_uploaded(uploading);
    return SaveAccount();
  }

  // --- Contacts -----------------------------------------------------------------------

  Result<std::optional<local::Contact>> FindContact(std::string_view phone) {
    return GetRecord<local::Contact>(*store_, kContactTable, std::string(phone));
  }

  Result<void> SaveContact(const local::Contact& c) {
    return PutRecord(*store_, kContactTable, c.phone(), c);
  }

  // Resolve finds a contact, asking the server for an unknown number.
  Result<local::Contact> Resolve(std::string_view phone) {
    if (!IsE164(phone)) {
      return Error{ErrorCode::kInvalidArgument,
                   "a phone number is + and 8 to 15 digits, e.g. +14155550123"};
    }
    if (phone == account_.phone()) {
      return Error{ErrorCode::kInvalidArgument, "that is this account's own number"};
    }
    HF_ASSIGN_OR_RETURN(auto known, FindContact(phone));
    if (known) {
      return std::move(*known);
    }
    wpb::Request r;
    r.mutable_lookup()->set_phone(std::string(phone));
    auto res = Call(std::move(r));
    if (!res.ok()) {
      if (res.code() == ErrorCode::kNotFound) {
        return Error{ErrorCode::kNotFound, "no Holdfast user has that number"};
      }
      return res.error();
    }
    local::Contact c;
    c.set_phone(std::string(phone));
    c.set_account_id(res->lookup().account_id());
    for (uint32_t d : res->lookup().device_ids()) {
      c.add_devices()->set_id(d);
    }
    HF_RETURN_IF_ERROR(SaveContact(c));
    return c;
  }

  // --- Sending ------------------------------------------------------------------------

  Result<signal::LocalIdentity> Identity() { return protocol_->GetLocalIdentity(); }

  // SenderCertificate returns a current certificate from the server, renewing it when it
  // is close to expiry.
  Result<cpb::SealedCertificate> SenderCertificate() {
    if (account_.sender_certificate().empty() ||
        account_.sender_certificate_expires_ms() - kCertificateRefreshMs < NowMs()) {
      wpb::Request r;
      r.mutable_sender_certificate();
      HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(r)));
      wpb::SenderCertificate::Certificate cert;
      if (!cert.ParseFromString(res.sender_certificate().certificate().certificate())) {
        return Error{ErrorCode::kMalformed, "sender certificate"};
      }
      cpb::SealedCertificate sc;
      sc.set_certificate(res.sender_certificate().certificate().certificate());
      sc.set_signature(res.sender_certificate().certificate().signature());
      account_.set_sender_certificate(sc.SerializeAsString());
      account_.set_sender_certificate_expires_ms(cert.expires_ms());
      HF_RETURN_IF_ERROR(SaveAccount());
    }
    cpb::SealedCertificate sc;
    if (!sc.ParseFromString(account_.sender_certificate())) {
      return Error{ErrorCode::kStorageFailure, "corrupt sender certificate"};
    }
    return sc;
  }

  // Payload is what goes to each device of one account: a padded Content to encrypt
  // pairwise, or one Sender Key message shared by all (group id first).
  struct Payload {
    SecretBytes padded;      // pairwise
    Bytes sender_key;        // group: 16-byte group id || SenderKeyMessage
    bool group() const { return !sender_key.empty(); }
  };

  // Recipient is who a send goes to: a contact, or our own account's other devices.
  struct Recipient {
    std::string phone;       // empty for our own account
    std::string account_id;
    std::vector<cpb::Device> devices;
    std::optional<crypto::X25519PublicKey> identity;
    std::string access_key;  // theirs, for sealed sender; empty: send signed in
    bool own = false;
  };

  Result<Recipient> RecipientOf(const local::Contact& c) {
    Recipient r;
    r.phone = c.phone();
    r.account_id = c.account_id();
    r.devices.assign(c.devices().begin(), c.devices().end());
    if (!c.identity_key().empty()) {
      HF_ASSIGN_OR_RETURN(r.identity, crypto::X25519PublicKey::Parse(AsBytes(c.identity_key())));
    }
    r.access_key = c.access_key();
    return r;
  }

  Result<Recipient> OwnRecipient() {
    Recipient r;
    r.account_id = account_.account_id();
    r.own = true;
    r.devices.assign(account_.own_devices().begin(), account_.own_devices().end());
    HF_ASSIGN_OR_RETURN(const auto local, Identity());
    r.identity = local.identity.public_key;
    return r;
  }

  // SaveRecipient writes back what a send learned (devices, identity, access key).
  Result<void> SaveRecipient(const Recipient& r) {
    if (r.own) {
      account_.clear_own_devices();
      for (const auto& d : r.devices) {
        *account_.add_own_devices() = d;
      }
      return SaveAccount();
    }
    HF_ASSIGN_OR_RETURN(auto c, FindContact(r.phone));
    if (!c) {
      return Ok();
    }
    c->clear_devices();
    for (const auto& d : r.devices) {
      *c->add_devices() = d;
    }
    if (c->identity_key().empty() && r.identity) {
      c->set_identity_key(KeyString(*r.identity));
    }
    c->set_access_key(r.access_key);
    return SaveContact(*c);
  }

  // IdentityChanged records a new identity key for a contact, which the user must accept
  // before anything is sent to them again.
  Result<void> IdentityChanged(std::string_view phone, const crypto::X25519PublicKey& key) {
    HF_ASSIGN_OR_RETURN(auto c, FindContact(phone));
    if (!c) {
      return Ok();
    }
    c->set_changed_identity_key(KeyString(key));
    c->set_verified(false);
    HF_RETURN_IF_ERROR(SaveContact(*c));
    local::Message notice;
    notice.set_conversation(std::string(phone));
    notice.set_text("Your safety number with " + std::string(phone) +
                    " changed. Compare it again; sending waits until you accept it (trust).");
    notice.set_notice(true);
    notice.set_timestamp(NowMs());
    notice.set_received_ms(NowMs());
    return Void(StoreMessage(notice, false));
  }

  // LookupDevices asks the server for a contact's devices (known by account only, e.g. a
  // group member we have not talked to yet).
  Result<void> LookupDevices(Recipient& r) {
    wpb::Request req;
    req.mutable_lookup()->set_phone(r.phone);
    HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(req)));
    if (res.lookup().account_id() != r.account_id) {
      return Error{ErrorCode::kNotFound, "that number now belongs to another account"};
    }
    for (uint32_t d : res.lookup().device_ids()) {
      cpb::Device dev;
      dev.set_id(d);
      r.devices.push_back(dev);
    }
    return Ok();
  }

  // EnsureSessions gives every device of `r` a session, fetching bundles for those without
  // one. A bundle with an identity other than the accepted one is kUntrustedIdentity.
  Result<void> EnsureSessions(Recipient& r) {
    std::vector<uint32_t> need;
    for (const auto& d : r.devices) {
      HF_ASSIGN_OR_RETURN(auto s, protocol_->LoadSession(Address(r.account_id, d.id())));
      if (!s || d.registration_id() == 0) {
        need.push_back(d.id());
      }
    }
    if (need.empty()) {
      return Ok();
    }
    wpb::Request req;
    req.mutable_get_bundles()->set_account_id(r.account_id);
    req.mutable_get_bundles()->set_device_id(need.size() == 1 ? need[0] : 0);
    HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(req)));
    for (const wpb::Bundle& b : res.get_bundles().bundles()) {
      if (std::find(need.begin(), need.end(), b.device_id()) == need.end()) {
        continue;
      }
      HF_ASSIGN_OR_RETURN(const signal::PreKeyBundle bundle, ParseBundle(b));
      if (!r.identity) {
        r.identity = bundle.identity_key;
      } else if (!(*r.identity == bundle.identity_key)) {
        if (r.own) {
          return Error{ErrorCode::kUntrustedIdentity,
                       "a device on this account has another identity key: it was not linked "
                       "from here (see holdfast devices, and unlink it)"};
        }
        HF_RETURN_IF_ERROR(IdentityChanged(r.phone, bundle.identity_key));
        return Error{ErrorCode::kUntrustedIdentity, "safety number changed"};
      }
      const std::string addr = Address(r.account_id, b.device_id());
      HF_ASSIGN_OR_RETURN(auto existing, protocol_->LoadSession(addr));
      if (!existing) {
        auto started = signal::StartSession(*protocol_, addr, bundle, rng_);
        if (!started.ok()) {
          if (started.code() == ErrorCode::kUntrustedIdentity && !r.own) {
            HF_RETURN_IF_ERROR(IdentityChanged(r.phone, bundle.identity_key));
          }
          return started.error();
        }
      }
      for (auto& d : r.devices) {
        if (d.id() == b.device_id()) {
          d.set_registration_id(b.registration_id());
        }
      }
    }
    // A device without keys cannot be sent to; the server will say so.
    return Ok();
  }

  // DeliverTo encrypts `payload` for every device of `r` and sends it, sealed when we hold
  // their access key, settling mismatched and stale device lists with the server.
  Result<SendResult> DeliverTo(Recipient& r, const Payload& payload, int64_t timestamp) {
    HF_ASSIGN_OR_RETURN(const signal::LocalIdentity local, Identity());
    HF_ASSIGN_OR_RETURN(const cpb::SealedCertificate cert, SenderCertificate());
    const std::string cert_bytes = cert.SerializeAsString();
    for (int attempt = 0; attempt < kSendAttempts; ++attempt) {
      if (r.own && r.devices.empty()) {
        return SendResult{timestamp, false, 0};  // no other device of ours to tell
      }
      if (!r.own && r.devices.empty()) {
        HF_RETURN_IF_ERROR(LookupDevices(r));
      }
      HF_RETURN_IF_ERROR(EnsureSessions(r));
      const bool sealed = !r.own && r.access_key.size() == wire::kAccessKeyBytes;
      wpb::Request req;
      auto* s = req.mutable_send();
      s->set_destination(r.account_id);
      s->set_timestamp(timestamp);
      if (sealed) {
        s->set_unidentified_access_key(r.access_key);
      }
      for (const auto& d : r.devices) {
        const std::string addr = Address(r.account_id, d.id());
        signal::SealedContent inner;
        inner.sender_certificate = ToBytes(AsBytes(cert_bytes));
        if (payload.group()) {
          inner.type = signal::SealedContentType::kSenderKey;
          inner.content = payload.sender_key;
        } else {
          HF_ASSIGN_OR_RETURN(const signal::Ciphertext c,
                              signal::EncryptTo(*protocol_, addr, payload.padded.span()));
          inner.type = c.type == signal::MessageType::kPreKey ? signal::SealedContentType::kPreKey
                                                              : signal::SealedContentType::kMessage;
          inner.content = c.body;
        }
        if (!r.identity) {
          return Error{ErrorCode::kNoSession, "no identity key for the recipient"};
        }
        HF_ASSIGN_OR_RETURN(const Bytes sealed_bytes,
                            signal::SealSender(local.identity, *r.identity, inner, rng_));
        auto* m = s->add_messages();
        m->set_device_id(d.id());
        m->set_registration_id(d.registration_id());
        m->set_type(wpb::UNIDENTIFIED_SENDER);
        m->set_content(std::string(sealed_bytes.begin(), sealed_bytes.end()));
      }
      HF_ASSIGN_OR_RETURN(const wpb::Response sent, Exchange(std::move(req), sealed));
      const wpb::Response* res = &sent;
      switch (res->status()) {
        case wpb::OK:
          HF_RETURN_IF_ERROR(SaveRecipient(r));
          return SendResult{timestamp, sealed, static_cast<uint32_t>(r.devices.size())};
        case wpb::MISMATCHED_DEVICES: {
          const auto& mm = res->mismatched_devices();
          for (uint32_t extra : mm.extra()) {
            HF_RETURN_IF_ERROR(protocol_->RemoveSession(Address(r.account_id, extra)));
            std::erase_if(r.devices, [&](const cpb::Device& d) { return d.id() == extra; });
          }
          for (uint32_t missing : mm.missing()) {
            cpb::Device d;
            d.set_id(missing);
            r.devices.push_back(d);
          }
          std::sort(r.devices.begin(), r.devices.end(),
                    [](const auto& a, const auto& b) { return a.id() < b.id(); });
          HF_RETURN_IF_ERROR(SaveRecipient(r));
          continue;
        }
        case wpb::STALE_DEVICES:
          for (uint32_t stale : res->stale_devices().stale()) {
            HF_RETURN_IF_ERROR(protocol_->RemoveSession(Address(r.account_id, stale)));
            for (auto& d : r.devices) {
              if (d.id() == stale) {
                d.set_registration_id(0);
              }
            }
          }
          continue;
        case wpb::UNAUTHENTICATED:
          if (sealed) {
            r.access_key.clear();  // they changed it; fall back to sending signed in
            continue;
          }
          return StatusError(*res);
        default:
          return StatusError(*res);
      }
    }
    return Error{ErrorCode::kUnavailable, "the recipient's devices kept changing; try again"};
  }

  Result<local::Message> StoreMessage(local::Message m, bool count_unread) {
    const uint64_t seq = account_.next_seq() + 1;
    account_.set_next_seq(seq);
    HF_RETURN_IF_ERROR(SaveAccount());
    m.set_seq(seq);
    const std::string table = MessageTable(m.conversation());
    HF_RETURN_IF_ERROR(PutRecord(*store_, table.c_str(), SeqKey(seq), m));
    if (m.outgoing() && !m.notice()) {
      local::Message ref;
      ref.set_conversation(m.conversation());
      ref.set_seq(seq);
      HF_RETURN_IF_ERROR(
          PutRecord(*store_, kOutgoingTable, std::to_string(m.timestamp()), ref));
    }
    HF_ASSIGN_OR_RETURN(auto conv,
                        GetRecord<local::Conversation>(*store_, kConversationTable, m.conversation()));
    local::Conversation c = conv ? *conv : local::Conversation();
    c.set_id(m.conversation());
    if (c.title().empty()) {
      c.set_title(m.conversation());
    }
    if (count_unread) {
      c.set_unread(c.unread() + 1);
    }
    c.set_last_ms(std::max<int64_t>(m.received_ms(), m.timestamp()));
    c.set_last_text(ToValidUtf8(m.text(), 80));  // whole characters: records hold UTF-8
    HF_RETURN_IF_ERROR(PutRecord(*store_, kConversationTable, m.conversation(), c));
    return m;
  }

  static Result<void> CheckText(std::string_view text) {
    if (!IsValidUtf8(text)) {
      return Error{ErrorCode::kInvalidArgument, "the text is not valid UTF-8"};
    }
    if (text.size() > kMaxTextBytes) {
      return Error{ErrorCode::kOversized, "the text is longer than 64 KiB"};
    }
    return Ok();
  }

  Result<SendResult> SendText(std::string_view phone, std::string_view text) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    HF_RETURN_IF_ERROR(CheckText(text));
    HF_ASSIGN_OR_RETURN(const local::Contact contact, Resolve(phone));
    if (!contact.changed_identity_key().empty()) {
      return Error{ErrorCode::kUntrustedIdentity, "safety number changed"};
    }
    const int64_t ts = NextTimestamp();
    cpb::Content content;
    content.mutable_data()->set_body(std::string(text));
    content.mutable_data()->set_timestamp(ts);
    content.set_access_key(account_.access_key());
    HF_ASSIGN_OR_RETURN(Recipient r, RecipientOf(contact));
    Payload p;
    p.padded = PadContent(content);
    local::Message m;
    m.set_conversation(contact.phone());
    m.set_text(std::string(text));
    m.set_timestamp(ts);
    m.set_received_ms(NowMs());
    m.set_outgoing(true);
    auto sent = DeliverTo(r, p, ts);
    m.set_status(sent.ok() ? local::Message::SENT : local::Message::FAILED);
    HF_RETURN_IF_ERROR(InTransaction<local::Message>(*store_, [&] { return StoreMessage(m, false); }));
    if (!sent.ok()) {
      return sent.error();
    }
    // Our other devices show it too.
    cpb::Content sync;
    auto* sent_sync = sync.mutable_sync()->mutable_sent();
    sent_sync->set_destination_phone(contact.phone());
    sent_sync->set_destination_account(contact.account_id());
    *sent_sync->mutable_message() = content.data();
    HF_RETURN_IF_ERROR(SyncToOwnDevices(sync, ts));
    return sent;
  }

  Result<void> SyncToOwnDevices(const cpb::Content& content, int64_t ts) {
    HF_ASSIGN_OR_RETURN(Recipient own, OwnRecipient());
    if (own.devices.empty()) {
      // With no other device known the server cannot tell us of a new one (a send naming
      // none is refused), so ask for the list: a device added behind our back shows here.
      wpb::Request r;
      r.mutable_list_devices();
      HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(r)));
      for (const auto& d : res.list_devices().devices()) {
        if (d.device_id() != account_.device_id()) {
          cpb::Device dev;
          dev.set_id(d.device_id());
          own.devices.push_back(dev);
        }
      }
      HF_RETURN_IF_ERROR(SaveRecipient(own));
    }
    if (own.devices.empty()) {
      return Ok();
    }
    Payload p;
    p.padded = PadContent(content);
    return Void(DeliverTo(own, p, ts));
  }

  static SecretBytes PadContent(const cpb::Content& content) {
    std::string bytes = content.SerializeAsString();
    SecretBytes padded = Pad(AsBytes(bytes));
    WipeString(bytes);
    return padded;
  }

  // NextTimestamp is now in ms, made unique per device so that it names a message.
  int64_t NextTimestamp() {
    int64_t ts = NowMs();
    if (ts <= last_timestamp_) {
      ts = last_timestamp_ + 1;
    }
    last_timestamp_ = ts;
    return ts;
  }

  // --- Receiving ----------------------------------------------------------------------

  struct Incoming {
    std::string phone;
    std::string account_id;
    uint32_t device = 0;
    bool sealed = false;
    std::string envelope_id;
  };

  Result<std::vector<Event>> Receive(std::chrono::milliseconds wait) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    // Signing in makes the server push the whole queue and then queue_empty; on a
    // connection that already drained it, new envelopes are pushed as they arrive.
    bool reused = conn_ != nullptr && !conn_->closed();
    HF_ASSIGN_OR_RETURN(wire::Client * c, Authenticated());
    std::vector<Event> events;
    std::vector<std::string> acks;
    receipts_.clear();
    auto flush_acks = [&]() -> Result<void> {
      if (acks.empty()) {
        return Ok();
      }
      wpb::Request r;
      for (const auto& id : acks) {
        r.mutable_ack()->add_envelope_ids(id);
      }
      acks.clear();
      return Void(CallOn(*c, std::move(r)));
    };
    const auto start = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> drained_at;
    if (queue_drained_) {
      drained_at = start;
    }
    for (size_t n = 0; n < kMaxEnvelopesPerReceive; ++n) {
      const auto now = std::chrono::steady_clock::now();
      std::chrono::milliseconds budget;
      if (drained_at) {
        budget = std::chrono::duration_cast<std::chrono::milliseconds>(*drained_at + wait - now);
      } else {
        budget = std::chrono::duration_cast<std::chrono::milliseconds>(
            start + options_.timeout + wait - now);
      }
      if (budget <= std::chrono::milliseconds::zero()) {
        break;
      }
      auto push = c->NextPush(budget);
      if (!push.ok()) {
        if (push.code() == wire::kWaitTimedOut) {
          break;
        }
        if (reused) {
          // The kept connection was closed by the server meanwhile (e.g. a restart): sign
          // in again, which pushes the queue from the start.
          reused = false;
          conn_.reset();
          acks.clear();  // unacked envelopes come again; seen ones are only acked
          HF_ASSIGN_OR_RETURN(c, Authenticated());
          drained_at.reset();
          continue;
        }
        HF_RETURN_IF_ERROR(flush_acks());
        return Error{ErrorCode::kUnavailable, "server unreachable"};
      }
      if (push->has_queue_empty()) {
        drained_at = std::chrono::steady_clock::now();
        queue_drained_ = true;
        continue;
      }
      if (!push->has_envelope()) {
        continue;
      }
      const wpb::Envelope& env = push->envelope();
      HF_RETURN_IF_ERROR(HandleEnvelope(env, &events));
      acks.push_back(env.id());
      if (acks.size() >= kMaxAcksPerRequest / 4) {
        HF_RETURN_IF_ERROR(flush_acks());
      }
    }
    HF_RETURN_IF_ERROR(flush_acks());
    auto answers = std::move(provision_answers_);
    provision_answers_.clear();
    for (auto& a : answers) {
      HF_RETURN_IF_ERROR(SendRaw(a.own, a.content));
      HF_RETURN_IF_ERROR(SaveRecipient(a.own));
    }
    HF_RETURN_IF_ERROR(SendReceipts(cpb::ReceiptMessage::DELIVERY));
    // Keys are topped up while we are signed in anyway, when a one-time prekey was just used
    // (someone else may have taken more) and otherwise now and then: a chat polls every
    // second. A failure here is not the caller's concern and is retried next time.
    if (used_pre_key_ || NowMs() - last_maintained_ms_ >= kMaintainEveryMs) {
      used_pre_key_ = false;
      last_maintained_ms_ = NowMs();
      (void)Maintain();
    }
    return events;
  }

  // HandleEnvelope decrypts and stores one envelope. It fails only when the local store
  // fails: a bad envelope becomes an kUndecryptable event and is acked.
  Result<void> HandleEnvelope(const wpb::Envelope& env, std::vector<Event>* events) {
    const std::string id_hex = HexEncode(AsBytes(env.id()));
    HF_ASSIGN_OR_RETURN(auto seen, store_->Get(kSeenTable, id_hex));
    if (seen) {
      return Ok();  // delivered again after a lost ack
    }
    auto mark_seen = [&]() -> Result<void> {
      const std::string when = std::to_string(NowMs());
      return store_->Put(kSeenTable, id_hex, AsBytes(when));
    };
    if (env.type() == wpb::CIPHERTEXT && IsProvision(env.content())) {
      // A device being linked to our account. Anything that is not a valid request for a
      // link code we showed is dropped.
      return InTransaction<void>(*store_, [&]() -> Result<void> {
        if (auto r = HandleProvisionRequest(env, events); !r.ok() &&
            r.code() == ErrorCode::kStorageFailure) {
          return r.error();
        }
        return mark_seen();
      });
    }
    if (env.type() == wpb::SERVER_NOTICE) {
      return InTransaction<void>(*store_, [&]() -> Result<void> {
        local::Message m;
        m.set_conversation("server");
        m.set_text(ToValidUtf8(env.content()));  // the server's JSON; stored as valid text
        m.set_timestamp(env.server_timestamp());
        m.set_received_ms(NowMs());
        m.set_notice(true);
        HF_ASSIGN_OR_RETURN(const local::Message stored, StoreMessage(m, true));
        Event e;
        e.kind = Event::Kind::kServerNotice;
        e.conversation = "server";
        e.message = ToMessage(stored, id_hex);
        events->push_back(std::move(e));
        return mark_seen();
      });
    }
    const size_t events_before = events->size();
    auto handled = InTransaction<void>(*store_, [&]() -> Result<void> {
      HF_RETURN_IF_ERROR(Decrypt(env, id_hex, events));
      return mark_seen();
    });
    if (handled.ok()) {
      return Ok();
    }
    events->resize(events_before);  // what the rolled-back envelope said did not happen
    if (handled.code() == ErrorCode::kStorageFailure) {
      return handled.error();  // the store failed, not the envelope: it stays queued
    }
    // Not decryptable: record it (so it is not retried forever) and let it be acked.
    return InTransaction<void>(*store_, [&]() -> Result<void> {
      Event e;
      e.kind = Event::Kind::kUndecryptable;
      e.message.text = std::string(ErrorName(handled.code()));
      e.message.id = id_hex;
      events->push_back(std::move(e));
      return mark_seen();
    });
  }

  Result<void> Decrypt(const wpb::Envelope& env, const std::string& id_hex,
                       std::vector<Event>* events) {
    if (env.type() != wpb::UNIDENTIFIED_SENDER) {
      return Error{ErrorCode::kMalformed, "envelope type"};
    }
    HF_ASSIGN_OR_RETURN(const signal::LocalIdentity local, Identity());
    HF_ASSIGN_OR_RETURN(const signal::Unsealed unsealed,
                        signal::UnsealSender(local.identity, AsBytes(env.content())));
    cpb::SealedCertificate cert;
    if (!cert.ParseFromArray(unsealed.content.sender_certificate.data(),
                             static_cast<int>(unsealed.content.sender_certificate.size()))) {
      return Error{ErrorCode::kMalformed, "sender certificate"};
    }
    HF_ASSIGN_OR_RETURN(const auto server_key, crypto::Ed25519PublicKey::FromBytes(
                                                   AsBytes(account_.server_certificate_key())));
    HF_ASSIGN_OR_RETURN(
        const SenderIdentity sender,
        CheckSenderCertificate(AsBytes(cert.certificate()), AsBytes(cert.signature()), server_key,
                               account_.server_certificate_key_id(), env.server_timestamp(),
                               unsealed.sender_identity));
    // A signed-in send names its source: it must be the certificate's.
    const bool sealed = env.source_account().empty();
    if (!sealed && (env.source_account() != sender.account_id ||
                    env.source_device() != sender.device_id)) {
      return Error{ErrorCode::kAuthenticationFailed, "envelope source is not the certificate's"};
    }
    Incoming from{sender.phone, sender.account_id, sender.device_id, sealed, id_hex};
    const bool own = sender.account_id == account_.account_id();
    if (!IsE164(sender.phone) || (own != (sender.phone == account_.phone()))) {
      return Error{ErrorCode::kAuthenticationFailed, "sender certificate phone number"};
    }
    if (own && sender.device_id == account_.device_id()) {
      return Error{ErrorCode::kMalformed, "a message from this very device"};
    }
    if (own && !(unsealed.sender_identity == local.identity.public_key)) {
      // A device of our account that does not hold our identity key was not linked by us
      // (only a device that was sent the key is); refuse what it says.
      return Error{ErrorCode::kUntrustedIdentity, "a device on this account has another identity"};
    }
    const std::string addr = Address(sender.account_id, sender.device_id);

    // The contact (or, for our own devices, the account) learns this device.
    if (own) {
      if (std::none_of(account_.own_devices().begin(), account_.own_devices().end(),
                       [&](const cpb::Device& d) { return d.id() == sender.device_id; })) {
        account_.add_own_devices()->set_id(sender.device_id);
        HF_RETURN_IF_ERROR(SaveAccount());
      }
    } else {
      HF_RETURN_IF_ERROR(LearnSender(sender, unsealed, events));
    }

    if (unsealed.content.type == signal::SealedContentType::kSenderKey) {
      if (unsealed.content.content.size() <= kGroupIdBytes) {
        return Error{ErrorCode::kMalformed, "sender key message"};
      }
      const std::string group_hex =
          HexEncode(ByteSpan(unsealed.content.content.data(), kGroupIdBytes));
      HF_ASSIGN_OR_RETURN(auto group, GetRecord<local::Group>(*store_, kGroupTable, group_hex));
      if (!group || group->left() ||
          (!own && std::find(group->members().begin(), group->members().end(), sender.phone) ==
                       group->members().end())) {
        return Error{ErrorCode::kAuthenticationFailed, "not a member of that group"};
      }
      HF_ASSIGN_OR_RETURN(
          SecretBytes padded,
          signal::GroupDecrypt(*protocol_, group_hex, addr,
                               ByteSpan(unsealed.content.content).subspan(kGroupIdBytes)));
      return HandleContent(from, padded.span(), events);
    }
    signal::Ciphertext ct;
    ct.type = unsealed.content.type == signal::SealedContentType::kPreKey
                  ? signal::MessageType::kPreKey
                  : signal::MessageType::kMessage;
    ct.body = unsealed.content.content;
    if (ct.type == signal::MessageType::kPreKey) {
      used_pre_key_ = true;
      // Record the sending device's registration id, which the server checks on sends.
      if (auto pk = signal::ParsePreKeySignalMessage(ct.body); pk.ok()) {
        HF_RETURN_IF_ERROR(RecordRegistrationId(from, own, pk->registration_id));
      }
    }
    HF_ASSIGN_OR_RETURN(SecretBytes padded, signal::DecryptFrom(*protocol_, addr, ct, rng_));
    return HandleContent(from, padded.span(), events);
  }

  Result<void> RecordRegistrationId(const Incoming& from, bool own, uint32_t registration_id) {
    if (own) {
      return Ok();  // our own devices' ids are learned from bundles
    }
    HF_ASSIGN_OR_RETURN(auto c, FindContact(from.phone));
    if (!c) {
      return Ok();
    }
    for (auto& d : *c->mutable_devices()) {
      if (d.id() == from.device) {
        d.set_registration_id(registration_id);
      }
    }
    return SaveContact(*c);
  }

  // LearnSender makes sure the sender is a contact, with this device, and notices a changed
  // identity key: the message is still shown, but sending to them waits for consent.
  Result<void> LearnSender(const SenderIdentity& sender, const signal::Unsealed& unsealed,
                           std::vector<Event>* events) {
    HF_ASSIGN_OR_RETURN(auto existing, FindContact(sender.phone));
    local::Contact c;
    if (existing) {
      c = std::move(*existing);
      if (c.account_id() != sender.account_id) {
        // The number was registered again: a new account. Start over with it.
        c.set_account_id(sender.account_id);
        c.clear_devices();
        c.clear_access_key();
      }
    } else {
      c.set_phone(sender.phone);
      c.set_account_id(sender.account_id);
      c.set_identity_key(KeyString(unsealed.sender_identity));
    }
    bool has_device = false;
    for (const auto& d : c.devices()) {
      has_device = has_device || d.id() == sender.device_id;
    }
    if (!has_device) {
      c.add_devices()->set_id(sender.device_id);
    }
    const std::string key = KeyString(unsealed.sender_identity);
    const std::string addr = Address(sender.account_id, sender.device_id);
    if (c.identity_key().empty()) {
      // Known so far only from a group's member list: this is the first key seen for them.
      c.set_identity_key(key);
    }
    if (c.identity_key() != key && c.changed_identity_key() != key) {
      c.set_changed_identity_key(key);
      c.set_verified(false);
      HF_RETURN_IF_ERROR(SaveContact(c));
      HF_RETURN_IF_ERROR(IdentityChanged(sender.phone, unsealed.sender_identity));
      Event e;
      e.kind = Event::Kind::kIdentityChanged;
      e.conversation = sender.phone;
      events->push_back(std::move(e));
      HF_ASSIGN_OR_RETURN(auto reread, FindContact(sender.phone));
      if (reread) {
        c = std::move(*reread);
      }
    } else {
      HF_RETURN_IF_ERROR(SaveContact(c));
    }
    // The ratchet keeps a per-device record; an accepted key (or one shown as changed)
    // replaces it, so that this message can be read.
    HF_ASSIGN_OR_RETURN(auto recorded, protocol_->GetRemoteIdentity(addr));
    if (recorded && !(*recorded == unsealed.sender_identity)) {
      HF_RETURN_IF_ERROR(protocol_->RemoveSession(addr));
      HF_RETURN_IF_ERROR(protocol_->AcceptRemoteIdentity(addr, unsealed.sender_identity));
    }
    return Ok();
  }

  Result<void> HandleContent(const Incoming& from, ByteSpan padded, std::vector<Event>* events) {
    HF_ASSIGN_OR_RETURN(SecretBytes plain, Unpad(padded));
    if (plain.size() > kMaxContentBytes) {
      return Error{ErrorCode::kOversized, "message content"};
    }
    cpb::Content content;
    if (!content.ParseFromArray(plain.data(), static_cast<int>(plain.size()))) {
      return Error{ErrorCode::kMalformed, "message content"};
    }
    const bool own = from.account_id == account_.account_id();
    bool unaccepted = false;  // their identity key changed and the user has not accepted it
    if (!own) {
      HF_ASSIGN_OR_RETURN(auto c, FindContact(from.phone));
      unaccepted = c && !c->changed_identity_key().empty();
      if (c && !unaccepted && content.access_key().size() == wire::kAccessKeyBytes &&
          c->access_key() != content.access_key()) {
        c->set_access_key(content.access_key());
        HF_RETURN_IF_ERROR(SaveContact(*c));
      }
    }
    if (unaccepted) {
      // Their text is shown (with the notice); what would give them a say over our groups
      // or our keys waits until the user accepts the new safety number.
      content.clear_sender_key_distribution();
      if (content.has_data() && content.data().has_group() &&
          content.data().group().type() == cpb::GroupContext::UPDATE) {
        content.clear_data();
      }
    }
    if (!content.sender_key_distribution().empty()) {
      if (content.sender_key_group_id().size() != kGroupIdBytes) {
        return Error{ErrorCode::kMalformed, "sender key group id"};
      }
      HF_RETURN_IF_ERROR(signal::GroupProcess(
          *protocol_, HexEncode(AsBytes(content.sender_key_group_id())),
          Address(from.account_id, from.device), AsBytes(content.sender_key_distribution())));
    }
    if (content.has_data()) {
      HF_RETURN_IF_ERROR(HandleData(from, content.data(), own, events));
    }
    if (content.has_receipt() && !own) {
      HF_RETURN_IF_ERROR(HandleReceipt(from, content.receipt(), events));
    }
    if (content.has_sync() && own) {
      HF_RETURN_IF_ERROR(HandleSync(from, content.sync(), events));
    }
    return Ok();
  }

  Result<void> HandleData(const Incoming& from, const cpb::DataMessage& data, bool own,
                          std::vector<Event>* events) {
    if (own) {
      return Ok();  // our own devices send data to us only inside sync messages
    }
    std::string conversation = from.phone;
    if (data.has_group()) {
      HF_ASSIGN_OR_RETURN(conversation, HandleGroupContext(from, data.group(), events));
      if (conversation.empty()) {
        return Ok();  // an update only, or one we ignore
      }
    }
    // A message sent again after a lost response comes with new envelope ids but the same
    // sender and timestamp.
    const std::string once = "data:" + from.phone + "." + std::to_string(from.device) + ":" +
                             std::to_string(data.timestamp());
    HF_ASSIGN_OR_RETURN(auto again, store_->Get(kSeenTable, once));
    if (again) {
      return Ok();
    }
    HF_RETURN_IF_ERROR(store_->Put(kSeenTable, once, AsBytes(std::to_string(NowMs()))));
    local::Message m;
    m.set_conversation(conversation);
    m.set_sender(from.phone);
    m.set_text(data.body());
    m.set_timestamp(data.timestamp());
    m.set_received_ms(NowMs());
    m.set_sealed(from.sealed);
    HF_ASSIGN_OR_RETURN(const local::Message stored, StoreMessage(m, true));
    receipts_[from.phone].push_back(data.timestamp());
    Event e;
    e.kind = Event::Kind::kMessage;
    e.conversation = conversation;
    e.timestamp = data.timestamp();
    e.message = ToMessage(stored, from.envelope_id);
    events->push_back(std::move(e));
    return Ok();
  }

  Result<void> HandleReceipt(const Incoming& from, const cpb::ReceiptMessage& receipt,
                             std::vector<Event>* events) {
    const bool read = receipt.type() == cpb::ReceiptMessage::READ;
    for (int64_t ts : receipt.timestamps()) {
      HF_ASSIGN_OR_RETURN(auto ref,
                          GetRecord<local::Message>(*store_, kOutgoingTable, std::to_string(ts)));
      if (!ref) {
        continue;
      }
      const std::string table = MessageTable(ref->conversation());
      const std::string key = SeqKey(ref->seq());
      HF_ASSIGN_OR_RETURN(auto m, GetRecord<local::Message>(*store_, table.c_str(), key));
      if (!m) {
        continue;
      }
      const bool group = ref->conversation().starts_with("group:");
      if (!group && ref->conversation() != from.phone) {
        continue;  // a receipt from someone the message did not go to
      }
      if (group) {
        HF_ASSIGN_OR_RETURN(auto g, GetRecord<local::Group>(*store_, kGroupTable,
                                                            ref->conversation().substr(6)));
        if (!g || std::find(g->members().begin(), g->members().end(), from.phone) ==
                      g->members().end()) {
          continue;  // only members confirm a group message
        }
      }
      auto& list = read ? *m->mutable_read_by() : *m->mutable_delivered_to();
      if (std::find(list.begin(), list.end(), from.phone) != list.end()) {
        continue;  // another device of the same person confirmed it already
      }
      list.Add(std::string(from.phone));
      const auto status = read ? local::Message::READ : local::Message::DELIVERED;
      if (m->status() < status || m->status() == local::Message::FAILED) {
        m->set_status(status);
      }
      HF_RETURN_IF_ERROR(PutRecord(*store_, table.c_str(), key, *m));
      Event e;
      e.kind = read ? Event::Kind::kRead : Event::Kind::kDelivered;
      e.conversation = ref->conversation();
      e.timestamp = ts;
      e.message.sender = from.phone;
      events->push_back(std::move(e));
    }
    return Ok();
  }

  Result<void> HandleSync(const Incoming& from, const cpb::SyncMessage& sync,
                          std::vector<Event>* events) {
    if (sync.has_sent() && sync.sent().message().has_group() &&
        sync.sent().message().group().type() == cpb::GroupContext::UPDATE) {
      // Our other device made or changed a group: this device joins it too.
      HF_RETURN_IF_ERROR(Void(HandleGroupContext(from, sync.sent().message().group(), events)));
    } else if (sync.has_sent()) {
      const auto& sent = sync.sent();
      std::string conversation = sent.destination_phone();
      if (sent.message().has_group()) {
        conversation = GroupConversation(HexEncode(AsBytes(sent.message().group().id())));
      }
      if (conversation.empty()) {
        return Error{ErrorCode::kMalformed, "sync message"};
      }
      local::Message m;
      m.set_conversation(conversation);
      m.set_text(sent.message().body());
      m.set_timestamp(sent.message().timestamp());
      m.set_received_ms(NowMs());
      m.set_outgoing(true);
      HF_ASSIGN_OR_RETURN(const local::Message stored, StoreMessage(m, false));
      Event e;
      e.kind = Event::Kind::kMessage;
      e.conversation = conversation;
      e.timestamp = m.timestamp();
      e.message = ToMessage(stored, "out-" + std::to_string(m.timestamp()));
      events->push_back(std::move(e));
    }
    for (const auto& r : sync.read()) {
      HF_RETURN_IF_ERROR(MarkIncomingRead(r.sender_phone(), r.timestamp()));
    }
    return Ok();
  }

  Result<void> MarkIncomingRead(const std::string& conversation, int64_t timestamp) {
    const std::string table = MessageTable(conversation);
    HF_ASSIGN_OR_RETURN(auto messages, AllRecords<local::Message>(*store_, table.c_str()));
    for (auto& [key, m] : messages) {
      if (!m.outgoing() && m.timestamp() == timestamp && !m.read()) {
        m.set_read(true);
        HF_RETURN_IF_ERROR(PutRecord(*store_, table.c_str(), key, m));
      }
    }
    return Ok();
  }

  // SendReceipts sends the receipts gathered by Receive (or MarkRead), one message per
  // sender. A failure to send one is not an error: receipts are a courtesy.
  Result<void> SendReceipts(cpb::ReceiptMessage::Type type) {
    auto pending = std::move(receipts_);
    receipts_.clear();
    for (auto& [phone, timestamps] : pending) {
      HF_ASSIGN_OR_RETURN(auto contact, FindContact(phone));
      if (!contact || !contact->changed_identity_key().empty()) {
        continue;  // never to a changed identity without consent
      }
      cpb::Content content;
      content.mutable_receipt()->set_type(type);
      for (int64_t ts : timestamps) {
        content.mutable_receipt()->add_timestamps(ts);
      }
      content.set_access_key(account_.access_key());
      HF_ASSIGN_OR_RETURN(Recipient r, RecipientOf(*contact));
      Payload p;
      p.padded = PadContent(content);
      (void)DeliverTo(r, p, NextTimestamp());
    }
    return Ok();
  }

  Result<void> MarkRead(std::string_view conversation) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    const std::string table = MessageTable(conversation);
    receipts_.clear();
    cpb::Content sync;
    auto marked = InTransaction<void>(*store_, [&]() -> Result<void> {
      HF_ASSIGN_OR_RETURN(auto messages, AllRecords<local::Message>(*store_, table.c_str()));
      for (auto& [key, m] : messages) {
        if (m.outgoing() || m.read() || m.notice()) {
          continue;
        }
        m.set_read(true);
        HF_RETURN_IF_ERROR(PutRecord(*store_, table.c_str(), key, m));
        receipts_[m.sender()].push_back(m.timestamp());
        auto* r = sync.mutable_sync()->add_read();
        r->set_sender_phone(m.sender());
        r->set_timestamp(m.timestamp());
      }
      HF_ASSIGN_OR_RETURN(auto conv, GetRecord<local::Conversation>(
                                         *store_, kConversationTable, std::string(conversation)));
      if (conv) {
        conv->set_unread(0);
        HF_RETURN_IF_ERROR(PutRecord(*store_, kConversationTable, conv->id(), *conv));
      }
      return Ok();
    });
    HF_RETURN_IF_ERROR(marked);
    HF_RETURN_IF_ERROR(SendReceipts(cpb::ReceiptMessage::READ));
    if (sync.sync().read_size() > 0) {
      (void)SyncToOwnDevices(sync, NextTimestamp());
    }
    return Ok();
  }

  // --- Groups -------------------------------------------------------------------------

  // HandleGroupContext applies a group update and returns the conversation a message
  // belongs in ("" when there is nothing to show).
  Result<std::string> HandleGroupContext(const Incoming& from, const cpb::GroupContext& g,
                                         std::vector<Event>* events) {
    if (g.id().size() != kGroupIdBytes) {
      return Error{ErrorCode::kMalformed, "group id"};
    }
    const std::string hex = HexEncode(AsBytes(g.id()));
    const std::string conversation = GroupConversation(hex);
    HF_ASSIGN_OR_RETURN(auto existing, GetRecord<local::Group>(*store_, kGroupTable, hex));
    const auto is_member = [&](const local::Group& grp, const std::string& phone) {
      return std::find(grp.members().begin(), grp.members().end(), phone) != grp.members().end();
    };
    const bool own = from.account_id == account_.account_id();
    if (g.type() == cpb::GroupContext::UPDATE) {
      if (existing && !own && !is_member(*existing, from.phone)) {
        return std::string();  // only members (and our own devices) change a group
      }
      if (existing && (g.revision() <= existing->revision() ||
                       g.revision() - existing->revision() > kMaxRevisionStep)) {
        return std::string();
      }
      // An update that names anyone badly is dropped whole: one bad entry would otherwise
      // stop every send to the group.
      const bool well_formed =
          g.members_size() <= kMaxGroupMembers && !g.name().empty() &&
          g.name().size() <= kMaxGroupNameBytes &&
          std::all_of(g.members().begin(), g.members().end(), [](const cpb::Member& m) {
            return IsE164(m.phone()) && m.account_id().size() == wire::kAccountIdBytes;
          });
      if (!well_formed) {
        return Error{ErrorCode::kMalformed, "group update"};
      }
      local::Group grp = existing ? *existing : local::Group();
      grp.set_id(g.id());
      grp.set_name(g.name());
      grp.set_revision(g.revision());
      std::set<std::string> before(grp.members().begin(), grp.members().end());
      grp.clear_members();
      bool still_in = false;
      for (const auto& m : g.members()) {
        if (m.phone() == account_.phone()) {
          still_in = true;
          continue;
        }
        grp.add_members(m.phone());
        HF_ASSIGN_OR_RETURN(auto known, FindContact(m.phone()));
        if (!known) {
          local::Contact c;
          c.set_phone(m.phone());
          c.set_account_id(m.account_id());
          HF_RETURN_IF_ERROR(SaveContact(c));
        }
      }
      grp.set_left(!still_in);
      std::set<std::string> after(grp.members().begin(), grp.members().end());
      bool someone_left = false;
      for (const auto& p : before) {
        someone_left = someone_left || after.count(p) == 0;
      }
      // A member who left must not read what we send next: our key is rotated before our
      // next group message, and the newcomers get our key then.
      grp.set_rotate(grp.rotate() || someone_left);
      for (const auto& p : after) {
        if (before.count(p) == 0) {
          grp.add_needs_key(p);
        }
      }
      HF_RETURN_IF_ERROR(PutRecord(*store_, kGroupTable, hex, grp));
      local::Message notice;
      notice.set_conversation(conversation);
      notice.set_sender(from.phone);
      notice.set_notice(true);
      notice.set_text(grp.left() ? from.phone + " removed you from \"" + g.name() + "\""
                                 : from.phone + " updated \"" + g.name() + "\": " +
                                       std::to_string(after.size() + 1) + " members");
      notice.set_timestamp(NowMs());
      notice.set_received_ms(NowMs());
      HF_ASSIGN_OR_RETURN(auto conv,
                          GetRecord<local::Conversation>(*store_, kConversationTable, conversation));
      if (!conv) {
        local::Conversation c;
        c.set_id(conversation);
        c.set_title(g.name());
        HF_RETURN_IF_ERROR(PutRecord(*store_, kConversationTable, conversation, c));
      }
      HF_RETURN_IF_ERROR(Void(StoreMessage(notice, false)));
      Event e;
      e.kind = Event::Kind::kGroupUpdated;
      e.conversation = conversation;
      events->push_back(std::move(e));
      return std::string();
    }
    if (!existing || existing->left() || !is_member(*existing, from.phone)) {
      return Error{ErrorCode::kAuthenticationFailed, "not a member of that group"};
    }
    return conversation;
  }

  Result<local::Group> LoadGroup(std::string_view group_id) {
    HF_ASSIGN_OR_RETURN(auto g, GetRecord<local::Group>(*store_, kGroupTable, std::string(group_id)));
    if (!g) {
      return Error{ErrorCode::kNotFound, "no such group"};
    }
    if (g->left()) {
      return Error{ErrorCode::kNotFound, "you are no longer in that group"};
    }
    return std::move(*g);
  }

  // SendGroupUpdate tells `to` (and our other devices) the group's current state.
  Result<void> SendGroupUpdate(const local::Group& g, const std::vector<std::string>& to) {
    cpb::Content content;
    auto* ctx = content.mutable_data()->mutable_group();
    ctx->set_id(g.id());
    ctx->set_type(cpb::GroupContext::UPDATE);
    ctx->set_name(g.name());
    ctx->set_revision(g.revision());
    auto* me = ctx->add_members();
    me->set_phone(account_.phone());
    me->set_account_id(account_.account_id());
    for (const auto& phone : g.members()) {
      HF_ASSIGN_OR_RETURN(const local::Contact c, Resolve(phone));
      auto* m = ctx->add_members();
      m->set_phone(c.phone());
      m->set_account_id(c.account_id());
    }
    const int64_t ts = NextTimestamp();
    content.mutable_data()->set_timestamp(ts);
    HF_RETURN_IF_ERROR(SendPairwise(to, content, ts));
    // Our other devices learn the group too.
    cpb::Content sync;
    *sync.mutable_sync()->mutable_sent()->mutable_message() = content.data();
    return SyncToOwnDevices(sync, ts);
  }

  // SendPairwise sends one Content to each of `phones` (every device), with our access key.
  // A contact whose safety number changed stops it before anything is sent to them.
  Result<void> SendPairwise(const std::vector<std::string>& phones, cpb::Content content,
                            int64_t ts) {
    content.set_access_key(account_.access_key());
    Payload p;
    p.padded = PadContent(content);
    for (const auto& phone : phones) {
      HF_ASSIGN_OR_RETURN(const local::Contact c, Resolve(phone));
      if (!c.changed_identity_key().empty()) {
        return Error{ErrorCode::kUntrustedIdentity, "safety number changed"};
      }
      HF_ASSIGN_OR_RETURN(Recipient r, RecipientOf(c));
      HF_RETURN_IF_ERROR(Void(DeliverTo(r, p, ts)));
    }
    return Ok();
  }

  // DistributeKey sends our current sender key for the group to members that lack it.
  Result<void> DistributeKey(local::Group& g, bool rotate) {
    const std::string hex = HexEncode(AsBytes(g.id()));
    const std::string self = Address(account_.account_id(), account_.device_id());
    std::vector<std::string> to;
    Bytes dist;
    HF_ASSIGN_OR_RETURN(auto own_key, protocol_->LoadSenderKey(hex, self));
    if (!own_key || rotate) {
      // A new key: every member needs it, and whoever left gets nothing.
      HF_ASSIGN_OR_RETURN(dist, signal::GroupCreate(*protocol_, hex, self, rng_));
      to.assign(g.members().begin(), g.members().end());
      g.set_rotate(false);
    } else if (g.needs_key_size() > 0) {
      // Newcomers get the current key: it opens what we send from now on.
      HF_ASSIGN_OR_RETURN(dist, signal::GroupDistribution(*protocol_, hex, self));
      to.assign(g.needs_key().begin(), g.needs_key().end());
    }
    if (to.empty()) {
      return Ok();
    }
    cpb::Content content;
    content.set_sender_key_distribution(std::string(dist.begin(), dist.end()));
    content.set_sender_key_group_id(g.id());
    HF_RETURN_IF_ERROR(SendPairwise(to, std::move(content), NextTimestamp()));
    g.clear_needs_key();
    return PutRecord(*store_, kGroupTable, hex, g);
  }

  Result<std::string> CreateGroup(std::string_view name, const std::vector<std::string>& phones) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    if (name.empty() || name.size() > kMaxGroupNameBytes || !IsValidUtf8(name)) {
      return Error{ErrorCode::kInvalidArgument, "a group name has 1 to 128 bytes"};
    }
    local::Group g;
    std::string id(kGroupIdBytes, '\0');
    rng_.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(id.data()), id.size()));
    g.set_id(id);
    g.set_name(std::string(name));
    g.set_revision(1);
    std::set<std::string> unique;
    for (const auto& p : phones) {
      HF_ASSIGN_OR_RETURN(const local::Contact c, Resolve(p));
      if (unique.insert(c.phone()).second) {
        g.add_members(c.phone());
      }
    }
    if (g.members_size() == 0) {
      return Error{ErrorCode::kInvalidArgument, "a group needs at least one other member"};
    }
    const std::string hex = HexEncode(AsBytes(id));
    HF_RETURN_IF_ERROR(PutRecord(*store_, kGroupTable, hex, g));
    local::Conversation conv;
    conv.set_id(GroupConversation(hex));
    conv.set_title(g.name());
    HF_RETURN_IF_ERROR(PutRecord(*store_, kConversationTable, conv.id(), conv));
    std::vector<std::string> all(g.members().begin(), g.members().end());
    HF_RETURN_IF_ERROR(SendGroupUpdate(g, all));
    HF_RETURN_IF_ERROR(DistributeKey(g, true));
    return hex;
  }

  Result<void> ChangeMembers(std::string_view group_id, const std::vector<std::string>& add,
                             const std::vector<std::string>& remove) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    HF_ASSIGN_OR_RETURN(local::Group g, LoadGroup(group_id));
    std::vector<std::string> members(g.members().begin(), g.members().end());
    std::vector<std::string> removed;
    for (const auto& p : remove) {
      auto it = std::find(members.begin(), members.end(), p);
      if (it == members.end()) {
        return Error{ErrorCode::kNotFound, "not a member of the group"};
      }
      members.erase(it);
      removed.push_back(p);
    }
    for (const auto& p : add) {
      HF_ASSIGN_OR_RETURN(const local::Contact c, Resolve(p));
      if (std::find(members.begin(), members.end(), c.phone()) == members.end()) {
        members.push_back(c.phone());
      }
    }
    g.clear_members();
    for (const auto& m : members) {
      g.add_members(m);
    }
    g.set_revision(g.revision() + 1);
    // Removing someone rotates our key; a newcomer gets our current one. Both duties are
    // saved with the change, before anything is sent, so that a failure below cannot leave
    // the removed member holding the key we send with next.
    if (!removed.empty()) {
      g.set_rotate(true);
    }
    for (const auto& p : add) {
      g.add_needs_key(p);
    }
    HF_RETURN_IF_ERROR(PutRecord(*store_, kGroupTable, std::string(group_id), g));
    HF_RETURN_IF_ERROR(SendGroupUpdate(g, members));
    // Telling the removed members is a courtesy (one may be the lost phone whose safety
    // number changed); it must not stop the rotation.
    for (const auto& p : removed) {
      (void)SendGroupUpdate(g, {p});
    }
    return DistributeKey(g, g.rotate());
  }

  Result<SendResult> SendGroupText(std::string_view group_id, std::string_view text) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    HF_RETURN_IF_ERROR(CheckText(text));
    HF_ASSIGN_OR_RETURN(local::Group g, LoadGroup(group_id));
    for (const auto& phone : g.members()) {
      HF_ASSIGN_OR_RETURN(const local::Contact c, Resolve(phone));
      if (!c.changed_identity_key().empty()) {
        return Error{ErrorCode::kUntrustedIdentity, "safety number changed"};
      }
    }
    HF_RETURN_IF_ERROR(DistributeKey(g, g.rotate()));
    const std::string hex(group_id);
    const int64_t ts = NextTimestamp();
    cpb::Content content;
    content.mutable_data()->set_body(std::string(text));
    content.mutable_data()->set_timestamp(ts);
    content.mutable_data()->mutable_group()->set_id(g.id());
    content.mutable_data()->mutable_group()->set_type(cpb::GroupContext::DELIVER);
    const SecretBytes padded = PadContent(content);
    HF_ASSIGN_OR_RETURN(
        const Bytes message,
        signal::GroupEncrypt(*protocol_, hex, Address(account_.account_id(), account_.device_id()),
                             padded.span(), rng_));
    Payload p;
    p.sender_key.assign(g.id().begin(), g.id().end());
    p.sender_key.insert(p.sender_key.end(), message.begin(), message.end());
    SendResult total{ts, true, 0};
    Result<void> failed = Ok();
    for (const auto& phone : g.members()) {
      HF_ASSIGN_OR_RETURN(const local::Contact c, Resolve(phone));
      HF_ASSIGN_OR_RETURN(Recipient r, RecipientOf(c));
      auto sent = DeliverTo(r, p, ts);
      if (!sent.ok()) {
        failed = sent.error();
        continue;
      }
      total.devices += sent->devices;
      total.sealed = total.sealed && sent->sealed;
    }
    local::Message m;
    m.set_conversation(GroupConversation(hex));
    m.set_text(std::string(text));
    m.set_timestamp(ts);
    m.set_received_ms(NowMs());
    m.set_outgoing(true);
    m.set_status(failed.ok() ? local::Message::SENT : local::Message::FAILED);
    HF_RETURN_IF_ERROR(InTransaction<local::Message>(*store_, [&] { return StoreMessage(m, false); }));
    HF_RETURN_IF_ERROR(failed);
    cpb::Content sync;
    *sync.mutable_sync()->mutable_sent()->mutable_message() = content.data();
    HF_RETURN_IF_ERROR(SyncToOwnDevices(sync, ts));
    return total;
  }

  // --- Queries ------------------------------------------------------------------------

  Result<std::vector<Contact>> Contacts() {
    HF_ASSIGN_OR_RETURN(const auto contacts, AllRecords<local::Contact>(*store_, kContactTable));
    std::vector<Contact> out;
    for (const auto& [key, c] : contacts) {
      Contact x;
      x.phone = c.phone();
      x.account_id = c.account_id();
      for (const auto& d : c.devices()) {
        x.devices.push_back(d.id());
      }
      x.verified = c.verified();
      x.identity_changed = !c.changed_identity_key().empty();
      x.sealed = c.access_key().size() == wire::kAccessKeyBytes;
      out.push_back(std::move(x));
    }
    return out;
  }

  Result<signal::SafetyNumber> SafetyNumber(std::string_view phone) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    HF_ASSIGN_OR_RETURN(local::Contact c, Resolve(phone));
    if (c.identity_key().empty()) {
      // Not talked to yet: the server's bundle gives the key (checked again on first send).
      HF_ASSIGN_OR_RETURN(Recipient r, RecipientOf(c));
      HF_RETURN_IF_ERROR(EnsureSessions(r));
      HF_RETURN_IF_ERROR(SaveRecipient(r));
      HF_ASSIGN_OR_RETURN(c, Resolve(phone));
      if (c.identity_key().empty()) {
        return Error{ErrorCode::kNotFound, "that user has no keys yet"};
      }
    }
    const std::string& key =
        c.changed_identity_key().empty() ? c.identity_key() : c.changed_identity_key();
    HF_ASSIGN_OR_RETURN(const auto remote, crypto::X25519PublicKey::Parse(AsBytes(key)));
    HF_ASSIGN_OR_RETURN(const auto local, Identity());
    return signal::ComputeSafetyNumber(2, account_.phone(), local.identity.public_key, c.phone(),
                                       remote);
  }

  Result<void> Trust(std::string_view phone, std::string_view compared) {
    HF_ASSIGN_OR_RETURN(auto c, FindContact(phone));
    if (!c) {
      return Error{ErrorCode::kNotFound, "no such contact"};
    }
    if (!compared.empty()) {
      HF_ASSIGN_OR_RETURN(const signal::SafetyNumber now, SafetyNumber(phone));
      std::string digits;
      for (char ch : compared) {
        if (ch >= '0' && ch <= '9') {
          digits += ch;
        }
      }
      if (digits != now.displayable) {
        return Error{ErrorCode::kUntrustedIdentity,
                     "that is not the current safety number: it changed again, or was "
                     "mistyped; compare again"};
      }
      HF_ASSIGN_OR_RETURN(c, FindContact(phone));  // SafetyNumber may have filled the key in
    }
    if (!c->changed_identity_key().empty()) {
      HF_ASSIGN_OR_RETURN(const auto key,
                          crypto::X25519PublicKey::Parse(AsBytes(c->changed_identity_key())));
      // Sessions still bound to the old key are dropped; new ones are made with the new key.
      for (const auto& d : c->devices()) {
        const std::string addr = Address(c->account_id(), d.id());
        HF_ASSIGN_OR_RETURN(auto recorded, protocol_->GetRemoteIdentity(addr));
        if (recorded && !(*recorded == key)) {
          HF_RETURN_IF_ERROR(protocol_->RemoveSession(addr));
          HF_RETURN_IF_ERROR(protocol_->AcceptRemoteIdentity(addr, key));
        }
      }
      c->set_identity_key(c->changed_identity_key());
      c->clear_changed_identity_key();
    }
    c->set_verified(true);
    return SaveContact(*c);
  }

  Result<std::vector<Conversation>> Conversations() {
    HF_ASSIGN_OR_RETURN(const auto conversations,
                        AllRecords<local::Conversation>(*store_, kConversationTable));
    std::vector<Conversation> out;
    for (const auto& [key, c] : conversations) {
      out.push_back(Conversation{c.id(), c.title(), c.unread(), c.last_ms(), c.last_text()});
    }
    std::sort(out.begin(), out.end(),
              [](const Conversation& a, const Conversation& b) { return a.last_ms > b.last_ms; });
    return out;
  }

  Result<std::vector<Message>> History(std::string_view conversation, size_t limit) {
    const std::string table = MessageTable(conversation);
    HF_ASSIGN_OR_RETURN(const auto messages, AllRecords<local::Message>(*store_, table.c_str()));
    std::vector<Message> out;
    const size_t skip = messages.size() > limit ? messages.size() - limit : 0;
    for (size_t i = skip; i < messages.size(); ++i) {
      const auto& [key, m] = messages[i];
      out.push_back(ToMessage(m, m.outgoing() ? "out-" + std::to_string(m.timestamp()) : key));
    }
    return out;
  }

  Result<std::vector<Group>> Groups() {
    HF_ASSIGN_OR_RETURN(const auto groups, AllRecords<local::Group>(*store_, kGroupTable));
    std::vector<Group> out;
    for (const auto& [key, g] : groups) {
      out.push_back(Group{key, g.name(), {g.members().begin(), g.members().end()}, g.left()});
    }
    return out;
  }


  // --- Linked devices -----------------------------------------------------------------

  Result<std::string> CreateLinkCode() {
    HF_RETURN_IF_ERROR(RequireRegistered());
    wpb::Request r;
    r.mutable_create_link_code();
    HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(r)));
    local::PendingLink link;
    link.set_code(res.create_link_code().code());
    std::string secret(kLinkSecretBytes, '\0');
    rng_.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(secret.data()), secret.size()));
    link.set_secret(secret);
    link.set_expires_ms(std::min(res.create_link_code().expires_at_ms(), NowMs() + kLinkValidMs));
    HF_RETURN_IF_ERROR(PutRecord(*store_, kLinkTable, link.code(), link));
    std::string shown = link.code() + "-" + HexEncode(AsBytes(secret));
    WipeString(secret);
    return shown;
  }

  // HandleProvisionRequest answers a new device of ours that proves it holds a link
  // secret we showed: it gets the account's identity key pair, sealed under that secret.
  Result<void> HandleProvisionRequest(const wpb::Envelope& env, std::vector<Event>* events) {
    if (env.source_account() != account_.account_id() || env.source_device() == 0 ||
        env.source_device() == account_.device_id()) {
      return Error{ErrorCode::kAuthenticationFailed, "provisioning from elsewhere"};
    }
    const uint32_t device = env.source_device();
    HF_ASSIGN_OR_RETURN(const auto links, AllRecords<local::PendingLink>(*store_, kLinkTable));
    for (const auto& [key, link] : links) {
      if (link.expires_ms() < NowMs()) {
        HF_RETURN_IF_ERROR(store_->Delete(kLinkTable, key));
        continue;
      }
      const Bytes aad = ProvisionAad("request", account_.account_id(), device);
      auto opened = OpenProvision(AsBytes(link.secret()), aad, env.content());
      if (!opened.ok()) {
        continue;
      }
      cpb::ProvisionRequest req;
      if (!req.ParseFromArray(opened->data(), static_cast<int>(opened->size())) ||
          req.device_id() != device || req.registration_id() == 0 ||
          req.registration_id() > wire::kMaxRegistrationId) {
        return Error{ErrorCode::kMalformed, "provisioning request"};
      }
      HF_RETURN_IF_ERROR(store_->Delete(kLinkTable, key));  // single use
      HF_ASSIGN_OR_RETURN(const signal::LocalIdentity local, Identity());
      cpb::ProvisionMessage p;
      const ByteSpan priv = local.identity.private_key.Serialize();
      p.set_identity_private(std::string(priv.begin(), priv.end()));
      p.set_identity_public(KeyString(local.identity.public_key));
      p.set_phone(account_.phone());
      p.set_access_key(account_.access_key());
      p.set_server_certificate_key(account_.server_certificate_key());
      p.set_server_certificate_key_id(account_.server_certificate_key_id());
      auto* me = p.add_own_devices();
      me->set_id(account_.device_id());
      me->set_registration_id(local.registration_id);
      Recipient own;
      HF_ASSIGN_OR_RETURN(own, OwnRecipient());
      std::erase_if(own.devices, [&](const cpb::Device& d) { return d.id() == device; });
      p.mutable_own_devices()->Add(own.devices.begin(), own.devices.end());
      std::string plain = p.SerializeAsString();
      auto sealed = SealProvision(AsBytes(link.secret()),
                                  ProvisionAad("response", account_.account_id(), device),
                                  AsBytes(plain), rng_);
      WipeString(plain);
      if (!sealed.ok()) {
        return sealed.error();
      }
      cpb::Device fresh;
      fresh.set_id(device);
      fresh.set_registration_id(req.registration_id());
      own.devices.push_back(fresh);
      // Sent after the receive loop, which owns the signed-in connection meanwhile.
      provision_answers_.push_back(ProvisionAnswer{own, std::move(sealed).value()});
      local::Message notice;
      notice.set_conversation("devices");
      notice.set_text("Device " + std::to_string(device) + " (" + req.name() +
                      ") was linked to this account.");
      notice.set_notice(true);
      notice.set_timestamp(NowMs());
      notice.set_received_ms(NowMs());
      HF_ASSIGN_OR_RETURN(const local::Message stored, StoreMessage(notice, true));
      Event ev;
      ev.kind = Event::Kind::kDeviceLinked;
      ev.conversation = "devices";
      ev.message = ToMessage(stored, HexEncode(AsBytes(env.id())));
      events->push_back(std::move(ev));
      return Ok();
    }
    return Error{ErrorCode::kAuthenticationFailed, "no link code matches"};
  }

  // SendRaw sends `content` as a plain CIPHERTEXT envelope to every other device of our
  // account (the server wants them all named), learning registration ids from bundles.
  Result<void> SendRaw(Recipient& own, const std::string& content) {
    for (int attempt = 0; attempt < kSendAttempts; ++attempt) {
      if (std::any_of(own.devices.begin(), own.devices.end(),
                      [](const cpb::Device& d) { return d.registration_id() == 0; })) {
        wpb::Request b;
        b.mutable_get_bundles()->set_account_id(own.account_id);
        b.mutable_get_bundles()->set_device_id(0);
        auto bundles = Call(std::move(b));
        if (bundles.ok()) {
          for (const auto& bundle : bundles->get_bundles().bundles()) {
            for (auto& d : own.devices) {
              if (d.id() == bundle.device_id() && d.registration_id() == 0) {
                d.set_registration_id(bundle.registration_id());
              }
            }
          }
        }
      }
      wpb::Request req;
      auto* s = req.mutable_send();
      s->set_destination(own.account_id);
      s->set_timestamp(NextTimestamp());
      for (const auto& d : own.devices) {
        auto* m = s->add_messages();
        m->set_device_id(d.id());
        m->set_registration_id(d.registration_id());
        m->set_type(wpb::CIPHERTEXT);
        m->set_content(content);
      }
      HF_ASSIGN_OR_RETURN(const wpb::Response res, Exchange(std::move(req), false));
      if (res.status() == wpb::OK) {
        return Ok();
      }
      if (res.status() != wpb::MISMATCHED_DEVICES) {
        return StatusError(res);
      }
      for (uint32_t extra : res.mismatched_devices().extra()) {
        std::erase_if(own.devices, [&](const cpb::Device& d) { return d.id() == extra; });
      }
      for (uint32_t missing : res.mismatched_devices().missing()) {
        own.devices.emplace_back().set_id(missing);
      }
    }
    return Error{ErrorCode::kUnavailable, "our devices kept changing; try again"};
  }

  // Link makes this (new, empty) device part of the account whose primary showed
  // `link_string`, waiting up to `wait` for the primary to answer.
  Result<void> Link(std::string_view link_string, std::chrono::milliseconds wait) {
    if (!account_.account_id().empty()) {
      if (!account_.keys_uploaded() && !account_.phone().empty()) {
        return UploadKeys();  // provisioned, but the upload failed last time
      }
      return Error{ErrorCode::kAlreadyExists, "this device is already registered"};
    }
    const size_t dash = link_string.find('-');
    auto secret = dash == std::string_view::npos ? Result<Bytes>(ErrorCode::kInvalidEncoding)
                                                 : HexDecode(link_string.substr(dash + 1));
    if (!secret.ok() || secret->size() != kLinkSecretBytes) {
      return Error{ErrorCode::kInvalidArgument,
                   "a link code looks like CODE-SECRET, as the other device shows it"};
    }
    const std::string code(link_string.substr(0, dash));
    uint32_t registration_id = 0;
    if (auto local = protocol_->GetLocalIdentity(); local.ok()) {
      return Error{ErrorCode::kAlreadyExists, "this device already has keys"};
    }
    registration_id = 1 + static_cast<uint32_t>(rng_.Uniform(wire::kMaxRegistrationId));
    std::string credential(wire::kMinCredentialBytes, '\0');
    rng_.Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(credential.data()), credential.size()));
    HF_ASSIGN_OR_RETURN(wire::Client * anon, Anonymous());
    wpb::Request r;
    auto* l = r.mutable_link_device();
    l->set_code(code);
    l->set_credential(credential);
    l->set_registration_id(registration_id);
    l->set_device_name(options_.device_name);
    auto linked = CallOn(*anon, std::move(r));
    if (!linked.ok()) {
      WipeString(credential);
      if (linked.code() == ErrorCode::kAuthenticationFailed) {
        return Error{ErrorCode::kAuthenticationFailed, "wrong or expired link code"};
      }
      return linked.error();
    }
    account_.set_account_id(linked->link_device().account_id());
    account_.set_device_id(linked->link_device().device_id());
    account_.set_credential(credential);
    account_.set_registration_id(registration_id);
    WipeString(credential);
    HF_RETURN_IF_ERROR(SaveAccount());
    auto provisioned = AwaitProvision(*secret, registration_id, wait);
    if (!provisioned.ok() && account_.phone().empty()) {
      // Not provisioned: this device would be a member of the account without keys, which
      // stops every send to the account. Leave it, so that linking can start over.
      wpb::Request leave;
      leave.mutable_remove_device()->set_device_id(account_.device_id());
      (void)Call(std::move(leave));
      if (conn_) {
        conn_->Close();
        conn_.reset();
      }
      account_.clear_account_id();
      account_.clear_device_id();
      account_.clear_credential();
      account_.clear_registration_id();
      account_.clear_own_devices();
      HF_RETURN_IF_ERROR(SaveAccount());
      return provisioned.error();
    }
    HF_RETURN_IF_ERROR(provisioned);
    return UploadKeys();
  }

  // AwaitProvision asks the account's other devices for the identity, proving we hold the
  // link secret, and applies the answer that comes back within `wait`.
  Result<void> AwaitProvision(const Bytes& secret, uint32_t registration_id,
                              std::chrono::milliseconds wait) {
    // Ask the primary, proving we hold the secret it showed.
    cpb::ProvisionRequest req;
    req.set_device_id(account_.device_id());
    req.set_registration_id(registration_id);
    req.set_name(options_.device_name);
    HF_ASSIGN_OR_RETURN(const std::string sealed,
                        SealProvision(secret,
                                      ProvisionAad("request", account_.account_id(),
                                                   account_.device_id()),
                                      AsBytes(req.SerializeAsString()), rng_));
    Recipient own;
    own.account_id = account_.account_id();
    own.own = true;
    wpb::Request list;
    list.mutable_list_devices();
    HF_ASSIGN_OR_RETURN(const wpb::Response devices, Call(std::move(list)));
    for (const auto& d : devices.list_devices().devices()) {
      if (d.device_id() != account_.device_id()) {
        own.devices.emplace_back().set_id(d.device_id());
      }
    }
    HF_RETURN_IF_ERROR(SendRaw(own, sealed));

    // Wait for the answer; anything else stays queued for later.
    HF_ASSIGN_OR_RETURN(wire::Client * c, Authenticated());
    const auto deadline = std::chrono::steady_clock::now() + wait;
    const Bytes aad = ProvisionAad("response", account_.account_id(), account_.device_id());
    while (std::chrono::steady_clock::now() < deadline) {
      auto push = c->NextPush(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!push.ok()) {
        if (push.code() == wire::kWaitTimedOut) {
          break;
        }
        return Error{ErrorCode::kUnavailable, "server unreachable"};
      }
      if (!push->has_envelope()) {
        continue;
      }
      const wpb::Envelope& env = push->envelope();
      if (env.type() != wpb::CIPHERTEXT || env.source_account() != account_.account_id()) {
        continue;
      }
      auto opened = OpenProvision(secret, aad, env.content());
      if (!opened.ok()) {
        continue;
      }
      cpb::ProvisionMessage p;
      const bool parsed = p.ParseFromArray(opened->data(), static_cast<int>(opened->size()));
      if (!parsed) {
        return Error{ErrorCode::kMalformed, "provisioning message"};
      }
      HF_RETURN_IF_ERROR(ApplyProvision(p, registration_id));
      wpb::Request ack;
      ack.mutable_ack()->add_envelope_ids(env.id());
      (void)CallOn(*c, std::move(ack));
      // Envelopes this loop passed over are in flight on this connection; a fresh sign-in
      // makes the server push them again for the next Receive.
      conn_->Close();
      conn_.reset();
      return Ok();
    }
    return Error{ErrorCode::kUnavailable,
                 "the other device did not answer: keep it open (holdfast link-code waits) and "
                 "try again"};
  }

  Result<void> ApplyProvision(const cpb::ProvisionMessage& p, uint32_t registration_id) {
    HF_ASSIGN_OR_RETURN(auto priv, crypto::X25519PrivateKey::FromBytes(AsBytes(p.identity_private())));
    HF_ASSIGN_OR_RETURN(const auto pub, crypto::X25519PublicKey::Parse(AsBytes(p.identity_public())));
    auto pair = crypto::X25519KeyPair::FromPrivate(std::move(priv));
    if (!(pair.public_key == pub) || !IsE164(p.phone()) ||
        p.access_key().size() != wire::kAccessKeyBytes) {
      return Error{ErrorCode::kMalformed, "provisioning message"};
    }
    if (!account_.server_certificate_key().empty() &&
        account_.server_certificate_key() != p.server_certificate_key()) {
      return Error{ErrorCode::kAuthenticationFailed,
                   "the other device knows this server by another key"};
    }
    auto applied = InTransaction<void>(*store_, [&]() -> Result<void> {
      signal::LocalIdentity local{std::move(pair), registration_id};
      signal::SignedPreKeyRecord spk{signal::kSignedPreKeyId, crypto::X25519KeyPair::Generate(rng_),
                                     {}};
      HF_ASSIGN_OR_RETURN(const auto sig, crypto::XEdDsaSign(local.identity.private_key,
                                                             spk.key.public_key.Serialize(), rng_));
      spk.signature = ToBytes(sig);
      HF_RETURN_IF_ERROR(protocol_->SetLocalIdentity(local));
      HF_RETURN_IF_ERROR(protocol_->StoreSignedPreKey(spk));
      HF_RETURN_IF_ERROR(
          Void(signal::MakeMorePreKeys(*protocol_, rng_, kPreKeysPerUpload)));
      account_.set_phone(p.phone());
      account_.set_access_key(p.access_key());
      account_.set_server_certificate_key(p.server_certificate_key());
      account_.set_server_certificate_key_id(p.server_certificate_key_id());
      *account_.mutable_own_devices() = p.own_devices();
      return SaveAccount();
    });
    return applied;
  }

  Result<void> RemoveDevice(uint32_t id) {
    HF_RETURN_IF_ERROR(RequireRegistered());
    wpb::Request r;
    r.mutable_remove_device()->set_device_id(id);
    HF_RETURN_IF_ERROR(Call(std::move(r)));
    auto* own = account_.mutable_own_devices();
    own->erase(std::remove_if(own->begin(), own->end(),
                              [&](const cpb::Device& d) { return d.id() == id; }),
               own->end());
    HF_RETURN_IF_ERROR(protocol_->RemoveSession(Address(account_.account_id(), id)));
    return SaveAccount();
  }

  Result<std::vector<DeviceEntry>> Devices() {
    HF_RETURN_IF_ERROR(RequireRegistered());
    wpb::Request r;
    r.mutable_list_devices();
    HF_ASSIGN_OR_RETURN(const wpb::Response res, Call(std::move(r)));
    std::vector<DeviceEntry> out;
    for (const auto& d : res.list_devices().devices()) {
      out.push_back(DeviceEntry{d.device_id(), d.name(), d.created_at_ms(), d.last_seen_ms(),
                                d.device_id() == account_.device_id()});
    }
    return out;
  }

  MessengerOptions options_;
  int lock_fd_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<signal::ProtocolStore> protocol_;
  crypto::SystemRng rng_;
  local::Account account_;
  std::unique_ptr<wire::Client> conn_;
  std::unique_ptr<wire::Client> sealed_conn_;
  bool queue_drained_ = false;
  int64_t last_timestamp_ = 0;
  int64_t last_maintained_ms_ = 0;  // when Receive last checked our keys on the server
  bool used_pre_key_ = false;       // a prekey message arrived since
  std::map<std::string, std::vector<int64_t>> receipts_;  // phone -> timestamps to confirm
  struct ProvisionAnswer {
    Recipient own;
    std::string content;
  };
  std::vector<ProvisionAnswer> provision_answers_;  // found by Receive, sent after its loop
};

Messenger::Messenger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Messenger::~Messenger() = default;

Result<std::unique_ptr<Messenger>> Messenger::Open(const MessengerOptions& options) {
  if (options.home.empty()) {
    return Error{ErrorCode::kInvalidArgument, "no home directory"};
  }
  std::error_code ec;
  std::filesystem::create_directories(options.home, ec);
  if (ec) {
    return Error{ErrorCode::kStorageFailure, "cannot create the home directory"};
  }
  ::chmod(options.home.c_str(), 0700);
  const std::string lock_path = options.home + "/lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{ErrorCode::kStorageFailure, "cannot open the home's lock file"};
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Error{ErrorCode::kUnavailable, "another holdfast is using this home directory"};
  }
  const std::string db = options.home + "/holdfast.db";
  Result<std::unique_ptr<LocalStore>> store =
      std::filesystem::exists(db, ec) ? LocalStore::Open(db, options.secret)
                                      : LocalStore::Create(db, options.secret, options.kdf);
  if (!store.ok()) {
    ::close(fd);
    return store.error();
  }
  auto impl = std::make_unique<Impl>(options, fd, std::move(store).value());
  HF_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<Messenger>(new Messenger(std::move(impl)));
}

Result<void> Messenger::Register(std::string_view phone) { return impl_->Register(phone); }
Result<void> Messenger::Verify(std::string_view code) { return impl_->Verify(code); }
bool Messenger::registered() const { return impl_->registered(); }
std::string Messenger::phone() const { return impl_->account_.phone(); }
uint32_t Messenger::device_id() const { return impl_->account_.device_id(); }
std::string Messenger::server_pin() const { return impl_->account_.tls_pin(); }

Result<SendResult> Messenger::SendText(std::string_view phone, std::string_view text) {
  return impl_->SendText(phone, text);
}
Result<std::vector<Event>> Messenger::Receive(std::chrono::milliseconds wait) {
  return impl_->Receive(wait);
}
Result<void> Messenger::MarkRead(std::string_view conversation) {
  return impl_->MarkRead(conversation);
}
Result<std::vector<Contact>> Messenger::Contacts() { return impl_->Contacts(); }
Result<signal::SafetyNumber> Messenger::SafetyNumber(std::string_view phone) {
  return impl_->SafetyNumber(phone);
}
Result<void> Messenger::Trust(std::string_view phone, std::string_view compared_safety_number) {
  return impl_->Trust(phone, compared_safety_number);
}
Result<std::vector<Conversation>> Messenger::Conversations() { return impl_->Conversations(); }
Result<std::vector<Message>> Messenger::History(std::string_view conversation, size_t limit) {
  return impl_->History(conversation, limit);
}
Result<std::string> Messenger::CreateGroup(std::string_view name,
                                           const std::vector<std::string>& phones) {
  return impl_->CreateGroup(name, phones);
}
Result<void> Messenger::AddMembers(std::string_view group_id,
                                   const std::vector<std::string>& phones) {
  return impl_->ChangeMembers(group_id, phones, {});
}
Result<void> Messenger::RemoveMembers(std::string_view group_id,
                                      const std::vector<std::string>& phones) {
  return impl_->ChangeMembers(group_id, {}, phones);
}
Result<SendResult> Messenger::SendGroupText(std::string_view group_id, std::string_view text) {
  return impl_->SendGroupText(group_id, text);
}
Result<std::vector<Group>> Messenger::Groups() { return impl_->Groups(); }
Result<std::vector<DeviceEntry>> Messenger::Devices() { return impl_->Devices(); }
Result<std::string> Messenger::CreateLinkCode() { return impl_->CreateLinkCode(); }
Result<void> Messenger::Link(std::string_view link_code, std::chrono::milliseconds wait) {
  return impl_->Link(link_code, wait);
}
Result<void> Messenger::RemoveDevice(uint32_t device_id) { return impl_->RemoveDevice(device_id); }

std::string PersonError(const Error& e) {
  const std::string detail = e.detail != nullptr ? e.detail : "";
  switch (e.code) {
    case ErrorCode::kUntrustedIdentity:
      if (!detail.empty() && detail != "safety number changed") {
        return detail;
      }
      return "the contact's safety number changed: compare it (holdfast safety-number PHONE) "
             "and accept it (holdfast trust PHONE) before sending";
    case ErrorCode::kUnavailable:
      return detail.empty() ? "server unreachable" : detail;
    case ErrorCode::kAuthenticationFailed:
      return detail.empty() ? "authentication failed" : detail;
    case ErrorCode::kNotFound:
      return detail.empty() ? "not found" : detail;
    default:
      return detail.empty() ? std::string(ErrorMessage(e.code)) : detail;
  }
}

}  // namespace holdfast::client
