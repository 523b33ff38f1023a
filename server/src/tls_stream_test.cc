// TlsSocket against OpenSSL's own client, on loopback: every cipher suite, large data,
// KeyUpdate both ways, close_notify both ways, forged records and a WebSocket over it.
#include "holdfast/server/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "holdfast/common/clock.h"
#include "holdfast/crypto/certificate.h"

namespace holdfast::server::tls {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// OpenSSL writes the handshake with write(2): a client that resets early must not kill the
// test with SIGPIPE (holdfastd ignores it the same way).
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// Server: one io_context thread; each accepted connection runs `serve` on a TlsSocket.
class TlsServer {
 public:
  using Serve = std::function<void(std::shared_ptr<TlsSocket>)>;

  explicit TlsServer(Serve serve) : serve_(std::move(serve)) {
    SystemClock clock;
    auto cert = crypto::GenerateSelfSignedCertificate("localhost", clock, std::chrono::days(1));
    EXPECT_TRUE(cert.ok());
    ctx_ = SSL_CTX_new(TLS_server_method());
    BIO* cb = BIO_new_mem_buf(cert.value().certificate_pem.data(),
                              static_cast<int>(cert.value().certificate_pem.size()));
    X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(cert.value().private_key_pem.data(),
                              static_cast<int>(cert.value().private_key_pem.size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx_, x), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx_, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
    PrepareServerContext(ctx_);
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsServer() {
    io_.stop();
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) {
        return;
      }
      auto t = std::make_shared<TlsSocket>(std::move(s), ctx_);
      t->expires_after(std::chrono::seconds(3));
      t->async_handshake([this, t](boost::system::error_code hec) {
        t->expires_never();
        if (!hec) {
          serve_(t);
        }
      });
      Accept();
    });
  }

  Serve serve_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  SSL_CTX* ctx_ = nullptr;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Echo reads and writes back until the client stops; `result` gets how the reading ended.
void Echo(std::shared_ptr<TlsSocket> t, std::shared_ptr<std::promise<boost::system::error_code>> result) {
  auto buf = std::make_shared<std::vector<uint8_t>>(5000);
  t->async_read_some(asio::buffer(*buf), [t, buf, result](boost::system::error_code ec, size_t n) {
    if (ec) {
      result->set_value(ec);
      return;
    }
    asio::async_write(*t, asio::buffer(buf->data(), n),
                      [t, buf, result](boost::system::error_code wec, size_t) {
                        if (wec) {
                          result->set_value(wec);
                          return;
                        }
                        Echo(t, result);
                      });
  });
}

// Client: OpenSSL on a blocking socket.
struct Client {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;

  Client(uint16_t port, const char* suites = nullptr) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ctx = SSL_CTX_new(TLS_client_method());
    if (suites != nullptr) {
      EXPECT_EQ(SSL_CTX_set_ciphersuites(ctx, suites), 1);
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
  }
  bool Connect() { return SSL_connect(ssl) == 1; }
  void Write(const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      const int n = SSL_write(ssl, s.data() + done, static_cast<int>(s.size() - done));
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
  }
  // Read reads exactly n bytes, or fewer if the stream ends.
  std::string Read(size_t n) {
    std::string out;
    char buf[16384];
    while (out.size() < n) {
      const int r = SSL_read(ssl, buf, static_cast<int>(std::min(sizeof(buf), n - out.size())));
      if (r <= 0) {
        break;
      }
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
};

// RawConnect opens a plain TCP connection to the loopback port: -1 on failure.
int RawConnect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return -1;
  }
  return fd;
}

// ExpectClosedWithAlert: the server's reading ended with protocol_error, and the client got
// the alert `reason` (an SSL_R_SSLV3_ALERT_* code).
void ExpectClosedWithAlert(std::future<boost::system::error_code>& done, Client& c, int reason) {
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(done.get(), boost::system::errc::make_error_code(boost::system::errc::protocol_error));
  char b[8];
  EXPECT_LE(SSL_read(c.ssl, b, sizeof(b)), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), reason);
  ERR_clear_error();
}

std::string Text(size_t n) {
  std::string s(n, 'x');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (i * 31 + i / 7) % 26);
  }
  return s;
}

class Suites : public ::testing::TestWithParam<const char*> {};

