#include "connection.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <type_traits>
#include <utility>

#include "holdfast/crypto/certificate.h"
#include "holdfast/server/tcp_cork.h"

namespace holdfast::load {

namespace {

// Linux: bind() with port 0 then picks the port at connect(), per destination, so that many
// connections can share one source address (linux/in.h; glibc's headers may lack it).
#ifndef IP_BIND_ADDRESS_NO_PORT
constexpr int IP_BIND_ADDRESS_NO_PORT = 24;
#endif

}  // namespace

std::shared_ptr<Connection> Connection::Create(Env& env, size_t context) {
  return std::shared_ptr<Connection>(new Connection(env, context));
}

Connection::Connection(Env& env, size_t context) : env_(env), context_(context % env.threads()) {
  asio::io_context& ioc = env_.context(context_);
  if (env_.tls() != nullptr) {
    tls_ = std::make_unique<TlsWs>(
        server::tls::TlsSocket(tcp::socket(ioc), env_.tls()->native_handle(),
                               server::tls::Role::kClient));
  } else {
    plain_ = std::make_unique<PlainWs>(ioc);
  }
}

Connection::~Connection() {
  if (counted_) {
    --env_.live_connections();
  }
}

tcp::socket& Connection::Socket() {
  if (tls_) {
    return beast::get_lowest_layer(*tls_).socket();
  }
  return beast::get_lowest_layer(*plain_).socket();
}

void Connection::ExpiresAfter(std::chrono::steady_clock::duration d) {
  if (tls_) {
    return beast::get_lowest_layer(*tls_).expires_after(d);
  }
  beast::get_lowest_layer(*plain_).expires_after(d);
}

void Connection::ExpiresNever() {
  if (tls_) {
    return beast::get_lowest_layer(*tls_).expires_never();
  }
  beast::get_lowest_layer(*plain_).expires_never();
}

void Connection::Open(std::optional<asio::ip::address> local, OpenHandler done) {
  open_handler_ = std::move(done);
  counted_ = true;
  ++env_.live_connections();
  beast::error_code ec;
  auto& socket = Socket();
  socket.open(tcp::v4(), ec);
  if (!ec && local) {
    const int one = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socket.bind(tcp::endpoint(*local, 0), ec);
  }
  if (ec) {
    // Report from the event loop, not from inside the caller.
    asio::post(env_.context(context_),
               [self = shared_from_this(), why = "socket: " + ec.message()] { self->Finish(why); });
    return;
  }
  ExpiresAfter(kConnectTimeout);
  auto connected = [self = shared_from_this()](const beast::error_code& e) {
    self->OnConnected(e);
  };
  if (tls_) {
    // TlsSocket's deadline closes the socket, which ends the connect.
    Socket().async_connect(env_.endpoint(), std::move(connected));
  } else {
    // tcp_stream's deadline covers only operations started through it.
    beast::get_lowest_layer(*plain_).async_connect(env_.endpoint(), std::move(connected));
  }
}

void Connection::OnConnected(const beast::error_code& ec) {
  if (finished_) {
    return;
  }
  if (ec) {
    return Finish("connect: " + ec.message());
  }
  beast::error_code ignored;
  Socket().set_option(tcp::no_delay(true), ignored);
  if (!tls_) {
    return WebSocketHandshake();
  }
  // The connect deadline still runs: it bounds the TLS handshake too.
  auto& tls = beast::get_lowest_layer(*tls_);
  auto pin_matched = std::make_shared<bool>(true);
  tls.set_peer_check([weak = weak_from_this(), pin_matched](SSL* ssl) {
    auto self = weak.lock();  // weak: the socket keeps the check until the handshake ends
    *pin_matched = self != nullptr && self->PinMatches(ssl);
    return *pin_matched;
  });
  tls.async_handshake([self = shared_from_this(), pin_matched](const beast::error_code& e) {
    if (self->finished_) {
      return;
    }
    if (!*pin_matched) {
      return self->Finish("the server's certificate does not match --pin");
    }
    if (e) {
      return self->Finish("TLS handshake: " + e.message());
    }
    self->WebSocketHandshake();
  });
}

bool Connection::PinMatches(SSL* ssl) const {
  if (env_.pin().empty()) {
    return true;
  }
  const auto fingerprint = crypto::PeerCertificateFingerprintSha256(ssl);
  return fingerprint.ok() && *fingerprint == env_.pin();
}

void Connection::WebSocketHandshake() {
  // The WebSocket stream keeps its own timeouts from here on.
  ExpiresNever();
  WithWs([this](auto& ws) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = kHandshakeTimeout;
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;  // the server pings; the stream answers while it reads
    ws.set_option(t);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "hf-load"); }));
    ws.read_message_max(wire::kMaxFrameBytes);
    ws.binary(true);
    ws.async_handshake(env_.host_header(), env_.server().path,
                       [self = shared_from_this()](const beast::error_code& ec) {
                         if (self->finished_) {
                           return;
                         }
                         if (ec) {
                           return self->Finish("WebSocket handshake: " + ec.message());
                         }
                         self->open_ = true;
                         self->Read();
                         if (self->closing_) {
                           // Close() was called during the handshake.
                           self->closing_ = false;
                           return self->Close();
                         }
                         if (auto done = std::move(self->open_handler_)) {
                           self->open_handler_ = nullptr;
                           done("");
                         }
                       });
  });
}

void Connection::Read() {
  WithWs([this](auto& ws) {
    ws.async_read(buffer_, [self = shared_from_this()](const beast::error_code& ec, size_t) {
      self->OnRead(ec);
    });
  });
}

