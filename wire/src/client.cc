#include "holdfast/wire/client.h"

#include <cctype>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <charconv>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "holdfast/common/secret.h"

namespace holdfast::wire {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

namespace {

// kPinHexChars is the length of a pin: a SHA-256 in hex.
constexpr size_t kPinHexChars = 64;
// kMaxCloseWait bounds how long Close waits for the server's side of the close handshake.
constexpr std::chrono::milliseconds kMaxCloseWait{1000};
// kDrainWait bounds the wait for an aborted operation's handler after its socket is closed.
constexpr std::chrono::milliseconds kDrainWait{1000};

// Message is one WebSocket message as received.
struct Message {
  Bytes data;
  bool text = false;
};

// OpState is shared between an asynchronous operation's handler and the call waiting for
// it, so a handler that runs after its caller gave up touches nothing that is gone.
struct OpState {
  bool done = false;
  beast::error_code ec;
};

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

std::string LowerHex(std::string_view hex) {
  std::string out(hex);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool ValidPin(std::string_view pin) {
  return pin.size() == kPinHexChars && std::all_of(pin.begin(), pin.end(), IsHex);
}

}  // namespace

// Client::Transport is one WebSocket connection driven on the caller's thread: every wait
// runs the connection's own io_context until its condition holds or its deadline passes.
class Client::Transport {
 public:
  virtual ~Transport() = default;
  // Open connects, runs the TLS handshake and pin check (wss) and the WebSocket upgrade.
  virtual Result<void> Open(const ServerUrl& url, const ClientOptions& options,
                            Deadline deadline) = 0;
  virtual Result<void> Write(ByteSpan data, bool text, Deadline deadline) = 0;
  // Read returns the next message: kUnavailable when closed, kWaitTimedOut at the deadline.
  virtual Result<Message> Read(Deadline deadline) = 0;
  virtual void Close(Deadline deadline) = 0;
  virtual bool closed() const = 0;
  // fingerprint is the server certificate's SHA-256 seen at Open (wss), else empty.
  const std::string& fingerprint() const { return fingerprint_; }

 protected:
  std::string fingerprint_;
};

namespace {

template <bool kTls>
class WsTransport final : public Client::Transport {
 public:
  using Layer = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;
  using Ws = websocket::stream<Layer>;

  WsTransport() : tls_(asio::ssl::context::tls_client), resolver_(ioc_) {
    if constexpr (kTls) {
      // TLS 1.3 only. The certificate is judged by its pin alone (after the handshake), not
      // by a CA, so OpenSSL's own chain verdict is not asked for.
      SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_3_VERSION);
      tls_.set_verify_mode(asio::ssl::verify_none);
      ws_.emplace(ioc_, tls_);
    } else {
      ws_.emplace(ioc_);
    }
  }

  ~WsTransport() override {
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
  }