TEST_P(Suites, EchoesSmallAndLargeDataWithOpenSsl) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  auto done = result->get_future();
  std::promise<std::optional<CipherSuite>> suite;
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    suite.set_value(t->suite());
    Echo(t, result);
  });
  Client c(server.port(), GetParam());
  ASSERT_TRUE(c.Connect());
  for (size_t n : {size_t{1}, size_t{100}, size_t{16384}, size_t{16385}, size_t{200000}}) {
    const std::string msg = Text(n);
    std::thread writer([&] { c.Write(msg); });
    EXPECT_EQ(c.Read(n), msg) << n;
    writer.join();
  }
  const auto s = suite.get_future().get();
  ASSERT_TRUE(s.has_value());
  EXPECT_STREQ(SSL_CIPHER_get_name(SSL_get_current_cipher(c.ssl)), GetParam());
  EXPECT_EQ(static_cast<uint16_t>(*s), SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(c.ssl)));
  // close_notify from the client ends the server's reading with eof.
  SSL_shutdown(c.ssl);
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(done.get(), asio::error::eof);
}

INSTANTIATE_TEST_SUITE_P(EveryTls13Suite, Suites,
                         ::testing::Values("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));

// TlsSocket as a client (hf-load's use) against TlsSocket as a server: the handshake, the
// pin check on the server's certificate, and data both ways across many records.
struct OurClient {
  asio::io_context io;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  std::unique_ptr<TlsSocket> tls;

  explicit OurClient(uint16_t port) {
    PrepareClientContext(ctx);
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    tls = std::make_unique<TlsSocket>(std::move(socket), ctx, Role::kClient);
    tls->expires_after(std::chrono::seconds(10));
  }
  ~OurClient() {
    tls.reset();
    SSL_CTX_free(ctx);
  }
  boost::system::error_code Handshake() {
    boost::system::error_code out = asio::error::would_block;
    tls->async_handshake([&](boost::system::error_code ec) {
      out = ec;
      tls->expires_never();  // else run() waits for the deadline, which closes the socket
    });
    io.run_for(std::chrono::seconds(10));
    io.restart();
    return out;
  }
};

TEST(TlsSocket, OurClientTalksToOurServerAndChecksThePeer) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  OurClient c(server.port());
  std::string seen_fingerprint;
  c.tls->set_peer_check([&](SSL* ssl) {
    auto fingerprint = crypto::PeerCertificateFingerprintSha256(ssl);
    seen_fingerprint = fingerprint.ok() ? *fingerprint : "";
    return fingerprint.ok();
  });
  ASSERT_FALSE(c.Handshake());
  EXPECT_EQ(seen_fingerprint.size(), 64u);  // the server's certificate was there to check
  ASSERT_TRUE(c.tls->suite().has_value());
  for (size_t n : {size_t{1}, size_t{16385}, size_t{200000}}) {
    const std::string msg = Text(n);
    std::string got(n, '\0');
    bool wrote = false;
    bool read = false;
    asio::async_write(*c.tls, asio::buffer(msg), [&](boost::system::error_code ec, size_t) {
      EXPECT_FALSE(ec);
      wrote = true;
    });
    asio::async_read(*c.tls, asio::buffer(got), [&](boost::system::error_code ec, size_t) {
      EXPECT_FALSE(ec);
      read = true;
    });
    c.io.run_for(std::chrono::seconds(10));
    c.io.restart();
    EXPECT_TRUE(wrote && read) << n;
    EXPECT_TRUE(got == msg) << n;  // (not EXPECT_EQ: it would print 200 KB)
  }
  // close_notify from our client ends the server's reading with eof.
  bool shut = false;
  c.tls->async_shutdown([&](boost::system::error_code) { shut = true; });
  c.io.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(shut);
  auto done = result->get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(done.get(), asio::error::eof);
}

TEST(TlsSocket, OurClientRefusesAServerItsPeerCheckRejects) {
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    Echo(t, std::make_shared<std::promise<boost::system::error_code>>());
  });
  OurClient c(server.port());
  c.tls->set_peer_check([](SSL*) { return false; });
  EXPECT_EQ(c.Handshake(),
            boost::system::errc::make_error_code(boost::system::errc::permission_denied));
  EXPECT_FALSE(c.tls->suite().has_value());  // no record layer: nothing can be written
}

// KeyUpdatesSeen counts the KeyUpdate messages a client received (msg callback).
void CountKeyUpdates(int write_p, int, int content_type, const void* buf, size_t len, SSL*,
                     void* arg) {
  if (write_p == 0 && content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
      static_cast<const uint8_t*>(buf)[0] == SSL3_MT_KEY_UPDATE) {
    ++*static_cast<int*>(arg);
  }
}

