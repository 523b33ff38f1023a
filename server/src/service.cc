#include "holdfast/server/service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/pwhash.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/server/log.h"
#include "holdfast/server/server_metrics.h"
#include "holdfast/common/phone.h"
#include "rate_limiter.h"
#include "worker_pool.h"

namespace holdfast::server {

namespace pb = wire::pb;

bool TokenBucket::Take(const RateLimit& limit, int64_t now_ms) {
  if (tokens < 0) {
    tokens = limit.burst;
    last_ms = now_ms;
  }
  const double per_ms = limit.per_minute / 60000.0;
  tokens = std::min(limit.burst, tokens + static_cast<double>(std::max<int64_t>(0, now_ms - last_ms)) * per_ms);
  last_ms = now_ms;
  if (tokens < 1.0) {
    return false;
  }
  tokens -= 1.0;
  return true;
}

namespace {

// Credentials are random device secrets of 32+ bytes, so a light Argon2id suffices; it still
// makes a stolen database useless for guessing them offline.
constexpr crypto::Argon2idParams kCredentialHash{2, size_t{1} << 20};
constexpr size_t kCredentialSaltBytes = crypto::kArgon2idSaltBytes;
constexpr size_t kCredentialHashBytes = 32;
constexpr size_t kMaxVerifiedCache = 200000;
constexpr size_t kCodeDigits = 6;
constexpr size_t kLinkCodeBytes = 10;
constexpr size_t kMaxAcksPerRequest = 1000;
constexpr size_t kSignatureBytes = 64;
constexpr uint32_t kPrimaryDevice = 1;
constexpr char kServerKeysFile[] = "server-keys";
constexpr uint8_t kServerKeysVersion = 1;

std::string DeviceKey(const AccountId& a, uint32_t device) {
  std::string k(a.begin(), a.end());
  for (int i = 0; i < 4; ++i) {
    k.push_back(static_cast<char>(device >> (24 - 8 * i)));
  }
  return k;
}

std::string AccountKey(const AccountId& a) { return std::string(a.begin(), a.end()); }

bool ParseAccountId(const std::string& bytes, AccountId* out) {
  if (bytes.size() != kAccountIdBytes) {
    return false;
  }
  std::copy(bytes.begin(), bytes.end(), out->begin());
  return true;
}

std::string AsString(ByteSpan b) { return std::string(b.begin(), b.end()); }

bool ValidSignalKey(const std::string& key) {
  return key.size() == crypto::kSignalPublicKeyBytes &&
         crypto::X25519PublicKey::Parse(AsBytes(key)).ok();
}

bool ValidEnvelopeType(pb::EnvelopeType t) {
  return t == pb::CIPHERTEXT || t == pb::PREKEY_MESSAGE || t == pb::UNIDENTIFIED_SENDER ||
         t == pb::SENDER_KEY;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Discard keeps only whether `r` failed.
template <typename T>
Result<void> Discard(const Result<T>& r) {
  if (!r.ok()) {
    return r.error();
  }
  return Ok();
}

// NewEnvelopeId lays an id out as a UUIDv7 does (without its version bits): the server's
// millisecond clock in 48 big-endian bits, then 80 random bits. A queue's index on
// (account, device, id) then takes each commit's envelopes at the end of every device's range,
// one page per device, where random ids landed on a different page for nearly every envelope.
// The time in the id tells the recipient nothing the envelope's server timestamp does not.
EnvelopeId NewEnvelopeId(int64_t now_ms, Rng& rng) {
  EnvelopeId id;
  const auto t = static_cast<uint64_t>(std::max<int64_t>(now_ms, 0));
  constexpr size_t kClock = wire::kEnvelopeIdClockBytes;
  for (size_t i = 0; i < kClock; ++i) {
    id[i] = static_cast<uint8_t>(t >> (8 * (kClock - 1 - i)));
  }
  rng.Fill(MutableByteSpan(id.data() + kClock, id.size() - kClock));
  return id;
}

int64_t DayFloor(int64_t ms) {
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  return ms - ms % kDay;
}

// ValidNewDevice checks what a registering or linking device sends about itself.
bool ValidNewDevice(const std::string& credential, uint32_t registration_id,
                    const std::string& name) {
  return credential.size() >= wire::kMinCredentialBytes &&
         credential.size() <= wire::kMaxCredentialBytes && registration_id != 0 &&
         registration_id <= wire::kMaxRegistrationId && name.size() <= wire::kMaxDeviceNameBytes;
}

// Rejected is how a storage item reports a refusal (not a storage failure): it rolls the
// item's changes back, and the caller answers with the status it recorded.
const Error kRejected{ErrorCode::kInvalidArgument, "request refused"};

void FillEnvelope(const Envelope& e, pb::Envelope* out) {
  out->set_id(AsString(ByteSpan(e.id.data(), e.id.size())));
  out->set_type(static_cast<pb::EnvelopeType>(e.type));
  out->set_source_account(AsString(e.source_account));
  out->set_source_device(e.source_device);
  out->set_client_timestamp(e.client_timestamp);
  out->set_server_timestamp(e.server_timestamp);
  out->set_content(AsString(e.content));
}

}  // namespace

Result<ServerKeys> LoadOrCreateServerKeys(const std::string& data_dir, Rng& rng) {
  const std::string path = data_dir + "/" + kServerKeysFile;
  // File: u8 version || certificate seed[32] || code key[32].
  constexpr size_t kFileBytes = 1 + crypto::kEd25519SeedBytes + 32;
  SecretBytes bytes(kFileBytes + 1);  // one more, to notice a longer file
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const ssize_t n = ::read(fd, bytes.data(), bytes.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(kFileBytes) || bytes.data()[0] != kServerKeysVersion) {
      return Error{ErrorCode::kStorageFailure, "server-keys file is damaged"};
    }
  } else {
    bytes.data()[0] = kServerKeysVersion;
    rng.Fill(bytes.mutable_span().subspan(1, kFileBytes - 1));
    const std::string tmp = path + ".tmp";
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error{ErrorCode::kStorageFailure, "cannot create server-keys"};
    }
    const bool written = ::write(fd, bytes.data(), kFileBytes) == static_cast<ssize_t>(kFileBytes) &&
                         ::fsync(fd) == 0;
    ::close(fd);
    if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
      return Error{ErrorCode::kStorageFailure, "cannot write server-keys"};
    }
  }
  HF_ASSIGN_OR_RETURN(auto key,
                      crypto::Ed25519PrivateKey::FromSeed(bytes.span().subspan(1, crypto::kEd25519SeedBytes)));
  HF_ASSIGN_OR_RETURN(auto code_key,
                      Secret<32>::FromSpan(bytes.span().subspan(1 + crypto::kEd25519SeedBytes, 32)));
  return ServerKeys{std::move(key), 1, std::move(code_key)};
}

