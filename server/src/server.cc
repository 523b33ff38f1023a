#include "holdfast/server/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "holdfast/common/thread_name.h"
#include "holdfast/server/tcp_cork.h"
#include "holdfast/server/tls_stream.h"
#include "post_batch.h"

namespace holdfast::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// kMaxHttpRequestBytes bounds the header of the first request (WebSocket upgrade or GET).
constexpr size_t kMaxHttpRequestBytes = 8192;
// kMaxHttpBodyBytes admits a signed court order (legal::kMaxOrderBytes) with room to spare;
// anything longer is cut off by the parser and the connection closed.
constexpr size_t kMaxHttpBodyBytes = 80 * 1024;

// Connections registers every live connection so that Stop can close them.
class Connections {
 public:
  void Add(const std::shared_ptr<void>& c, std::function<void()> close) {
    std::lock_guard<std::mutex> lock(mu_);
    closers_[c.get()] = Entry{c, std::move(close)};
  }
  void Remove(const void* c) {
    std::lock_guard<std::mutex> lock(mu_);
    closers_.erase(c);
  }
  void CloseAll() {
    std::vector<std::function<void()>> closers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [k, e] : closers_) {
        if (auto alive = e.handle.lock()) {
          closers.push_back(e.close);
        }
      }
    }
    for (auto& c : closers) {
      c();
    }
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closers_.size();
  }

 private:
  struct Entry {
    std::weak_ptr<void> handle;
    std::function<void()> close;
  };
  mutable std::mutex mu_;
  std::unordered_map<const void*, Entry> closers_;  // GUARDED_BY(mu_)
};

struct Shared {
  Service& service;
  const ServerOptions& options;
  Connections& connections;
};

// WsSession is one WebSocket connection: the Service's Peer.
template <typename Ws>
class WsSession final : public Peer {
 public:
  WsSession(Ws ws, Shared shared, std::string ip, uint16_t port)
      : ws_(std::move(ws)), shared_(shared), ip_(std::move(ip)), port_(port) {}

