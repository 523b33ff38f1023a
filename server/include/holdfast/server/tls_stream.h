// TlsSocket: a TLS 1.3 stream for Asio and Beast whose idle connections keep no OpenSSL state
// and no buffers. holdfastd uses it as a server; hf-load as a client of holdfastd.
//
// OpenSSL runs the handshake directly on the socket's file descriptor (no BIO pair, no Asio
// ssl::stream buffers). When the handshake is done, the application traffic secrets that
// OpenSSL reported through its key-log callback go into a TlsRecordLayer and the SSL object
// is freed. From then on records are read and written here. Buffers exist only while a record
// is being received or sent and are released when the connection goes idle.
//
// TlsSocket meets Asio's AsyncReadStream and AsyncWriteStream. It is its own lowest layer for
// Beast (socket(), expires_after(), expires_never(), as beast::tcp_stream has), and
// websocket::stream<TlsSocket> closes it through the async_teardown below, which sends
// close_notify. All operations of one TlsSocket must run on one thread (holdfastd's io_context
// per thread does that). The process must ignore SIGPIPE: OpenSSL writes handshake messages
// to the socket with write(2).
//
// tls_stream_test.cc drives it with OpenSSL clients, and as a client against itself. As a
// client it takes no post-handshake message but KeyUpdate: it is meant for servers that send
// no session tickets, as holdfastd (PrepareServerContext).
#ifndef HOLDFAST_SERVER_TLS_STREAM_H_
#define HOLDFAST_SERVER_TLS_STREAM_H_

#include <openssl/ssl.h>

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "holdfast/common/secret.h"
#include "holdfast/crypto/certificate.h"
#include "holdfast/server/tls_record.h"

namespace holdfast::server::tls {

// PrepareServerContext sets what TlsSocket needs on a server SSL_CTX: TLS 1.3 only, no
// session tickets (nothing may follow the handshake from our side), the key-log callback that
// hands the traffic secrets over. Call it once before the first connection.
void PrepareServerContext(SSL_CTX* ctx);
// PrepareClientContext: TLS 1.3 only, no session cache, the key-log callback. Certificate
// checks are the caller's (TlsSocket::set_peer_check).
void PrepareClientContext(SSL_CTX* ctx);

enum class Role { kServer, kClient };

// HandshakeSecrets receives the two application traffic secrets of one handshake.
struct HandshakeSecrets {
  SecretBytes client;
  SecretBytes server;
};

// HandshakeSecretsIndex is the SSL ex_data index under which a handshake's HandshakeSecrets is found.
int HandshakeSecretsIndex();

class TlsSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  TlsSocket(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx, Role role = Role::kServer)
      : impl_(std::make_shared<Impl>(std::move(socket), ctx, role)) {}
  TlsSocket(TlsSocket&&) noexcept = default;
  TlsSocket& operator=(TlsSocket&&) noexcept = default;
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  executor_type get_executor() { return impl_->socket.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return impl_->socket; }

  // expires_after closes the socket if the deadline passes first (pending operations end with
  // operation_aborted); expires_never cancels that.
  void expires_after(std::chrono::steady_clock::duration d) {
    const uint64_t generation = ++impl_->timer_generation;
    impl_->timer.expires_after(d);
    impl_->timer.async_wait(
        [weak = std::weak_ptr<Impl>(impl_), generation](boost::system::error_code ec) {
          auto impl = weak.lock();
          // An expiry already queued when the deadline was moved or cancelled is stale.
          if (ec || !impl || impl->timer_generation != generation) {
            return;
          }
          boost::system::error_code ignored;
          impl->socket.close(ignored);
        });
  }
  void expires_never() {
    ++impl_->timer_generation;
    impl_->timer.cancel();
  }

  // async_handshake runs the server handshake. Handler: void(error_code).
  template <typename Handler>
  auto async_handshake(Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(
        HandshakeOp{impl_}, handler, impl_->socket);
  }