Service::Service(const ServerConfig& config, const Clock& clock, Rng& rng, Database& db,
                 CodeSender* codes, ServerKeys keys, Metrics* metrics, Logger* log)
    : config_(config),
      clock_(clock),
      rng_(rng),
      db_(db),
      codes_(codes),
      keys_(std::move(keys)),
      metrics_(metrics),
      log_(log),
      tagger_(std::make_unique<AccountTagger>(rng)),
      register_per_phone_(std::make_unique<RateLimiter>(config.register_per_phone, clock)),
      register_per_ip_(std::make_unique<RateLimiter>(config.register_per_ip, clock)),
      verify_per_ip_(std::make_unique<RateLimiter>(config.verify_per_ip, clock)),
      auth_failures_per_ip_(std::make_unique<RateLimiter>(config.auth_failures_per_ip, clock)),
      connections_per_ip_(std::make_unique<RateLimiter>(config.connections_per_ip, clock)),
      sends_per_account_(std::make_unique<RateLimiter>(config.sends_per_account, clock)),
      lookups_per_account_(std::make_unique<RateLimiter>(config.lookups_per_account, clock)),
      hashers_(std::make_unique<WorkerPool>(std::max(1u, std::thread::hardware_concurrency()),
                                            "hf-hash")),
      code_senders_(std::make_unique<WorkerPool>(1, "hf-code-sender")) {
  rng_.Fill(verified_key_.mutable_span());
}

Service::~Service() = default;

void Service::StopWorkers() {
  hashers_->Stop();
  code_senders_->Stop();
}

int64_t Service::NowMs() const { return ToUnixMillis(clock_.Now()); }

Result<void> Service::Startup() {
  const int64_t now = NowMs();
  uint64_t depth = 0;
  const Result<void> started = db_.Run([&](Storage& s) -> Result<void> {
    HF_RETURN_IF_ERROR(Discard(s.ip_records().CloseAllOpen(now)));
    HF_ASSIGN_OR_RETURN(depth, s.queues().TotalCount());
    return Ok();
  });
  HF_RETURN_IF_ERROR(started);
  if (metrics_ != nullptr) {
    metrics_->queue_depth.Set(static_cast<int64_t>(depth));
  }
  return Ok();
}

bool Service::AllowConnection(const std::string& ip) {
  if (connections_per_ip_->Allow(ip)) {
    return true;
  }
  if (metrics_ != nullptr) {
    metrics_->connections_refused.Inc();
  }
  return false;
}

size_t Service::Connections() const {
  std::lock_guard<std::mutex> lock(registry_mu_);
  return registry_.size();
}

// --- Plumbing --------------------------------------------------------------------------------

void Service::Reply(const std::shared_ptr<Peer>& peer, pb::Frame frame) {
  if (metrics_ != nullptr && frame.has_response() && frame.response().status() != pb::OK) {
    metrics_->request_errors.Inc();
  }
  peer->Send(frame);
}

void Service::Fail(const std::shared_ptr<Peer>& peer, uint64_t id, pb::Status status,
                   std::string_view message, uint64_t retry_after_ms) {
  pb::Frame f = wire::ResponseFrame(id, status, message);
  if (retry_after_ms > 0) {
    f.mutable_response()->set_retry_after_ms(retry_after_ms);
    if (metrics_ != nullptr) {
      metrics_->rate_limited.Inc();
    }
  }
  Reply(peer, std::move(f));
}

void Service::AfterHashing(const std::shared_ptr<Peer>& peer, std::string credential,
                           std::shared_ptr<Bytes> hash, Database::Work work,
                           std::function<void(Result<void>)> then) {
  hashers_->Post([this, peer, credential = std::move(credential), hash, work = std::move(work),
                  then = std::move(then)]() mutable {
    *hash = HashCredential(AsBytes(credential));
    if (hash->empty()) {
      return peer->Post([peer, then = std::move(then)] {
        then(Error{ErrorCode::kCryptoFailure, "credential hash"});
      });
    }
    After(peer, std::move(work), std::move(then));
  });
}

void Service::After(const std::shared_ptr<Peer>& peer, Database::Work work,
                    std::function<void(Result<void>)> then) {
  const auto start = std::chrono::steady_clock::now();
  db_.Submit(std::move(work), [peer, then = std::move(then), start, this](Result<void> r) mutable {
    peer->Post([peer, then = std::move(then), r = std::move(r), start, this]() mutable {
      if (metrics_ != nullptr) {
        metrics_->request_seconds.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      then(std::move(r));
    });
  });
}

std::shared_ptr<Peer> Service::Lookup(const AccountId& account, uint32_t device) const {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(DeviceAddress{account, device});
  return it == registry_.end() ? nullptr : it->second.lock();
}

void Service::Register(const std::shared_ptr<Peer>& peer) {
  std::shared_ptr<Peer> old;
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    auto& slot = registry_[DeviceAddress{peer->state.account, peer->state.device}];
    old = slot.lock();
    slot = peer;
  }
  if (old && old != peer) {
    // One connection per device: the newer one wins, as in Signal.
    old->Post([old] { old->Close(); });
  }
  if (metrics_ != nullptr) {
    metrics_->authenticated.Add(1);
  }
}

void Service::Unregister(const Peer* peer) {
  std::lock_guard<std::mutex> lock(registry_mu_);
  auto it = registry_.find(DeviceAddress{peer->state.account, peer->state.device});
  if (it != registry_.end()) {
    auto current = it->second.lock();
    if (!current || current.get() == peer) {
      registry_.erase(it);
    }
  }
}

Bytes Service::HashCredential(ByteSpan credential) {
  Bytes out(kCredentialSaltBytes);
  rng_.Fill(out);
  auto hash = crypto::Argon2id(credential, out, kCredentialHash, kCredentialHashBytes);
  if (!hash.ok()) {
    return {};
  }
  out.insert(out.end(), hash->span().begin(), hash->span().end());
  return out;
}

bool Service::CachedCredential(const AccountId& account, uint32_t device, ByteSpan credential,
                               ByteSpan stored, std::string* cache_key) {
  // The cache key binds the device, its current stored hash and the credential, so a
  // re-registered device (new stored hash) never matches an old entry.
  const std::string device_key = DeviceKey(account, device);
  const auto tag = crypto::HmacSha256Key(verified_key_.span())
                       .Mac({AsBytes(device_key), stored, credential});
  *cache_key = AsString(tag.span());
  std::lock_guard<std::mutex> lock(verified_mu_);
  return verified_.count(*cache_key) > 0;
}

bool Service::VerifyCredential(ByteSpan credential, ByteSpan stored, const std::string& cache_key) {
  if (stored.size() != kCredentialSaltBytes + kCredentialHashBytes) {
    return false;
  }
  auto hash = crypto::Argon2id(credential, stored.first(kCredentialSaltBytes), kCredentialHash,
                               kCredentialHashBytes);
  if (!hash.ok() || !ConstantTimeEquals(hash->span(), stored.subspan(kCredentialSaltBytes))) {
    return false;
  }
  std::lock_guard<std::mutex> lock(verified_mu_);
  if (verified_.size() >= kMaxVerifiedCache) {
    verified_.clear();
  }
  verified_.insert(cache_key);
  return true;
}

Bytes Service::HashCode(std::string_view scope, std::string_view code) const {
  const auto mac = crypto::HmacSha256Key(keys_.code_key.span()).Mac({AsBytes(scope), AsBytes(code)});
  return ToBytes(mac.span());
}

// --- Connection events -----------------------------------------------------------------------

void Service::OnOpen(const std::shared_ptr<Peer>&) {
  if (metrics_ != nullptr) {
    metrics_->connections.Add(1);
  }
}

void Service::OnClose(const std::shared_ptr<Peer>& peer) {
  PeerState& st = peer->state;
  if (st.closed) {
    return;
  }
  st.closed = true;
  if (metrics_ != nullptr) {
    metrics_->connections.Add(-1);
  }
  if (!st.authenticated) {
    return;
  }
  Unregister(peer.get());
  if (metrics_ != nullptr) {
    metrics_->authenticated.Add(-1);
  }
  if (st.ip_record != 0) {
    const uint64_t record = st.ip_record;
    const int64_t now = NowMs();
    db_.Submit([record, now](Storage& s) { return s.ip_records().Close(record, now); }, nullptr);
  }
}

