// Daemon: a whole holdfastd assembled from its configuration: storage under the data
// directory, the server's keys, its TLS certificate (made on first start when none is
// configured), the code sender, the service, the listener and the maintenance timer.
// apps/holdfastd parses flags, starts one, and stops it on SIGTERM.
#ifndef HOLDFAST_SERVER_DAEMON_H_
#define HOLDFAST_SERVER_DAEMON_H_

#include <cstdint>
#include <memory>
#include <string>

#include "holdfast/common/result.h"
#include "holdfast/server/config.h"

namespace holdfast::server {

class Daemon {
 public:
  // Start brings the server up; on failure nothing keeps running. `config.data_dir` is
  // created (mode 0700) if missing.
  static Result<std::unique_ptr<Daemon>> Start(const ServerConfig& config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // port is the bound port; fingerprint is the SHA-256 of the TLS certificate (hex), for
  // clients to pin, or empty when serving plain WebSocket.
  uint16_t port() const;
  const std::string& fingerprint() const;
  // Stop stops accepting, closes connections, lets every submitted commit finish and closes
  // the database. Idempotent; the destructor calls it.
  void Stop();

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SplitHostPort splits "127.0.0.1:8443" or "[::1]:8443".
Result<void> SplitHostPort(const std::string& listen, std::string* host, uint16_t* port);

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_DAEMON_H_