// Application data in the same TCP segment as the client's Finished: OpenSSL must leave it in
// the socket for the record layer (else the hand-over would refuse or lose it).
TEST(TlsSocket, DataRightBehindTheClientFinishedIsRead) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  Client c(server.port());
  BIO* mem = BIO_new(BIO_s_mem());
  SSL_set_rfd(c.ssl, c.fd);
  SSL_set0_wbio(c.ssl, mem);
  auto flush = [&] {
    char* data = nullptr;
    const long len = BIO_get_mem_data(mem, &data);
    if (len > 0) {
      ASSERT_EQ(::write(c.fd, data, static_cast<size_t>(len)), len);
    }
    (void)BIO_reset(mem);
  };
  // Non-blocking while the handshake runs, so that each flight can be flushed before waiting.
  const int flags = ::fcntl(c.fd, F_GETFL);
  ASSERT_EQ(::fcntl(c.fd, F_SETFL, flags | O_NONBLOCK), 0);
  int r = 0;
  while ((r = SSL_connect(c.ssl)) != 1) {
    ASSERT_EQ(SSL_get_error(c.ssl, r), SSL_ERROR_WANT_READ);
    flush();
    pollfd p{c.fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
  }
  ASSERT_EQ(::fcntl(c.fd, F_SETFL, flags), 0);
  // The Finished is still in the memory BIO; the data goes behind it, in one write.
  const std::string msg = "right behind Finished";
  ASSERT_EQ(SSL_write(c.ssl, msg.data(), static_cast<int>(msg.size())),
            static_cast<int>(msg.size()));
  flush();
  SSL_set_fd(c.ssl, c.fd);
  EXPECT_EQ(c.Read(msg.size()), msg);
}

TEST(TlsSocket, KeyUpdatesFromTheClientAreFollowedAndRequestedOnesAnswered) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  Client c(server.port());
  int received = 0;
  SSL_set_msg_callback(c.ssl, CountKeyUpdates);
  SSL_set_msg_callback_arg(c.ssl, &received);
  ASSERT_TRUE(c.Connect());
  for (int i = 0; i < 6; ++i) {
    // A requested update makes the server send its own KeyUpdate before its next data.
    ASSERT_EQ(SSL_key_update(c.ssl, i % 2 == 0 ? SSL_KEY_UPDATE_REQUESTED
                                                : SSL_KEY_UPDATE_NOT_REQUESTED),
              1);
    const std::string msg = "after update " + std::to_string(i);
    c.Write(msg);
    EXPECT_EQ(c.Read(msg.size()), msg);
    EXPECT_EQ(received, i / 2 + 1) << i;
  }
}

TEST(TlsSocket, AFloodOfRecordsWithoutDataIsCutOff) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  auto done = result->get_future();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(SSL_key_update(c.ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    ASSERT_EQ(SSL_do_handshake(c.ssl), 1);  // sends it
  }
  ExpectClosedWithAlert(done, c, SSL_R_SSLV3_ALERT_UNEXPECTED_MESSAGE);
}

TEST(TlsSocket, GarbageInsteadOfAClientHelloFailsWithoutAnInlineCompletion) {
  std::atomic<int> served{0};
  TlsServer server([&](std::shared_ptr<TlsSocket>) { ++served; });
  const int fd = RawConnect(server.port());
  ASSERT_GE(fd, 0);
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char b[256];
  const auto start = std::chrono::steady_clock::now();
  ssize_t n = 0;
  while ((n = ::read(fd, b, sizeof(b))) > 0) {  // perhaps an alert
  }
  // Closed (or reset: our bytes were left unread) at once, not at the 3 s deadline.
  EXPECT_TRUE(n == 0 || errno == ECONNRESET) << errno;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(served.load(), 0);
  ::close(fd);
}

TEST(TlsSocket, TheServerSendsCloseNotifyOnShutdown) {
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    t->async_shutdown([t](boost::system::error_code) {});
  });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  char b[8];
  const int r = SSL_read(c.ssl, b, sizeof(b));
  EXPECT_EQ(r, 0);
  EXPECT_EQ(SSL_get_error(c.ssl, r), SSL_ERROR_ZERO_RETURN);  // a clean close, not truncation
}

