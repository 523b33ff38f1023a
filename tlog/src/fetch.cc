#include "holdfast/tlog/fetch.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

namespace holdfast::tlog {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Paths come from our own code, but check anyway that none climbs out of the root.
bool IsSafePath(std::string_view path) {
  return !path.empty() && path.front() != '/' && path.find("..") == std::string_view::npos &&
         path.find('\0') == std::string_view::npos;
}

class DirectoryFetcher final : public TileFetcher {
 public:
  explicit DirectoryFetcher(std::string dir) : dir_(std::move(dir)) {}

  Result<Bytes> Fetch(std::string_view path) override {
    if (!IsSafePath(path)) {
      return Error{ErrorCode::kInvalidArgument, "unsafe path"};
    }
    const std::filesystem::path file = std::filesystem::path(dir_) / std::string(path);
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return ErrorCode::kNotFound;
    }
    Bytes out;
    char buf[1 << 16];
    while (in) {
      in.read(buf, sizeof(buf));
      out.insert(out.end(), buf, buf + in.gcount());
      if (out.size() > kMaxFetchBytes) {
        return ErrorCode::kOversized;
      }
    }
    return out;
  }

 private:
  std::string dir_;
};

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string prefix;  // "" or "/something", no trailing slash
};

Result<Url> ParseUrl(std::string_view s) {
  Url u;
  if (s.starts_with("https://")) {
    u.tls = true;
    s.remove_prefix(8);
  } else if (s.starts_with("http://")) {
    s.remove_prefix(7);
  } else {
    return Error{ErrorCode::kInvalidArgument, "URL must start with http:// or https://"};
  }
  const size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : s.substr(slash);
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  u.prefix = std::string(path);
  if (authority.starts_with("[")) {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error{ErrorCode::kInvalidArgument, "bad IPv6 host"};
    }
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) {
      u.port = std::string(authority.substr(1));
    } else if (!authority.empty()) {
      return Error{ErrorCode::kInvalidArgument, "bad URL authority"};
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      u.port = std::string(authority.substr(colon + 1));
    }
  }
  if (u.port.empty()) {
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty() || u.port.find_first_not_of("0123456789") != std::string::npos) {
    return Error{ErrorCode::kInvalidArgument, "bad URL host or port"};
  }
  return u;
}

class HttpFetcher final : public TileFetcher {
 public:
  explicit HttpFetcher(Url url) : url_(std::move(url)), ssl_(asio::ssl::context::tls_client) {
    ssl_.set_default_verify_paths();
    ssl_.set_verify_mode(asio::ssl::verify_peer);
    ssl_.set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  }

  Result<Bytes> Fetch(std::string_view path) override {
    if (!IsSafePath(path)) {
      return Error{ErrorCode::kInvalidArgument, "unsafe path"};
    }
    // One retry on a fresh connection: a kept-alive connection may have been closed.
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto r = FetchOnce(path);
      if (r.ok() || r.code() != ErrorCode::kUnavailable || attempt == 1) {
        return r;
      }
      Close();
    }
    return ErrorCode::kUnavailable;
  }

 private:
  static constexpr auto kTimeout = std::chrono::seconds(30);

  Result<void> Connect() {
    beast::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    if (ec) {
      return Error{ErrorCode::kUnavailable, "cannot resolve host"};
    }
    if (url_.tls) {
      tls_.emplace(io_, ssl_);
      beast::get_lowest_layer(*tls_).expires_after(kTimeout);
      beast::get_lowest_layer(*tls_).connect(endpoints, ec);
      if (!ec && !SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str())) {
        ec =
            beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
      }
      if (!ec) {
        tls_->set_verify_callback(asio::ssl::host_name_verification(url_.host));
        tls_->handshake(asio::ssl::stream_base::client, ec);
      }
    } else {
      plain_.emplace(io_);
      plain_->expires_after(kTimeout);
      plain_->connect(endpoints, ec);
    }
    if (ec) {
      Close();
      return Error{ErrorCode::kUnavailable, "cannot connect"};
    }
    return Ok();
  }

  void Close() {
    tls_.reset();
    plain_.reset();
  }

  template <typename Stream>
  Result<Bytes> Exchange(Stream& stream, std::string_view path) {
    http::request<http::empty_body> req{http::verb::get, url_.prefix + "/" + std::string(path), 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "holdfast-audit");
    req.set(http::field::accept_encoding, "identity");
    req.keep_alive(true);
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(kTimeout);
    http::write(stream, req, ec);
    if (ec) {
      return Error{ErrorCode::kUnavailable, "write failed"};
    }
    beast::flat_buffer buffer;
    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.body_limit(kMaxFetchBytes);
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::body_limit) {
      return ErrorCode::kOversized;
    }
    if (ec) {
      return Error{ErrorCode::kUnavailable, "read failed"};
    }
    auto res = parser.release();
    if (!res.keep_alive()) {
      Close();
    }
    if (res.result() == http::status::not_found || res.result() == http::status::gone) {
      return ErrorCode::kNotFound;
    }
    if (res.result() != http::status::ok) {
      return Error{ErrorCode::kUnavailable, "HTTP status other than 200"};
    }
    return std::move(res.body());
  }

  Result<Bytes> FetchOnce(std::string_view path) {
    if (!tls_ && !plain_) {
      HF_RETURN_IF_ERROR(Connect());
    }
    if (tls_) {
      return Exchange(*tls_, path);
    }
    return Exchange(*plain_, path);
  }

  Url url_;
  asio::io_context io_;
  asio::ssl::context ssl_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

}  // namespace

std::unique_ptr<TileFetcher> NewDirectoryFetcher(std::string dir) {
  return std::make_unique<DirectoryFetcher>(std::move(dir));
}

Result<std::unique_ptr<TileFetcher>> NewHttpFetcher(std::string_view url) {
  HF_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  return std::unique_ptr<TileFetcher>(std::make_unique<HttpFetcher>(std::move(u)));
}

}  // namespace holdfast::tlog
