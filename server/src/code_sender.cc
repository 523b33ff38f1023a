#include "holdfast/server/code_sender.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace holdfast::server {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// CheckCodeInputs refuses anything that could break a line of the dev file or a JSON string;
// real validation (E.164) is the caller's.
Result<void> CheckCodeInputs(std::string_view phone, std::string_view code) {
  if (phone.empty() || phone.size() > kMaxPhoneChars || code.empty() ||
      code.size() > kMaxCodeChars) {
    return Error{ErrorCode::kInvalidArgument, "code sender input length"};
  }
  for (char c : phone) {
    if (!IsDigit(c) && c != '+') {
      return Error{ErrorCode::kInvalidArgument, "phone"};
    }
  }
  for (char c : code) {
    if (!IsDigit(c) && !IsAlpha(c) && c != '-') {
      return Error{ErrorCode::kInvalidArgument, "code"};
    }
  }
  return Ok();
}

// ---------------------------------------------------------------------------------------
// Development file.

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

class DevFileCodeSender final : public CodeSender {
 public:
  explicit DevFileCodeSender(std::string path) : path_(std::move(path)) {}

  Result<void> Send(std::string_view phone, std::string_view code) override {
    HF_RETURN_IF_ERROR(CheckCodeInputs(phone, code));
    std::string line;
    line.reserve(phone.size() + code.size() + 2);
    line.append(phone).append(" ").append(code).append("\n");

    // One writer at a time, so that a short write cannot let another line into the middle.
    std::lock_guard<std::mutex> lock(mu_);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error{ErrorCode::kStorageFailure, "open code file"};
    }
    FdCloser closer(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Error{ErrorCode::kStorageFailure, "code file is not a regular file"};
    }
    // A file made earlier with a looser mode is narrowed: it holds live codes.
    if ((st.st_mode & 07777) != 0600 && ::fchmod(fd, 0600) != 0) {
      return Error{ErrorCode::kStorageFailure, "chmod code file"};
    }
    std::string_view rest = line;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return Error{ErrorCode::kStorageFailure, "write code file"};
      }
      rest.remove_prefix(static_cast<size_t>(n));
    }
    return Ok();
  }

 private:
  const std::string path_;
  std::mutex mu_;  // serializes appends to path_
};

// ---------------------------------------------------------------------------------------
// Webhook URL.

struct WebhookUrl {
  bool tls = false;
  std::string host;  // a name, or an address without brackets
  bool host_is_address = false;
  std::string port;         // decimal
  std::string target;       // path and query, starting with '/'
  std::string host_header;  // the Host header: host (bracketed if IPv6) and explicit port
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (x != b[i]) {
      return false;
    }
  }
  return true;
}

Error BadUrl(const char* what) { return Error{ErrorCode::kInvalidArgument, what}; }