// A corked write completes without sending; the next uncorked write sends both, in order.
TEST(TlsSocket, CorkedRecordsWaitForTheNextWriteAndKeepTheirOrder) {
  std::promise<void> corked;
  std::promise<std::string> second_sent;
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    t->cork_next_write();
    auto first = std::make_shared<std::string>("first;");
    asio::async_write(*t, asio::buffer(*first), [&, t, first](boost::system::error_code ec, size_t) {
      EXPECT_FALSE(ec);
      corked.set_value();
      // Wait for the client's go-ahead, then write uncorked.
      auto buf = std::make_shared<std::array<uint8_t, 8>>();
      t->async_read_some(asio::buffer(*buf), [&, t, buf](boost::system::error_code rec, size_t) {
        EXPECT_FALSE(rec);
        auto second = std::make_shared<std::string>("second");
        asio::async_write(*t, asio::buffer(*second),
                          [&, t, second](boost::system::error_code wec, size_t) {
                            second_sent.set_value(wec ? wec.message() : "ok");
                          });
      });
    });
  });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  auto done = corked.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  char b[8];
  EXPECT_LT(::recv(c.fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT), 0);  // nothing was sent
  EXPECT_EQ(errno, EAGAIN);
  c.Write("go");
  EXPECT_EQ(c.Read(12), "first;second");
  auto sent = second_sent.get_future();
  ASSERT_EQ(sent.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(sent.get(), "ok");
}

// Corked records go out before close_notify, whether the stream is shut down by
// async_shutdown (Beast's teardown) or by close_notify().
TEST(TlsSocket, CorkedRecordsGoOutBeforeCloseNotify) {
  for (const bool async : {true, false}) {
    TlsServer server([&](std::shared_ptr<TlsSocket> t) {
      t->cork_next_write();
      auto first = std::make_shared<std::string>("corked");
      asio::async_write(*t, asio::buffer(*first), [t, first, async](boost::system::error_code ec,
                                                                    size_t) {
        EXPECT_FALSE(ec);
        if (async) {
          t->async_shutdown([t](boost::system::error_code sec) { EXPECT_FALSE(sec); });
        } else {
          t->close_notify();
        }
      });
    });
    Client c(server.port());
    ASSERT_TRUE(c.Connect());
    EXPECT_EQ(c.Read(6), "corked") << async;
    char b[8];
    const int r = SSL_read(c.ssl, b, sizeof(b));
    EXPECT_EQ(r, 0) << async;
    EXPECT_EQ(SSL_get_error(c.ssl, r), SSL_ERROR_ZERO_RETURN) << async;  // a clean close
  }
}

// uncork() takes back a cork that no write has used: the next write is sent at once.
TEST(TlsSocket, UncorkTakesBackAnUnusedCork) {
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    t->cork_next_write();
    t->uncork();
    auto text = std::make_shared<std::string>("at once");
    asio::async_write(*t, asio::buffer(*text),
                      [t, text](boost::system::error_code ec, size_t) { EXPECT_FALSE(ec); });
  });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  EXPECT_EQ(c.Read(7), "at once");  // nothing else is ever written
}

// Corking holds back at most kMaxCorkedBytes: one corked write of four full records (64 KiB
// of plaintext, a little more sealed) goes out at once, with nothing written after it.
TEST(TlsSocket, ALargeCorkedWriteIsSentAtOnce) {
  const std::string big = Text(4 * 16384);
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    t->cork_next_write();
    t->async_write_some(asio::buffer(big), [t, &big](boost::system::error_code ec, size_t n) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(n, big.size());  // taken whole: a single write
    });
  });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  EXPECT_EQ(c.Read(big.size()), big);
}

TEST(TlsSocket, AForgedRecordEndsTheConnectionWithBadRecordMac) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  auto done = result->get_future();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  c.Write("fine");
  EXPECT_EQ(c.Read(4), "fine");
  // An application_data record of random bytes, written past OpenSSL onto the socket.
  std::string forged = {0x17, 0x03, 0x03, 0x00, 0x20};
  forged += Text(32);
  ASSERT_EQ(::write(c.fd, forged.data(), forged.size()), static_cast<ssize_t>(forged.size()));
  ExpectClosedWithAlert(done, c, SSL_R_SSLV3_ALERT_BAD_RECORD_MAC);
}

TEST(TlsSocket, APlaintextRecordAfterTheHandshakeIsUnexpected) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  auto done = result->get_future();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  const std::string ccs = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
  ASSERT_EQ(::write(c.fd, ccs.data(), ccs.size()), static_cast<ssize_t>(ccs.size()));
  ExpectClosedWithAlert(done, c, SSL_R_SSLV3_ALERT_UNEXPECTED_MESSAGE);
}