  void Start(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t;
    t.handshake_timeout = shared_.options.handshake_timeout;
    t.idle_timeout = shared_.options.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(wire::kMaxFrameBytes);
    ws_.binary(true);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "holdfastd");
    }));
    auto self = Self();
    shared_.connections.Add(self, [weak = std::weak_ptr<WsSession>(self)] {
      if (auto s = weak.lock()) {
        s->Post([s] { s->Close(); });
      }
    });
    ws_.async_accept(req, [self](beast::error_code ec) {
      if (ec) {
        return self->Finish();
      }
      self->accepted_ = true;
      self->shared_.service.OnOpen(self);
      self->Read();
    });
  }

  // Peer.
  void Send(wire::pb::Frame& frame) override {
    if (closing_) {
      return;
    }
    Bytes bytes = wire::EncodeFrame(frame);
    pending_bytes_ += bytes.size();
    if (pending_bytes_ > shared_.options.max_pending_write_bytes) {
      return Close();  // the client does not read: drop it rather than buffer without end
    }
    writes_.push_back(std::move(bytes));
    if (!writing_) {
      // Start at the end of this handler, which may queue more frames to go out together.
      writing_ = true;
      asio::post(ws_.get_executor(), [self = Self()] {
        if (!self->finished_ && !self->closing_) {
          self->Write();
        } else {
          self->writing_ = false;
        }
      });
    }
  }
  void Post(std::function<void()> fn) override {
    PostBatch::Post(ws_.get_executor(), [self = Self(), fn = std::move(fn)] {
      if (!self->finished_) {
        fn();
      }
    });
  }
  void Close() override {
    if (closing_ || finished_) {
      return;
    }
    closing_ = true;
    if (!accepted_) {
      return;
    }
    Cork(false);  // the close frame must not wait behind the cork
    ws_.async_close(websocket::close_code::normal,
                    [self = Self()](beast::error_code) { self->Finish(); });
  }
  const std::string& ip() const override { return ip_; }
  uint16_t port() const override { return port_; }

 private:
  std::shared_ptr<WsSession> Self() {
    return std::static_pointer_cast<WsSession>(shared_from_this());
  }

  void Read() {
    ws_.async_read(buffer_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) {
        return self->Finish();
      }
      if (!self->ws_.got_binary()) {
        wire::pb::Frame f = wire::ResponseFrame(0, wire::pb::MALFORMED, "binary frames only");
        self->Send(f);
      } else {
        const auto data = self->buffer_.cdata();
        self->shared_.service.OnFrame(
            self, ByteSpan(static_cast<const uint8_t*>(data.data()), data.size()));
      }
      self->buffer_.consume(self->buffer_.size());
      if (self->buffer_.capacity() > kKeepBufferBytes) {
        self->buffer_.shrink_to_fit();  // an idle connection keeps no large buffer
      }
      if (!self->closing_) {
        self->Read();
      }
    });
  }

  void Write() {
    writing_ = true;
    constexpr bool kTls = std::is_same_v<beast::lowest_layer_type<Ws>, tls::TlsSocket>;
    const bool more = writes_.size() > 1;  // frames queued behind this one
    if constexpr (kTls) {
      if (more) {
        beast::get_lowest_layer(ws_).cork_next_write();  // the next frame sends them together
      }
    } else if (more) {
      Cork(true);
    }
    StartWrite();
    if constexpr (kTls) {
      // Beast starts the socket write inside async_write, unless its own control frame (a
      // pong, a close) holds the stream: then that frame goes first, and must not be corked.
      beast::get_lowest_layer(ws_).uncork();
    } else if (!more) {
      Cork(false);  // the last queued frame was just sent: what was held goes out with it
    }
  }

  void StartWrite() {
    ws_.async_write(asio::buffer(writes_.front()), [self = Self()](beast::error_code ec, size_t) {
      self->pending_bytes_ -= self->writes_.front().size();
      self->writes_.pop_front();
      if (ec) {
        self->writing_ = false;
        return self->Finish();
      }
      if (!self->writes_.empty() && !self->closing_) {
        return self->Write();
      }
      self->writing_ = false;
      self->writes_.shrink_to_fit();  // an idle connection keeps no write blocks
    });
  }

  // Cork holds a plain connection's queued frames in the kernel until the last is written
  // (SetTcpCork). It is on only while a write with frames behind it is in flight: Write
  // clears it at the last frame, Close before the close frame.
  void Cork(bool on) {
    if constexpr (!std::is_same_v<beast::lowest_layer_type<Ws>, tls::TlsSocket>) {
      if (corked_ != on) {
        corked_ = on;
        SetTcpCork(beast::get_lowest_layer(ws_).socket(), on);
      }
    }
  }

  void Finish() {
    if (finished_) {
      return;
    }
    finished_ = true;
    closing_ = true;
    if (accepted_) {
      shared_.service.OnClose(Self());
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    shared_.connections.Remove(this);
  }

  static constexpr size_t kKeepBufferBytes = 4096;

  Ws ws_;
  Shared shared_;
  std::string ip_;
  uint16_t port_;
  beast::flat_buffer buffer_;
  std::deque<Bytes> writes_;
  size_t pending_bytes_ = 0;
  bool writing_ = false;
  bool corked_ = false;
  bool accepted_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

// HttpSession reads the first request of a connection: a WebSocket upgrade goes to
// WsSession, anything else is answered here (/healthz, /metrics) and the connection closed.
template <typename Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream stream, Shared shared, std::string ip, uint16_t port)
      : stream_(std::move(stream)), shared_(shared), ip_(std::move(ip)), port_(port) {}

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(shared_.options.handshake_timeout);
    parser_.emplace();
    parser_->header_limit(kMaxHttpRequestBytes);
    parser_->body_limit(kMaxHttpBodyBytes);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         return self->Shutdown();
                       }
                       self->OnRequest(self->parser_->release());
                     });
  }

 private:
  void OnRequest(http::request<http::string_body> req) {
    if (websocket::is_upgrade(req)) {
      auto ws = std::make_shared<WsSession<websocket::stream<Stream>>>(
          websocket::stream<Stream>(std::move(stream_)), shared_, ip_, port_);
      return ws->Start(std::move(req));
    }
    const std::string target(req.target());
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(req.version());
    res->set(http::field::server, "holdfastd");
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    res->keep_alive(false);
    if (req.method() == http::verb::get && target == "/healthz") {
      res->result(http::status::ok);
      res->body() = "ok\n";
    } else if (req.method() == http::verb::get && target == "/metrics" && shared_.options.metrics) {
      res->result(http::status::ok);
      res->set(http::field::content_type, "text/plain; version=0.0.4");
      res->body() = shared_.options.metrics();
    } else if (req.method() == http::verb::post && target.rfind("/test/advance?ms=", 0) == 0 &&
               shared_.options.advance_clock && IsLoopbackAddress(ip_)) {
      int64_t ms = 0;
      const std::string_view arg = std::string_view(target).substr(17);
      const auto [end, err] = std::from_chars(arg.data(), arg.data() + arg.size(), ms);
      if (err != std::errc() || end != arg.data() + arg.size() || ms < 0) {
        res->result(http::status::bad_request);
        res->body() = "ms must be a non-negative integer\n";
      } else {
        res->result(http::status::ok);
        res->body() = "advanced\n";
        auto self = this->shared_from_this();
        auto executor = stream_.get_executor();
        shared_.options.advance_clock(ms, [self, res, executor] {
          asio::post(executor, [self, res] { self->Respond(res); });
        });
        return;
      }
    } else if (shared_.options.routes) {
      auto self = this->shared_from_this();
      auto executor = stream_.get_executor();
      HttpCall call{std::string(req.method_string()), target, std::move(req.body()), ip_};
      const bool taken = shared_.options.routes(
          std::move(call), [self, res, executor](HttpReply reply) {
            res->result(static_cast<http::status>(reply.status));
            res->set(http::field::content_type, reply.content_type);
            res->body() = std::move(reply.body);
            asio::post(executor, [self, res] { self->Respond(res); });
          });
      if (taken) {
        return;
      }
      res->result(http::status::not_found);
      res->body() = "not found\n";
    } else {
      res->result(http::status::not_found);
      res->body() = "not found\n";
    }
    Respond(res);
  }

  void Respond(const std::shared_ptr<http::response<http::string_body>>& res) {
    res->prepare_payload();
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code, size_t) {
      self->Shutdown();
    });
  }

  void Shutdown() {
    if constexpr (std::is_same_v<Stream, tls::TlsSocket>) {
      stream_.close_notify();
    }
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  Stream stream_;
  Shared shared_;
  std::string ip_;
  uint16_t port_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

using PlainStream = beast::tcp_stream;
using TlsStream = tls::TlsSocket;

// TlsHandshake runs the TLS handshake, then hands the stream to an HttpSession.
class TlsHandshake : public std::enable_shared_from_this<TlsHandshake> {
 public:
  TlsHandshake(TlsStream stream, Shared shared, std::string ip, uint16_t port)
      : stream_(std::move(stream)), shared_(shared), ip_(std::move(ip)), port_(port) {}
  void Start() {
    stream_.expires_after(shared_.options.handshake_timeout);
    stream_.async_handshake([self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        beast::error_code ignored;
        self->stream_.socket().close(ignored);
        return;
      }
      std::make_shared<HttpSession<TlsStream>>(std::move(self->stream_), self->shared_,
                                               self->ip_, self->port_)
          ->Start();
    });
  }

 private:
  TlsStream stream_;
  Shared shared_;
  std::string ip_;
  uint16_t port_;
};

}  // namespace

