// holdfastd's request handling from untrusted frames: every frame goes through the real
// Service, over a real (in-memory) SQLite storage, on a connection that is first signed in
// as a registered device, so that the authenticated handlers are reached too. Nothing may
// crash, hang or leak, and every request must be answered.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdlib.h>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include "holdfast/common/clock.h"
#include "holdfast/crypto/random.h"
#include "holdfast/server/database.h"
#include "holdfast/server/service.h"
#include "holdfast/server/storage.h"
#include "holdfast/wire/frame.h"

using namespace holdfast;          // NOLINT(google-build-using-namespace): a fuzz entry point
using namespace holdfast::server;  // NOLINT(google-build-using-namespace)

namespace {

// FakePeer queues what the service posts; the fuzz loop runs it on the main thread.
class FakePeer final : public Peer {
 public:
  void Send(wire::pb::Frame& frame) override {
    if (frame.has_response()) {
      ++responses;
    }
  }
  void Post(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu);
    posted.push_back(std::move(fn));
  }
  void Close() override { closed = true; }
  const std::string& ip() const override { return ip_; }
  uint16_t port() const override { return 4000; }

  bool RunPosted() {
    std::deque<std::function<void()>> work;
    {
      std::lock_guard<std::mutex> lock(mu);
      work.swap(posted);
    }
    for (auto& fn : work) {
      fn();
    }
    return !work.empty();
  }

  std::mutex mu;
  std::deque<std::function<void()>> posted;
  size_t responses = 0;
  bool closed = false;
  std::string ip_ = "127.0.0.1";
};

struct World {
  ServerConfig config;
  SystemClock clock;
  crypto::SystemRng rng;
  std::unique_ptr<Database> db;
  std::unique_ptr<Service> service;
  AccountId account{};

  World() {
    config.requests_per_connection = RateLimit{1e9, 1e9};
    auto storage = OpenSqliteStorage(":memory:");
    char dir[] = "/tmp/fuzz-server-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      std::abort();
    }
    auto keys = LoadOrCreateServerKeys(dir, rng);
    if (!storage.ok() || !keys.ok()) {
      std::abort();
    }
    db = std::make_unique<Database>(std::move(*storage));
    service = std::make_unique<Service>(config, clock, rng, *db, nullptr, std::move(*keys),
                                        nullptr);
    account.fill(7);
  }

  // Settle runs the service's callbacks for the connection until no work holds it any
  // more: no database item, no credential hash on the hashing threads and nothing posted.
  // Every such job keeps a reference to the peer, so the use count says when all are done.
  // Hashing is slow under the sanitizers, so this waits, but never for more than 60 s: a
  // request that is still unfinished by then is a hang, and a hang is a bug.
  void Settle(const std::shared_ptr<FakePeer>& peer) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (true) {
      (void)db->Run([](Storage&) { return Result<void>(Ok()); });
      const bool ran = peer->RunPosted();
      if (!ran && peer.use_count() == 1) {
        return;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::abort();
      }
      if (!ran) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  auto peer = std::make_shared<FakePeer>();
  // Frames whose first byte is even (every well-formed frame: protobuf tags of fields 1-4
  // are) run on a connection already signed in as device 1 of an account.
  if (size > 0 && (data[0] & 1) == 0) {
    peer->state.authenticated = true;
    peer->state.account = world.account;
    peer->state.device = 1;
    peer->state.queue_empty_sent = true;
  }
  world.service->OnFrame(peer, ByteSpan(data, size));
  world.Settle(peer);
  world.service->OnClose(peer);
  world.Settle(peer);
  return 0;
}
