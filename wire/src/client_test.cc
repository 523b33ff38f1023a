// Client tests that need no holdfastd: URL parsing, pins, connection failures, and frame
// routing against a scripted WebSocket peer. server/src/holdfastd_test.cc tests the client
// against the real server, over TLS too.
#include "holdfast/wire/client.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

// GCC 12 with sanitizers (HOLDFAST_SANITIZE) reports a false -Wmaybe-uninitialized inside
// Beast's HTTP parser (a boost::optional returned as boost::none), which the scripted peer's
// server-side handshake instantiates.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#pragma GCC diagnostic pop

namespace holdfast::wire {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

const std::string kPin(64, 'a');

TEST(ServerUrl, ParsesWsAndWss) {
  auto u = ParseServerUrl("ws://127.0.0.1:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/");

  u = ParseServerUrl("wss://chat.example.org/v1/socket");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "chat.example.org");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/v1/socket");

  u = ParseServerUrl("ws://localhost");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);

  u = ParseServerUrl("wss://[::1]:65535/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 65535);
  EXPECT_EQ(u->target, "/");

  u = ParseServerUrl("ws://[2001:db8::1]");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, 80);
}

TEST(ServerUrl, RefusesEverythingElse) {
  for (const char* bad : {"",
                          "ws://",
                          "wss://",
                          "http://127.0.0.1:80",
                          "WS://127.0.0.1:1",
                          "ws:/127.0.0.1:1",
                          "127.0.0.1:8080",
                          "ws://:8080",
                          "ws://host:",
                          "ws://host:0",
                          "ws://host:65536",
                          "ws://host:99999999999",
                          "ws://host:80x",
                          "ws://host:-1",
                          "ws://host:+80",
                          "ws://a:1:2",
                          "ws://user@host:1",
                          "ws://host:1/?q",
                          "ws://host:1/#f",
                          "ws://ho st:1",
                          "ws://host:1/a b",
                          "ws://ho\tst",
                          "ws://[::1",
                          "ws://[]:1",
                          "ws://[::1]x",
                          "ws://[::1]:",
                          "ws://[not-v6]:1",
                          "ws://h_st:1",
                          "ws://h\xc3\xa9st:1",
                          "ws://host\\:1"}) {
    EXPECT_EQ(ParseServerUrl(bad).code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseServerUrl(std::string_view("ws://h\0st:1", 11)).code(),
            ErrorCode::kInvalidArgument);
}

TEST(Pin, MatchesIgnoringCaseOnlyWholeSha256Hex) {
  const std::string lower = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  std::string upper = lower;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_TRUE(PinMatches(lower, lower));
  EXPECT_TRUE(PinMatches(lower, upper));
  EXPECT_TRUE(PinMatches(upper, lower));
  std::string other = lower;
  other[63] = '0';
  EXPECT_FALSE(PinMatches(lower, other));
  other = lower;
  other[0] = '1';
  EXPECT_FALSE(PinMatches(lower, other));
  EXPECT_FALSE(PinMatches(lower, lower.substr(0, 62)));
  EXPECT_FALSE(PinMatches(lower, lower + "00"));
  EXPECT_FALSE(PinMatches(lower, ""));
  EXPECT_FALSE(PinMatches("", ""));
  std::string not_hex = lower;
  not_hex[10] = 'g';
  EXPECT_FALSE(PinMatches(not_hex, not_hex));
}

Result<std::string> NeverCalled(const ssl_st*) {
  ADD_FAILURE() << "no TLS handshake should have happened";
  return Error{ErrorCode::kNotFound};
}

TEST(ClientConnect, RefusesBadOptionsBeforeConnecting) {
  ClientOptions o;
  o.url = "http://127.0.0.1:1";
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);

  o.url = "wss://127.0.0.1:1";
  o.peer_fingerprint = &NeverCalled;
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);  // no pin
  o.pinned_sha256 = "abcd";
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);  // not a SHA-256
  o.pinned_sha256 = kPin;
  o.peer_fingerprint = nullptr;
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);  // no fingerprint function

  o.url = "ws://127.0.0.1:1";
  o.timeout = milliseconds(0);
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);
  o.timeout = milliseconds(2000);
  o.source_address = "not an address";
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);
}

// Listener is a TCP listener on 127.0.0.1 with a port of its own.
struct Listener {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  uint16_t port() const { return acceptor.local_endpoint().port(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port()); }
};

TEST(ClientConnect, NobodyListeningIsUnavailable) {
  uint16_t port = 0;
  {
    Listener l;
    port = l.port();
  }  // closed again: nothing listens there now
  ClientOptions o;
  o.url = "ws://127.0.0.1:" + std::to_string(port);
  o.timeout = milliseconds(2000);
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kUnavailable);
}

TEST(ClientConnect, SilentPeerTimesOut) {
  Listener l;  // the kernel accepts; nobody ever answers the upgrade
  ClientOptions o;
  o.url = l.url();
  o.timeout = milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kUnavailable);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(3000));
}

TEST(ClientConnect, UnreachableSourceAddressIsRefused) {
  Listener l;
  ClientOptions o;
  o.url = l.url();
  o.timeout = milliseconds(1000);
  o.source_address = "192.0.2.1";  // TEST-NET-1: not an address of this host
  EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kInvalidArgument);
}

// ScriptedPeer accepts one WebSocket connection in a thread and runs `script` on it.
class ScriptedPeer {
 public:
  using Script = std::function<void(websocket::stream<tcp::socket>&)>;
  explicit ScriptedPeer(Script script) {
    thread_ = std::thread([this, script = std::move(script)] {
      beast::error_code ec;
      tcp::socket socket(listener_.io);
      listener_.acceptor.accept(socket, ec);
      if (ec) {
        return;
      }
      websocket::stream<tcp::socket> ws(std::move(socket));
      ws.accept(ec);
      if (ec) {
        return;
      }
      ws.binary(true);
      script(ws);
    });
  }
  ~ScriptedPeer() { thread_.join(); }
  std::string url() const { return listener_.url(); }

