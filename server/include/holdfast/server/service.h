// Service: what holdfastd does with each request, independent of the transport.
//
// The transport (server.h) gives the service one Peer per WebSocket connection and hands it
// every binary frame. The service answers on the same Peer, pushes envelopes to it, and keeps
// its per-connection state in Peer::state. Storage work goes through Database (one thread,
// group commit); a peer's own state is only touched on the peer's thread, so a connection
// needs no locks.
#ifndef HOLDFAST_SERVER_SERVICE_H_
#define HOLDFAST_SERVER_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "holdfast/common/clock.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/server/code_sender.h"
#include "holdfast/server/config.h"
#include "holdfast/server/database.h"
#include "holdfast/server/storage.h"
#include "holdfast/wire/frame.h"

namespace holdfast::server {

class Logger;
class Metrics;
class RateLimiter;
class WorkerPool;

// TokenBucket is a rate limit for one key (used per connection).
struct TokenBucket {
  double tokens = -1;  // < 0: not started, full
  int64_t last_ms = 0;
  bool Take(const RateLimit& limit, int64_t now_ms);
};

static_assert(std::is_same_v<EnvelopeId, wire::EnvelopeId>, "storage and wire ids differ");
using wire::EnvelopeIdHash;

// DeviceAddress names one device of one account: the key of the connection registry and of
// the queue depths. Account ids are random, so their first bytes hash well.
struct DeviceAddress {
  AccountId account{};
  uint32_t device = 0;
  bool operator==(const DeviceAddress&) const = default;
};
struct DeviceAddressHash {
  size_t operator()(const DeviceAddress& a) const {
    size_t h = 0;
    std::memcpy(&h, a.account.data(), sizeof(h));
    return h ^ (static_cast<size_t>(a.device) * 0x9E3779B97F4A7C15ULL);
  }
};

// PeerState is the service's state of one connection. Only the peer's thread touches it.
struct PeerState {
  bool authenticated = false;
  AccountId account{};
  uint32_t device = 0;
  uint64_t ip_record = 0;  // 0: none open
  TokenBucket requests;
  // Delivery: envelopes are pushed in queue order, at most max_inflight_pushes unacknowledged
  // (the ids pushed on this connection and not yet acknowledged).
  uint64_t last_pushed_seq = 0;
  std::unordered_set<EnvelopeId, EnvelopeIdHash> inflight;
  bool fetching = false;      // a queue read is outstanding
  bool fetch_again = false;   // something arrived while reading, or capacity freed
  bool queue_empty_sent = false;
  bool closed = false;
};

// Peer is one client connection as the service sees it.
class Peer : public std::enable_shared_from_this<Peer> {
 public:
  virtual ~Peer() = default;
  // Send queues a frame for the client. Call on the peer's thread.
  virtual void Send(wire::pb::Frame& frame) = 0;
  // Post runs `fn` on the peer's thread; callable from any thread. Dropped after close.
  virtual void Post(std::function<void()> fn) = 0;
  // Close ends the connection. Call on the peer's thread.
  virtual void Close() = 0;
  virtual const std::string& ip() const = 0;
  virtual uint16_t port() const = 0;