  Result<void> Open(const ServerUrl& url, const ClientOptions& options,
                    Deadline deadline) override {
    std::optional<asio::ip::address> source;
    beast::error_code ec;
    if (!options.source_address.empty()) {
      source = asio::ip::make_address(options.source_address, ec);
      if (ec) {
        return Error{ErrorCode::kInvalidArgument, "source address"};
      }
    }
    HF_ASSIGN_OR_RETURN(const std::vector<tcp::endpoint> endpoints, Resolve(url, deadline));

    tcp::socket& socket = beast::get_lowest_layer(*ws_).socket();
    bool connected = false;
    for (const tcp::endpoint& endpoint : endpoints) {
      if (source && source->is_v4() != endpoint.address().is_v4()) {
        continue;
      }
      socket.close(ec);
      socket.open(endpoint.protocol(), ec);
      if (ec) {
        continue;
      }
      if (source) {
        socket.bind(tcp::endpoint(*source, 0), ec);
        if (ec) {
          return Abort(Error{ErrorCode::kInvalidArgument, "cannot bind the source address"});
        }
      }
      auto op = std::make_shared<OpState>();
      socket.async_connect(endpoint, [op](beast::error_code e) {
        op->done = true;
        op->ec = e;
      });
      if (!Wait(op, deadline)) {
        return Abort(Error{ErrorCode::kUnavailable, "connect timed out"});
      }
      if (!op->ec) {
        connected = true;
        break;
      }
    }
    if (!connected) {
      return Abort(Error{ErrorCode::kUnavailable, "cannot connect"});
    }
    socket.set_option(tcp::no_delay(true), ec);

    if constexpr (kTls) {
      SSL* ssl = ws_->next_layer().native_handle();
      asio::ip::make_address(url.host, ec);
      if (ec && SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) {
        return Abort(Error{ErrorCode::kInvalidArgument, "server name"});
      }
      auto op = std::make_shared<OpState>();
      ws_->next_layer().async_handshake(asio::ssl::stream_base::client, [op](beast::error_code e) {
        op->done = true;
        op->ec = e;
      });
      if (!Wait(op, deadline) || op->ec) {
        return Abort(Error{ErrorCode::kUnavailable, "TLS handshake failed"});
      }
      // The pin decides, before a byte of the WebSocket upgrade is sent.
      auto fingerprint = options.peer_fingerprint(ssl);
      if (!fingerprint.ok()) {
        return Abort(Error{ErrorCode::kAuthenticationFailed, "no server certificate"});
      }
      const bool first_contact = options.trust_on_first_use && options.pinned_sha256.empty();
      if (!first_contact && !PinMatches(*fingerprint, options.pinned_sha256)) {
        return Abort(
            Error{ErrorCode::kAuthenticationFailed, "server certificate is not the pinned one"});
      }
      if (!ValidPin(*fingerprint)) {
        return Abort(Error{ErrorCode::kAuthenticationFailed, "server certificate fingerprint"});
      }
      fingerprint_ = *fingerprint;
      for (char& ch : fingerprint_) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }

    ws_->set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "holdfast-wire-client");
    }));
    ws_->read_message_max(kMaxFrameBytes);
    ws_->binary(true);
    const bool v6 = url.host.find(':') != std::string::npos;
    const std::string host_header =
        (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
    auto op = std::make_shared<OpState>();
    ws_->async_handshake(host_header, url.target, [op](beast::error_code e) {
      op->done = true;
      op->ec = e;
    });
    if (!Wait(op, deadline) || op->ec) {
      return Abort(Error{ErrorCode::kUnavailable, "WebSocket handshake failed"});
    }
    return Ok();
  }

  Result<void> Write(ByteSpan data, bool text, Deadline deadline) override {
    if (closed_) {
      return Error{ErrorCode::kUnavailable, "connection closed"};
    }
    auto op = std::make_shared<OpState>();
    // The handler owns the bytes: they must live until the write is done or aborted.
    auto bytes = std::make_shared<Bytes>(data.begin(), data.end());
    ws_->text(text);
    ws_->async_write(asio::buffer(*bytes), [op, bytes](beast::error_code e, size_t) {
      op->done = true;
      op->ec = e;
    });
    if (!Wait(op, deadline)) {
      return Abort(Error{ErrorCode::kUnavailable, "write timed out"});
    }
    if (op->ec) {
      return Abort(Error{ErrorCode::kUnavailable, "write failed"});
    }
    return Ok();
  }

  Result<Message> Read(Deadline deadline) override {
    if (inbox_.empty() && !closed_) {
      StartRead();
      RunUntil([this] { return !inbox_.empty() || closed_; }, deadline);
    }
    if (!inbox_.empty()) {
      Message m = std::move(inbox_.front());
      inbox_.pop_front();
      return m;
    }
    if (closed_) {
      return Error{ErrorCode::kUnavailable, "connection closed"};
    }
    return Error{kWaitTimedOut, "nothing arrived in time"};
  }

  void Close(Deadline deadline) override {
    if (!closed_) {
      auto op = std::make_shared<OpState>();
      ws_->async_close(websocket::close_code::normal, [op](beast::error_code e) {
        op->done = true;
        op->ec = e;
      });
      RunUntil([&op] { return op->done; }, deadline);
    }
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
  }

  bool closed() const override { return closed_; }

 private:
  Result<std::vector<tcp::endpoint>> Resolve(const ServerUrl& url, Deadline deadline) {
    beast::error_code ec;
    const auto address = asio::ip::make_address(url.host, ec);
    if (!ec) {
      return std::vector<tcp::endpoint>{tcp::endpoint(address, url.port)};
    }
    struct Resolved {
      bool done = false;
      beast::error_code ec;
      std::vector<tcp::endpoint> endpoints;
    };
    auto r = std::make_shared<Resolved>();
    resolver_.async_resolve(url.host, std::to_string(url.port),
                            [r](beast::error_code e, tcp::resolver::results_type results) {
                              r->done = true;
                              r->ec = e;
                              for (const auto& entry : results) {
                                r->endpoints.push_back(entry.endpoint());
                              }
                            });
    if (!RunUntil([&r] { return r->done; }, deadline)) {
      resolver_.cancel();
      return Error{ErrorCode::kUnavailable, "name resolution timed out"};
    }
    if (r->ec || r->endpoints.empty()) {
      return Error{ErrorCode::kUnavailable, "cannot resolve the host"};
    }
    return std::move(r->endpoints);
  }

  // RunUntil runs handlers until `done()` holds or the deadline passes; false on timeout or
  // when nothing is left to wait for.
  template <typename Pred>
  bool RunUntil(Pred done, Deadline deadline) {
    while (!done()) {
      if (ioc_.stopped()) {
        ioc_.restart();
      }
      if (ioc_.run_one_until(deadline) == 0) {
        return done();
      }
    }
    return true;
  }

  bool Wait(const std::shared_ptr<OpState>& op, Deadline deadline) {
    return RunUntil([&op] { return op->done; }, deadline);
  }

  // Abort closes the connection for good (pending operations end with an error) and returns
  // `error`.
  Error Abort(Error error) {
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
    // Let aborted handlers run now, so none is left holding the stream's state for later.
    RunUntil([this] { return !reading_; }, SteadyClock::now() + kDrainWait);
    return error;
  }

  void StartRead() {
    if (reading_ || closed_) {
      return;
    }
    reading_ = true;
    ws_->async_read(buffer_, [this](beast::error_code ec, size_t) {
      reading_ = false;
      if (ec) {
        // The server closed (a close frame, a reset or end of stream): nothing more comes.
        closed_ = true;
        beast::error_code ignored;
        beast::get_lowest_layer(*ws_).socket().close(ignored);
        return;
      }
      const auto data = buffer_.cdata();
      const auto* p = static_cast<const uint8_t*>(data.data());
      inbox_.push_back(Message{Bytes(p, p + data.size()), ws_->got_text()});
      buffer_.consume(buffer_.size());
    });
  }

  // Declaration order is destruction order in reverse: the io_context outlives everything
  // that posts to it, and the TLS context outlives the stream.
  asio::io_context ioc_{1};
  asio::ssl::context tls_;
  tcp::resolver resolver_;
  std::optional<Ws> ws_;
  beast::flat_buffer buffer_;
  std::deque<Message> inbox_;
  bool reading_ = false;
  bool closed_ = false;
};

}  // namespace

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  const Error bad{ErrorCode::kInvalidArgument, "server url"};
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\') {
      return bad;
    }
  }
  ServerUrl out;
  std::string_view rest;
  if (url.starts_with("ws://")) {
    rest = url.substr(5);
  } else if (url.starts_with("wss://")) {
    out.tls = true;
    rest = url.substr(6);
  } else {
    return bad;
  }
  out.port = out.tls ? 443 : 80;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
  }

  std::string_view port;
  bool has_port = false;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad;
    }
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad;
      }
      has_port = true;
      port = after.substr(1);
    }
    beast::error_code ec;
    asio::ip::make_address_v6(out.host, ec);
    if (ec) {
      return bad;
    }
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    if (out.host.empty() || !std::all_of(out.host.begin(), out.host.end(), IsHostNameChar)) {
      return bad;
    }
  }
  if (out.host.empty()) {
    return bad;
  }
  if (has_port) {
    unsigned value = 0;
    const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || err != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return bad;
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

bool PinMatches(std::string_view fingerprint, std::string_view pin) {
  if (!ValidPin(fingerprint) || !ValidPin(pin)) {
    return false;
  }
  const std::string a = LowerHex(fingerprint);
  const std::string b = LowerHex(pin);
  return ConstantTimeEquals(AsBytes(a), AsBytes(b));
}

Client::Client(std::unique_ptr<Transport> transport, std::chrono::milliseconds timeout)
    : transport_(std::move(transport)), timeout_(timeout) {}

Client::~Client() {
  if (transport_ && !transport_->closed()) {
    Close();
  }
}

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  HF_ASSIGN_OR_RETURN(const ServerUrl url, ParseServerUrl(options.url));
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return Error{ErrorCode::kInvalidArgument, "timeout"};
  }
  const bool first_contact = options.trust_on_first_use && options.pinned_sha256.empty();
  if (url.tls && ((!first_contact && !ValidPin(options.pinned_sha256)) ||
                  options.peer_fingerprint == nullptr)) {
    return Error{ErrorCode::kInvalidArgument, "wss needs a pin and a fingerprint function"};
  }
  std::unique_ptr<Transport> transport;
  if (url.tls) {
    transport = std::make_unique<WsTransport<true>>();
  } else {
    transport = std::make_unique<WsTransport<false>>();
  }
  HF_RETURN_IF_ERROR(transport->Open(url, options, SteadyClock::now() + options.timeout));
  return std::unique_ptr<Client>(new Client(std::move(transport), options.timeout));
}

