#include "holdfast/server/code_sender.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "holdfast/common/clock.h"
#include "holdfast/crypto/certificate.h"

namespace holdfast::server {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;

// kTimeout is generous: the tests that expect success must not fail on a loaded machine.
constexpr milliseconds kTimeout{10000};

// ----------------------------------------------------------------------------------------
// Development file.

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "holdfast_code_sender_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp";
      std::abort();
    }
    path_ = pattern;
  }
  ~TempDir() {
    for (const std::string& f : files_) {
      ::unlink(f.c_str());
    }
    ::rmdir(path_.c_str());
  }
  std::string File(const std::string& name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned FileMode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return 0xffffffff;
  }
  return st.st_mode & 07777;
}

TEST(DevFileCodeSender, AppendsOneLinePerCodeToAPrivateFile) {
  TempDir dir;
  const std::string path = dir.File("codes.txt");
  auto sender = NewDevFileCodeSender(path);
  ASSERT_TRUE(sender->Send("+15550001111", "123456").ok());
  ASSERT_TRUE(sender->Send("+447700900123", "ABC-789").ok());
  EXPECT_EQ(ReadFile(path), "+15550001111 123456\n+447700900123 ABC-789\n");
  EXPECT_EQ(FileMode(path), 0600u);

  // A second sender (a restart) appends.
  ASSERT_TRUE(NewDevFileCodeSender(path)->Send("+15550002222", "000000").ok());
  EXPECT_EQ(ReadFile(path), "+15550001111 123456\n+447700900123 ABC-789\n+15550002222 000000\n");
}

TEST(DevFileCodeSender, NarrowsALooserExistingFile) {
  TempDir dir;
  const std::string path = dir.File("codes.txt");
  { std::ofstream(path) << "old\n"; }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_TRUE(NewDevFileCodeSender(path)->Send("+15550001111", "123456").ok());
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_EQ(ReadFile(path), "old\n+15550001111 123456\n");
}

TEST(DevFileCodeSender, RefusesInputThatWouldBreakALine) {
  TempDir dir;
  const std::string path = dir.File("codes.txt");
  auto sender = NewDevFileCodeSender(path);
  const std::string long_phone = "+" + std::string(kMaxPhoneChars, '1');
  const std::string long_code(kMaxCodeChars + 1, '1');
  for (const auto& [phone, code] :
       std::vector<std::pair<std::string, std::string>>{{"", "123456"},
                                                        {"+15550001111", ""},
                                                        {"+1555 0001111", "123456"},
                                                        {"+15550001111", "123 456"},
                                                        {"+15550001111\n+15559999999", "1"},
                                                        {"+15550001111", "1\n"},
                                                        {"+15550001111", "12\"34"},
                                                        {std::string("+1555\0", 6), "1"},
                                                        {long_phone, "1"},
                                                        {"+1", long_code}}) {
    EXPECT_EQ(sender->Send(phone, code).code(), ErrorCode::kInvalidArgument) << phone << code;
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // nothing was written, not even a file
}

TEST(DevFileCodeSender, UnwritablePathIsAStorageFailure) {
  TempDir dir;
  auto sender = NewDevFileCodeSender(dir.File("missing") + "/codes.txt");
  EXPECT_EQ(sender->Send("+15550001111", "123456").code(), ErrorCode::kStorageFailure);
}

TEST(DevFileCodeSender, ConcurrentSendsWriteWholeLines) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  TempDir dir;
  const std::string path = dir.File("codes.txt");
  auto sender = NewDevFileCodeSender(path);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sender, t] {
      const std::string phone = "+1555000000" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(sender->Send(phone, std::to_string(100000 + i)).ok());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  std::istringstream lines(ReadFile(path));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_EQ(line.size(), 12u + 1 + 6) << line;  // "+1555000000T 1000II"
    EXPECT_TRUE(line.starts_with("+1555000000")) << line;
  }
  EXPECT_EQ(count, kThreads * kPerThread);
}

// ----------------------------------------------------------------------------------------
// Webhook.

struct SeenRequest {
  std::string method;
  std::string target;
  std::string host;
  std::string content_type;
  std::string body;
  std::string sni;  // the TLS server name the client sent, if any
};

// TestHttpServer answers every request with `status` (or, if silent, reads nothing and never
// answers) on `address`, port 0, from its own thread. The destructor stops it.
class TestHttpServer {
 public:
  struct Options {
    unsigned status = 200;
    bool silent = false;
    ssl::context* tls = nullptr;
    asio::ip::address address = asio::ip::address_v4::loopback();
  };