  template <typename MutableBuffers, typename Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code, size_t)>(
        ReadOp<MutableBuffers>{impl_, buffers}, handler, impl_->socket);
  }

  template <typename ConstBuffers, typename Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code, size_t)>(
        WriteOp<ConstBuffers>{impl_, buffers}, handler, impl_->socket);
  }

  // async_shutdown sends close_notify and shuts the sending side. Handler: void(error_code).
  template <typename Handler>
  auto async_shutdown(Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(
        ShutdownOp{impl_}, handler, impl_->socket);
  }

  // close_notify sends close_notify if the socket takes it at once (best effort, for a
  // connection about to be closed) and shuts the sending side.
  // Records held back by cork_next_write go out first.
  void close_notify() {
    Impl& s = *impl_;
    if (s.sending) {
      s.closed_sent = true;  // a write in flight would be cut: leave the socket as it is
      return;
    }
    if (s.records && !s.closed_sent && !s.write_failed) {
      SendAlertNow(s, Alert::kCloseNotify);
    }
    s.closed_sent = true;
    boost::system::error_code ec;
    s.socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  }

  // set_peer_check sets a test of the peer, run on the SSL object once the handshake is done
  // (before it is freed): false fails the handshake. A client pins the server's certificate
  // with it.
  void set_peer_check(std::function<bool(SSL*)> check) { impl_->peer_check = std::move(check); }

  // cork_next_write makes the next write complete at once with its records held back; the
  // first write after it that is not corked sends everything held in one go (so does holding
  // kMaxCorkedBytes, and so do async_shutdown and close_notify). A writer with several
  // messages queued corks all but the last: one send, not one per message. It must only cork
  // a write that another write will follow, and call uncork() right after starting that
  // write: a stream above (Beast) may hold the write back and let its own control frames go
  // first, and those must not be corked.
  void cork_next_write() { impl_->cork_next = true; }
  void uncork() { impl_->cork_next = false; }

  // suite is the negotiated cipher suite (after the handshake).
  std::optional<CipherSuite> suite() const {
    return impl_->records ? std::optional<CipherSuite>(impl_->records->suite()) : std::nullopt;
  }

 private:
  // kMaxCorkedBytes bounds what cork() holds back: more is sent at once.
  static constexpr size_t kMaxCorkedBytes = 64 * 1024;

  struct Impl {
    Impl(boost::asio::ip::tcp::socket s, SSL_CTX* c, Role r)
        : socket(std::move(s)), timer(socket.get_executor()), ctx(c), role(r) {}
    ~Impl() {
      if (ssl != nullptr) {
        SSL_free(ssl);
      }
      SecureWipe(in);  // may hold decrypted bytes not read yet
    }

    // Release frees a buffer's storage once it is empty, so idle connections hold none.
    static void Release(std::vector<uint8_t>& v) { std::vector<uint8_t>().swap(v); }

    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer timer;
    SSL_CTX* ctx;
    Role role;
    std::function<bool(SSL*)> peer_check;        // during the handshake only
    SSL* ssl = nullptr;                          // during the handshake only
    std::unique_ptr<HandshakeSecrets> secrets;   // during the handshake only
    std::optional<TlsRecordLayer> records;       // after the handshake
    // in: received bytes; in[0, in_begin) is consumed (and wiped). While data_begin <
    // data_end, in[data_begin, data_end) is decrypted application data not yet read, from the
    // record ending at record_end; the bytes after that are not yet opened. Consumed bytes
    // are dropped before the next read from the socket, not after every record.
    std::vector<uint8_t> in;
    size_t in_begin = 0;
    size_t data_begin = 0;
    size_t data_end = 0;
    size_t record_end = 0;
    // out: sealed bytes being written, or held back by cork() (sending tells which). Alerts
    // are sent at once only when it is empty, so they never overtake records sealed before.
    std::vector<uint8_t> out;
    bool sending = false;
    bool cork_next = false;
    boost::system::error_code read_error;  // sticky: eof after close_notify, or a bad record
    bool write_failed = false;             // sticky: part of a record may be lost
    bool closed_sent = false;
    uint64_t timer_generation = 0;
  };

  static boost::system::error_code ProtocolError() {
    return boost::system::errc::make_error_code(boost::system::errc::protocol_error);
  }

  // ReadScratch is this thread's buffer for reads from sockets.
  static std::vector<uint8_t>& ReadScratch() {
    thread_local std::vector<uint8_t> scratch(kMaxRecordBytes + 4096);
    return scratch;
  }

  // Defer completes an operation from its initiating call: the handler must not run inside
  // the call that started it.
  template <typename Self, typename... Args>
  static void Defer(Self& self, Args... args) {
    auto executor = self.get_executor();
    boost::asio::post(executor,
                      [self = std::move(self), args...]() mutable { self.complete(args...); });
  }

  // SendAlertNow writes the records cork_next_write held back and then one alert record, if
  // the socket takes all of it at once; a record cut short would leave the peer a corrupt
  // stream, so a partial write marks writing failed. Not while a write is in flight.
  static void SendAlertNow(Impl& s, Alert alert) {
    s.records->SealAlert(alert, s.out);
    boost::system::error_code ec;
    const size_t n = s.socket.write_some(boost::asio::buffer(s.out), ec);
    if (ec || n != s.out.size()) {
      s.write_failed = true;
    }
    Impl::Release(s.out);
    s.closed_sent = true;
  }

  // Fail records a bad incoming record: every later read ends with protocol_error, nothing
  // more is written, and the client is sent the matching alert if the socket takes it now
  // (not in answer to an alert of its own).
  static void Fail(Impl& s, const Error& error) {
    s.read_error = ProtocolError();
    SecureWipe(s.in);
    Impl::Release(s.in);
    s.in_begin = s.data_begin = s.data_end = s.record_end = 0;
    if (!s.closed_sent && !s.write_failed && !s.sending &&
        error.code != ErrorCode::kUnavailable) {
      SendAlertNow(s, TlsRecordLayer::AlertFor(error));
    }
    s.closed_sent = true;
  }

  // Consume marks in[in_begin, end) read and wipes it (client requests, credentials).
  static void Consume(Impl& s, size_t end) {
    SecureWipe(MutableByteSpan(s.in.data() + s.in_begin, end - s.in_begin));
    s.in_begin = end;
    s.data_begin = s.data_end = s.record_end = 0;
    if (s.in_begin == s.in.size()) {
      Impl::Release(s.in);
      s.in_begin = 0;
    }
  }

  // Complete ends an operation: deferred when still inside its initiating call.
  template <typename Self, typename... Args>
  static void Complete(Self& self, bool initiating, Args... args) {
    if (initiating) {
      return Defer(self, args...);
    }
    self.complete(args...);
  }

  struct HandshakeOp {
    std::shared_ptr<Impl> impl;
    bool started = false;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      Impl& s = *impl;
      const bool initiating = !started;
      started = true;
      if (initiating) {
        if (s.ssl != nullptr || s.records) {
          return Defer(self, boost::system::error_code(boost::asio::error::already_started));
        }
        s.socket.non_blocking(true, ec);
        s.ssl = SSL_new(s.ctx);
        s.secrets = std::make_unique<HandshakeSecrets>();
        if (ec || s.ssl == nullptr ||
            SSL_set_fd(s.ssl, static_cast<int>(s.socket.native_handle())) != 1 ||
            SSL_set_ex_data(s.ssl, HandshakeSecretsIndex(), s.secrets.get()) != 1) {
          crypto::ClearTlsErrors();
          EndHandshake(s);
          return Defer(self, ProtocolError());
        }
        if (s.role == Role::kServer) {
          SSL_set_accept_state(s.ssl);
        } else {
          SSL_set_connect_state(s.ssl);
        }
      }
      // The deadline may have closed the socket while a readiness wait was already queued: its
      // descriptor number could by now belong to another connection, so OpenSSL must not touch
      // it.
      if (!ec && !s.socket.is_open()) {
        ec = boost::asio::error::operation_aborted;
      }
      if (ec) {
        EndHandshake(s);
        return Complete(self, initiating, ec);
      }
      const int r = SSL_do_handshake(s.ssl);
      if (r == 1) {
        ec = TakeKeys(s);
        EndHandshake(s);
        return Complete(self, initiating, ec);
      }
      const int error = SSL_get_error(s.ssl, r);
      crypto::ClearTlsErrors();
      if (error == SSL_ERROR_WANT_READ) {
        return s.socket.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(self));
      }
      if (error == SSL_ERROR_WANT_WRITE) {
        return s.socket.async_wait(boost::asio::ip::tcp::socket::wait_write, std::move(self));
      }
      EndHandshake(s);
      Complete(self, initiating, ProtocolError());
    }

    // TakeKeys moves the traffic secrets into a record layer.
    static boost::system::error_code TakeKeys(Impl& s) {
      const SSL_CIPHER* cipher = SSL_get_current_cipher(s.ssl);
      // Nothing may be left inside OpenSSL: it reads one record at a time, so bytes after the
      // client's Finished are still in the socket. Anything it had buffered would be lost.
      // Nothing may have been sent under the application key either (no session tickets), or
      // our write sequence would not start at 0.
      // (A client cannot tell whether the server sends tickets: it must not, see above.)
      const bool server = s.role == Role::kServer;
      if (cipher == nullptr || SSL_version(s.ssl) != TLS1_3_VERSION || SSL_has_pending(s.ssl) ||
          (server && SSL_get_num_tickets(s.ssl) != 0) || s.secrets->client.empty() ||
          s.secrets->server.empty()) {
        return ProtocolError();
      }
      if (s.peer_check && !s.peer_check(s.ssl)) {
        return boost::system::errc::make_error_code(boost::system::errc::permission_denied);
      }
      // The layer reads with the first secret's keys and writes with the second's.
      const ByteSpan peer = server ? s.secrets->client.span() : s.secrets->server.span();
      const ByteSpan own = server ? s.secrets->server.span() : s.secrets->client.span();
      auto layer = TlsRecordLayer::Create(SSL_CIPHER_get_protocol_id(cipher), peer, own);
      if (!layer.ok()) {
        return ProtocolError();
      }
      s.records.emplace(std::move(layer).value());
      return {};
    }

    // EndHandshake frees the SSL object and wipes the secrets it reported.
    static void EndHandshake(Impl& s) {
      if (s.ssl != nullptr) {
        SSL_free(s.ssl);  // SSL_set_fd's BIO does not close the descriptor
        s.ssl = nullptr;
      }
      s.secrets.reset();
      s.peer_check = nullptr;
    }
  };

  template <typename Buffers>
  struct ReadOp {
    std::shared_ptr<Impl> impl;
    Buffers buffers;
    bool started = false;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      Impl& s = *impl;
      const bool initiating = !started;
      started = true;
      size_t n = 0;
      if (!ec) {
        ec = Step(s, n);
        if (ec == boost::asio::error::would_block) {
          return s.socket.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(self));
        }
      }
      Complete(self, initiating, ec, n);
    }

    // Step returns with data copied out (n > 0), an error, or would_block when the socket has
    // nothing yet.
    boost::system::error_code Step(Impl& s, size_t& n) {
      if (!s.records) {
        return boost::asio::error::not_connected;
      }
      if (boost::asio::buffer_size(buffers) == 0) {
        return {};
      }
      for (;;) {
        if (s.data_begin < s.data_end) {
          n = boost::asio::buffer_copy(
              buffers, boost::asio::buffer(s.in.data() + s.data_begin, s.data_end - s.data_begin));
          s.data_begin += n;
          if (s.data_begin == s.data_end) {
            Consume(s, s.record_end);
          }
          return {};
        }
        if (s.read_error) {
          return s.read_error;
        }
        const ByteSpan pending = ByteSpan(s.in).subspan(s.in_begin);
        auto size = TlsRecordLayer::RecordSize(pending);
        if (!size.ok()) {
          Fail(s, size.error());
          continue;
        }
        if (size.value() != 0 && pending.size() >= size.value()) {
          const size_t end = s.in_begin + size.value();
          auto opened = s.records->Open(MutableByteSpan(s.in.data() + s.in_begin, size.value()));
          if (!opened.ok()) {
            Fail(s, opened.error());
            continue;
          }
          const Opened& o = opened.value();
          if (o.kind == Opened::Kind::kData && !o.data.empty()) {
            s.data_begin = static_cast<size_t>(o.data.data() - s.in.data());
            s.data_end = s.data_begin + o.data.size();
            s.record_end = end;
            continue;
          }
          if (o.kind == Opened::Kind::kClosed) {
            s.read_error = boost::asio::error::eof;
          }
          Consume(s, end);
          continue;
        }
        // Need more bytes: first drop what was consumed (at most one partial record moves).
        if (s.in_begin > 0) {
          s.in.erase(s.in.begin(), s.in.begin() + static_cast<std::ptrdiff_t>(s.in_begin));
          s.in_begin = 0;
        }
        std::vector<uint8_t>& scratch = ReadScratch();
        boost::system::error_code ec;
        const size_t got = s.socket.read_some(boost::asio::buffer(scratch), ec);
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
          return boost::asio::error::would_block;
        }
        if (ec) {
          // Also eof without close_notify: the peer stopped mid-stream; Beast treats it as eof.
          s.read_error = ec;
          continue;
        }
        s.in.insert(s.in.end(), scratch.begin(),
                    scratch.begin() + static_cast<std::ptrdiff_t>(got));
      }
    }
  };

  template <typename Buffers>
  struct WriteOp {
    std::shared_ptr<Impl> impl;
    Buffers buffers;
    size_t taken = 0;
    bool started = false;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t = 0) {
      Impl& s = *impl;
      if (!started) {
        started = true;
        if (!s.records || s.closed_sent || s.write_failed) {
          return Defer(self, ProtocolError(), size_t{0});
        }
        const bool corked = std::exchange(s.cork_next, false);
        if (s.sending) {
          return Defer(self, boost::system::error_code(boost::asio::error::already_started),
                       size_t{0});
        }
        const size_t total = boost::asio::buffer_size(buffers);
        if (total == 0) {
          return Defer(self, boost::system::error_code(), size_t{0});
        }
        std::vector<uint8_t>& scratch = WriteScratch();
        taken = boost::asio::buffer_copy(boost::asio::buffer(scratch), buffers);
        s.records->SealData(ByteSpan(scratch.data(), taken), s.out);
        SecureWipe(MutableByteSpan(scratch.data(), taken));
        if (corked && s.out.size() < kMaxCorkedBytes) {
          return Defer(self, boost::system::error_code(), taken);
        }
        s.sending = true;
        return boost::asio::async_write(s.socket, boost::asio::buffer(s.out), std::move(self));
      }
      s.sending = false;
      Impl::Release(s.out);
      if (ec) {
        s.write_failed = true;  // records may be cut: nothing more may follow them
      }
      self.complete(ec, ec ? size_t{0} : taken);
    }
  };

  struct ShutdownOp {
    std::shared_ptr<Impl> impl;
    bool started = false;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t = 0) {
      Impl& s = *impl;
      boost::system::error_code ignored;
      if (!started) {
        started = true;
        if (s.sending) {
          // A write is in flight: shutting down now would cut it.
          return Defer(self, boost::system::error_code(boost::asio::error::already_started));
        }
        if (s.records && !s.closed_sent && !s.write_failed) {
          s.closed_sent = true;
          s.records->SealAlert(Alert::kCloseNotify, s.out);  // after any corked records
          s.sending = true;
          return boost::asio::async_write(s.socket, boost::asio::buffer(s.out), std::move(self));
        }
        s.socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
        return Defer(self, boost::system::error_code());
      }
      s.sending = false;
      Impl::Release(s.out);
      if (ec) {
        s.write_failed = true;
      }
      s.socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      self.complete(boost::system::error_code());
    }
  };

  // WriteScratch is this thread's buffer for plaintext being sealed: up to four full records
  // per write.
  static std::vector<uint8_t>& WriteScratch() {
    thread_local std::vector<uint8_t> scratch(4 * kMaxPlaintextBytes);
    return scratch;
  }

  std::shared_ptr<Impl> impl_;
};

// async_teardown and teardown let websocket::stream<TlsSocket> close the connection: they
// send close_notify and shut the sending side (found by argument-dependent lookup).
template <typename TeardownHandler>
void async_teardown(boost::beast::role_type, TlsSocket& socket, TeardownHandler&& handler) {
  socket.async_shutdown(std::forward<TeardownHandler>(handler));
}

// beast_close_socket lets Beast's timeouts close a TlsSocket (found by argument-dependent
// lookup).
inline void beast_close_socket(TlsSocket& socket) {
  boost::system::error_code ignored;
  socket.socket().close(ignored);
}

inline void teardown(boost::beast::role_type, TlsSocket& socket, boost::system::error_code& ec) {
  socket.close_notify();
  ec = {};
}

}  // namespace holdfast::server::tls

#endif  // HOLDFAST_SERVER_TLS_STREAM_H_
