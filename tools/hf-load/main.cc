// hf-load: the load driver for holdfastd. One process, asynchronous clients (Boost.Asio and
// Beast, one io_context per core), traffic to 127.0.0.0/8 only. See README.md.
//
//   hf-load --server URL --codes FILE --pairs N --messages M [--window W | --rate R] [--offline]
//           [--idle K] [--source-ips S] [--server-pid PID] [--pin SHA256HEX]
//           [--body-bytes 100] [--acked-log FILE] [--json]
//           [--state FILE] [--drain-only] [--received-log FILE] [--timeout SECONDS]
//
// Prints one JSON object on stdout. Exit status: 0 when the run finished without errors,
// 1 when it counted errors or a phase failed, 2 for bad arguments or an unusable setup.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>

#include "accounts.h"
#include "env.h"
#include "workload.h"

namespace hl = holdfast::load;

namespace {

// kMaxScheduleSeconds bounds an open-loop run: --messages / --rate.
constexpr double kMaxScheduleSeconds = 86400;

constexpr int kUsage = 2;
// Files hf-load needs besides the connections of a run (registration, logs, stdio).
constexpr uint64_t kSpareFiles = 200;

int Usage(const std::string& message) {
  std::fprintf(stderr, "hf-load: %s\n", message.c_str());
  return kUsage;
}

int Usage(const char* what, const holdfast::Error& e) {
  return Usage(std::string(what) + ": " + std::string(holdfast::ErrorName(e.code)) +
               (e.detail ? std::string(": ") + e.detail : std::string()));
}

// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns it.
uint64_t RaiseFileLimit() {
  rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return 1024;
  }
  rl.rlim_cur = rl.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &rl);
  (void)::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server, codes_file, pin, acked_log, received_log, state_file;
  hl::WorkloadOptions w;
  bool offline = false;
  bool drain_only = false;
  bool json = false;
  uint32_t source_ips = 0;
  uint32_t timeout_s = 300;
  size_t threads = 0;

  CLI::App app{"hf-load: load driver for holdfastd"};
  app.add_option("--server", server, "ws://127.0.0.1:PORT or wss://127.0.0.1:PORT")->required();
  app.add_option("--codes", codes_file, "the codes file holdfastd --dev-codes writes");
  app.add_option("--pairs", w.pairs, "sender/receiver pairs (users 2i -> 2i+1)");
  app.add_option("--messages", w.messages, "messages per sender");
  CLI::Option* window = app.add_option("--window", w.window, "online: messages in flight per pair")
                            ->check(CLI::Range(1u, 100000u));
  app.add_option("--rate", w.rate,
                 "online, open loop: messages/s per pair (M at this rate; latency at load)")
      ->check(CLI::Range(0.001, 1000000.0))
      ->excludes(window);
  app.add_flag("--offline", offline, "store with the receivers offline, then drain");
  app.add_option("--idle", w.idle,
                 "K authenticated idle connections: server memory per connection");
  app.add_option("--source-ips", source_ips, "connect from 127.0.1.1 .. 127.0.1.S")
      ->check(CLI::Range(0u, 254u));
  app.add_option("--server-pid", w.server_pid, "sample this process's CPU and RSS");
  app.add_option("--pin", pin, "SHA-256 hex of the server's DER certificate (wss://)");
  app.add_option("--body-bytes", w.body_bytes, "envelope content size (at least 32: the header)")
      ->check(CLI::Range(size_t{1}, holdfast::wire::kDefaultMaxEnvelopeBytes));
  app.add_option("--acked-log", acked_log,
                 "append the envelope id (hex) of every send answered OK");
  app.add_option("--received-log", received_log,
                 "append 'ENVELOPE_ID PAIR SEQ RUN' for every envelope received");
  app.add_option("--state", state_file,
                 "accounts file: written after registration, reused when it exists");
  app.add_flag("--drain-only", drain_only,
               "authenticate the receivers of --state and drain their queues");
  app.add_option("--timeout", timeout_s, "seconds each phase may take")
      ->check(CLI::Range(1u, 3600u));
  app.add_option("--concurrency", w.concurrency, "registrations and logins in progress at once")
      ->check(CLI::Range(size_t{1}, size_t{4096}));
  app.add_option("--threads", threads, "I/O threads (0: one per core)")
      ->check(CLI::Range(size_t{0}, size_t{64}));
  app.add_flag("--json", json, "print the result on one line");
  CLI11_PARSE(app, argc, argv);
  w.timeout = std::chrono::seconds(timeout_s);

  const int modes = (offline ? 1 : 0) + (w.idle > 0 ? 1 : 0) + (drain_only ? 1 : 0);
  if (modes > 1) {
    return Usage("--offline, --idle and --drain-only exclude each other");
  }
  if (drain_only && state_file.empty()) {
    return Usage("--drain-only needs --state");
  }
  if (w.idle == 0 && !drain_only && w.pairs == 0) {
    return Usage("--pairs must be at least 1");
  }
  if (offline && w.messages == 0) {
    return Usage("--offline needs --messages of at least 1");
  }
  if (w.rate > 0 && (offline || drain_only || w.idle > 0)) {
    return Usage("--rate is for the online workload only");
  }
  if (w.rate > 0 && w.messages / w.rate > kMaxScheduleSeconds) {
    return Usage("--messages / --rate must be at most a day");
  }

  std::signal(SIGPIPE, SIG_IGN);
  const uint64_t nofile = RaiseFileLimit();
  const uint64_t connections = w.idle > 0 ? w.idle : 2ULL * w.pairs;
  if (connections + kSpareFiles > nofile) {
    return Usage("RLIMIT_NOFILE is " + std::to_string(nofile) + ": too few files for " +
                 std::to_string(connections) + " connections");
  }

  auto url = hl::ParseServerUrl(server);
  if (!url.ok()) {
    return Usage("--server", url.error());
  }
  auto env_or = hl::Env::Create({*url, threads, source_ips, pin});
  if (!env_or.ok()) {
    return Usage("setup", env_or.error());
  }
  hl::Env& env = **env_or;
  if (!acked_log.empty()) {
    if (auto r = env.acked_log().Open(acked_log); !r.ok()) {
      return Usage("--acked-log", r.error());
    }
  }
  if (!received_log.empty()) {
    if (auto r = env.received_log().Open(received_log); !r.ok()) {
      return Usage("--received-log", r.error());
    }
  }
  env.Start();

  nlohmann::json out;
  // Accounts: from --state when it exists, else registered now (and saved to --state).
  const size_t wanted = w.idle > 0 ? w.idle : 2ULL * w.pairs;
  std::vector<hl::Account> accounts;
  size_t registered = 0;
  const uint64_t setup_start = hl::NowNs();
  auto loaded = state_file.empty()
                    ? holdfast::Result<std::vector<hl::Account>>(holdfast::ErrorCode::kNotFound)
                    : hl::LoadState(state_file);
  if (loaded.ok()) {
    accounts = std::move(*loaded);
    if (drain_only && w.pairs == 0) {
      w.pairs = static_cast<uint32_t>(accounts.size() / 2);
    }
    const size_t need = w.idle > 0 ? w.idle : 2ULL * w.pairs;
    if (accounts.size() < need) {
      return Usage("--state holds " + std::to_string(accounts.size()) +
                   " accounts; this run needs " + std::to_string(need));
    }
  } else if (loaded.code() != holdfast::ErrorCode::kNotFound) {
    return Usage("--state", loaded.error());
  } else if (drain_only) {
    return Usage("--drain-only: no state file " + state_file);
  } else if (codes_file.empty()) {
    return Usage("--codes is needed to register accounts");
  } else {
    hl::CodeBook codes(codes_file);
    auto made =
        hl::RegisterAccounts(env, codes, wanted, w.concurrency, hl::SteadyClock::now() + w.timeout);
    if (made.ok()) {
      accounts = std::move(*made);
      registered = accounts.size();
      if (!state_file.empty()) {
        if (auto r = hl::SaveState(state_file, accounts); !r.ok()) {
          return Usage("--state", r.error());
        }
      }
    } else {
      out["failed_phase"] = "setup";
    }
  }
  const double setup_secs = static_cast<double>(hl::NowNs() - setup_start) / 1e9;

  if (!out.contains("failed_phase")) {
    nlohmann::json result;
    if (drain_only) {
      result = hl::RunDrain(env, accounts, w);
    } else if (w.idle > 0) {
      result = hl::RunIdle(env, accounts, w);
    } else if (offline) {
      result = hl::RunOffline(env, accounts, w);
    } else {
      result = hl::RunOnline(env, accounts, w);
    }
    out.update(result);
  } else {
    out["delivered"] = 0;
  }

  hl::Counters& c = env.counters();
  out["server"] = url->text;
  out["tls"] = url->tls;
  out["pin_checked"] = !pin.empty();
  out["source_ips"] = source_ips;
  out["threads"] = env.threads();
  out["accounts_registered"] = registered;
  out["setup_secs"] = static_cast<double>(std::llround(setup_secs * 100)) / 100;
  out["errors"] = c.errors();
  out["error_kinds"] = c.ErrorKindsJson();
  out["reconnects"] = c.reconnects.load();
  out["resends"] = c.resends.load();
  out["redelivered"] = c.redelivered.load();
  out["resend_duplicates"] = c.resend_duplicates.load();
  out["rate_limited"] = c.rate_limited.load();
  out["stale_envelopes"] = c.stale_envelopes.load();
  if (env.interrupted()) {
    out["interrupted"] = true;
  }
  env.acked_log().Flush();
  env.received_log().Flush();
  const std::string text = json ? out.dump() : out.dump(2);
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
  env.Stop();
  return (c.errors() == 0 && !out.contains("failed_phase")) ? 0 : 1;
}