bool Client::HandleIncoming(ByteSpan bytes, uint64_t wanted, pb::Response* response) {
  auto frame = DecodeFrame(bytes);
  if (!frame.ok()) {
    return false;
  }
  if (frame->has_push()) {
    pushes_.push_back(std::move(*frame->mutable_push()));
    return false;
  }
  if (frame->has_response() && wanted != 0 && frame->response().id() == wanted &&
      response != nullptr) {
    *response = std::move(*frame->mutable_response());
    return true;
  }
  return false;
}

Result<pb::Response> Client::Call(pb::Request request) {
  const uint64_t id = next_id_++;
  request.set_id(id);
  pb::Frame frame;
  *frame.mutable_request() = std::move(request);
  const Bytes bytes = EncodeFrame(frame);
  const Deadline deadline = SteadyClock::now() + timeout_;
  HF_RETURN_IF_ERROR(transport_->Write(bytes, /*text=*/false, deadline));
  pb::Response response;
  while (true) {
    HF_ASSIGN_OR_RETURN(const Message m, transport_->Read(deadline));
    if (!m.text && HandleIncoming(m.data, id, &response)) {
      return response;
    }
  }
}

Result<pb::Push> Client::NextPush(std::chrono::milliseconds timeout) {
  const Deadline deadline = SteadyClock::now() + timeout;
  while (pushes_.empty()) {
    HF_ASSIGN_OR_RETURN(const Message m, transport_->Read(deadline));
    if (!m.text) {
      (void)HandleIncoming(m.data, 0, nullptr);
    }
  }
  pb::Push push = std::move(pushes_.front());
  pushes_.pop_front();
  return push;
}

Result<void> Client::SendBytes(ByteSpan raw) {
  return transport_->Write(raw, /*text=*/false, SteadyClock::now() + timeout_);
}

Result<void> Client::SendText(std::string_view text) {
  return transport_->Write(AsBytes(text), /*text=*/true, SteadyClock::now() + timeout_);
}

Result<Bytes> Client::ReadBytes(std::chrono::milliseconds timeout) {
  HF_ASSIGN_OR_RETURN(Message m, transport_->Read(SteadyClock::now() + timeout));
  return std::move(m.data);
}

void Client::Close() { transport_->Close(SteadyClock::now() + std::min(timeout_, kMaxCloseWait)); }

bool Client::closed() const { return transport_->closed(); }

const std::string& Client::server_fingerprint() const { return transport_->fingerprint(); }

}  // namespace holdfast::wire
