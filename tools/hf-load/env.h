// hf-load's shared environment: the server's address, one io_context per core, TLS, the
// failure counters, the output logs and the sampler of the server process.
#ifndef HOLDFAST_TOOLS_HF_LOAD_ENV_H_
#define HOLDFAST_TOOLS_HF_LOAD_ENV_H_

// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.
#include <utility>
// (keep above Boost)
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"

namespace holdfast::load {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

// NowNs is the monotonic clock in nanoseconds. Latencies are differences of two readings
// taken in this one process (the sender's and the receiver's), as the peers' load generator
// measures them.
uint64_t NowNs();

// ErrorKind names every failure hf-load counts. Each one adds to the "errors" total; the
// JSON output breaks them down under "error_kinds" by these names.
enum class ErrorKind : size_t {
  kConnect,            // TCP, TLS or WebSocket handshake failed
  kDisconnect,         // an open connection ended without our asking
  kRegister,           // a RegisterRequest was refused
  kCode,               // the verification code never appeared in the codes file
  kVerify,             // a VerifyRequest was refused
  kAuth,               // an AuthRequest was refused
  kSend,               // a SendRequest was refused (other than rate limiting)
  kAck,                // an AckRequest was refused
  kBadFrame,           // a frame that does not parse, or a response nobody asked for
  kBadContent,         // an envelope whose content is not hf-load's, from this run's sender
  kMisrouted,          // an envelope from the wrong sender or for the wrong pair
  kDuplicate,          // the same message (sender, seq) twice though it was sent once
  kDuplicateAfterAck,  // an envelope pushed again after its ack was confirmed
  kLost,               // a message not delivered when the phase ended
  kTimeout,            // a phase that did not finish before its deadline
  kCount,
};
inline constexpr size_t kErrorKinds = static_cast<size_t>(ErrorKind::kCount);

// ErrorKindName is the stable snake_case name of `kind`, e.g. "duplicate_after_ack".
std::string_view ErrorKindName(ErrorKind kind);

// Counters are shared by every thread. Error() also prints the first few details of each
// kind to stderr, so that a failing run says why without flooding the terminal.
class Counters {
 public:
  void Error(ErrorKind kind, std::string_view detail = {}, uint64_t n = 1);
  uint64_t errors() const;
  uint64_t errors(ErrorKind kind) const;
  // ErrorKindsJson maps the name of every kind that occurred to its count.
  nlohmann::json ErrorKindsJson() const;

  std::atomic<uint64_t> reconnects{0};   // connections opened again after a drop
  std::atomic<uint64_t> resends{0};      // sends repeated after their outcome was lost
  std::atomic<uint64_t> redelivered{0};  // an envelope id pushed again before its ack was confirmed
  std::atomic<uint64_t> resend_duplicates{0};  // a resent message that arrived twice (deduplicated)
  std::atomic<uint64_t> rate_limited{0};       // RATE_LIMITED answers, retried after retry_after_ms
  std::atomic<uint64_t> stale_envelopes{0};    // envelopes left over from an earlier run, acked

 private:
  static constexpr uint64_t kDetailsPerKind = 3;
  std::array<std::atomic<uint64_t>, kErrorKinds> errors_{};
};

// ServerUrl is a parsed --server: ws://HOST[:PORT][/PATH] or wss://...; HOST must be an IPv4
// address in 127.0.0.0/8 (or "localhost"), so that hf-load never sends traffic elsewhere.
struct ServerUrl {
  bool tls = false;
  asio::ip::address_v4 address;
  uint16_t port = 0;
  std::string path = "/";
  std::string text;  // as given
};
Result<ServerUrl> ParseServerUrl(std::string_view url);

// LineLog appends lines to a file shared by every thread (--acked-log, --received-log).
// Lines are flushed by Flush() and, at the latest, 20 ms after they were appended if more
// lines follow; the destructor flushes the rest.
class LineLog {
 public:
  LineLog() = default;
  ~LineLog();
  LineLog(const LineLog&) = delete;
  LineLog& operator=(const LineLog&) = delete;

  // Open opens `path` for appending; kUnavailable if it cannot be opened.
  Result<void> Open(const std::string& path);
  bool enabled() const { return enabled_; }
  void Append(std::string_view line);
  void Flush();

