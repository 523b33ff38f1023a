// CodeSender: delivers registration verification codes to a phone number.
//
// holdfastd never sends SMS itself. In development it writes codes to a file; in production
// it hands each code to an operator-run webhook (an SMS gateway) over HTTP(S).
#ifndef HOLDFAST_SERVER_CODE_SENDER_H_
#define HOLDFAST_SERVER_CODE_SENDER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "holdfast/common/result.h"

namespace holdfast::server {

// kMaxPhoneChars and kMaxCodeChars bound what a CodeSender accepts. Callers validate phone
// numbers properly (E.164, IsE164); a sender only refuses what could break its own
// output format.
inline constexpr size_t kMaxPhoneChars = 32;
inline constexpr size_t kMaxCodeChars = 32;
// kMaxWebhookUrlChars bounds a webhook URL.
inline constexpr size_t kMaxWebhookUrlChars = 2048;

// CodeSender sends one verification code to one phone number. Implementations are
// thread-safe. Send may block (on disk or network I/O), so callers run it off the server's
// I/O threads.
class CodeSender {
 public:
  virtual ~CodeSender() = default;

  // Send delivers `code` to `phone`. `phone` must be '+' and digits, `code` letters, digits
  // and '-', each 1 to kMaxPhoneChars / kMaxCodeChars characters; anything else is
  // kInvalidArgument and nothing is sent. Neither value is logged or kept.
  [[nodiscard]] virtual Result<void> Send(std::string_view phone, std::string_view code) = 0;
};

// NewDevFileCodeSender returns a sender for development and tests that appends one line
// "PHONE CODE\n" per code to the file at `path`. The file is opened for each code in append
// mode, created with mode 0600 (narrowed to 0600 if it exists with more), and each line is
// written with one write(2), so it is on disk for a reader as soon as Send returns. A file
// that cannot be opened or written is kStorageFailure.
std::unique_ptr<CodeSender> NewDevFileCodeSender(std::string path);

// NewWebhookCodeSender returns a sender that POSTs {"phone":"...","code":"..."} with
// Content-Type application/json to `url`, an "http://" or "https://" URL with a host name,
// IPv4 address or [IPv6] address, an optional port and an optional path and query (no user
// information, no fragment). For https the server certificate is verified against the
// system's CA store and the host name (sent as SNI unless it is an address). A send succeeds
// on any 2xx status. Each Send (resolve, connect, TLS, request, response headers) must finish
// within `timeout`; otherwise, or if the server is unreachable, the TLS verification fails or
// the status is not 2xx, it is kUnavailable. A malformed `url` or a non-positive `timeout`
// makes every Send fail with kInvalidArgument; use CheckWebhookUrl to refuse such a
// configuration at start-up.
std::unique_ptr<CodeSender> NewWebhookCodeSender(std::string url,
                                                 std::chrono::milliseconds timeout);

// NewWebhookCodeSender with `trusted_ca_pem` verifies https servers against the PEM
// certificates it holds instead of the system's CA store (a gateway on a private CA, or a
// test server). An empty `trusted_ca_pem` means the system store; text that holds no
// certificate makes every https Send fail with kInvalidArgument.
std::unique_ptr<CodeSender> NewWebhookCodeSender(std::string url, std::chrono::milliseconds timeout,
                                                 std::string trusted_ca_pem);

// CheckWebhookUrl succeeds if NewWebhookCodeSender accepts `url`, and is kInvalidArgument
// otherwise. It does no I/O.
Result<void> CheckWebhookUrl(std::string_view url);

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_CODE_SENDER_H_
