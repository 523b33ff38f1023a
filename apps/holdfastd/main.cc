// holdfastd: the Holdfast delivery server.
//
//   holdfastd --data DIR [--listen ADDR:PORT] [--plain] [--dev-codes FILE]
//             [--sms-webhook URL] [--config FILE] [--threads N] [--tls-cert PEM --tls-key PEM]
//
// With no configuration it keeps everything under DIR: the SQLite database, its keys and a
// self-signed TLS certificate made on first start (its SHA-256 fingerprint is printed for
// clients to pin). SIGTERM or SIGINT stops it gracefully: in-flight commits finish first.
#include <malloc.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "holdfast/common/error.h"
#include "holdfast/server/daemon.h"

namespace {

int Fail(const char* what, const holdfast::Error& e) {
  std::fprintf(stderr, "holdfastd: %s: %s (%d)%s%s\n", what,
               std::string(holdfast::ErrorName(e.code)).c_str(), static_cast<int>(e.code),
               e.detail ? ": " : "", e.detail ? e.detail : "");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Under load the io and database threads free and allocate again within microseconds, and
  // glibc's default trimming gave the pages back each time: madvise, page faults and TLB
  // shootdowns across both cores took about 5% of the server's time. Keep up to 64 MiB free
  // per arena instead. Idle connections hold no more for it (7.5 KiB each at 15k, measured).
  // Setting the trim threshold freezes the mmap threshold, so it is set too, above the
  // largest frame.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  holdfast::server::ServerConfig config;
  std::string config_file;
  CLI::App app{"holdfastd: the Holdfast delivery server"};
  app.add_option("--data", config.data_dir, "data directory (created if missing)")->required();
  app.add_option("--config", config_file, "JSON configuration file (flags win over it)");
  auto* listen = app.add_option("--listen", config.listen, "ADDR:PORT to listen on");
  auto* plain = app.add_flag("--plain", config.plain, "WebSocket without TLS (loopback only)");
  auto* dev = app.add_option("--dev-codes", config.dev_codes_file,
                             "development code sender: append 'PHONE CODE' lines to FILE");
  auto* hook = app.add_option("--sms-webhook", config.sms_webhook_url,
                              "POST verification codes as JSON to this SMS gateway URL");
  auto* threads = app.add_option("--threads", config.io_threads, "I/O threads (0: one per core)");
  auto* cert = app.add_option("--tls-cert", config.tls_certificate_file, "TLS certificate (PEM)");
  auto* key = app.add_option("--tls-key", config.tls_key_file, "TLS private key (PEM)");
  auto* test_clock = app.add_flag("--test-clock", config.test_clock,
                                  "tests only: a clock moved by POST /test/advance?ms=N");
  CLI11_PARSE(app, argc, argv);

  if (!config_file.empty()) {
    // The file first, then the flags given on the command line again over it.
    holdfast::server::ServerConfig from_file = config;
    if (auto r = holdfast::server::LoadConfigFile(config_file, from_file); !r.ok()) {
      return Fail("config file", r.error());
    }
    auto keep = [&](CLI::Option* o, auto field) {
      if (o->count() > 0) {
        from_file.*field = config.*field;
      }
    };
    keep(listen, &holdfast::server::ServerConfig::listen);
    keep(plain, &holdfast::server::ServerConfig::plain);
    keep(dev, &holdfast::server::ServerConfig::dev_codes_file);
    keep(hook, &holdfast::server::ServerConfig::sms_webhook_url);
    keep(threads, &holdfast::server::ServerConfig::io_threads);
    keep(cert, &holdfast::server::ServerConfig::tls_certificate_file);
    keep(key, &holdfast::server::ServerConfig::tls_key_file);
    keep(test_clock, &holdfast::server::ServerConfig::test_clock);
    from_file.data_dir = config.data_dir;
    config = from_file;
  }

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto daemon = holdfast::server::Daemon::Start(config);
  if (!daemon.ok()) {
    return Fail("cannot start", daemon.error());
  }
  std::string host;
  uint16_t port = 0;
  (void)holdfast::server::SplitHostPort(config.listen, &host, &port);
  const bool v6 = host.find(':') != std::string::npos;
  std::printf("holdfastd: listening on %s://%s%s%s:%u\n", config.plain ? "ws" : "wss",
              v6 ? "[" : "", host.c_str(), v6 ? "]" : "", (*daemon)->port());
  if (!(*daemon)->fingerprint().empty()) {
    std::printf("holdfastd: TLS certificate SHA-256 fingerprint %s\n",
                (*daemon)->fingerprint().c_str());
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("holdfastd: signal %d, shutting down\n", sig);
  std::fflush(stdout);
  (*daemon)->Stop();
  std::printf("holdfastd: stopped\n");
  return 0;
}