  explicit TestHttpServer(Options options)
      : options_(options), acceptor_(io_, tcp::endpoint(options.address, 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestHttpServer() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<SeenRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec) {
        return;
      }
      Serve(std::move(socket));
      Accept();
    });
  }

  // Serve handles one connection synchronously on the server thread; the tests send one
  // request at a time.
  void Serve(tcp::socket socket) {
    if (options_.silent) {
      held_.push_back(std::move(socket));
      return;
    }
    error_code ec;
    if (options_.tls == nullptr) {
      Handle(socket, "");
      socket.shutdown(tcp::socket::shutdown_both, ec);
      return;
    }
    ssl::stream<tcp::socket> stream(std::move(socket), *options_.tls);
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) {
      return;
    }
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    Handle(stream, sni == nullptr ? "" : sni);
    stream.shutdown(ec);
  }

  template <typename Stream>
  void Handle(Stream& stream, std::string sni) {
    error_code ec;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(stream, buffer, request, ec);
    if (ec) {
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back({std::string(request.method_string()), std::string(request.target()),
                           std::string(request[http::field::host]),
                           std::string(request[http::field::content_type]), request.body(),
                           std::move(sni)});
    }
    http::response<http::string_body> response(static_cast<http::status>(options_.status), 11);
    response.set(http::field::content_type, "text/plain");
    if (options_.status != 204) {
      response.body() = "answer";
    }
    response.keep_alive(false);
    response.prepare_payload();
    http::write(stream, response, ec);
  }

  const Options options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> held_;  // silent connections, closed when the server stops
  std::thread thread_;
  std::mutex mu_;
  std::vector<SeenRequest> requests_;  // GUARDED_BY(mu_)
};

std::string Url(std::string_view scheme, std::string_view host, uint16_t port,
                std::string_view target) {
  return std::string(scheme) + "://" + std::string(host) + ":" + std::to_string(port) +
         std::string(target);
}

TEST(WebhookCodeSender, PostsTheCodeAsJson) {
  TestHttpServer server({});
  auto sender =
      NewWebhookCodeSender(Url("http", "127.0.0.1", server.port(), "/hooks/sms?key=k1"), kTimeout);
  ASSERT_TRUE(sender->Send("+15550001111", "123456").ok());
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/hooks/sms?key=k1");
  EXPECT_EQ(seen[0].host, "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0].content_type, "application/json");
  const auto body = nlohmann::json::parse(seen[0].body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(body.is_discarded()) << seen[0].body;
  EXPECT_EQ(body, (nlohmann::json{{"phone", "+15550001111"}, {"code", "123456"}}));
}

TEST(WebhookCodeSender, AnyTwoHundredIsSuccess) {
  TestHttpServer server({.status = 204});
  auto sender = NewWebhookCodeSender(Url("http", "127.0.0.1", server.port(), ""), kTimeout);
  ASSERT_TRUE(sender->Send("+15550001111", "123456").ok());
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/");  // an empty path is "/"
}

TEST(WebhookCodeSender, OtherStatusesAreUnavailable) {
  for (unsigned status : {500u, 503u, 404u, 302u, 199u}) {
    TestHttpServer server({.status = status});
    auto sender = NewWebhookCodeSender(Url("http", "127.0.0.1", server.port(), "/"), kTimeout);
    const auto result = sender->Send("+15550001111", "123456");
    EXPECT_EQ(result.code(), ErrorCode::kUnavailable) << status;
    EXPECT_STREQ(result.error().detail, "webhook status");
    EXPECT_EQ(server.requests().size(), 1u);
  }
}

TEST(WebhookCodeSender, ClosedPortIsUnavailable) {
  uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port = acceptor.local_endpoint().port();
  }  // closed: connections to it are refused
  auto sender = NewWebhookCodeSender(Url("http", "127.0.0.1", port, "/"), kTimeout);
  const auto result = sender->Send("+15550001111", "123456");
  EXPECT_EQ(result.code(), ErrorCode::kUnavailable);
  EXPECT_STREQ(result.error().detail, "webhook connect");
}

TEST(WebhookCodeSender, ASilentServerTimesOut) {
  TestHttpServer server({.silent = true});
  auto sender =
      NewWebhookCodeSender(Url("http", "127.0.0.1", server.port(), "/"), milliseconds(200));
  const auto result = sender->Send("+15550001111", "123456");
  EXPECT_EQ(result.code(), ErrorCode::kUnavailable);
  EXPECT_STREQ(result.error().detail, "webhook timeout");
}

TEST(WebhookCodeSender, BadUrlsAreInvalidArguments) {
  for (std::string_view url : {"",
                               "127.0.0.1:80/hook",
                               "ftp://example.org/",
                               "http://",
                               "http:///hook",
                               "http://user:secret@example.org/",
                               "http://example.org:0/",
                               "http://example.org:65536/",
                               "http://example.org:/",
                               "http://example.org:8x/",
                               "http://example.org:000080/",
                               "http://[::1/",
                               "http://[not-an-ip]/",
                               "http://[::1]x/",
                               "http://exa mple.org/",
                               "http://example.org/a b",
                               "http://example.org/#frag",
                               "http://example.org/\n",
                               "http://ex%41mple.org/",
                               "http://example.org/\xc3\xa9"}) {
    EXPECT_EQ(CheckWebhookUrl(url).code(), ErrorCode::kInvalidArgument) << url;
    auto sender = NewWebhookCodeSender(std::string(url), kTimeout);
    EXPECT_EQ(sender->Send("+15550001111", "123456").code(), ErrorCode::kInvalidArgument) << url;
  }
  const std::string too_long = "http://example.org/" + std::string(kMaxWebhookUrlChars, 'a');
  EXPECT_EQ(CheckWebhookUrl(too_long).code(), ErrorCode::kInvalidArgument);

  for (std::string_view url :
       {"http://localhost", "https://sms.example.org:8443/send?x=1", "HTTP://Example.COM/",
        "http://[::1]:8080/x", "http://10.0.0.1?q=1", "https://gw_1.internal/hook"}) {
    EXPECT_TRUE(CheckWebhookUrl(url).ok()) << url;
  }
}

TEST(WebhookCodeSender, NonPositiveTimeoutIsAnInvalidArgument) {
  auto sender = NewWebhookCodeSender("http://127.0.0.1:1/", milliseconds(0));
  EXPECT_EQ(sender->Send("+15550001111", "123456").code(), ErrorCode::kInvalidArgument);
}

TEST(WebhookCodeSender, BadInputIsRefusedBeforeAnyRequest) {
  TestHttpServer server({});
  auto sender = NewWebhookCodeSender(Url("http", "127.0.0.1", server.port(), "/"), kTimeout);
  EXPECT_EQ(sender->Send("+1555\"}", "1").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(sender->Send("+15550001111", "").code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(server.requests().empty());
}

// HTTPS against a test server whose self-signed certificate is trusted explicitly.
class WebhookTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SystemClock clock;
    auto cert = crypto::GenerateSelfSignedCertificate("webhook test", clock, std::chrono::days(1));
    ASSERT_TRUE(cert.ok());
    cert_ = std::move(cert).value();
    error_code ec;
    tls_.use_certificate_chain(asio::buffer(cert_.certificate_pem), ec);
    ASSERT_FALSE(ec) << ec.message();
    tls_.use_private_key(asio::buffer(cert_.private_key_pem.data(), cert_.private_key_pem.size()),
                         ssl::context::pem, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  crypto::SelfSignedCertificate cert_;
  ssl::context tls_{ssl::context::tls_server};
};

TEST_F(WebhookTlsTest, VerifiesTheServerAndSendsSni) {
  TestHttpServer server({.tls = &tls_});
  auto sender = NewWebhookCodeSender(Url("https", "localhost", server.port(), "/hook"), kTimeout,
                                     cert_.certificate_pem);
  ASSERT_TRUE(sender->Send("+15550001111", "123456").ok());
  // An address is verified against the certificate's IP names and sent without SNI.
  auto by_address = NewWebhookCodeSender(Url("https", "127.0.0.1", server.port(), "/hook"),
                                         kTimeout, cert_.certificate_pem);
  ASSERT_TRUE(by_address->Send("+15550001111", "654321").ok());

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].sni, "localhost");
  EXPECT_EQ(seen[0].target, "/hook");
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[1].sni, "");
}

