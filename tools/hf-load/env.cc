#include "env.h"

#include <openssl/ssl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <future>

#include "holdfast/common/encoding.h"
#include "holdfast/server/tls_stream.h"
#include "holdfast/crypto/random.h"

namespace holdfast::load {

uint64_t NowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kDisconnect:
      return "disconnect";
    case ErrorKind::kRegister:
      return "register";
    case ErrorKind::kCode:
      return "code";
    case ErrorKind::kVerify:
      return "verify";
    case ErrorKind::kAuth:
      return "auth";
    case ErrorKind::kSend:
      return "send";
    case ErrorKind::kAck:
      return "ack";
    case ErrorKind::kBadFrame:
      return "bad_frame";
    case ErrorKind::kBadContent:
      return "bad_content";
    case ErrorKind::kMisrouted:
      return "misrouted";
    case ErrorKind::kDuplicate:
      return "duplicate";
    case ErrorKind::kDuplicateAfterAck:
      return "duplicate_after_ack";
    case ErrorKind::kLost:
      return "lost";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kCount:
      break;
  }
  return "unknown";
}

// --- Counters ------------------------------------------------------------------------------

void Counters::Error(ErrorKind kind, std::string_view detail, uint64_t n) {
  const uint64_t before = errors_[static_cast<size_t>(kind)].fetch_add(n);
  if (before < kDetailsPerKind) {
    std::fprintf(stderr, "hf-load: error %s%s%.*s\n", std::string(ErrorKindName(kind)).c_str(),
                 detail.empty() ? "" : ": ", static_cast<int>(detail.size()), detail.data());
  }
}

uint64_t Counters::errors() const {
  uint64_t total = 0;
  for (const auto& e : errors_) {
    total += e.load();
  }
  return total;
}

uint64_t Counters::errors(ErrorKind kind) const {
  return errors_[static_cast<size_t>(kind)].load();
}

nlohmann::json Counters::ErrorKindsJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < kErrorKinds; ++i) {
    if (const uint64_t n = errors_[i].load(); n > 0) {
      out[std::string(ErrorKindName(static_cast<ErrorKind>(i)))] = n;
    }
  }
  return out;
}

// --- ServerUrl -----------------------------------------------------------------------------

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  ServerUrl out;
  out.text = std::string(url);
  if (url.starts_with("ws://")) {
    url.remove_prefix(5);
    out.port = 80;
  } else if (url.starts_with("wss://")) {
    url.remove_prefix(6);
    out.tls = true;
    out.port = 443;
  } else {
    return Error{ErrorCode::kInvalidArgument, "the server URL must start with ws:// or wss://"};
  }
  const size_t slash = url.find('/');
  std::string_view host = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.path = std::string(url.substr(slash));
  }
  if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    const auto port = ParseDecimal(host.substr(colon + 1));
    if (!port.ok() || *port == 0 || *port > 65535) {
      return Error{ErrorCode::kInvalidArgument, "the server URL's port must be 1..65535"};
    }
    out.port = static_cast<uint16_t>(*port);
    host = host.substr(0, colon);
  }
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  boost::system::error_code ec;
  out.address = asio::ip::make_address_v4(std::string(host), ec);
  if (ec || (out.address.to_uint() >> 24) != 127) {
    return Error{ErrorCode::kInvalidArgument, "the server must be an IPv4 address in 127.0.0.0/8"};
  }
  return out;
}

// --- LineLog -------------------------------------------------------------------------------

LineLog::~LineLog() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr) {
    std::fclose(file_);
  }
}

Result<void> LineLog::Open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) {
    return Error{ErrorCode::kUnavailable, "cannot open the log file"};
  }
  enabled_ = true;
  return Ok();
}

void LineLog::Append(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) {
    return;
  }
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fputc('\n', file_);
  const uint64_t now = NowNs();
  if (now - last_flush_ns_ >= kFlushIntervalNs) {
    std::fflush(file_);
    last_flush_ns_ = now;
  }
}

void LineLog::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr) {
    std::fflush(file_);
    last_flush_ns_ = NowNs();
  }
}

// --- Process samples -----------------------------------------------------------------------

ProcSample SampleProcess(int pid) {
  ProcSample s;
  if (pid <= 0) {
    return s;
  }
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) {
    return s;
  }
  char buf[4096];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  // Counting from there, utime is field 14 and stime field 15 of proc(5).
  const std::string_view text(buf, n);
  const size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) {
    return s;
  }
  std::string_view rest = text.substr(paren + 1);
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  int field = 2;
  bool have = false;
  while (!rest.empty() && field < 15) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find(' '), rest.size());
    ++field;
    const auto value = ParseDecimal(rest.substr(0, end));
    if (field == 14 && value.ok()) {
      utime = *value;
    } else if (field == 15 && value.ok()) {
      stime = *value;
      have = true;
    }
    rest.remove_prefix(end);
  }
  if (!have || ticks <= 0) {
    return s;
  }
  s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks);

  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  f = std::fopen(path, "r");
  if (f == nullptr) {
    return s;
  }
  char line[256];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      s.rss_kib = std::strtoull(line + 6, nullptr, 10);
      s.ok = true;
    }
  }
  std::fclose(f);
  return s;
}