void Service::OnFrame(const std::shared_ptr<Peer>& peer, ByteSpan bytes) {
  PeerState& st = peer->state;
  if (st.closed) {
    return;
  }
  uint64_t unsupported_id = 0;
  auto frame = wire::DecodeFrame(bytes, &unsupported_id);
  if (!frame.ok()) {
    if (metrics_ != nullptr) {
      metrics_->bad_frames.Inc();
    }
    if (frame.code() == ErrorCode::kUnsupportedVersion) {
      Fail(peer, unsupported_id, pb::UNSUPPORTED_VERSION, "this server speaks protocol version 1");
    } else {
      Fail(peer, 0, frame.code() == ErrorCode::kOversized ? pb::TOO_LARGE : pb::MALFORMED,
           "frame does not parse");
    }
    return;
  }
  if (!frame->has_request()) {
    if (metrics_ != nullptr) {
      metrics_->bad_frames.Inc();
    }
    Fail(peer, 0, pb::MALFORMED, "clients send requests only");
    return;
  }
  const pb::Request& r = frame->request();
  if (metrics_ != nullptr) {
    metrics_->requests.Inc();
  }
  if (!st.requests.Take(config_.requests_per_connection, NowMs())) {
    Fail(peer, r.id(), pb::RATE_LIMITED, "too many requests on this connection", 1000);
    return;
  }
  switch (r.body_case()) {
    case pb::Request::kRegister: return HandleRegister(peer, r);
    case pb::Request::kVerify: return HandleVerify(peer, r);
    case pb::Request::kAuth: return HandleAuth(peer, r);
    case pb::Request::kCreateLinkCode: return HandleCreateLinkCode(peer, r);
    case pb::Request::kLinkDevice: return HandleLinkDevice(peer, r);
    case pb::Request::kListDevices: return HandleListDevices(peer, r);
    case pb::Request::kRemoveDevice: return HandleRemoveDevice(peer, r);
    case pb::Request::kLookup: return HandleLookup(peer, r);
    case pb::Request::kSetKeys: return HandleSetKeys(peer, r);
    case pb::Request::kPreKeyCount: return HandlePreKeyCount(peer, r);
    case pb::Request::kGetBundles: return HandleGetBundles(peer, r);
    case pb::Request::kSend: return HandleSend(peer, r);
    case pb::Request::kAck: return HandleAck(peer, r);
    case pb::Request::kSetAccessKey: return HandleSetAccessKey(peer, r);
    case pb::Request::kSenderCertificate: return HandleSenderCertificate(peer, r);
    case pb::Request::kServerInfo: return HandleServerInfo(peer, r);
    default:
      return Fail(peer, r.id(), pb::UNKNOWN_REQUEST, "unknown request type");
  }
}

// --- Accounts --------------------------------------------------------------------------------

void Service::HandleRegister(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const std::string phone = r.register_().phone();
  if (!IsE164(phone)) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "phone number must be in E.164 form");
  }
  uint64_t retry = 0;
  if (!register_per_ip_->Allow(peer->ip(), &retry) ||
      !register_per_phone_->Allow(phone, &retry)) {
    return Fail(peer, r.id(), pb::RATE_LIMITED, "too many codes requested", retry);
  }
  if (codes_ == nullptr) {
    return Fail(peer, r.id(), pb::UNAVAILABLE, "this server sends no verification codes");
  }
  std::string code(kCodeDigits, '0');
  const uint64_t n = rng_.Uniform(1000000);
  std::snprintf(code.data(), code.size() + 1, "%06llu", static_cast<unsigned long long>(n));
  PendingCode pending{HashCode("register:" + phone + ":", code),
                      NowMs() + config_.code_ttl.count(), 0};
  const uint64_t id = r.id();
  After(
      peer, [phone, pending](Storage& s) { return s.accounts().PutCode(phone, pending); },
      [this, peer, id, phone, code](Result<void> stored) {
        if (!stored.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        code_senders_->Post([this, peer, id, phone, code] {
          const Result<void> sent = codes_->Send(phone, code);
          peer->Post([this, peer, id, ok = sent.ok()] {
            if (ok) {
              Reply(peer, wire::OkFrame(id));
            } else {
              Fail(peer, id, pb::UNAVAILABLE, "the code could not be sent; try again later");
            }
          });
        });
      });
}

void Service::HandleVerify(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const pb::VerifyRequest& v = r.verify();
  if (!IsE164(v.phone()) || v.code().size() != kCodeDigits || !AllDigits(v.code()) ||
      !ValidNewDevice(v.credential(), v.registration_id(), v.device_name())) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad phone, code, credential or registration id");
  }
  uint64_t retry = 0;
  if (!verify_per_ip_->Allow(peer->ip(), &retry)) {
    return Fail(peer, r.id(), pb::RATE_LIMITED, "too many attempts", retry);
  }
  struct Outcome {
    pb::Status status = pb::OK;
    AccountId account{};
    std::vector<uint32_t> removed;
  };
  auto out = std::make_shared<Outcome>();
  const std::string phone = v.phone();
  const Bytes given = HashCode("register:" + phone + ":", v.code());
  Device device;
  device.registration_id = v.registration_id();
  device.name = v.device_name();
  auto hash = std::make_shared<Bytes>();  // filled on the hashing threads before `work` runs
  device.created_ms = NowMs();
  device.last_seen_ms = DayFloor(device.created_ms);
  const int64_t now = NowMs();
  const uint32_t max_attempts = config_.max_code_attempts;
  AccountId fresh_id;
  rng_.Fill(fresh_id);
  AfterHashing(
      peer, v.credential(), hash,
      [=, this](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(auto code, s.accounts().GetCode(phone));
        if (!code || code->expires_ms < now || code->attempts >= max_attempts) {
          if (code) {
            HF_RETURN_IF_ERROR(s.accounts().DeleteCode(phone));
          }
          out->status = pb::INVALID_CODE;
          return Ok();
        }
        if (!ConstantTimeEquals(code->code_hash, given)) {
          ++code->attempts;
          HF_RETURN_IF_ERROR(s.accounts().PutCode(phone, *code));
          out->status = pb::INVALID_CODE;
          return Ok();  // the attempt is recorded
        }
        HF_RETURN_IF_ERROR(s.accounts().DeleteCode(phone));
        HF_ASSIGN_OR_RETURN(auto existing, s.accounts().ByPhone(phone));
        if (existing) {
          // Re-registration: the old devices, their keys and queues go.
          out->account = existing->id;
          HF_ASSIGN_OR_RETURN(const auto devices, s.accounts().Devices(existing->id));
          for (const Device& d : devices) {
            HF_RETURN_IF_ERROR(s.keys().DeleteDeviceKeys(existing->id, d.id));
            HF_RETURN_IF_ERROR(Discard(s.queues().DeleteDevice(existing->id, d.id)));
            out->removed.push_back(d.id);
          }
          HF_RETURN_IF_ERROR(s.accounts().ResetDevices(existing->id));
          // Queues were deleted: cached depths are read again on next use. depth_ belongs to
          // the database thread, where this runs.
          depth_.clear();
        } else {
          out->account = fresh_id;
          HF_RETURN_IF_ERROR(s.accounts().Create(Account{fresh_id, phone, {}, now}));
        }
        Device primary = device;
        primary.credential_hash = *hash;
        HF_ASSIGN_OR_RETURN(const uint32_t id, s.accounts().AddDevice(out->account, primary));
        if (id != kPrimaryDevice) {
          return Error{ErrorCode::kStorageFailure, "primary device id"};
        }
        return Ok();
      },
      [this, peer, out, id = r.id()](Result<void> done) {
        if (out->status != pb::OK) {
          return Fail(peer, id, out->status, "wrong or expired code");
        }
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        for (uint32_t d : out->removed) {
          if (auto old = Lookup(out->account, d)) {
            old->Post([old] { old->Close(); });
          }
        }
        pb::Frame f = wire::OkFrame(id);
        auto* body = f.mutable_response()->mutable_verify();
        body->set_account_id(AsString(ByteSpan(out->account.data(), out->account.size())));
        body->set_device_id(kPrimaryDevice);
        Reply(peer, std::move(f));
      });
}

