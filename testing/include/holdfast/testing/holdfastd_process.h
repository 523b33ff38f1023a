// HoldfastdProcess: the real holdfastd binary as a child process for integration tests, on
// 127.0.0.1 port 0. It reads the port (and, with TLS, the certificate fingerprint) from the
// server's stdout, then drains stdout on a thread so the server never blocks on a full pipe.
// Stop sends SIGTERM and waits; the destructor kills a server still running. Every wait is
// bounded.
#ifndef HOLDFAST_TESTING_HOLDFASTD_PROCESS_H_
#define HOLDFAST_TESTING_HOLDFASTD_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace holdfast::testing {

struct HoldfastdOptions {
  std::string binary;      // path to holdfastd
  std::string data_dir;
  std::string codes_file;  // --dev-codes
  std::string config_file; // --config, if not empty
  std::string listen = "127.0.0.1:0";  // a fixed port lets a restarted server keep its URL
  bool tls = false;        // otherwise --plain
  bool test_clock = true;  // --test-clock
  std::vector<std::string> extra_args;
};

class HoldfastdProcess {
 public:
  HoldfastdProcess() = default;
  ~HoldfastdProcess();
  HoldfastdProcess(const HoldfastdProcess&) = delete;
  HoldfastdProcess& operator=(const HoldfastdProcess&) = delete;

  // Start spawns the server and waits up to `wait` for its port. On failure it returns
  // false with `*error` set (the server's stdout so far) and nothing left running.
  bool Start(const HoldfastdOptions& options, std::chrono::milliseconds wait, std::string* error);
  // Stop sends SIGTERM and waits up to `wait`, then SIGKILLs. It returns the exit status,
  // or -1 when the server had to be killed, died of a signal, or was not running.
  int Stop(std::chrono::milliseconds wait);
  // Kill sends SIGKILL and reaps the server: a crash, for durability tests.
  void Kill();

  bool running() const { return pid_ >= 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  // url is ws://127.0.0.1:PORT or wss://127.0.0.1:PORT.
  std::string url() const;
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  void Reap();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread drain_;
  // drain_stop_ tells the drain thread that the server has been reaped: it stops at the next
  // quiet moment of the pipe even if something else still holds its write end.
  std::atomic<bool> drain_stop_{false};
  uint16_t port_ = 0;
  bool tls_ = false;
  std::string fingerprint_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTING_HOLDFASTD_PROCESS_H_