  PeerState state;
};

// ServerKeys are the server's own secrets, kept in the data directory: the Ed25519 key that
// signs sender certificates, and the key under which verification codes are hashed.
struct ServerKeys {
  crypto::Ed25519PrivateKey certificate_key;
  uint32_t certificate_key_id = 1;
  Secret<32> code_key;
};

// LoadOrCreateServerKeys reads <data_dir>/server-keys (mode 0600), creating it on first
// start.
Result<ServerKeys> LoadOrCreateServerKeys(const std::string& data_dir, Rng& rng);

class Service {
 public:
  // All references must outlive the service; `rng` must be safe to use from several
  // threads. `codes` may be null (registration then answers UNAVAILABLE); `metrics` and `log`
  // may be null.
  Service(const ServerConfig& config, const Clock& clock, Rng& rng, Database& db,
          CodeSender* codes, ServerKeys keys, Metrics* metrics, Logger* log = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // StopWorkers runs the credential-hashing and code-sending jobs already posted, then joins
  // their threads. Call it once the server and the database have stopped, before the server
  // is destroyed: a job releases its connection when it ends.
  void StopWorkers();

  // Startup closes IP records left open by an earlier run (its connections are gone).
  Result<void> Startup();

  // AllowConnection applies the per-IP connection rate limit. Any thread.
  bool AllowConnection(const std::string& ip);
  // OnOpen, OnFrame and OnClose run on the peer's thread.
  void OnOpen(const std::shared_ptr<Peer>& peer);
  void OnFrame(const std::shared_ptr<Peer>& peer, ByteSpan bytes);
  void OnClose(const std::shared_ptr<Peer>& peer);

  // DeliverServerNotice stores `content` as a SERVER_NOTICE envelope in the queue of every
  // device of `account` (durably, like any envelope), then pushes it to those online. The
  // envelope id is derived from `key` and the device, so a notice delivered twice (after a
  // crash) is deduplicated by clients. `done` runs after the commit.
  void DeliverServerNotice(const AccountId& account, Bytes content, Bytes key,
                           std::function<void(Result<void>)> done);

  // RunMaintenance purges what has expired: envelopes past their TTL, IP records past
  // retention, verification and link codes. `done` runs after the commit (any thread).
  void RunMaintenance(std::function<void(Result<void>)> done);

  // Connections is the number of authenticated connections.
  size_t Connections() const;

 private:
  struct Deferred;
  void Reply(const std::shared_ptr<Peer>& peer, wire::pb::Frame frame);
  void Fail(const std::shared_ptr<Peer>& peer, uint64_t id, wire::pb::Status status,
            std::string_view message, uint64_t retry_after_ms = 0);
  // AfterHashing hashes `credential` (Argon2id) on the hashing threads into *hash, then does
  // what After does.
  void AfterHashing(const std::shared_ptr<Peer>& peer, std::string credential,
                    std::shared_ptr<Bytes> hash, Database::Work work,
                    std::function<void(Result<void>)> then);
  // After runs `work` on the database thread and `then` with its result on the peer's thread.
  void After(const std::shared_ptr<Peer>& peer, Database::Work work,
             std::function<void(Result<void>)> then);

  void HandleRegister(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleVerify(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleAuth(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  // SignIn makes the connection the device's, answers the auth request and starts delivery.
  void SignIn(const std::shared_ptr<Peer>& peer, uint64_t id, const AccountId& account,
              uint32_t device_id);
  void HandleCreateLinkCode(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleLinkDevice(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleListDevices(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleRemoveDevice(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleLookup(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleSetKeys(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandlePreKeyCount(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleGetBundles(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleSend(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleAck(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleSetAccessKey(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleSenderCertificate(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);
  void HandleServerInfo(const std::shared_ptr<Peer>& peer, const wire::pb::Request& r);

  // Delivery to one authenticated peer.
  void Deliver(const std::shared_ptr<Peer>& peer);
  void OnEnvelopeCommitted(const AccountId& account, uint32_t device, uint64_t seq,
                           const Envelope& envelope);
  void PushEnvelope(const std::shared_ptr<Peer>& peer, const Envelope& envelope);

  // Registry of authenticated connections, by device.
  std::shared_ptr<Peer> Lookup(const AccountId& account, uint32_t device) const;
  void Register(const std::shared_ptr<Peer>& peer);
  void Unregister(const Peer* peer);

  Bytes HashCredential(ByteSpan credential);
  // CachedCredential is true when this credential was verified before (no Argon2id);
  // VerifyCredential runs Argon2id (call it on hashers_) and remembers a success.
  bool CachedCredential(const AccountId& account, uint32_t device, ByteSpan credential,
                        ByteSpan stored_hash, std::string* cache_key);
  bool VerifyCredential(ByteSpan credential, ByteSpan stored_hash, const std::string& cache_key);
  Bytes HashCode(std::string_view scope, std::string_view code) const;
  int64_t NowMs() const;

  const ServerConfig& config_;
  const Clock& clock_;
  Rng& rng_;
  Database& db_;
  CodeSender* codes_;
  ServerKeys keys_;
  Metrics* metrics_;
  Logger* log_;
  std::unique_ptr<class AccountTagger> tagger_;

  std::unique_ptr<RateLimiter> register_per_phone_, register_per_ip_, verify_per_ip_,
      auth_failures_per_ip_, connections_per_ip_, sends_per_account_, lookups_per_account_;

  mutable std::mutex registry_mu_;
  std::unordered_map<DeviceAddress, std::weak_ptr<Peer>, DeviceAddressHash> registry_;  // GUARDED_BY(registry_mu_)

  // Credentials verified since start, by a keyed hash of (device, stored hash, credential):
  // a reconnect then costs no Argon2id. Bounded; cleared when full.
  std::mutex verified_mu_;
  std::unordered_set<std::string> verified_;  // GUARDED_BY(verified_mu_)
  Secret<32> verified_key_;

  // Queue depth per device, kept on the database thread only.
  std::unordered_map<DeviceAddress, uint64_t, DeviceAddressHash> depth_;

  // Last, so that they stop (running what was posted) before anything they use goes.
  // Argon2id runs here, never on an I/O or the database thread; code delivery (possibly a
  // slow webhook) on a thread of its own.
  std::unique_ptr<WorkerPool> hashers_;
  std::unique_ptr<WorkerPool> code_senders_;
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_SERVICE_H_
