// Structured logs for holdfastd: one JSON object per line.
//
//   {"ts":"2024-01-01T00:00:00.123Z","level":"info","event":"conn.open",
//    "ip_prefix":"203.0.113.0/24","device":3}
//
// Why the API is so narrow: Holdfast promises that the operator holds no message content
// and learns as little metadata as possible (DESIGN.md). Logs escape every other safeguard:
// they are copied to log collectors, kept for years and never purged with the IP log. So the
// logging API takes no runtime text and no bytes at all. A field is one of:
//   - a number (Int, Millis) or a boolean (Bool). Character types, uint8_t included, are
//     refused so that a byte of a buffer cannot be logged as a number by accident;
//   - a string literal (Text, Status), checked at compile time (consteval): event names and
//     keys are lower-case identifiers, values printable ASCII;
//   - an error (Failure): the stable name of its ErrorCode and its static detail literal;
//   - an IP prefix (Ip): the /24 (IPv4) or /48 (IPv6) network, never the address. Full
//     addresses are personal data that the server keeps only in the IP log, under its
//     retention period and the court-order rules;
//   - an account tag (Account): a keyed, truncated hash made by an AccountTagger. An unkeyed
//     hash of a phone number could be reversed by trying every number; a keyed tag only lets
//     log lines of one account be correlated, within one process's life.
// There is deliberately no LogField for a std::string, std::string_view, char*, Bytes,
// ByteSpan or any other buffer: a phone number, a verification code, a credential, a key or
// an envelope body has no way into a log line. Adding such a field defeats the design.
#ifndef HOLDFAST_SERVER_LOG_H_
#define HOLDFAST_SERVER_LOG_H_

#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>

#include "holdfast/common/bytes.h"
#include "holdfast/common/clock.h"
#include "holdfast/common/error.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::server {

namespace log_internal {

// InvalidLogLiteral is never defined as constexpr: reaching it while checking a literal in a
// consteval constructor makes the program fail to compile at the offending call.
void InvalidLogLiteral();

inline constexpr size_t kMaxLiteralChars = 128;

consteval bool IsIdentifierChar(char c, bool allow_dot) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (allow_dot && c == '.');
}

consteval void CheckIdentifier(std::string_view s, bool allow_dot) {
  if (s.empty() || s.size() > kMaxLiteralChars || !(s[0] >= 'a' && s[0] <= 'z')) {
    InvalidLogLiteral();
  }
  for (char c : s) {
    if (!IsIdentifierChar(c, allow_dot)) {
      InvalidLogLiteral();
    }
  }
}

// kReservedKeys are written by the logger itself or by the typed fields below.
inline constexpr std::array<std::string_view, 8> kReservedKeys = {
    "ts", "level", "event", "error", "error_detail", "ip_prefix", "account", "status"};

// kIsCharLike holds for the character types, which LogField::Int refuses.
template <typename T>
inline constexpr bool kIsCharLike =
    std::is_same_v<T, char> || std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char> ||
    std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> || std::is_same_v<T, char16_t> ||
    std::is_same_v<T, char32_t>;

// LoggableInt is an integer type that is neither a character type nor bool.
template <typename T>
concept LoggableInt = (std::is_integral_v<T> && !kIsCharLike<std::remove_cv_t<T>> &&
                       !std::is_same_v<std::remove_cv_t<T>, bool>);

}  // namespace log_internal

// LogEvent is an event name: a string literal of lower-case letters, digits, '_' and '.',
// starting with a letter ("conn.open"). Anything else does not compile.
class LogEvent {
 public:
  template <size_t N>
  consteval LogEvent(const char (&name)[N])  // NOLINT(google-explicit-constructor)
      : name_(name, N - 1) {
    log_internal::CheckIdentifier(name_, /*allow_dot=*/true);
  }
  constexpr std::string_view name() const { return name_; }

 private:
  std::string_view name_;
};

// LogKey is a field name: a string literal of lower-case letters, digits and '_', starting
// with a letter, and not one of log_internal::kReservedKeys.
class LogKey {
 public:
  template <size_t N>
  consteval LogKey(const char (&name)[N])  // NOLINT(google-explicit-constructor)
      : name_(name, N - 1) {
    log_internal::CheckIdentifier(name_, /*allow_dot=*/false);
    for (std::string_view reserved : log_internal::kReservedKeys) {
      if (name_ == reserved) {
        log_internal::InvalidLogLiteral();
      }
    }
  }
  constexpr std::string_view name() const { return name_; }

 private:
  std::string_view name_;
};

// LogLiteral is a text value fixed in the code: a string literal of printable ASCII, at most
// log_internal::kMaxLiteralChars long.
class LogLiteral {
 public:
  template <size_t N>
  consteval LogLiteral(const char (&text)[N])  // NOLINT(google-explicit-constructor)
      : text_(text, N - 1) {
    if (text_.size() > log_internal::kMaxLiteralChars) {
      log_internal::InvalidLogLiteral();
    }
    for (char c : text_) {
      if (c < 0x20 || c > 0x7e) {
        log_internal::InvalidLogLiteral();
      }
    }
  }
  constexpr std::string_view text() const { return text_; }

 private:
  std::string_view text_;
};

// kAccountTagBytes is the length of an account tag before hex encoding.
inline constexpr size_t kAccountTagBytes = 8;

// AccountTag is an AccountTagger's tag of one account: 16 lower-case hex characters.
class AccountTag {
 public:
  std::string_view hex() const { return {hex_.data(), hex_.size()}; }
  friend bool operator==(const AccountTag&, const AccountTag&) = default;

 private:
  friend class AccountTagger;
  AccountTag() = default;