void Service::HandleAuth(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const pb::AuthRequest& a = r.auth();
  AccountId account;
  if (!ParseAccountId(a.account_id(), &account) || a.device_id() == 0 ||
      a.credential().size() < wire::kMinCredentialBytes ||
      a.credential().size() > wire::kMaxCredentialBytes) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad account id, device id or credential");
  }
  if (peer->state.authenticated) {
    return Fail(peer, r.id(), pb::FORBIDDEN, "this connection is already authenticated");
  }
  uint64_t retry = 0;
  // Only failures are charged (below, under the same key); a spent budget stops every try.
  if (auth_failures_per_ip_->Exhausted(peer->ip(), &retry)) {
    return Fail(peer, r.id(), pb::RATE_LIMITED, "too many failed sign-ins", retry);
  }
  auto device = std::make_shared<std::optional<Device>>();
  const uint32_t device_id = a.device_id();
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(*device, s.accounts().GetDevice(account, device_id));
        return Ok();
      },
      [this, peer, device, account, device_id, credential = a.credential(), id = r.id()](
          Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        if (peer->state.closed || peer->state.authenticated) {
          return;
        }
        std::string cache_key;
        const Bytes stored = *device ? (*device)->credential_hash : Bytes();
        if (*device && CachedCredential(account, device_id, AsBytes(credential), stored, &cache_key)) {
          return SignIn(peer, id, account, device_id);
        }
        // Not seen since start: Argon2id on the hashing threads, then back here.
        hashers_->Post([this, peer, id, account, device_id, credential, stored, cache_key,
                        known = device->has_value()] {
          const bool ok = known && VerifyCredential(AsBytes(credential), stored, cache_key);
          peer->Post([this, peer, id, account, device_id, ok] {
            if (peer->state.closed || peer->state.authenticated) {
              return;
            }
            if (!ok) {
              uint64_t retry_after = 0;
              (void)auth_failures_per_ip_->Allow(peer->ip(), &retry_after);
              if (log_ != nullptr) {
                log_->Warning("auth.refused",
                              {LogField::Ip(peer->ip()), LogField::Status("refused")});
              }
              return Fail(peer, id, pb::UNAUTHENTICATED, "unknown device or wrong credential");
            }
            SignIn(peer, id, account, device_id);
          });
        });
      });
}

void Service::SignIn(const std::shared_ptr<Peer>& peer, uint64_t id, const AccountId& account,
                     uint32_t device_id) {
  PeerState& st = peer->state;
  st.authenticated = true;
  st.account = account;
  st.device = device_id;
  Register(peer);
  if (log_ != nullptr && log_->Enabled(LogLevel::kDebug)) {
    log_->Debug("auth.ok", {LogField::Account(tagger_->Tag(ByteSpan(account.data(), account.size()))),
                            LogField::Int("device", device_id), LogField::Ip(peer->ip())});
  }
  Reply(peer, wire::OkFrame(id));
  // Record the connection, then start delivering the queue.
  IpRecord rec{account, device_id, peer->ip(), peer->port(), NowMs(), std::nullopt};
  auto record_id = std::make_shared<uint64_t>(0);
  const int64_t day = DayFloor(rec.start_ms);
  After(
      peer,
      [rec, record_id, day](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(*record_id, s.ip_records().Open(rec));
        return s.accounts().TouchDevice(rec.account, rec.device, day);
      },
      [this, peer, record_id](Result<void> opened) {
        if (!opened.ok()) {
          return peer->Close();  // never serve a connection we could not record
        }
        if (peer->state.closed) {
          const uint64_t rid = *record_id;
          const int64_t now = NowMs();
          db_.Submit([rid, now](Storage& s) { return s.ip_records().Close(rid, now); }, nullptr);
          return;
        }
        peer->state.ip_record = *record_id;
        Deliver(peer);
      });
}

void Service::HandleCreateLinkCode(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  if (st.device != kPrimaryDevice) {
    return Fail(peer, r.id(), pb::FORBIDDEN, "only the primary device links devices");
  }
  Bytes raw(kLinkCodeBytes);
  rng_.Fill(raw);
  const std::string code = HexEncode(raw);
  const LinkCode link{st.account, NowMs() + config_.link_code_ttl.count()};
  const Bytes hash = HashCode("link:", code);
  After(
      peer, [hash, link](Storage& s) { return s.accounts().PutLinkCode(hash, link); },
      [this, peer, code, link, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        pb::Frame f = wire::OkFrame(id);
        auto* body = f.mutable_response()->mutable_create_link_code();
        body->set_code(code);
        body->set_expires_at_ms(link.expires_ms);
        Reply(peer, std::move(f));
      });
}

void Service::HandleLinkDevice(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const pb::LinkDeviceRequest& l = r.link_device();
  if (l.code().size() != 2 * kLinkCodeBytes ||
      !ValidNewDevice(l.credential(), l.registration_id(), l.device_name())) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad code, credential or registration id");
  }
  uint64_t retry = 0;
  if (!verify_per_ip_->Allow(peer->ip(), &retry)) {
    return Fail(peer, r.id(), pb::RATE_LIMITED, "too many attempts", retry);
  }
  struct Outcome {
    pb::Status status = pb::OK;
    AccountId account{};
    uint32_t device = 0;
  };
  auto out = std::make_shared<Outcome>();
  const Bytes hash = HashCode("link:", l.code());
  Device device;
  device.registration_id = l.registration_id();
  device.name = l.device_name();
  auto credential_hash = std::make_shared<Bytes>();  // filled on the hashing threads first
  device.created_ms = NowMs();
  device.last_seen_ms = DayFloor(device.created_ms);
  const int64_t now = device.created_ms;
  const uint32_t max_devices = 1 + config_.max_linked_devices;
  AfterHashing(
      peer, l.credential(), credential_hash,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(auto link, s.accounts().TakeLinkCode(hash));
        if (!link || link->expires_ms < now) {
          out->status = pb::INVALID_CODE;
          return Ok();  // an expired code is used up too
        }
        HF_ASSIGN_OR_RETURN(const auto devices, s.accounts().Devices(link->account));
        if (devices.size() >= max_devices) {
          out->status = pb::LIMIT_REACHED;
          return kRejected;  // keep the code for after a device was removed
        }
        out->account = link->account;
        Device linked = device;
        linked.credential_hash = *credential_hash;
        HF_ASSIGN_OR_RETURN(out->device, s.accounts().AddDevice(link->account, linked));
        return Ok();
      },
      [this, peer, out, id = r.id()](Result<void> done) {
        if (out->status != pb::OK) {
          return Fail(peer, id, out->status,
                      out->status == pb::LIMIT_REACHED ? "the account has the most devices allowed"
                                                       : "wrong or expired link code");
        }
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        pb::Frame f = wire::OkFrame(id);
        auto* body = f.mutable_response()->mutable_link_device();
        body->set_account_id(AsString(ByteSpan(out->account.data(), out->account.size())));
        body->set_device_id(out->device);
        Reply(peer, std::move(f));
      });
}