// ParseWebhookUrl accepts scheme://host[:port][/path][?query] for the schemes http and
// https. It is deliberately narrower than RFC 3986: no user information (credentials belong
// in the path or query, not in a header built from the URL), no fragment, no whitespace or
// control characters, and host names limited to letters, digits, '-', '_' and '.'.
Result<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  if (url.empty() || url.size() > kMaxWebhookUrlChars) {
    return BadUrl("webhook url length");
  }
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return BadUrl("webhook url character");
    }
  }
  WebhookUrl out;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return BadUrl("webhook url scheme");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (EqualsIgnoreCase(scheme, "https")) {
    out.tls = true;
  } else if (!EqualsIgnoreCase(scheme, "http")) {
    return BadUrl("webhook url scheme");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) {
    return BadUrl("webhook url fragment");
  }
  const size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return BadUrl("webhook url user information");
  }

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return BadUrl("webhook url host");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return BadUrl("webhook url host");
      }
      port = after.substr(1);
      if (port.empty()) {
        return BadUrl("webhook url port");
      }
    }
    in6_addr addr;
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1) {
      return BadUrl("webhook url host");
    }
    out.host_is_address = true;
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return BadUrl("webhook url port");
      }
    }
    if (host.empty() || host.size() > 253) {
      return BadUrl("webhook url host");
    }
    for (char c : host) {
      if (!IsDigit(c) && !IsAlpha(c) && c != '-' && c != '_' && c != '.') {
        return BadUrl("webhook url host");
      }
    }
    in_addr addr4;
    out.host_is_address = ::inet_pton(AF_INET, std::string(host).c_str(), &addr4) == 1;
  }

  if (!port.empty()) {
    if (port.size() > 5) {
      return BadUrl("webhook url port");
    }
    unsigned value = 0;
    for (char c : port) {
      if (!IsDigit(c)) {
        return BadUrl("webhook url port");
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
      return BadUrl("webhook url port");
    }
    out.port = std::to_string(value);
  } else {
    out.port = out.tls ? "443" : "80";
  }

  out.host = std::string(host);
  out.host_header = out.host.find(':') != std::string::npos ? "[" + out.host + "]" : out.host;
  if (!port.empty()) {
    out.host_header += ":" + out.port;
  }
  out.target = target.empty()          ? "/"
               : target.front() == '?' ? "/" + std::string(target)
                                       : std::string(target);
  return out;
}

// ---------------------------------------------------------------------------------------
// Webhook.

// HttpExchange is one POST: resolve, connect, TLS if asked, write the request, read the
// response's headers. All of it runs on a private io_context in the calling thread, so one
// deadline covers every step (Asio's synchronous calls have no timeouts).
class HttpExchange {
 public:
  HttpExchange(const WebhookUrl& url, ssl::context* tls, std::string body) : url_(url) {
    if (tls != nullptr) {
      tls_stream_.emplace(socket_, *tls);
    }
    request_.method(http::verb::post);
    request_.target(url.target);
    request_.version(11);
    request_.set(http::field::host, url.host_header);
    request_.set(http::field::user_agent, "holdfastd");
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::connection, "close");
    request_.body() = std::move(body);
    request_.prepare_payload();
  }

  Result<void> Run(std::chrono::milliseconds timeout) {
    if (tls_stream_.has_value()) {
      SSL* ssl = tls_stream_->native_handle();
      // SNI carries host names only (RFC 6066 section 3).
      if (!url_.host_is_address && SSL_set_tlsext_host_name(ssl, url_.host.c_str()) != 1) {
        return Error{ErrorCode::kUnavailable, "webhook tls setup"};
      }
      error_code ec;
      tls_stream_->set_verify_mode(ssl::verify_peer, ec);
      if (!ec) {
        tls_stream_->set_verify_callback(ssl::host_name_verification(url_.host), ec);
      }
      if (ec) {
        return Error{ErrorCode::kUnavailable, "webhook tls setup"};
      }
    }
    resolver_.async_resolve(url_.host, url_.port,
                            [this](error_code ec, tcp::resolver::results_type results) {
                              OnResolved(ec, std::move(results));
                            });
    io_.run_for(timeout);
    if (!result_.has_value()) {
      result_ = Error{ErrorCode::kUnavailable, "webhook timeout"};
      // Cancel what is still pending and let the handlers see it, so none outlives this
      // object. A system resolver that hangs can hold this up until it gives up.
      resolver_.cancel();
      error_code ignored;
      socket_.close(ignored);
      io_.restart();
      io_.run();
    }
    return *result_;
  }

 private:
  void Fail(const char* what) {
    if (!result_.has_value()) {
      result_ = Error{ErrorCode::kUnavailable, what};
    }
  }

  void OnResolved(error_code ec, tcp::resolver::results_type results) {
    if (ec) {
      return Fail("webhook resolve");
    }
    asio::async_connect(socket_, results, [this](error_code cec, const tcp::endpoint&) {
      if (cec) {
        return Fail("webhook connect");
      }
      if (!tls_stream_.has_value()) {
        return Write(socket_);
      }
      tls_stream_->async_handshake(ssl::stream_base::client, [this](error_code hec) {
        if (hec) {
          return Fail("webhook tls handshake");
        }
        Write(*tls_stream_);
      });
    });
  }

  template <typename Stream>
  void Write(Stream& stream) {
    http::async_write(stream, request_, [this, &stream](error_code ec, size_t) {
      if (ec) {
        return Fail("webhook write");
      }
      http::async_read_header(stream, buffer_, parser_, [this](error_code rec, size_t) {
        if (rec) {
          return Fail("webhook read");
        }
        const unsigned status = parser_.get().result_int();
        if (status < 200 || status > 299) {
          return Fail("webhook status");
        }
        if (!result_.has_value()) {
          result_ = Ok();
        }
      });
    });
  }

  const WebhookUrl& url_;
  asio::io_context io_;
  tcp::resolver resolver_{io_};
  tcp::socket socket_{io_};
  std::optional<ssl::stream<tcp::socket&>> tls_stream_;
  http::request<http::string_body> request_;
  boost::beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
  std::optional<Result<void>> result_;
};

