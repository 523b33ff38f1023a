// Server: holdfastd's network side. One port serves WebSocket over TLS 1.3 (or plain
// WebSocket, on loopback addresses only) for clients, and plain HTTP GET /healthz and
// /metrics over the same transport. Each connection lives on one of several io_contexts,
// one thread each; the Service does the rest.
#ifndef HOLDFAST_SERVER_SERVER_H_
#define HOLDFAST_SERVER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/server/service.h"

namespace holdfast::server {

// HttpCall is one plain HTTP request (not a WebSocket upgrade) the server does not answer
// itself; HttpReply is the answer.
struct HttpCall {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string body;
  std::string ip;
};
struct HttpReply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IP address
  uint16_t port = 0;               // 0: any free port (see Server::port)
  bool plain = false;              // refused unless `host` is a loopback address
  std::string certificate_pem;     // TLS; ignored when plain
  SecretBytes private_key_pem;
  int threads = 0;  // io_contexts (one thread each); 0: one per core
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
  size_t max_pending_write_bytes = 8 << 20;
  // Metrics renders /metrics.
  std::function<std::string()> metrics;
  // AdvanceClock, when set, serves POST /test/advance?ms=N to loopback clients (tests only):
  // it moves the server's clock and runs maintenance, then calls `done`.
  std::function<void(int64_t ms, std::function<void()> done)> advance_clock;
  // Routes, when set, is offered every other HTTP request. It returns false to decline (the
  // server answers 404), or true and later calls `reply` exactly once, from any thread.
  std::function<bool(HttpCall call, std::function<void(HttpReply)> reply)> routes;
};

class Server {
 public:
  // Start binds and starts serving. Failures: kInvalidArgument (bad address, plain on a
  // non-loopback address, unusable certificate), kUnavailable (cannot bind).
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Service& service);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // port is the bound TCP port.
  uint16_t port() const;
  // Stop stops accepting, closes every connection and joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// IsLoopbackAddress is true for 127.0.0.0/8 and ::1.
bool IsLoopbackAddress(const std::string& host);

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_SERVER_H_
