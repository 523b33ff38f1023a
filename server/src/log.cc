#include "holdfast/server/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "holdfast/common/secret.h"

namespace holdfast::server {

namespace log_internal {
void InvalidLogLiteral() {}
}  // namespace log_internal

namespace {

constexpr std::string_view kAccountTagLabel = "holdfast log account tag v1";
constexpr char kHexDigits[] = "0123456789abcdef";
// kMaxAddressChars bounds the text Ip parses (an IPv6 address is at most 45 characters).
constexpr size_t kMaxAddressChars = 64;

// AppendJsonString appends `text` as a JSON string. Besides the quote and backslash it
// escapes every control character and DEL; bytes outside ASCII (possible only in an error
// detail) become U+FFFD, so a line is always valid JSON and valid UTF-8.
void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out += kHexDigits[u >> 4];
          out += kHexDigits[u & 0xf];
        } else if (u >= 0x80) {
          out += "\\ufffd";
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendKey(std::string& out, std::string_view key) {
  out += '"';
  out += key;  // checked at compile time: [a-z0-9_]
  out += "\":";
}

// AppendTimestamp writes `t` as RFC 3339 UTC with milliseconds: 2024-01-01T00:00:00.123Z.
void AppendTimestamp(std::string& out, Timestamp t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss<std::chrono::milliseconds> hms(t - day);
  char buf[48];
  const int n = std::snprintf(
      buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
      static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  if (n > 0) {
    out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof(buf) - 1)));
  }
}

void WriteToStderr(std::string_view line) {
  while (!line.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // nowhere left to report a failing log
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

// ----------------------------------------------------------------------------------------
// AccountTagger.

namespace {
Secret<crypto::kHmacSha256Bytes> DrawKey(Rng& rng) {
  Secret<crypto::kHmacSha256Bytes> key;
  rng.Fill(key.mutable_span());
  return key;
}
}  // namespace

AccountTagger::AccountTagger(Rng& rng) : key_(DrawKey(rng).span()) {}

AccountTag AccountTagger::Tag(ByteSpan account_identifier) const {
  static constexpr uint8_t kSeparator = 0;
  const Secret<crypto::kHmacSha256Bytes> mac =
      key_.Mac({AsBytes(kAccountTagLabel), ByteSpan(&kSeparator, 1), account_identifier});
  AccountTag tag;
  for (size_t i = 0; i < kAccountTagBytes; ++i) {
    tag.hex_[2 * i] = kHexDigits[mac.span()[i] >> 4];
    tag.hex_[2 * i + 1] = kHexDigits[mac.span()[i] & 0xf];
  }
  return tag;
}

AccountTag AccountTagger::Tag(std::string_view account_identifier) const {
  return Tag(AsBytes(account_identifier));
}

// ----------------------------------------------------------------------------------------
// LogField.

LogField LogField::Text(LogKey key, LogLiteral value) {
  LogField f(Kind::kText, key.name());
  f.text_ = value.text();
  return f;
}

LogField LogField::Status(LogLiteral status) {
  LogField f(Kind::kText, "status");
  f.text_ = status.text();
  return f;
}

LogField LogField::Failure(const holdfast::Error& error) {
  LogField f(Kind::kFailure, "error");
  f.text_ = ErrorName(error.code);
  f.detail_ = error.detail;
  return f;
}

LogField LogField::Ip(std::string_view address) {
  LogField f(Kind::kIpPrefix, "ip_prefix");
  const auto set = [&f](const char* text) {
    f.buf_len_ = std::min(std::strlen(text), f.buf_.size());
    std::memcpy(f.buf_.data(), text, f.buf_len_);
  };
  if (address.empty() || address.size() > kMaxAddressChars) {
    set("invalid");
    return f;
  }
  char text[kMaxAddressChars + 1];
  std::memcpy(text, address.data(), address.size());
  text[address.size()] = '\0';

  in_addr v4;
  in6_addr v6;
  bool is_v4 = ::inet_pton(AF_INET, text, &v4) == 1;
  if (!is_v4) {
    if (::inet_pton(AF_INET6, text, &v6) != 1) {
      set("invalid");
      return f;
    }
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6.s6_addr, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
      std::memcpy(&v4.s_addr, v6.s6_addr + 12, 4);
      is_v4 = true;
    }
  }
  char out[INET6_ADDRSTRLEN + 8] = {};
  if (is_v4) {
    auto* bytes = reinterpret_cast<uint8_t*>(&v4.s_addr);  // network order
    bytes[3] = 0;
    if (::inet_ntop(AF_INET, &v4, out, sizeof(out)) == nullptr) {
      set("invalid");
      return f;
    }
    std::strcat(out, "/24");
  } else {
    std::memset(v6.s6_addr + 6, 0, 10);
    if (::inet_ntop(AF_INET6, &v6, out, sizeof(out)) == nullptr) {
      set("invalid");
      return f;
    }
    std::strcat(out, "/48");
  }
  set(out);
  return f;
}

LogField LogField::Account(const AccountTag& tag) {
  LogField f(Kind::kAccount, "account");
  const std::string_view hex = tag.hex();
  std::memcpy(f.buf_.data(), hex.data(), hex.size());
  f.buf_len_ = hex.size();
  return f;
}

void LogField::AppendJson(std::string& out) const {
  AppendKey(out, key_);
  switch (kind_) {
    case Kind::kInt:
      out += std::to_string(int_);
      break;
    case Kind::kUint:
      out += std::to_string(uint_);
      break;
    case Kind::kBool:
      out += bool_ ? "true" : "false";
      break;
    case Kind::kText:
      AppendJsonString(out, text_);
      break;
    case Kind::kFailure:
      AppendJsonString(out, text_);
      if (detail_ != nullptr) {
        out += ',';
        AppendKey(out, "error_detail");
        AppendJsonString(out, detail_);
      }
      break;
    case Kind::kIpPrefix:
    case Kind::kAccount:
      AppendJsonString(out, std::string_view(buf_.data(), buf_len_));
      break;
  }
}

// ----------------------------------------------------------------------------------------
// Logger.

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

Logger::Logger(const Clock& clock, LogLevel min_level) : Logger(clock, LogSink(), min_level) {}

Logger::Logger(const Clock& clock, LogSink sink, LogLevel min_level)
    : clock_(clock), sink_(std::move(sink)), min_level_(min_level) {}

void Logger::Log(LogLevel level, LogEvent event, std::initializer_list<LogField> fields) const {
  if (!Enabled(level)) {
    return;
  }
  std::string line;
  line.reserve(128);
  line += "{\"ts\":\"";
  AppendTimestamp(line, clock_.Now());
  line += "\",\"level\":";
  AppendJsonString(line, LogLevelName(level));
  line += ",\"event\":";
  AppendJsonString(line, event.name());
  for (const LogField& field : fields) {
    line += ',';
    field.AppendJson(line);
  }
  line += "}\n";

  std::lock_guard<std::mutex> lock(mu_);
  if (sink_) {
    sink_(line);
  } else {
    WriteToStderr(line);
  }
}

}  // namespace holdfast::server
