// Account and Client: one registered device, and its authenticated connection that
// reconnects with backoff when asked to.
#ifndef HOLDFAST_TOOLS_HF_LOAD_CLIENT_H_
#define HOLDFAST_TOOLS_HF_LOAD_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "connection.h"
#include "env.h"

namespace holdfast::load {

// Account is a registered primary device: what AuthRequest needs. account_id and credential
// are raw bytes (16 and 32).
struct Account {
  std::string phone;
  std::string account_id;
  uint32_t device_id = 0;
  std::string credential;
  uint32_t registration_id = 0;
};

// Client is one account's connection. Start() connects and authenticates; the client is
// ready once the server said QueueEmpty. With reconnection on, a dropped connection is opened
// again after a backoff (25 ms doubling to 1 s, with jitter) until the deadline. Like
// Connection, a Client lives on one io_context and is used on its thread only; it must
// outlive its handlers (hand it to Env::Retain).
class Client {
 public:
  struct Events {
    // on_ready runs after every (re)connection, when the queue was drained (QueueEmpty).
    std::function<void(Client&)> on_ready;
    std::function<void(Client&, pb::Envelope&)> on_envelope;
    // on_down runs when the connection dropped or could not be opened, unless Stop() was
    // called; `final` is true when no reconnection follows.
    std::function<void(Client&, bool final)> on_down;
    // on_connected runs after every WebSocket handshake, before authentication.
    std::function<void(Client&)> on_connected;
  };

  Client(Env& env, size_t context, Account account, size_t ordinal);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void set_events(Events events) { events_ = std::move(events); }
  // set_reconnect enables reconnection until `until` (and never after an interrupt).
  void set_reconnect(bool on, Deadline until) {
    reconnect_ = on;
    reconnect_until_ = until;
  }

  // Start connects; with `authenticate` false the client stops after the WebSocket handshake
  // until Authenticate() is called.
  void Start(bool authenticate = true);
  void Authenticate();
  // Stop closes the connection for good (Start() may be called again).
  void Stop();
  // Send sends an authenticated request; false, without calling `handler`, when the client
  // is not authenticated.
  bool Send(pb::Request request, Connection::ResponseHandler handler);

  bool connected() const { return connected_; }
  bool authenticated() const { return authenticated_; }
  bool ready() const { return ready_; }
  const Account& account() const { return account_; }
  size_t context() const { return context_; }

 private:
  void Connect();
  void SendAuth();
  void OnPush(pb::Push& push);
  void Down(std::string_view why, ErrorKind kind);
  bool CanReconnect() const;

  Env& env_;
  size_t context_;
  Account account_;
  size_t ordinal_;
  Events events_;
  asio::steady_timer timer_;
  std::shared_ptr<Connection> conn_;
  uint64_t generation_ = 0;  // per connection, so that an old connection's handlers do nothing
  uint32_t attempt_ = 0;     // reconnections since the last ready
  bool reconnect_ = false;
  Deadline reconnect_until_{};
  bool want_auth_ = true;
  bool auth_sent_ = false;
  bool connected_ = false;
  bool authenticated_ = false;
  bool ready_ = false;
  bool stopped_ = true;
};

}  // namespace holdfast::load

#endif  // HOLDFAST_TOOLS_HF_LOAD_CLIENT_H_