 private:
  Listener listener_;
  std::thread thread_;
};

pb::Frame ReadFrame(websocket::stream<tcp::socket>& ws) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  ws.read(buffer, ec);
  EXPECT_FALSE(ec) << ec.message();
  const auto data = buffer.cdata();
  auto frame = DecodeFrame(ByteSpan(static_cast<const uint8_t*>(data.data()), data.size()));
  EXPECT_TRUE(frame.ok());
  return frame.ok() ? *frame : pb::Frame();
}

void WriteFrame(websocket::stream<tcp::socket>& ws, pb::Frame frame) {
  const Bytes bytes = EncodeFrame(frame);
  beast::error_code ec;
  ws.write(asio::buffer(bytes), ec);
  EXPECT_FALSE(ec) << ec.message();
}

pb::Frame EnvelopePush(const std::string& content) {
  pb::Frame f;
  f.mutable_push()->mutable_envelope()->set_content(content);
  return f;
}

std::unique_ptr<Client> MustConnect(const std::string& url) {
  ClientOptions o;
  o.url = url;
  o.timeout = milliseconds(2000);
  auto c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << ErrorName(c.code());
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(ClientFrames, CallWaitsForItsOwnIdAndQueuesPushes) {
  ScriptedPeer peer([](websocket::stream<tcp::socket>& ws) {
    const pb::Frame req = ReadFrame(ws);
    EXPECT_TRUE(req.request().has_server_info());
    const uint64_t id = req.request().id();
    EXPECT_NE(id, 0u);
    WriteFrame(ws, EnvelopePush("one"));
    WriteFrame(ws, ResponseFrame(id + 100, pb::INTERNAL));  // someone else's: dropped
    beast::error_code ec;
    ws.write(asio::buffer(std::string("\xff\xff garbage")), ec);  // does not decode: dropped
    WriteFrame(ws, EnvelopePush("two"));
    WriteFrame(ws, ResponseFrame(id, pb::NOT_FOUND, "refused"));
    const pb::Frame second = ReadFrame(ws);
    EXPECT_GT(second.request().id(), id);  // ids are fresh
    WriteFrame(ws, OkFrame(second.request().id()));
    ws.close(websocket::close_code::normal, ec);
  });
  auto client = MustConnect(peer.url());
  ASSERT_NE(client, nullptr);
  pb::Request r;
  r.mutable_server_info();
  auto response = client->Call(r);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status(), pb::NOT_FOUND);  // a refusal is a response, not an error
  EXPECT_EQ(response->message(), "refused");
  auto second = client->Call(pb::Request());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status(), pb::OK);

  auto one = client->NextPush(milliseconds(1000));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->envelope().content(), "one");
  auto two = client->NextPush(milliseconds(1000));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->envelope().content(), "two");
  // The peer closed: nothing queued is left.
  EXPECT_EQ(client->NextPush(milliseconds(2000)).code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(client->closed());
  EXPECT_EQ(client->Call(pb::Request()).code(), ErrorCode::kUnavailable);
  EXPECT_EQ(client->SendBytes(AsBytes("x")).code(), ErrorCode::kUnavailable);
}

TEST(ClientFrames, WaitsEndAtTheirDeadlineAndTheConnectionStaysUsable) {
  ScriptedPeer peer([](websocket::stream<tcp::socket>& ws) {
    const pb::Frame ignored = ReadFrame(ws);  // never answered
    const pb::Frame req = ReadFrame(ws);
    WriteFrame(ws, OkFrame(ignored.request().id()));  // too late: dropped by the client
    WriteFrame(ws, OkFrame(req.request().id()));
    // Raw bytes and text pass through ReadBytes as they are.
    beast::error_code ec;
    ws.text(true);
    ws.write(asio::buffer(std::string("hello")), ec);
    // Wait for the client's close.
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    EXPECT_EQ(ec, websocket::error::closed);
  });
  ClientOptions o;
  o.url = peer.url();
  o.timeout = milliseconds(200);
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Call(pb::Request()).code(), kWaitTimedOut);
  EXPECT_FALSE((*client)->closed());
  auto answered = (*client)->Call(pb::Request());
  ASSERT_TRUE(answered.ok());
  EXPECT_EQ(answered->status(), pb::OK);
  auto text = (*client)->ReadBytes(milliseconds(1000));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(std::string(text->begin(), text->end()), "hello");
  EXPECT_EQ((*client)->NextPush(milliseconds(50)).code(), kWaitTimedOut);
  EXPECT_EQ((*client)->ReadBytes(milliseconds(50)).code(), kWaitTimedOut);
  (*client)->Close();
  EXPECT_TRUE((*client)->closed());
  (*client)->Close();  // idempotent
}

TEST(ClientFrames, ConnectsFromTheGivenSourceAddress) {
  std::string seen;
  std::mutex mu;
  {
    Listener l;
    std::thread accept([&] {
      tcp::socket s(l.io);
      beast::error_code ec;
      l.acceptor.accept(s, ec);
      if (!ec) {
        std::lock_guard<std::mutex> lock(mu);
        seen = s.remote_endpoint(ec).address().to_string();
      }
    });
    ClientOptions o;
    o.url = l.url();
    o.timeout = milliseconds(300);
    o.source_address = "127.0.0.5";
    EXPECT_EQ(Client::Connect(o).code(), ErrorCode::kUnavailable);  // no upgrade answered
    accept.join();
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen, "127.0.0.5");
}

}  // namespace
}  // namespace holdfast::wire