void Service::HandleListDevices(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  if (!peer->state.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  auto devices = std::make_shared<std::vector<Device>>();
  const AccountId account = peer->state.account;
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(*devices, s.accounts().Devices(account));
        return Ok();
      },
      [this, peer, devices, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        pb::Frame f = wire::OkFrame(id);
        auto* body = f.mutable_response()->mutable_list_devices();
        for (const Device& d : *devices) {
          auto* info = body->add_devices();
          info->set_device_id(d.id);
          info->set_name(d.name);
          info->set_created_at_ms(d.created_ms);
          info->set_last_seen_ms(d.last_seen_ms);
        }
        Reply(peer, std::move(f));
      });
}

void Service::HandleRemoveDevice(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  const uint32_t target = r.remove_device().device_id();
  if (target == kPrimaryDevice || (st.device != kPrimaryDevice && target != st.device)) {
    return Fail(peer, r.id(), pb::FORBIDDEN,
                "the primary device removes linked devices; a linked device only itself");
  }
  auto found = std::make_shared<bool>(false);
  const AccountId account = st.account;
  After(
      peer,
      [=, this](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(const auto device, s.accounts().GetDevice(account, target));
        if (!device) {
          return Ok();
        }
        *found = true;
        HF_RETURN_IF_ERROR(s.accounts().RemoveDevice(account, target));
        HF_RETURN_IF_ERROR(s.keys().DeleteDeviceKeys(account, target));
        depth_.clear();  // on the database thread, which owns depth_
        return Discard(s.queues().DeleteDevice(account, target));
      },
      [this, peer, found, account, target, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        if (!*found) {
          return Fail(peer, id, pb::NOT_FOUND, "no such device");
        }
        Reply(peer, wire::OkFrame(id));
        if (auto gone = Lookup(account, target)) {
          gone->Post([gone] { gone->Close(); });
        }
      });
}

void Service::HandleLookup(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  const std::string phone = r.lookup().phone();
  if (!IsE164(phone)) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "phone number must be in E.164 form");
  }
  uint64_t retry = 0;
  if (!lookups_per_account_->Allow(AccountKey(st.account), &retry)) {
    return Fail(peer, r.id(), pb::RATE_LIMITED, "too many lookups", retry);
  }
  struct Outcome {
    std::optional<AccountId> account;
    std::vector<uint32_t> devices;
  };
  auto out = std::make_shared<Outcome>();
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(const auto account, s.accounts().ByPhone(phone));
        if (!account) {
          return Ok();
        }
        out->account = account->id;
        HF_ASSIGN_OR_RETURN(const auto devices, s.accounts().Devices(account->id));
        for (const Device& d : devices) {
          out->devices.push_back(d.id);
        }
        return Ok();
      },
      [this, peer, out, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        if (!out->account) {
          return Fail(peer, id, pb::NOT_FOUND, "not registered");
        }
        pb::Frame f = wire::OkFrame(id);
        auto* body = f.mutable_response()->mutable_lookup();
        body->set_account_id(AsString(ByteSpan(out->account->data(), out->account->size())));
        for (uint32_t d : out->devices) {
          body->add_device_ids(d);
        }
        Reply(peer, std::move(f));
      });
}

// --- Keys ------------------------------------------------------------------------------------

void Service::HandleSetKeys(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  const pb::SetKeysRequest& k = r.set_keys();
  if ((!k.identity_key().empty() && !ValidSignalKey(k.identity_key())) ||
      (k.has_signed_pre_key() && (!ValidSignalKey(k.signed_pre_key().public_key()) ||
                                  k.signed_pre_key().signature().size() != kSignatureBytes)) ||
      static_cast<size_t>(k.one_time_pre_keys_size()) > wire::kMaxPreKeysPerUpload) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad key, signature or too many prekeys");
  }
  std::vector<OneTimePreKeyRecord> one_time;
  std::set<uint32_t> ids;
  for (const auto& p : k.one_time_pre_keys()) {
    if (!ValidSignalKey(p.public_key()) || !ids.insert(p.id()).second) {
      return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad or repeated one-time prekey");
    }
    one_time.push_back({p.id(), ToBytes(AsBytes(p.public_key()))});
  }
  std::optional<SignedPreKeyRecord> spk;
  if (k.has_signed_pre_key()) {
    spk = SignedPreKeyRecord{k.signed_pre_key().id(),
                             ToBytes(AsBytes(k.signed_pre_key().public_key())),
                             ToBytes(AsBytes(k.signed_pre_key().signature()))};
  }
  const Bytes identity = ToBytes(AsBytes(k.identity_key()));
  auto status = std::make_shared<pb::Status>(pb::OK);
  const AccountId account = st.account;
  const uint32_t device = st.device;
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        Bytes id_key = identity;
        if (id_key.empty()) {
          HF_ASSIGN_OR_RETURN(const auto current, s.keys().GetDeviceKeys(account, device));
          if (!current) {
            *status = pb::INVALID_ARGUMENT;  // the first upload must carry the identity key
            return kRejected;
          }
          id_key = current->identity_key;
        } else {
          HF_RETURN_IF_ERROR(s.keys().SetIdentityKey(account, device, id_key));
        }
        if (spk) {
          // The signed prekey must be signed by the device's identity key (XEdDSA).
          auto identity_key = crypto::X25519PublicKey::Parse(id_key);
          if (!identity_key.ok() ||
              !crypto::XEdDsaVerify(*identity_key, spk->public_key, spk->signature).ok()) {
            *status = pb::INVALID_ARGUMENT;
            return kRejected;
          }
          HF_RETURN_IF_ERROR(s.keys().SetSignedPreKey(account, device, *spk));
        }
        if (!one_time.empty()) {
          HF_RETURN_IF_ERROR(s.keys().AddOneTimePreKeys(account, device, one_time));
        }
        return Ok();
      },
      [this, peer, status, id = r.id()](Result<void> done) {
        if (*status != pb::OK) {
          return Fail(peer, id, *status, "identity key missing or signed prekey signature bad");
        }
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        Reply(peer, wire::OkFrame(id));
      });
}

void Service::HandlePreKeyCount(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  auto count = std::make_shared<uint32_t>(0);
  const AccountId account = st.account;
  const uint32_t device = st.device;
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(*count, s.keys().CountOneTimePreKeys(account, device));
        return Ok();
      },
      [this, peer, count, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        pb::Frame f = wire::OkFrame(id);
        f.mutable_response()->mutable_pre_key_count()->set_count(*count);
        Reply(peer, std::move(f));
      });
}