TEST(TlsSocket, ARecordArrivingByteByByteIsReassembled) {
  auto result = std::make_shared<std::promise<boost::system::error_code>>();
  TlsServer server([&](std::shared_ptr<TlsSocket> t) { Echo(t, result); });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  // Seal with a memory BIO so the bytes can be dribbled onto the socket one at a time.
  BIO* mem = BIO_new(BIO_s_mem());
  SSL_set0_wbio(c.ssl, mem);
  const std::string msg = Text(300);
  ASSERT_EQ(SSL_write(c.ssl, msg.data(), static_cast<int>(msg.size())), 300);
  char* data = nullptr;
  const long len = BIO_get_mem_data(mem, &data);
  ASSERT_GT(len, 300);
  for (long i = 0; i < len; ++i) {
    ASSERT_EQ(::write(c.fd, data + i, 1), 1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  SSL_set_fd(c.ssl, c.fd);
  EXPECT_EQ(c.Read(300), msg);
}

TEST(TlsSocket, AClientThatNeverFinishesTheHandshakeIsCutAtTheDeadline) {
  std::atomic<int> served{0};
  TlsServer server([&](std::shared_ptr<TlsSocket>) { ++served; });
  const int fd = RawConnect(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "\x16\x03\x01\x00", 4), 4);  // half a ClientHello header, then nothing
  timeval tv{15, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char b[64];
  const auto start = std::chrono::steady_clock::now();
  EXPECT_LE(::read(fd, b, sizeof(b)), 0);  // closed by the server's 3 s deadline
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(12));
  EXPECT_EQ(served.load(), 0);
  ::close(fd);
}

// A WebSocket over TlsSocket: Beast's accept, messages, and its close with teardown.
TEST(TlsSocket, CarriesAWebSocketAndItsClose) {
  namespace websocket = boost::beast::websocket;
  std::promise<std::string> got;
  std::promise<boost::system::error_code> closed;
  TlsServer server([&](std::shared_ptr<TlsSocket> t) {
    auto ws = std::make_shared<websocket::stream<TlsSocket>>(std::move(*t));
    ws->async_accept([&, ws](boost::system::error_code ec) {
      ASSERT_FALSE(ec);
      auto buf = std::make_shared<boost::beast::flat_buffer>();
      ws->async_read(*buf, [&, ws, buf](boost::system::error_code rec, size_t) {
        ASSERT_FALSE(rec);
        got.set_value(boost::beast::buffers_to_string(buf->data()));
        ws->async_close(websocket::close_code::normal,
                        [&, ws](boost::system::error_code cec) { closed.set_value(cec); });
      });
    });
  });
  Client c(server.port());
  ASSERT_TRUE(c.Connect());
  c.Write(
      "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string response;
  while (response.find("\r\n\r\n") == std::string::npos) {
    const std::string one = c.Read(1);
    ASSERT_EQ(one.size(), 1u);
    response += one;
  }
  EXPECT_NE(response.find("101 Switching Protocols"), std::string::npos);
  // A masked binary frame "hello" (RFC 6455 §5.3).
  const uint8_t mask[4] = {1, 2, 3, 4};
  std::string frame = {static_cast<char>(0x82), static_cast<char>(0x80 | 5)};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  const std::string hello = "hello";
  for (size_t i = 0; i < hello.size(); ++i) {
    frame += static_cast<char>(hello[i] ^ mask[i % 4]);
  }
  c.Write(frame);
  EXPECT_EQ(got.get_future().get(), "hello");
  // The server's close frame, then our echo of it, then close_notify.
  const std::string close_frame = c.Read(4);
  ASSERT_EQ(close_frame.size(), 4u);
  EXPECT_EQ(static_cast<uint8_t>(close_frame[0]), 0x88);
  std::string reply = {static_cast<char>(0x88), static_cast<char>(0x80 | 2)};
  reply.append(reinterpret_cast<const char*>(mask), 4);
  reply += static_cast<char>(close_frame[2] ^ mask[0]);
  reply += static_cast<char>(close_frame[3] ^ mask[1]);
  c.Write(reply);
  auto f = closed.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(f.get());
  char b[8];
  const int r = SSL_read(c.ssl, b, sizeof(b));
  EXPECT_EQ(SSL_get_error(c.ssl, r), SSL_ERROR_ZERO_RETURN);
}

}  // namespace
}  // namespace holdfast::server::tls