 private:
  static constexpr uint64_t kFlushIntervalNs = 20'000'000;
  std::mutex mu_;
  FILE* file_ = nullptr;        // GUARDED_BY(mu_)
  uint64_t last_flush_ns_ = 0;  // GUARDED_BY(mu_)
  bool enabled_ = false;        // set once by Open, before any thread appends
};

// ProcSample is one reading of a process's CPU time and resident memory from /proc.
struct ProcSample {
  bool ok = false;
  double cpu_seconds = 0;  // utime + stime
  uint64_t rss_kib = 0;    // VmRSS
};
// SampleProcess reads /proc/PID/stat and /proc/PID/status; ok is false if either is missing.
ProcSample SampleProcess(int pid);
// SelfCpuSeconds is this process's user + system CPU time.
double SelfCpuSeconds();

// Env owns the io_contexts (one thread each), the TLS client context and everything the
// connections share. Objects whose handlers may still be queued on the contexts are handed
// to Retain(): they are destroyed only after the threads stopped, before the contexts.
class Env {
 public:
  struct Options {
    ServerUrl server;
    size_t threads = 0;       // 0: one per core
    uint32_t source_ips = 0;  // 0: let the kernel choose the local address
    std::string pin;          // SHA-256 hex of the server's DER certificate, or empty
  };
  // Create fails with kInvalidArgument for a pin that is not 64 hex digits or a pin on ws://.
  static Result<std::unique_ptr<Env>> Create(const Options& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  size_t threads() const { return contexts_.size(); }
  asio::io_context& context(size_t i) { return *contexts_[i % contexts_.size()]; }
  const ServerUrl& server() const { return options_.server; }
  tcp::endpoint endpoint() const {
    return tcp::endpoint(options_.server.address, options_.server.port);
  }
  // HostHeader is "ADDRESS:PORT", the WebSocket handshake's Host.
  const std::string& host_header() const { return host_header_; }
  asio::ssl::context* tls() { return tls_ ? tls_.get() : nullptr; }
  // Pin is the lower-case hex SHA-256 of the certificate the server must present, or empty.
  const std::string& pin() const { return options_.pin; }
  // Source is the local address of connection number `n`: 127.0.1.(n % S + 1) with
  // --source-ips S, none otherwise.
  std::optional<asio::ip::address> Source(size_t n) const;

  Counters& counters() { return counters_; }
  LineLog& acked_log() { return acked_log_; }
  LineLog& received_log() { return received_log_; }
  // Rng is the operating system's generator: credentials, registration ids, phone numbers.
  Rng& rng() { return *rng_; }
  // Filler is a fast generator for message bodies, one per context; use it on that
  // context's thread only.
  Rng& filler(size_t context) { return *fillers_[context % fillers_.size()]; }

  // LiveConnections counts connections between Open() and their end.
  std::atomic<int64_t>& live_connections() { return live_connections_; }
  // Interrupted is set by SIGINT or SIGTERM: phases end early and report what they have.
  bool interrupted() const { return interrupted_.load(); }

  // Start runs one thread per context and installs the SIGINT/SIGTERM handler.
  void Start();
  // Stop ends the threads; queued handlers are dropped. Called by the destructor too.
  void Stop();
  // Retain keeps `object` alive until after Stop().
  void Retain(std::shared_ptr<void> object);
  // RunSync runs `fn` on context `i`'s thread and waits for it, at most `timeout`; false if it
  // did not run in time (it may still run later).
  bool RunSync(size_t i, std::function<void()> fn,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  explicit Env(const Options& options);

  Options options_;
  std::string host_header_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<Rng> rng_;
  std::vector<std::unique_ptr<Rng>> fillers_;
  Counters counters_;
  LineLog acked_log_;
  LineLog received_log_;
  std::atomic<int64_t> live_connections_{0};
  std::atomic<bool> interrupted_{false};
  std::mutex retained_mu_;
  std::vector<std::shared_ptr<void>> retained_;  // GUARDED_BY(retained_mu_)
  bool stopped_ = false;
};

// WaitUntil polls `done` every few milliseconds until it holds, the deadline passes or (if
// `interruptible`) the run is interrupted; it returns done().
bool WaitUntil(Env& env, const std::function<bool()>& done, Deadline deadline,
               bool interruptible = true);
// Sleep waits `d`, or less if the run is interrupted.
void Sleep(Env& env, std::chrono::milliseconds d);

// Percentile of `v` (microseconds) in milliseconds, by the peers' rule: the element at rank
// round(p * (n - 1)). `v` is reordered. 0 for an empty vector.
double PercentileMs(std::vector<uint32_t>& v, double p);

}  // namespace holdfast::load

#endif  // HOLDFAST_TOOLS_HF_LOAD_ENV_H_
