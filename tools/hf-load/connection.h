// Connection: one asynchronous WebSocket (ws:// or wss://) connection to holdfastd speaking
// the Frame protocol (wire/proto/holdfast_wire.proto): requests with ids, their responses,
// and pushes.
#ifndef HOLDFAST_TOOLS_HF_LOAD_CONNECTION_H_
#define HOLDFAST_TOOLS_HF_LOAD_CONNECTION_H_

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "env.h"
#include "holdfast/common/bytes.h"
#include "holdfast/server/tls_stream.h"
#include "holdfast/wire/frame.h"

namespace holdfast::load {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace pb = wire::pb;

// kConnectTimeout bounds the TCP connect and the TLS handshake; kHandshakeTimeout bounds the
// WebSocket opening and closing handshakes.
inline constexpr std::chrono::seconds kConnectTimeout{10};
inline constexpr std::chrono::seconds kHandshakeTimeout{5};

// Connection lives on one io_context: every method must be called on that context's thread,
// and every handler runs there. It is used once: after it ended, make a new one.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // A ResponseHandler gets the response to its request, or nullptr when the connection ended
  // first (the request may or may not have been carried out).
  using ResponseHandler = std::function<void(const pb::Response*)>;
  using PushHandler = std::function<void(pb::Push&)>;
  // The close handler runs once when a connection that had opened ends, whoever ended it.
  using CloseHandler = std::function<void(std::string_view why)>;
  // The open handler gets an empty string on success, else what failed.
  using OpenHandler = std::function<void(std::string_view error)>;

  static std::shared_ptr<Connection> Create(Env& env, size_t context);
  ~Connection();

  void set_push_handler(PushHandler handler) { push_handler_ = std::move(handler); }
  void set_close_handler(CloseHandler handler) { close_handler_ = std::move(handler); }

  // Open connects from `local` (any address when empty) and runs the TLS and WebSocket
  // handshakes, each bounded by its timeout.
  void Open(std::optional<asio::ip::address> local, OpenHandler done);
  // Send gives `request` the next id and queues it. On a connection that is not open the
  // handler runs later, with nullptr. `handler` may be empty.
  void Send(pb::Request request, ResponseHandler handler);
  // Close starts the WebSocket closing handshake (bounded by kHandshakeTimeout); the close
  // handler runs when it is over. Pending requests get nullptr.
  void Close();

  bool open() const { return open_ && !closing_ && !finished_; }
  size_t pending() const { return pending_.size(); }

 private:
  using PlainWs = websocket::stream<beast::tcp_stream>;
  // holdfastd's own TLS stream in the client role: OpenSSL only for the handshake, then a
  // record layer of a few hundred bytes (server/include/holdfast/server/tls_stream.h). The
  // driver's TLS costs the box less CPU than Asio's ssl::stream did, which the server shares.
  using TlsWs = websocket::stream<server::tls::TlsSocket>;

  Connection(Env& env, size_t context);
  template <typename F>
  void WithWs(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }
  tcp::socket& Socket();
  void ExpiresAfter(std::chrono::steady_clock::duration d);
  void ExpiresNever();
  void OnConnected(const beast::error_code& ec);
  // PinMatches is true without --pin, or when the server's certificate has the pinned
  // fingerprint.
  bool PinMatches(SSL* ssl) const;
  void WebSocketHandshake();
  void Read();
  void OnRead(const beast::error_code& ec);
  void Dispatch(pb::Frame& frame);
  void Write();
  void OnWrite(const beast::error_code& ec);
  // Cork holds a plain connection's queued frames in the kernel until the last is written
  // (server::SetTcpCork), as holdfastd does: on only while a write with frames behind it is
  // in flight. TLS connections use TlsSocket::cork_next_write.
  void Cork(bool on);
  void Finish(std::string_view why);

  Env& env_;
  size_t context_;
  std::unique_ptr<PlainWs> plain_;
  std::unique_ptr<TlsWs> tls_;
  beast::flat_buffer buffer_;
  std::deque<Bytes> writes_;
  std::unordered_map<uint64_t, ResponseHandler> pending_;
  uint64_t next_id_ = 1;
  OpenHandler open_handler_;
  PushHandler push_handler_;
  CloseHandler close_handler_;
  bool counted_ = false;  // in Env::live_connections
  bool open_ = false;
  bool writing_ = false;       // a write is in progress, or posted (write_posted_)
  bool write_posted_ = false;  // Send posted the first write of a batch; it has not run
  bool corked_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace holdfast::load

#endif  // HOLDFAST_TOOLS_HF_LOAD_CONNECTION_H_
