#include "holdfast/server/daemon.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "holdfast/common/clock.h"
#include "holdfast/common/thread_name.h"
#include "holdfast/crypto/certificate.h"
#include "holdfast/crypto/random.h"
#include "holdfast/server/code_sender.h"
#include "holdfast/server/database.h"
#include "holdfast/server/log.h"
#include "holdfast/server/server.h"
#include "holdfast/server/server_metrics.h"
#include "holdfast/server/service.h"
#include "disclosure_http.h"

namespace holdfast::server {
namespace {

constexpr std::chrono::days kCertificateValidity{825};
constexpr std::chrono::seconds kWebhookTimeout{10};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{ErrorCode::kNotFound, "file"};
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<void> WriteFile(const std::string& path, ByteSpan data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return Error{ErrorCode::kStorageFailure, "cannot create file"};
  }
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error{ErrorCode::kStorageFailure, "cannot write file"};
  }
  return Ok();
}

Result<void> MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{ErrorCode::kStorageFailure, "cannot create directory"};
  }
  return Ok();
}

}  // namespace

Result<void> SplitHostPort(const std::string& listen, std::string* host, uint16_t* port) {
  std::string_view h;
  std::string_view p;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find("]:");
    if (close == std::string::npos) {
      return Error{ErrorCode::kInvalidArgument, "listen address: [IPv6]:PORT"};
    }
    h = std::string_view(listen).substr(1, close - 1);
    p = std::string_view(listen).substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return Error{ErrorCode::kInvalidArgument, "listen address: ADDR:PORT"};
    }
    h = std::string_view(listen).substr(0, colon);
    p = std::string_view(listen).substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, err] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (h.empty() || p.empty() || err != std::errc() || end != p.data() + p.size() || value > 65535) {
    return Error{ErrorCode::kInvalidArgument, "listen address: ADDR:PORT"};
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return Ok();
}

struct Daemon::Impl {
  ServerConfig config;
  std::unique_ptr<Clock> clock;
  ManualClock* manual_clock = nullptr;
  crypto::SystemRng rng;
  std::unique_ptr<Database> db;
  std::unique_ptr<DisclosureHttp> disclosure;  // outlives the server, which calls into it
  std::unique_ptr<CodeSender> codes;
  Metrics metrics;
  std::unique_ptr<Logger> log;
  std::unique_ptr<Service> service;
  std::unique_ptr<Server> server;
  std::string fingerprint;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // GUARDED_BY(mu)
  std::thread maintenance;

  void MaintenanceLoop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, config.maintenance_interval, [&] { return stopping; })) {
      lock.unlock();
      service->RunMaintenance(nullptr);
      disclosure->DeliverDueNotices(*service, nullptr);
      lock.lock();
    }
  }
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { Stop(); }
uint16_t Daemon::port() const { return impl_->server->port(); }
const std::string& Daemon::fingerprint() const { return impl_->fingerprint; }