void Service::HandleGetBundles(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  if (!peer->state.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  AccountId account;
  if (!ParseAccountId(r.get_bundles().account_id(), &account)) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad account id");
  }
  const uint32_t wanted = r.get_bundles().device_id();
  auto bundles = std::make_shared<pb::GetBundlesResponse>();
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(const auto devices, s.accounts().Devices(account));
        for (const Device& d : devices) {
          if (wanted != 0 && d.id != wanted) {
            continue;
          }
          HF_ASSIGN_OR_RETURN(const auto keys, s.keys().GetDeviceKeys(account, d.id));
          if (!keys || !keys->signed_pre_key) {
            continue;  // a device that has not uploaded keys yet cannot be reached
          }
          pb::Bundle* b = bundles->add_bundles();
          b->set_device_id(d.id);
          b->set_registration_id(d.registration_id);
          b->set_identity_key(AsString(keys->identity_key));
          b->mutable_signed_pre_key()->set_id(keys->signed_pre_key->id);
          b->mutable_signed_pre_key()->set_public_key(AsString(keys->signed_pre_key->public_key));
          b->mutable_signed_pre_key()->set_signature(AsString(keys->signed_pre_key->signature));
          HF_ASSIGN_OR_RETURN(const auto one_time, s.keys().TakeOneTimePreKey(account, d.id));
          if (one_time) {
            b->mutable_one_time_pre_key()->set_id(one_time->id);
            b->mutable_one_time_pre_key()->set_public_key(AsString(one_time->public_key));
          }
        }
        return Ok();
      },
      [this, peer, bundles, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        if (bundles->bundles_size() == 0) {
          return Fail(peer, id, pb::NOT_FOUND, "no such account or device with keys");
        }
        pb::Frame f = wire::OkFrame(id);
        *f.mutable_response()->mutable_get_bundles() = std::move(*bundles);
        Reply(peer, std::move(f));
      });
}

// --- Messages --------------------------------------------------------------------------------

void Service::HandleSend(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const pb::SendRequest& req = r.send();
  const PeerState& st = peer->state;
  const bool sealed = !req.unidentified_access_key().empty();
  if (!sealed && !st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in, or send sealed with an access key");
  }
  AccountId destination;
  if (!ParseAccountId(req.destination(), &destination) ||
      (sealed && req.unidentified_access_key().size() != wire::kAccessKeyBytes) ||
      req.messages_size() == 0 ||
      static_cast<uint32_t>(req.messages_size()) > wire::kMaxDevicesPerAccount) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad destination, access key or device list");
  }
  // The named devices in id order, for the comparison with the account's devices.
  std::vector<uint32_t> named;
  named.reserve(static_cast<size_t>(req.messages_size()));
  for (const auto& m : req.messages()) {
    if (m.content().size() > config_.max_envelope_bytes) {
      return Fail(peer, r.id(), pb::TOO_LARGE, "envelope above the size limit");
    }
    if (m.content().empty() || !ValidEnvelopeType(m.type())) {
      return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "empty content, bad type or repeated device");
    }
    named.push_back(m.device_id());
  }
  std::sort(named.begin(), named.end());
  if (std::adjacent_find(named.begin(), named.end()) != named.end()) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "empty content, bad type or repeated device");
  }
  uint64_t retry = 0;
  const std::string limiter_key = sealed ? peer->ip() : AccountKey(st.account);
  if (!sends_per_account_->Allow(limiter_key, &retry)) {
    return Fail(peer, r.id(), pb::RATE_LIMITED, "sending too fast", retry);
  }

  struct Stored {
    uint32_t device;
    uint64_t seq;
    Envelope envelope;
  };
  struct Outcome {
    pb::Status status = pb::OK;
    pb::MismatchedDevices mismatched;
    pb::StaleDevices stale;
    std::vector<Stored> stored;
  };
  auto out = std::make_shared<Outcome>();
  const int64_t now = NowMs();
  // Everything the storage item needs, copied out of the request.
  struct Item {
    uint32_t device;
    uint32_t registration_id;
    Envelope envelope;
  };
  std::vector<Item> items;
  size_t bytes = 0;  // for the batch's byte bound
  for (const auto& m : req.messages()) {
    Item it{m.device_id(), m.registration_id(), {}};
    it.envelope.id = NewEnvelopeId(now, rng_);
    it.envelope.type = static_cast<uint32_t>(m.type());
    if (!sealed) {
      it.envelope.source_account = ToBytes(ByteSpan(st.account.data(), st.account.size()));
      it.envelope.source_device = st.device;
    }
    it.envelope.client_timestamp = req.timestamp();
    it.envelope.server_timestamp = now;
    it.envelope.content = ToBytes(AsBytes(m.content()));
    bytes += it.envelope.content.size();
    items.push_back(std::move(it));
  }
  const Bytes access_key = ToBytes(AsBytes(req.unidentified_access_key()));
  const bool to_self = st.authenticated && destination == st.account;
  const uint32_t own_device = st.device;
  const uint64_t queue_limit = config_.max_queue_per_device;
  const auto start = std::chrono::steady_clock::now();
  // With one envelope, its insert is the item's only write and its last statement (every
  // refusal comes before it): no savepoint is needed.
  const auto submit = items.size() == 1 ? &Database::SubmitOneWrite : &Database::Submit;

  (db_.*submit)(
      [this, out, items = std::move(items), named = std::move(named), destination, sealed,
       access_key, to_self, own_device, queue_limit](Storage& s) mutable -> Result<void> {
        HF_ASSIGN_OR_RETURN(const auto account, s.accounts().GetRecipient(destination));
        if (sealed && (!account || account->access_key.size() != wire::kAccessKeyBytes ||
                       !ConstantTimeEquals(account->access_key, access_key))) {
          out->status = pb::UNAUTHENTICATED;  // the same answer whether or not it exists
          return kRejected;
        }
        if (!account) {
          out->status = pb::NOT_FOUND;
          return kRejected;
        }
        // Both lists are in device id order: `named` was sorted before submitting, and the
        // recipient's devices come sorted from storage.
        std::vector<uint32_t> expected;
        expected.reserve(account->devices.size());
        for (const Recipient::Device& d : account->devices) {
          if (!(to_self && d.id == own_device)) {
            expected.push_back(d.id);
          }
        }
        auto want = expected.begin();
        auto got = named.begin();
        while (want != expected.end() || got != named.end()) {
          if (got == named.end() || (want != expected.end() && *want < *got)) {
            out->mismatched.add_missing(*want++);
          } else if (want == expected.end() || *got < *want) {
            out->mismatched.add_extra(*got++);
          } else {
            ++want;
            ++got;
          }
        }
        if (out->mismatched.missing_size() > 0 || out->mismatched.extra_size() > 0) {
          out->status = pb::MISMATCHED_DEVICES;
          return kRejected;
        }
        for (const Item& it : items) {
          // Every item names one of the devices: checked just above.
          const auto device = std::lower_bound(
              account->devices.begin(), account->devices.end(), it.device,
              [](const Recipient::Device& d, uint32_t id) { return d.id < id; });
          if (device == account->devices.end() || device->id != it.device) {
            return Error{ErrorCode::kStorageFailure, "recipient devices out of order"};
          }
          if (device->registration_id != it.registration_id) {
            out->stale.add_stale(it.device);
          }
        }
        if (out->stale.stale_size() > 0) {
          out->status = pb::STALE_DEVICES;
          return kRejected;
        }
        for (Item& it : items) {
          const DeviceAddress key{destination, it.device};
          auto depth = depth_.find(key);
          if (depth == depth_.end()) {
            HF_ASSIGN_OR_RETURN(const uint64_t n, s.queues().Count(destination, it.device));
            depth = depth_.emplace(key, n).first;
          }
          if (depth->second >= queue_limit) {
            out->status = pb::QUEUE_FULL;
            return kRejected;
          }
          HF_ASSIGN_OR_RETURN(const uint64_t seq, s.queues().Insert(destination, it.device,
                                                                    it.envelope));
          out->stored.push_back(Stored{it.device, seq, std::move(it.envelope)});
        }
        return Ok();
      },
      [this, peer, out, destination, start, id = r.id()](Result<void> done) {
        // On the database thread, after the commit: count, then tell the recipients' live
        // connections, in commit order.
        const bool ok = done.ok() && out->status == pb::OK;
        if (ok) {
          for (const Stored& s : out->stored) {
            // A depth cleared since the work ran is read again from storage, which holds this
            // envelope already; operator[] would restart it at 1, below the real depth.
            if (auto depth = depth_.find(DeviceAddress{destination, s.device}); depth != depth_.end()) {
              ++depth->second;
            }
            OnEnvelopeCommitted(destination, s.device, s.seq, s.envelope);
          }
          if (metrics_ != nullptr) {
            metrics_->envelopes_in.Inc(out->stored.size());
            metrics_->queue_depth.Add(static_cast<int64_t>(out->stored.size()));
          }
        } else if (!done.ok() && out->status == pb::OK) {
          depth_.clear();  // the commit failed: cached depths may be ahead of the database
          if (log_ != nullptr) {
            log_->Error("send.storage_failed", {LogField::Failure(done.error())});
          }
        }
        peer->Post([this, peer, out, ok, start, id, done_ok = done.ok()] {
          if (metrics_ != nullptr) {
            metrics_->request_seconds.Observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          }
          if (out->status == pb::MISMATCHED_DEVICES) {
            pb::Frame f = wire::ResponseFrame(id, pb::MISMATCHED_DEVICES, "devices differ");
            *f.mutable_response()->mutable_mismatched_devices() = out->mismatched;
            return Reply(peer, std::move(f));
          }
          if (out->status == pb::STALE_DEVICES) {
            pb::Frame f = wire::ResponseFrame(id, pb::STALE_DEVICES, "registration ids differ");
            *f.mutable_response()->mutable_stale_devices() = out->stale;
            return Reply(peer, std::move(f));
          }
          if (out->status != pb::OK) {
            return Fail(peer, id, out->status,
                        out->status == pb::QUEUE_FULL ? "a recipient device's queue is full"
                                                      : "cannot deliver to this account");
          }
          if (!done_ok || !ok) {
            return Fail(peer, id, pb::UNAVAILABLE, "storage failed; not stored");
          }
          pb::Frame f = wire::OkFrame(id);
          auto* body = f.mutable_response()->mutable_send();
          for (const Stored& s : out->stored) {
            body->add_envelope_ids(AsString(ByteSpan(s.envelope.id.data(), s.envelope.id.size())));
          }
          Reply(peer, std::move(f));
        });
      },
      bytes);
}