bool IsLoopbackAddress(const std::string& host) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

struct Server::Impl {
  Impl(ServerOptions o, Service& s)
      : options(std::move(o)),
        service(s),
        tls(asio::ssl::context::tls_server),
        shared{service, options, connections} {}

  ServerOptions options;
  Service& service;
  asio::ssl::context tls;
  Connections connections;
  Shared shared;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::atomic<size_t> next{0};
  std::atomic<bool> stopped{false};
  uint16_t port = 0;

  void Accept() {
    asio::io_context& target = *contexts[next++ % contexts.size()];
    acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || stopped) {
        return;
      }
      if (!ec) {
        OnAccepted(std::move(socket));
      }
      Accept();
    });
  }

  void OnAccepted(tcp::socket socket) {
    beast::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) {
      return;
    }
    std::string ip = remote.address().to_string();
    if (!service.AllowConnection(ip)) {
      socket.close(ec);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    const uint16_t remote_port = remote.port();
    if (options.plain) {
      std::make_shared<HttpSession<PlainStream>>(PlainStream(std::move(socket)), shared,
                                                 std::move(ip), remote_port)
          ->Start();
    } else {
      std::make_shared<TlsHandshake>(TlsStream(std::move(socket), tls.native_handle()), shared,
                                     std::move(ip), remote_port)
          ->Start();
    }
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Service& service) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) {
    return Error{ErrorCode::kInvalidArgument, "listen address must be an IP address"};
  }
  if (options.plain && !address.is_loopback()) {
    return Error{ErrorCode::kInvalidArgument, "plain WebSocket is allowed on loopback only"};
  }
  auto impl = std::make_unique<Impl>(std::move(options), service);
  if (!impl->options.plain) {
    auto& tls = impl->tls;
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    // TLS 1.3 only; OpenSSL does the handshake, tls::TlsSocket the records after it.
    tls::PrepareServerContext(tls.native_handle());
    tls.use_certificate_chain(asio::buffer(impl->options.certificate_pem), ec);
    if (!ec) {
      const ByteSpan key = impl->options.private_key_pem.span();
      tls.use_private_key(asio::buffer(key.data(), key.size()), asio::ssl::context::pem, ec);
    }
    if (ec) {
      return Error{ErrorCode::kInvalidArgument, "TLS certificate or key unusable"};
    }
  }
  int threads = impl->options.threads;
  if (threads <= 0) {
    threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  for (int i = 0; i < threads; ++i) {
    impl->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl->guards.push_back(asio::make_work_guard(*impl->contexts.back()));
  }
  impl->acceptor = std::make_unique<tcp::acceptor>(*impl->contexts[0]);
  const tcp::endpoint endpoint(address, impl->options.port);
  impl->acceptor->open(endpoint.protocol(), ec);
  if (!ec) {
    impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    impl->acceptor->bind(endpoint, ec);
  }
  if (!ec) {
    impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return Error{ErrorCode::kUnavailable, "cannot listen on that address and port"};
  }
  impl->port = impl->acceptor->local_endpoint().port();
  impl->Accept();
  for (size_t i = 0; i < impl->contexts.size(); ++i) {
    asio::io_context* c = impl->contexts[i].get();
    impl->threads.emplace_back([c, i] {
      NameThisThread("hf-io-" + std::to_string(i));
      c->run();
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) {
    return;
  }
  asio::post(impl_->acceptor->get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor->close(ec);
  });
  impl_->connections.CloseAll();
  // Let closes finish (bounded), then stop every context.
  for (int i = 0; i < 200 && impl_->connections.size() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& g : impl_->guards) {
    g.reset();
  }
  for (auto& ctx : impl_->contexts) {
    ctx->stop();
  }
  for (auto& t : impl_->threads) {
    if (t.joinable()) {
      t.join();
    }
  }
}

}  // namespace holdfast::server