  std::array<char, 2 * kAccountTagBytes> hex_{};
};

// AccountTagger tags account identifiers (an account ID, or a phone number before an account
// exists) as HMAC-SHA256(key, "holdfast log account tag v1" || 0x00 || identifier),
// truncated to kAccountTagBytes. The key is drawn from `rng` when the tagger is made and
// never leaves it, so tags agree within one process and cannot be reversed or compared
// across restarts. Thread-safe.
class AccountTagger {
 public:
  explicit AccountTagger(Rng& rng);
  AccountTagger(const AccountTagger&) = delete;
  AccountTagger& operator=(const AccountTagger&) = delete;

  AccountTag Tag(std::string_view account_identifier) const;
  AccountTag Tag(ByteSpan account_identifier) const;

 private:
  crypto::HmacSha256Key key_;
};

// LogField is one typed member of a log line; see the file comment for what each kind
// writes and why there are no others. Fields are small values that borrow nothing but
// static literals; make them in the call to Logger::Log.
class LogField {
 public:
  // Int writes an integer. Character types (char, uint8_t, ...) are refused; cast a small
  // number to unsigned to log it.
  template <log_internal::LoggableInt T>
  static LogField Int(LogKey key, T value) {
    LogField f(std::is_signed_v<T> ? Kind::kInt : Kind::kUint, key.name());
    if constexpr (std::is_signed_v<T>) {
      f.int_ = static_cast<int64_t>(value);
    } else {
      f.uint_ = static_cast<uint64_t>(value);
    }
    return f;
  }

  // Bool writes true or false. Only a bool is accepted (no pointer or integer conversions).
  template <std::same_as<bool> T>
  static LogField Bool(LogKey key, T value) {
    LogField f(Kind::kBool, key.name());
    f.bool_ = value;
    return f;
  }

  // Millis writes a duration as whole milliseconds (truncated toward zero).
  template <typename Rep, typename Period>
  static LogField Millis(LogKey key, std::chrono::duration<Rep, Period> d) {
    LogField f(Kind::kInt, key.name());
    f.int_ = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
    return f;
  }

  // Text writes a literal fixed in the code ("websocket", "gag_expired").
  static LogField Text(LogKey key, LogLiteral value);
  // Status writes "status":`status`, a literal outcome ("ok", "refused").
  static LogField Status(LogLiteral status);
  // Failure writes "error": the ErrorName of `error`'s code, and "error_detail": its detail
  // if it has one. A detail is a string literal by Error's contract.
  static LogField Failure(const Error& error);
  // Ip writes "ip_prefix": the /24 of an IPv4 address or the /48 of an IPv6 address
  // ("203.0.113.0/24", "2001:db8:1::/48"); an IPv4-mapped IPv6 address counts as IPv4.
  // Text that is not an address writes "invalid". The address itself is never written.
  static LogField Ip(std::string_view address);
  // Account writes "account": the tag's 16 hex characters.
  static LogField Account(const AccountTag& tag);

  // AppendJson appends `"key":value` (two members for a Failure with detail) to `out`.
  void AppendJson(std::string& out) const;

 private:
  enum class Kind : uint8_t { kInt, kUint, kBool, kText, kFailure, kIpPrefix, kAccount };
  // kPrefixChars holds the longest prefix text: "ffff:ffff:ffff::/48" and NUL, with room.
  static constexpr size_t kPrefixChars = 48;

  LogField(Kind kind, std::string_view key) : kind_(kind), key_(key) {}

  Kind kind_;
  std::string_view key_;  // a static literal
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  bool bool_ = false;
  std::string_view text_;                 // a static literal (kText, kFailure's error name)
  const char* detail_ = nullptr;          // kFailure's static detail
  std::array<char, kPrefixChars> buf_{};  // kIpPrefix text, kAccount hex
  size_t buf_len_ = 0;
};

enum class LogLevel : uint8_t { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// LogLevelName returns "debug", "info", "warning" or "error".
std::string_view LogLevelName(LogLevel level);

// LogSink receives one complete line (a JSON object and '\n') per event. The Logger calls it
// from one thread at a time.
using LogSink = std::function<void(std::string_view line)>;

// Logger writes events at or above its minimum level to its sink, stamped with UTC time from
// its clock. The clock must outlive the logger. All methods are thread-safe; lines from
// concurrent calls never interleave.
class Logger {
 public:
  // Logger writes to standard error.
  explicit Logger(const Clock& clock, LogLevel min_level = LogLevel::kInfo);
  // Logger writes to `sink` (tests capture lines this way).
  Logger(const Clock& clock, LogSink sink, LogLevel min_level = LogLevel::kInfo);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void set_min_level(LogLevel level) { min_level_.store(level, std::memory_order_relaxed); }
  // Enabled is true if events at `level` are written.
  bool Enabled(LogLevel level) const { return level >= min_level_.load(std::memory_order_relaxed); }

  // Log writes {"ts":...,"level":...,"event":...,<fields in order>}. Every string in the
  // line is JSON-escaped.
  void Log(LogLevel level, LogEvent event, std::initializer_list<LogField> fields = {}) const;
  void Debug(LogEvent event, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kDebug, event, fields);
  }
  void Info(LogEvent event, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kInfo, event, fields);
  }
  void Warning(LogEvent event, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kWarning, event, fields);
  }
  void Error(LogEvent event, std::initializer_list<LogField> fields = {}) const {
    Log(LogLevel::kError, event, fields);
  }

 private:
  const Clock& clock_;
  const LogSink sink_;  // empty: standard error
  std::atomic<LogLevel> min_level_;
  mutable std::mutex mu_;  // serializes writes to the sink
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_LOG_H_