void Connection::OnRead(const beast::error_code& ec) {
  if (finished_) {
    return;
  }
  if (ec) {
    return Finish(ec == websocket::error::closed ? std::string("closed by the server")
                                                 : "read: " + ec.message());
  }
  const auto data = buffer_.cdata();
  auto frame = wire::DecodeFrame(ByteSpan(static_cast<const uint8_t*>(data.data()), data.size()));
  buffer_.consume(buffer_.size());
  // The next read starts before this frame is handled: a frame already received completes
  // it at once, queued ahead of the write this one may start (Send), so that requests made
  // in answer to several frames go out together.
  Read();  // also while closing: the closing handshake ends the read
  if (!frame.ok()) {
    env_.counters().Error(ErrorKind::kBadFrame, "a frame from the server does not decode");
  } else {
    Dispatch(*frame);
  }
}

void Connection::Dispatch(pb::Frame& frame) {
  if (frame.has_response()) {
    auto it = pending_.find(frame.response().id());
    if (it == pending_.end()) {
      env_.counters().Error(ErrorKind::kBadFrame,
                            "response to no pending request (status " +
                                std::string(wire::StatusName(frame.response().status())) + ": " +
                                frame.response().message() + ")");
      return;
    }
    ResponseHandler handler = std::move(it->second);
    pending_.erase(it);
    if (handler) {
      handler(&frame.response());
    }
    return;
  }
  if (frame.has_push()) {
    if (push_handler_) {
      push_handler_(*frame.mutable_push());
    }
    return;
  }
  env_.counters().Error(ErrorKind::kBadFrame, "a request frame from the server");
}

void Connection::Send(pb::Request request, ResponseHandler handler) {
  if (!open()) {
    if (handler) {
      asio::post(env_.context(context_), [handler = std::move(handler)] { handler(nullptr); });
    }
    return;
  }
  const uint64_t id = next_id_++;
  request.set_id(id);
  pb::Frame frame;
  frame.mutable_request()->Swap(&request);
  writes_.push_back(wire::EncodeFrame(frame));
  if (handler) {
    pending_.emplace(id, std::move(handler));
  }
  if (!writing_) {
    // Start at the end of this handler: the frames queued until then go out together.
    writing_ = true;
    write_posted_ = true;
    asio::post(env_.context(context_), [self = shared_from_this()] {
      if (self->write_posted_) {  // Close() may have started it
        self->write_posted_ = false;
        self->Write();
      }
    });
  }
}

void Connection::Write() {
  if (finished_) {
    writing_ = false;
    return;
  }
  const bool more = writes_.size() > 1;  // frames queued behind this one
  WithWs([this, more](auto& ws) {
    constexpr bool kTls = std::is_same_v<beast::lowest_layer_type<std::decay_t<decltype(ws)>>,
                                         server::tls::TlsSocket>;
    if constexpr (kTls) {
      if (more) {
        beast::get_lowest_layer(ws).cork_next_write();  // the next frame sends them together
      }
    } else if (more) {
      Cork(true);
    }
    ws.async_write(
        asio::buffer(writes_.front()),
        [self = shared_from_this()](const beast::error_code& ec, size_t) { self->OnWrite(ec); });
    if constexpr (kTls) {
      beast::get_lowest_layer(ws).uncork();  // as in holdfastd: a control frame may go first
    } else if (!more) {
      Cork(false);  // the last queued frame was just sent: what was held goes out with it
    }
  });
}

void Connection::Cork(bool on) {
  if (tls_ || corked_ == on) {
    return;
  }
  corked_ = on;
  server::SetTcpCork(Socket(), on);
}

void Connection::OnWrite(const beast::error_code& ec) {
  writes_.pop_front();
  if (ec || finished_) {
    writing_ = false;
    return Finish("write: " + ec.message());
  }
  if (!writes_.empty() && !closing_) {
    return Write();
  }
  writing_ = false;
}

void Connection::Close() {
  if (finished_ || closing_) {
    return;
  }
  closing_ = true;
  if (!open_) {
    if (!Socket().is_open() || open_handler_ == nullptr) {
      return Finish("closed");
    }
    // Still connecting: closing the socket aborts the handshake, which then finishes.
    beast::error_code ignored;
    Socket().close(ignored);
    return;
  }
  if (write_posted_) {
    // A frame queued before the close goes first, as it would have without the wait for the
    // end of the handler; OnWrite drops the rest.
    write_posted_ = false;
    Write();
  }
  // Beast lets a close run beside a pending read and write.
  Cork(false);  // the close frame must not wait behind the cork
  WithWs([this](auto& ws) {
    ws.async_close(
        websocket::close_code::normal,
        [self = shared_from_this()](const beast::error_code&) { self->Finish("closed"); });
  });
}

void Connection::Finish(std::string_view why) {
  if (finished_) {
    return;
  }
  finished_ = true;
  const bool was_open = open_;
  open_ = false;
  beast::error_code ignored;
  Socket().close(ignored);
  if (counted_) {
    counted_ = false;
    --env_.live_connections();
  }
  // The write queue stays: a write in progress still refers to its front.
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, handler] : pending) {
    if (handler) {
      handler(nullptr);
    }
  }
  if (!was_open) {
    if (auto done = std::move(open_handler_)) {
      open_handler_ = nullptr;
      done(why.empty() ? std::string_view("failed") : why);
    }
    return;
  }
  push_handler_ = nullptr;
  if (auto closed = std::move(close_handler_)) {
    close_handler_ = nullptr;
    closed(why);
  }
}

}  // namespace holdfast::load