void Service::OnEnvelopeCommitted(const AccountId& account, uint32_t device, uint64_t seq,
                                  const Envelope& envelope) {
  auto peer = Lookup(account, device);
  if (!peer) {
    return;
  }
  peer->Post([this, peer, seq, envelope] {
    PeerState& st = peer->state;
    if (st.closed || !st.authenticated) {
      return;
    }
    // Push at once only when every earlier envelope of the queue has been pushed: the queue
    // was drained, no read is outstanding, and nothing was held back for lack of room.
    if (!st.fetching && !st.fetch_again && st.queue_empty_sent &&
        st.inflight.size() < config_.max_inflight_pushes && seq > st.last_pushed_seq) {
      PushEnvelope(peer, envelope);
      st.last_pushed_seq = seq;
      return;
    }
    st.fetch_again = true;
    Deliver(peer);
  });
}

void Service::PushEnvelope(const std::shared_ptr<Peer>& peer, const Envelope& envelope) {
  pb::Frame f;
  FillEnvelope(envelope, f.mutable_push()->mutable_envelope());
  peer->state.inflight.insert(envelope.id);
  peer->Send(f);
}

void Service::Deliver(const std::shared_ptr<Peer>& peer) {
  PeerState& st = peer->state;
  if (!st.authenticated || st.closed) {
    return;
  }
  if (st.fetching || st.inflight.size() >= config_.max_inflight_pushes) {
    st.fetch_again = true;
    return;
  }
  const size_t limit = config_.max_inflight_pushes - st.inflight.size();
  st.fetching = true;
  st.fetch_again = false;
  auto page = std::make_shared<std::vector<QueuedEnvelope>>();
  const AccountId account = st.account;
  const uint32_t device = st.device;
  const uint64_t after = st.last_pushed_seq;
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(*page, s.queues().Fetch(account, device, after, limit));
        return Ok();
      },
      [this, peer, page, limit](Result<void> done) {
        PeerState& state = peer->state;
        state.fetching = false;
        if (state.closed) {
          return;
        }
        if (!done.ok()) {
          return peer->Close();  // the client reconnects and the queue is read again
        }
        for (const QueuedEnvelope& q : *page) {
          if (q.seq > state.last_pushed_seq) {
            PushEnvelope(peer, q.envelope);
            state.last_pushed_seq = q.seq;
          }
        }
        if (page->size() >= limit) {
          state.fetch_again = true;  // there may be more
        }
        if (state.fetch_again) {
          return Deliver(peer);
        }
        if (!state.queue_empty_sent) {
          state.queue_empty_sent = true;
          pb::Frame f;
          f.mutable_push()->mutable_queue_empty();
          peer->Send(f);
        }
      });
}

void Service::HandleAck(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  if (r.ack().envelope_ids_size() == 0 ||
      static_cast<size_t>(r.ack().envelope_ids_size()) > kMaxAcksPerRequest) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "1 to 1000 envelope ids");
  }
  std::vector<EnvelopeId> ids;
  for (const auto& id : r.ack().envelope_ids()) {
    if (id.size() != kEnvelopeIdBytes) {
      return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "bad envelope id");
    }
    EnvelopeId e;
    std::copy(id.begin(), id.end(), e.begin());
    ids.push_back(e);
  }
  auto deleted = std::make_shared<uint64_t>(0);
  const AccountId account = st.account;
  const uint32_t device = st.device;
  db_.Submit(
      [=](Storage& s) -> Result<void> {
        for (const EnvelopeId& e : ids) {
          HF_ASSIGN_OR_RETURN(const bool found, s.queues().Delete(account, device, e));
          *deleted += found ? 1 : 0;
        }
        return Ok();
      },
      [this, peer, deleted, account, device, ids, id = r.id()](Result<void> done) {
        if (done.ok()) {
          auto depth = depth_.find(DeviceAddress{account, device});
          if (depth != depth_.end()) {
            depth->second -= std::min(depth->second, *deleted);
          }
          if (metrics_ != nullptr) {
            metrics_->envelopes_out.Inc(*deleted);
            metrics_->queue_depth.Add(-static_cast<int64_t>(*deleted));
          }
        }
        peer->Post([this, peer, ids, id, ok = done.ok()] {
          PeerState& state = peer->state;
          if (!ok) {
            return Fail(peer, id, pb::UNAVAILABLE, "storage failed; acknowledge again");
          }
          // Acknowledged envelopes pushed on this connection free room for more pushes;
          // unknown ids, and those pushed to an earlier connection, free none.
          for (const EnvelopeId& e : ids) {
            state.inflight.erase(e);
          }
          Reply(peer, wire::OkFrame(id));
          if (state.fetch_again) {
            Deliver(peer);
          }
        });
      });
}