double SelfCpuSeconds() {
  rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// --- Env -----------------------------------------------------------------------------------

Env::Env(const Options& options) : options_(options) {}

Result<std::unique_ptr<Env>> Env::Create(const Options& options) {
  if (!options.pin.empty()) {
    // The pin is checked after each TLS handshake (Connection), against
    // crypto::PeerCertificateFingerprintSha256: lower-case hex of SHA-256 over the DER.
    const auto raw = HexDecode(options.pin);
    if (!raw.ok() || raw->size() != 32) {
      return Error{ErrorCode::kInvalidArgument, "--pin must be 64 hex digits (SHA-256)"};
    }
    if (!options.server.tls) {
      return Error{ErrorCode::kInvalidArgument, "--pin needs a wss:// server"};
    }
  }
  if (options.source_ips > 254) {
    return Error{ErrorCode::kInvalidArgument, "--source-ips must be at most 254"};
  }
  std::unique_ptr<Env> env(new Env(options));
  if (!options.pin.empty()) {
    env->options_.pin = HexEncode(*HexDecode(options.pin));  // lower case, as fingerprints are
  }
  size_t threads = options.threads;
  if (threads == 0) {
    threads = std::max(1u, std::thread::hardware_concurrency());
  }
  env->rng_ = std::make_unique<crypto::SystemRng>();
  for (size_t i = 0; i < threads; ++i) {
    env->contexts_.push_back(std::make_unique<asio::io_context>(1));
    env->guards_.push_back(asio::make_work_guard(*env->contexts_.back()));
    uint64_t seed = 0;
    env->rng_->Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(&seed), sizeof seed));
    env->fillers_.push_back(std::make_unique<DeterministicRng>(seed));
  }
  env->host_header_ =
      options.server.address.to_string() + ":" + std::to_string(options.server.port);
  if (options.server.tls) {
    env->tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    // The server's certificate is self-signed: no CA check. With --pin, Connection compares
    // its fingerprint at the end of the handshake; without, any certificate is accepted.
    // TLS 1.3 only, as holdfastd speaks; OpenSSL is freed after each handshake.
    env->tls_->set_verify_mode(asio::ssl::verify_none);
    server::tls::PrepareClientContext(env->tls_->native_handle());
  }
  return env;
}

Env::~Env() {
  Stop();
  {
    std::lock_guard<std::mutex> lock(retained_mu_);
    retained_.clear();  // before the contexts: these objects own sockets and timers
  }
  signals_.reset();
  contexts_.clear();
}

std::optional<asio::ip::address> Env::Source(size_t n) const {
  if (options_.source_ips == 0) {
    return std::nullopt;
  }
  const uint32_t host = static_cast<uint32_t>(n % options_.source_ips) + 1;
  return asio::ip::address(asio::ip::address_v4((127U << 24) | (1U << 8) | host));
}

void Env::Start() {
  signals_ = std::make_unique<asio::signal_set>(*contexts_[0], SIGINT, SIGTERM);
  signals_->async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) {
      std::fprintf(stderr, "hf-load: interrupted; finishing the phase\n");
      interrupted_ = true;
    }
  });
  for (auto& ctx : contexts_) {
    asio::io_context* c = ctx.get();
    threads_.emplace_back([c] { c->run(); });
  }
}

void Env::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  for (auto& g : guards_) {
    g.reset();
  }
  for (auto& ctx : contexts_) {
    ctx->stop();
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

void Env::Retain(std::shared_ptr<void> object) {
  std::lock_guard<std::mutex> lock(retained_mu_);
  retained_.push_back(std::move(object));
}

bool Env::RunSync(size_t i, std::function<void()> fn, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  asio::post(context(i), [fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  return future.wait_for(timeout) == std::future_status::ready;
}

bool WaitUntil(Env& env, const std::function<bool()>& done, Deadline deadline, bool interruptible) {
  while (!done()) {
    if ((interruptible && env.interrupted()) || SteadyClock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

void Sleep(Env& env, std::chrono::milliseconds d) {
  const Deadline end = SteadyClock::now() + d;
  while (!env.interrupted() && SteadyClock::now() < end) {
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(end - SteadyClock::now(), std::chrono::milliseconds(10)));
  }
}

double PercentileMs(std::vector<uint32_t>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  const size_t k = std::min(
      v.size() - 1, static_cast<size_t>(std::lround(p * static_cast<double>(v.size() - 1))));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

}  // namespace holdfast::load