Result<std::unique_ptr<Daemon>> Daemon::Start(const ServerConfig& config) {
  if (config.data_dir.empty()) {
    return Error{ErrorCode::kInvalidArgument, "a data directory is required"};
  }
  ServerOptions options;
  HF_RETURN_IF_ERROR(SplitHostPort(config.listen, &options.host, &options.port));
  if (config.plain && !IsLoopbackAddress(options.host)) {
    return Error{ErrorCode::kInvalidArgument, "--plain is allowed on loopback addresses only"};
  }
  HF_RETURN_IF_ERROR(MakeDir(config.data_dir));

  auto impl = std::make_unique<Impl>();
  impl->config = config;
  if (config.test_clock) {
    auto manual = std::make_unique<ManualClock>(SystemClock().Now());
    impl->manual_clock = manual.get();
    impl->clock = std::move(manual);
  } else {
    impl->clock = std::make_unique<SystemClock>();
  }

  // TLS: the configured certificate, or one made on first start and kept in the data dir.
  if (!config.plain) {
    std::string cert_file = config.tls_certificate_file;
    std::string key_file = config.tls_key_file;
    if (cert_file.empty() != key_file.empty()) {
      return Error{ErrorCode::kInvalidArgument, "give both a TLS certificate and its key"};
    }
    if (cert_file.empty()) {
      const std::string dir = config.data_dir + "/tls";
      HF_RETURN_IF_ERROR(MakeDir(dir));
      cert_file = dir + "/cert.pem";
      key_file = dir + "/key.pem";
      if (::access(cert_file.c_str(), F_OK) != 0) {
        HF_ASSIGN_OR_RETURN(auto made, crypto::GenerateSelfSignedCertificate(
                                           "holdfastd", *impl->clock, kCertificateValidity));
        HF_RETURN_IF_ERROR(WriteFile(key_file, made.private_key_pem.span(), 0600));
        HF_RETURN_IF_ERROR(WriteFile(cert_file, AsBytes(made.certificate_pem), 0644));
      }
    }
    HF_ASSIGN_OR_RETURN(options.certificate_pem, ReadFile(cert_file));
    HF_ASSIGN_OR_RETURN(const std::string key_pem, ReadFile(key_file));
    options.private_key_pem = SecretBytes::Copy(AsBytes(key_pem));
    HF_RETURN_IF_ERROR(
        crypto::CheckCertificateMatchesKey(options.certificate_pem, options.private_key_pem.span()));
    HF_ASSIGN_OR_RETURN(impl->fingerprint, crypto::CertificateFingerprintSha256(options.certificate_pem));
  }

  HF_ASSIGN_OR_RETURN(auto storage, OpenSqliteStorage(config.data_dir + "/holdfast.db",
                                                     {.background_checkpoints = true}));
  impl->db = std::make_unique<Database>(std::move(storage));
  Metrics* metrics = &impl->metrics;
  impl->db->SetCommitObserver([metrics](size_t items, double seconds) {
    metrics->commit_batches.Inc();
    metrics->commit_items.Inc(items);
    metrics->commit_seconds.Observe(seconds);
  });
  HF_ASSIGN_OR_RETURN(auto keys, LoadOrCreateServerKeys(config.data_dir, impl->rng));
  if (!config.dev_codes_file.empty()) {
    impl->codes = NewDevFileCodeSender(config.dev_codes_file);
  } else if (!config.sms_webhook_url.empty()) {
    HF_RETURN_IF_ERROR(CheckWebhookUrl(config.sms_webhook_url));
    impl->codes = NewWebhookCodeSender(config.sms_webhook_url, kWebhookTimeout);
  }
  impl->log = std::make_unique<Logger>(*impl->clock);
  impl->service = std::make_unique<Service>(impl->config, *impl->clock, impl->rng, *impl->db,
                                            impl->codes.get(), std::move(keys), metrics,
                                            impl->log.get());
  HF_RETURN_IF_ERROR(impl->service->Startup());

  options.plain = config.plain;
  options.threads = config.io_threads;
  options.handshake_timeout = config.handshake_timeout;
  options.idle_timeout = config.idle_timeout;
  options.max_pending_write_bytes = config.max_pending_write_bytes;
  options.metrics = [metrics] { return metrics->Text(); };
  HF_ASSIGN_OR_RETURN(impl->disclosure,
                      DisclosureHttp::Open(config.data_dir, *impl->clock, impl->rng, *impl->db));
  DisclosureHttp* disclosure = impl->disclosure.get();
  options.routes = [disclosure](HttpCall call, std::function<void(HttpReply)> reply) {
    return disclosure->Route(std::move(call), std::move(reply));
  };
  if (impl->manual_clock != nullptr) {
    ManualClock* clock = impl->manual_clock;
    Service* service = impl->service.get();
    DisclosureHttp* notices = impl->disclosure.get();
    options.advance_clock = [clock, service, notices](int64_t ms, std::function<void()> done) {
      clock->Advance(std::chrono::milliseconds(ms));
      service->RunMaintenance([service, notices, done = std::move(done)](Result<void>) mutable {
        notices->DeliverDueNotices(*service, std::move(done));
      });
    };
  }
  HF_ASSIGN_OR_RETURN(impl->server, Server::Start(std::move(options), *impl->service));
  Impl* raw = impl.get();
  impl->maintenance = std::thread([raw] {
    NameThisThread("hf-maintenance");
    raw->MaintenanceLoop();
  });
  impl->log->Info("server.started", {LogField::Int("port", impl->server->port()),
                                     LogField::Bool("tls", !config.plain),
                                     LogField::Bool("test_clock", config.test_clock)});
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

void Daemon::Stop() {
  if (!impl_) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) {
      return;
    }
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->maintenance.joinable()) {
    impl_->maintenance.join();
  }
  // Stop taking work, then let every submitted commit finish before the database closes.
  impl_->disclosure->Stop();
  impl_->server->Stop();
  impl_->db->Stop();
  // The workers' jobs hold connections. The last of them must be let go while the server
  // (whose io_contexts own the WebSocket service) still exists: a job finishing during the
  // server's destruction destroyed its connection on freed memory.
  impl_->service->StopWorkers();
  impl_->log->Info("server.stopped", {LogField::Int("commit_batches", impl_->db->Stats().batches)});
}

}  // namespace holdfast::server