// --- Sealed sender and server facts -----------------------------------------------------------

void Service::HandleSetAccessKey(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  if (r.set_access_key().unidentified_access_key().size() != wire::kAccessKeyBytes) {
    return Fail(peer, r.id(), pb::INVALID_ARGUMENT, "access keys are 16 bytes");
  }
  const Bytes key = ToBytes(AsBytes(r.set_access_key().unidentified_access_key()));
  const AccountId account = st.account;
  After(
      peer, [=](Storage& s) { return s.accounts().SetAccessKey(account, key); },
      [this, peer, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id, pb::UNAVAILABLE, "storage failed");
        }
        Reply(peer, wire::OkFrame(id));
      });
}

void Service::HandleSenderCertificate(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  const PeerState& st = peer->state;
  if (!st.authenticated) {
    return Fail(peer, r.id(), pb::UNAUTHENTICATED, "sign in first");
  }
  auto cert = std::make_shared<pb::SenderCertificate::Certificate>();
  const AccountId account = st.account;
  const uint32_t device = st.device;
  const int64_t expires = NowMs() + config_.sender_certificate_ttl.count();
  const uint32_t key_id = keys_.certificate_key_id;
  After(
      peer,
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(const auto a, s.accounts().ById(account));
        HF_ASSIGN_OR_RETURN(const auto keys, s.keys().GetDeviceKeys(account, device));
        if (!a || !keys) {
          return Error{ErrorCode::kNotFound, "keys"};
        }
        cert->set_account_id(AsString(ByteSpan(account.data(), account.size())));
        cert->set_device_id(device);
        cert->set_phone(a->phone);
        cert->set_identity_key(AsString(keys->identity_key));
        cert->set_expires_ms(expires);
        cert->set_key_id(key_id);
        return Ok();
      },
      [this, peer, cert, id = r.id()](Result<void> done) {
        if (!done.ok()) {
          return Fail(peer, id,
                      done.code() == ErrorCode::kNotFound ? pb::NOT_FOUND : pb::UNAVAILABLE,
                      "upload an identity key first");
        }
        const std::string body = cert->SerializeAsString();
        const auto signature = keys_.certificate_key.Sign(AsBytes(body));
        pb::Frame f = wire::OkFrame(id);
        auto* out = f.mutable_response()->mutable_sender_certificate()->mutable_certificate();
        out->set_certificate(body);
        out->set_signature(AsString(ByteSpan(signature.data(), signature.size())));
        Reply(peer, std::move(f));
      });
}

void Service::HandleServerInfo(const std::shared_ptr<Peer>& peer, const pb::Request& r) {
  pb::Frame f = wire::OkFrame(r.id());
  auto* info = f.mutable_response()->mutable_server_info();
  info->set_version(wire::kProtocolVersion);
  const auto pub = keys_.certificate_key.PublicKey().bytes();
  info->set_certificate_public_key(AsString(ByteSpan(pub.data(), pub.size())));
  info->set_certificate_key_id(keys_.certificate_key_id);
  info->set_max_envelope_bytes(config_.max_envelope_bytes);
  Reply(peer, std::move(f));
}

// --- Server notices ----------------------------------------------------------------------------

void Service::DeliverServerNotice(const AccountId& account, Bytes content, Bytes key,
                                  std::function<void(Result<void>)> done) {
  struct Stored {
    uint32_t device;
    uint64_t seq;
    Envelope envelope;
  };
  auto stored = std::make_shared<std::vector<Stored>>();
  const int64_t now = NowMs();
  const size_t bytes = content.size();  // per device: the batch bound counts one
  db_.Submit(
      [this, account, content = std::move(content), key = std::move(key), now,
       stored](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(auto devices, s.accounts().Devices(account));
        for (const Device& d : devices) {
          Envelope e;
          const uint8_t device_bytes[4] = {
              static_cast<uint8_t>(d.id >> 24), static_cast<uint8_t>(d.id >> 16),
              static_cast<uint8_t>(d.id >> 8), static_cast<uint8_t>(d.id)};
          const auto digest = crypto::Sha256(
              {AsBytes("holdfast/server-notice/v1"), key, ByteSpan(device_bytes, 4)});
          std::copy_n(digest.begin(), e.id.size(), e.id.begin());
          e.type = pb::SERVER_NOTICE;
          e.client_timestamp = now;
          e.server_timestamp = now;
          e.content = content;
          // A notice delivered before a crash is already queued under the same id: the
          // device has it, so this round leaves that queue alone.
          HF_RETURN_IF_ERROR(s.Savepoint());
          auto seq = s.queues().Insert(account, d.id, e);
          if (!seq.ok()) {
            HF_RETURN_IF_ERROR(s.RollbackToSavepoint());
            if (seq.error().code == ErrorCode::kAlreadyExists) {
              continue;
            }
            return seq.error();
          }
          HF_RETURN_IF_ERROR(s.Release());
          stored->push_back(Stored{d.id, *seq, std::move(e)});
        }
        depth_.clear();  // on the database thread, which owns depth_
        return Ok();
      },
      [this, account, stored, done = std::move(done)](Result<void> r) {
        if (r.ok()) {
          if (metrics_ != nullptr) {
            metrics_->queue_depth.Add(static_cast<int64_t>(stored->size()));
          }
          for (const Stored& x : *stored) {
            OnEnvelopeCommitted(account, x.device, x.seq, x.envelope);
          }
        }
        if (done) {
          done(std::move(r));
        }
      },
      bytes);
}

// --- Maintenance -------------------------------------------------------------------------------

void Service::RunMaintenance(std::function<void(Result<void>)> done) {
  const int64_t now = NowMs();
  const int64_t envelope_cutoff = now - config_.envelope_ttl.count();
  const int64_t ip_cutoff = now - config_.ip_retention.count();
  struct Purged {
    uint64_t envelopes = 0;
    uint64_t ip_records = 0;
  };
  auto purged = std::make_shared<Purged>();
  db_.Submit(
      [=](Storage& s) -> Result<void> {
        HF_ASSIGN_OR_RETURN(purged->envelopes, s.queues().PurgeBefore(envelope_cutoff));
        HF_ASSIGN_OR_RETURN(purged->ip_records, s.ip_records().PurgeEndedBefore(ip_cutoff));
        return Discard(s.accounts().PurgeExpiredCodes(now));
      },
      [this, purged, done = std::move(done)](Result<void> r) {
        if (r.ok() && purged->envelopes > 0) {
          depth_.clear();
        }
        if (log_ != nullptr) {
          if (r.ok()) {
            log_->Info("maintenance.purged", {LogField::Int("envelopes", purged->envelopes),
                                              LogField::Int("ip_records", purged->ip_records)});
          } else {
            log_->Error("maintenance.failed", {LogField::Failure(r.error())});
          }
        }
        if (r.ok() && metrics_ != nullptr) {
          metrics_->envelopes_expired.Inc(purged->envelopes);
          metrics_->queue_depth.Add(-static_cast<int64_t>(purged->envelopes));
          metrics_->ip_records_purged.Inc(purged->ip_records);
        }
        if (done) {
          done(std::move(r));
        }
      });
}

}  // namespace holdfast::server