TEST_F(WebhookTlsTest, UntrustedCertificateIsUnavailable) {
  TestHttpServer server({.tls = &tls_});
  // The system store does not know the test certificate.
  auto system_store =
      NewWebhookCodeSender(Url("https", "localhost", server.port(), "/hook"), kTimeout);
  const auto result = system_store->Send("+15550001111", "123456");
  EXPECT_EQ(result.code(), ErrorCode::kUnavailable);
  EXPECT_STREQ(result.error().detail, "webhook tls handshake");

  // Nor does a store holding only some other certificate.
  SystemClock clock;
  auto other = crypto::GenerateSelfSignedCertificate("other", clock, std::chrono::days(1));
  ASSERT_TRUE(other.ok());
  auto other_store = NewWebhookCodeSender(Url("https", "localhost", server.port(), "/hook"),
                                          kTimeout, other->certificate_pem);
  const auto other_result = other_store->Send("+15550001111", "123456");
  EXPECT_EQ(other_result.code(), ErrorCode::kUnavailable);
  EXPECT_STREQ(other_result.error().detail, "webhook tls handshake");
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(WebhookTlsTest, CertificateForAnotherHostIsUnavailable) {
  // 127.0.0.2 is loopback too, but not among the certificate's names.
  const auto address = asio::ip::make_address("127.0.0.2");
  std::optional<TestHttpServer> server;
  try {
    server.emplace(TestHttpServer::Options{.tls = &tls_, .address = address});
  } catch (const boost::system::system_error& e) {
    // All of 127.0.0.0/8 is loopback on Linux, so this bind cannot fail on a sound machine.
    FAIL() << "cannot bind 127.0.0.2: " << e.what();
  }
  auto sender = NewWebhookCodeSender(Url("https", "127.0.0.2", server->port(), "/hook"), kTimeout,
                                     cert_.certificate_pem);
  const auto result = sender->Send("+15550001111", "123456");
  EXPECT_EQ(result.code(), ErrorCode::kUnavailable);
  EXPECT_STREQ(result.error().detail, "webhook tls handshake");
  EXPECT_TRUE(server->requests().empty());
}

TEST(WebhookCodeSender, UnparsableTrustedCaIsAnInvalidArgument) {
  auto sender = NewWebhookCodeSender("https://localhost:1/", kTimeout, "not a certificate");
  EXPECT_EQ(sender->Send("+15550001111", "123456").code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace holdfast::server