class WebhookCodeSender final : public CodeSender {
 public:
  WebhookCodeSender(std::string url, std::chrono::milliseconds timeout, std::string trusted_ca_pem)
      : url_(ParseWebhookUrl(url)), timeout_(timeout) {
    if (timeout_.count() <= 0) {
      url_ = Error{ErrorCode::kInvalidArgument, "webhook timeout"};
    }
    if (url_.ok() && url_->tls) {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
      error_code ec;
      if (trusted_ca_pem.empty()) {
        tls_->set_default_verify_paths(ec);
        if (ec) {
          tls_error_ = Error{ErrorCode::kUnavailable, "webhook system ca store"};
        }
      } else {
        tls_->add_certificate_authority(asio::buffer(trusted_ca_pem), ec);
        if (ec) {
          tls_error_ = Error{ErrorCode::kInvalidArgument, "webhook trusted ca pem"};
        }
      }
    }
  }

  Result<void> Send(std::string_view phone, std::string_view code) override {
    HF_RETURN_IF_ERROR(CheckCodeInputs(phone, code));
    if (!url_.ok()) {
      return url_.error();
    }
    if (tls_error_.has_value()) {
      return *tls_error_;
    }
    const nlohmann::json body = {{"phone", phone}, {"code", code}};
    // The inputs are ASCII (CheckCodeInputs), so dump() cannot meet invalid UTF-8; replace
    // keeps it from throwing regardless.
    HttpExchange exchange(*url_, tls_.get(),
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return exchange.Run(timeout_);
  }

 private:
  Result<WebhookUrl> url_;
  const std::chrono::milliseconds timeout_;
  // tls_ is configured once here and only read afterwards (SSL_CTX is safe to share between
  // threads once set up); null for http.
  std::unique_ptr<ssl::context> tls_;
  std::optional<Error> tls_error_;
};

}  // namespace

std::unique_ptr<CodeSender> NewDevFileCodeSender(std::string path) {
  return std::make_unique<DevFileCodeSender>(std::move(path));
}

std::unique_ptr<CodeSender> NewWebhookCodeSender(std::string url,
                                                 std::chrono::milliseconds timeout) {
  return NewWebhookCodeSender(std::move(url), timeout, std::string());
}

std::unique_ptr<CodeSender> NewWebhookCodeSender(std::string url, std::chrono::milliseconds timeout,
                                                 std::string trusted_ca_pem) {
  return std::make_unique<WebhookCodeSender>(std::move(url), timeout, std::move(trusted_ca_pem));
}

Result<void> CheckWebhookUrl(std::string_view url) {
  HF_RETURN_IF_ERROR(ParseWebhookUrl(url));
  return Ok();
}

}  // namespace holdfast::server
