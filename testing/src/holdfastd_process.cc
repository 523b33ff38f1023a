#include "holdfast/testing/holdfastd_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <sstream>

extern char** environ;

namespace holdfast::testing {

namespace {
using SteadyClock = std::chrono::steady_clock;
}  // namespace

HoldfastdProcess::~HoldfastdProcess() {
  if (running()) {
    Kill();
  }
}

std::string HoldfastdProcess::url() const {
  return std::string(tls_ ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port_);
}

bool HoldfastdProcess::Start(const HoldfastdOptions& options, std::chrono::milliseconds wait,
                             std::string* error) {
  if (running()) {
    *error = "already running";
    return false;
  }
  tls_ = options.tls;
  std::vector<std::string> args = {options.binary, "--data", options.data_dir, "--listen",
                                   options.listen};
  if (!options.codes_file.empty()) {
    args.insert(args.end(), {"--dev-codes", options.codes_file});
  }
  if (options.test_clock) {
    args.push_back("--test-clock");
  }
  if (!options.config_file.empty()) {
    args.insert(args.end(), {"--config", options.config_file});
  }
  if (!options.tls) {
    args.push_back("--plain");
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = "pipe";
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, options.binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    *error = "cannot spawn " + options.binary;
    return false;
  }
  pid_ = pid;
  out_fd_ = fds[0];

  std::string text;
  const auto deadline = SteadyClock::now() + wait;
  port_ = 0;
  fingerprint_.clear();
  const std::string listening =
      options.tls ? "holdfastd: listening on wss://127.0.0.1:" : "holdfastd: listening on ws://127.0.0.1:";
  const std::string fp = "holdfastd: TLS certificate SHA-256 fingerprint ";
  while (SteadyClock::now() < deadline && (port_ == 0 || (options.tls && fingerprint_.empty()))) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      continue;
    }
    char buf[1024];
    const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0) {
      break;  // exited
    }
    text.append(buf, static_cast<size_t>(n));
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.starts_with(listening) && lines.good()) {
        port_ = static_cast<uint16_t>(std::stoi(line.substr(listening.size())));
      } else if (line.starts_with(fp) && lines.good()) {
        fingerprint_ = line.substr(fp.size());
      }
    }
  }
  drain_stop_ = false;
  drain_ = std::thread([this, fd = out_fd_] {
    char buf[1024];
    std::optional<SteadyClock::time_point> stop_by;
    for (;;) {
      if (drain_stop_ && !stop_by) {
        stop_by = SteadyClock::now() + std::chrono::seconds(1);
      }
      if (stop_by && SteadyClock::now() >= *stop_by) {
        return;  // reaped a second ago: whoever else holds the pipe is not our business
      }
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready == 0) {
        if (drain_stop_) {
          return;  // reaped, and nothing more came for 100 ms
        }
        continue;
      }
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready < 0) {
        return;
      }
      ssize_t n = 0;
      do {
        n = ::read(fd, buf, sizeof(buf));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        return;  // EOF: the server's stdout closed with it
      }
    }
  });
  if (port_ == 0) {
    *error = "holdfastd did not report its port; stdout: " + text;
    Kill();
    return false;
  }
  return true;
}

void HoldfastdProcess::Reap() {
  pid_ = -1;
  drain_stop_ = true;
  if (drain_.joinable()) {
    drain_.join();  // at EOF, or within 100 ms of a quiet pipe
  }
  if (out_fd_ >= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
  }
}

int HoldfastdProcess::Stop(std::chrono::milliseconds wait) {
  if (!running()) {
    return -1;
  }
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool exited = false;
  const auto deadline = SteadyClock::now() + wait;
  while (SteadyClock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  Reap();
  return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void HoldfastdProcess::Kill() {
  if (!running()) {
    return;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  Reap();
}

}  // namespace holdfast::testing
