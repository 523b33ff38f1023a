#include "holdfast/legal/jcs.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "holdfast/common/utf8.h"

namespace holdfast::legal {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
constexpr const char* kSyntax = "json syntax";
// IEEE-754 binary64 has a 53-bit significand.
constexpr int kDoubleSignificandBits = 53;
// Integer literals this short are below 2^53 (9007199254740992 has 16 digits), so exact.
constexpr size_t kAlwaysExactDigits = 15;
// Room for any finite double written with chars_format::fixed and precision 0 (at most 309
// digits) or chars_format::scientific (at most 24 characters).
constexpr size_t kNumberBufferBytes = 400;

// ToUtf16 converts valid UTF-8 to UTF-16 code units; false for invalid UTF-8.
bool ToUtf16(std::string_view s, std::u16string& out) {
  out.clear();
  out.reserve(s.size());
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = DecodeUtf8(s, i, cp);
    if (n == 0) {
      return false;
    }
    i += n;
    if (cp < 0x10000) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    }
  }
  return true;
}

// AppendEcmaScriptNumber appends Number.prototype.toString(d) (ECMA-262 Number::toString,
// RFC 8785 section 3.2.2.3) for a finite `d`.
void AppendEcmaScriptNumber(double d, std::string& out) {
  if (d == 0) {
    out += '0';  // both +0 and -0
    return;
  }
  if (std::signbit(d)) {
    out += '-';
    d = -d;
  }
  // Scientific format without a precision gives the shortest digits that round-trip, ties
  // going to the digits closest to the exact value (the "Note 2" rule); e.g. "1.5e+02".
  char buf[kNumberBufferBytes];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  if (ec != std::errc()) {
    std::abort();  // cannot happen: the buffer holds any double
  }
  const std::string_view sci(buf, static_cast<size_t>(end - buf));
  const size_t e_pos = sci.find('e');
  std::string digits(1, sci[0]);
  if (e_pos > 2) {
    digits.append(sci.substr(2, e_pos - 2));  // skip the '.'
  }
  int exponent = 0;
  const bool negative_exponent = sci[e_pos + 1] == '-';
  (void)std::from_chars(sci.data() + e_pos + 2, sci.data() + sci.size(), exponent);
  if (negative_exponent) {
    exponent = -exponent;
  }
  // d = digits * 10^(n - k), with k digits and the first digit nonzero.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out += '.';
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += (n - 1 > 0) ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

std::string EcmaScriptNumber(double d) {
  std::string out;
  AppendEcmaScriptNumber(d, out);
  return out;
}

// IsExactDouble: `magnitude` has at most 53 significant bits, so converting it to double
// loses nothing.
bool IsExactDouble(uint64_t magnitude) {
  return magnitude == 0 ||
         std::bit_width(magnitude) - std::countr_zero(magnitude) <= kDoubleSignificandBits;
}

// IntegerLiteralDenotesDouble: the integer literal `digits` (no sign) names the double
// `magnitude` it rounds to, either exactly or as that double's JCS form.
bool IntegerLiteralDenotesDouble(std::string_view digits, double magnitude) {
  if (digits.size() <= kAlwaysExactDigits) {
    return true;
  }
  char buf[kNumberBufferBytes];
  const auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), magnitude, std::chars_format::fixed, 0);
  if (ec == std::errc() && std::string_view(buf, static_cast<size_t>(end - buf)) == digits) {
    return true;
  }
  return EcmaScriptNumber(magnitude) == digits;
}

bool IsIntegerSyntax(std::string_view literal) {
  return !literal.empty() && std::all_of(literal.begin(), literal.end(),
                                         [](char c) { return c == '-' || (c >= '0' && c <= '9'); });
}

// StrictBuilder is an nlohmann SAX handler that builds the value while enforcing I-JSON and
// the depth limit. The first failure is kept; returning false stops the parser.
class StrictBuilder {
 public:
  bool null() { return Put(Json(nullptr)); }
  bool boolean(bool v) { return Put(Json(v)); }

  bool number_integer(Json::number_integer_t v) {
    const uint64_t magnitude =
        v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
    return PutInteger(magnitude, v < 0, Json(v));
  }
  bool number_unsigned(Json::number_unsigned_t v) { return PutInteger(v, false, Json(v)); }

  bool number_float(Json::number_float_t v, const Json::string_t& literal) {
    if (!std::isfinite(v)) {
      return Fail(ErrorCode::kMalformed, "json number overflow");
    }
    // Integer literals reach here only when they do not fit int64/uint64.
    if (IsIntegerSyntax(literal)) {
      const std::string_view digits =
          std::string_view(literal).substr(literal.front() == '-' ? 1 : 0);
      if (!IntegerLiteralDenotesDouble(digits, std::fabs(v))) {
        return Fail(ErrorCode::kMalformed, "json integer precision");
      }
    }
    return Put(Json(v));
  }

  bool string(Json::string_t& v) {
    if (!IsValidUtf8(v)) {
      return Fail(ErrorCode::kMalformed, "json invalid unicode");
    }
    return Put(Json(std::move(v)));
  }
  bool binary(Json::binary_t& /*unused*/) { return Fail(ErrorCode::kMalformed, kSyntax); }

  bool start_object(size_t /*unused*/) { return Open(Json::object()); }
  bool key(Json::string_t& name) {
    if (!IsValidUtf8(name)) {
      return Fail(ErrorCode::kMalformed, "json invalid unicode");
    }
    const auto& members = open_.back()->get_ref<const Json::object_t&>();
    if (members.find(name) != members.end()) {
      return Fail(ErrorCode::kMalformed, "json duplicate member name");
    }
    key_ = std::move(name);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(size_t /*unused*/) { return Open(Json::array()); }
  bool end_array() { return Close(); }

  bool parse_error(size_t /*position*/, const std::string& /*last_token*/,
                   const Json::exception& e) {
    if (done_) {
      return Fail(ErrorCode::kMalformed, "json trailing data");
    }
    if (e.id == 406) {  // nlohmann: a number out of range of double
      return Fail(ErrorCode::kMalformed, "json number overflow");
    }
    // UTF-8 was validated before parsing, so the lexer's Unicode errors are escapes that do
    // not form a code point (lone or reversed surrogates). The message ends by quoting the
    // input ("; last read: ..."), which must not be searched.
    std::string_view message(e.what());
    message = message.substr(0, message.find("; last read"));
    if (message.find("surrogate") != std::string_view::npos) {
      return Fail(ErrorCode::kMalformed, "json invalid unicode");
    }
    return Fail(ErrorCode::kMalformed, kSyntax);
  }

  const std::optional<Error>& error() const { return error_; }
  bool done() const { return done_; }
  Json TakeRoot() && { return std::move(root_); }

 private:
  bool Fail(ErrorCode code, const char* detail) {
    if (!error_) {
      error_ = Error{code, detail};
    }
    return false;
  }

  // Put stores `v` as the root, the next array element or the member named key_.
  Json* Put(Json&& v) {
    if (open_.empty()) {
      root_ = std::move(v);
      if (!root_.is_structured()) {
        done_ = true;
      }
      return &root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      auto& elements = parent.get_ref<Json::array_t&>();
      elements.push_back(std::move(v));
      return &elements.back();
    }
    auto& members = parent.get_ref<Json::object_t&>();
    return &members.emplace(std::move(key_), std::move(v)).first->second;
  }

  bool PutInteger(uint64_t magnitude, bool negative, Json&& v) {
    if (IsExactDouble(magnitude)) {
      return Put(std::move(v));
    }
    // Not an exact double: accept only the JCS form of the double it rounds to, stored as
    // that double so that Canonicalize writes the same digits back.
    const double d = static_cast<double>(magnitude);
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), magnitude);
    if (ec != std::errc() ||
        !IntegerLiteralDenotesDouble(std::string_view(buf, static_cast<size_t>(end - buf)), d)) {
      return Fail(ErrorCode::kMalformed, "json integer precision");
    }
    return Put(Json(negative ? -d : d));
  }

  bool Open(Json&& container) {
    if (open_.size() >= kMaxJsonDepth) {
      return Fail(ErrorCode::kOversized, "json depth");
    }
    // Pointers into parents stay valid: nothing is added to a parent while a child is open,
    // and std::map nodes never move.
    open_.push_back(Put(std::move(container)));
    return true;
  }

  bool Close() {
    open_.pop_back();
    done_ = open_.empty();
    return true;
  }

  Json root_;
  std::vector<Json*> open_;  // the containers being filled, outermost first
  std::string key_;          // name of the member whose value comes next
  bool done_ = false;        // a complete top-level value has been read
  std::optional<Error> error_;
};

void AppendString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default: {
        const auto u = static_cast<uint8_t>(c);
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0x0F];
        } else {
          out += c;  // includes U+007F and every byte of a multi-byte sequence
        }
      }
    }
  }
  out += '"';
}

Result<void> AppendInteger(uint64_t magnitude, bool negative, std::string& out) {
  if (!IsExactDouble(magnitude)) {
    return Error{ErrorCode::kInvalidArgument, "json integer not a double"};
  }
  const double d = static_cast<double>(magnitude);
  AppendEcmaScriptNumber(negative ? -d : d, out);
  return Ok();
}

Result<void> AppendValue(const Json& v, size_t depth, std::string& out) {
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return Ok();
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return Ok();
    case Json::value_t::number_integer: {
      const auto i = v.get<Json::number_integer_t>();
      const uint64_t magnitude =
          i < 0 ? static_cast<uint64_t>(-(i + 1)) + 1 : static_cast<uint64_t>(i);
      return AppendInteger(magnitude, i < 0, out);
    }
    case Json::value_t::number_unsigned:
      return AppendInteger(v.get<Json::number_unsigned_t>(), false, out);
    case Json::value_t::number_float: {
      const auto d = v.get<Json::number_float_t>();
      if (!std::isfinite(d)) {
        return Error{ErrorCode::kInvalidArgument, "json number not finite"};
      }
      AppendEcmaScriptNumber(d, out);
      return Ok();
    }
    case Json::value_t::string: {
      const auto& s = v.get_ref<const Json::string_t&>();
      if (!IsValidUtf8(s)) {
        return Error{ErrorCode::kInvalidArgument, "json invalid utf-8"};
      }
      AppendString(s, out);
      return Ok();
    }
    case Json::value_t::array: {
      if (depth >= kMaxJsonDepth) {
        return Error{ErrorCode::kOversized, "json depth"};
      }
      out += '[';
      bool first = true;
      for (const Json& element : v.get_ref<const Json::array_t&>()) {
        if (!first) {
          out += ',';
        }
        first = false;
        HF_RETURN_IF_ERROR(AppendValue(element, depth + 1, out));
      }
      out += ']';
      return Ok();
    }
    case Json::value_t::object: {
      if (depth >= kMaxJsonDepth) {
        return Error{ErrorCode::kOversized, "json depth"};
      }
      struct Member {
        std::u16string sort_key;  // the name as UTF-16 code units (RFC 8785 section 3.2.3)
        const std::string* name;
        const Json* value;
      };
      const auto& members = v.get_ref<const Json::object_t&>();
      std::vector<Member> sorted;
      sorted.reserve(members.size());
      for (const auto& [name, value] : members) {
        Member m{{}, &name, &value};
        if (!ToUtf16(name, m.sort_key)) {
          return Error{ErrorCode::kInvalidArgument, "json invalid utf-8"};
        }
        sorted.push_back(std::move(m));
      }
      // char16_t compares as an unsigned code unit, as the RFC requires.
      std::sort(sorted.begin(), sorted.end(),
                [](const Member& a, const Member& b) { return a.sort_key < b.sort_key; });
      out += '{';
      bool first = true;
      for (const Member& m : sorted) {
        if (!first) {
          out += ',';
        }
        first = false;
        AppendString(*m.name, out);
        out += ':';
        HF_RETURN_IF_ERROR(AppendValue(*m.value, depth + 1, out));
      }
      out += '}';
      return Ok();
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return Error{ErrorCode::kInvalidArgument, "json value has no JSON form"};
}

}  // namespace

Result<nlohmann::json> ParseStrictJson(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Error{ErrorCode::kOversized, "json size"};
  }
  // nlohmann skips a byte order mark silently; RFC 8259 section 8.1 forbids sending one.
  if (text.starts_with(kByteOrderMark)) {
    return Error{ErrorCode::kMalformed, "json byte order mark"};
  }
  if (!IsValidUtf8(text)) {
    return Error{ErrorCode::kMalformed, "json invalid unicode"};
  }
  // A raw NUL is never valid JSON (inside a string it must be escaped), and nlohmann's lexer
  // would take it for the end of the input, silently ignoring whatever follows.
  if (text.find('\0') != std::string_view::npos) {
    return Error{ErrorCode::kMalformed, kSyntax};
  }
  try {
    StrictBuilder builder;
    const bool parsed = Json::sax_parse(text.data(), text.data() + text.size(), &builder,
                                        Json::input_format_t::json, /*strict=*/true,
                                        /*ignore_comments=*/false);
    if (builder.error()) {
      return *builder.error();
    }
    if (!parsed || !builder.done()) {
      return Error{ErrorCode::kMalformed, kSyntax};
    }
    return std::move(builder).TakeRoot();
  } catch (...) {  // allocation failure: nothing else in the parser throws
    return Error{ErrorCode::kMalformed, "json parse failure"};
  }
}

Result<std::string> Canonicalize(const nlohmann::json& value) {
  try {
    std::string out;
    HF_RETURN_IF_ERROR(AppendValue(value, 0, out));
    return out;
  } catch (...) {  // allocation failure
    return Error{ErrorCode::kInvalidArgument, "json canonicalize failure"};
  }
}

bool IsCanonical(std::string_view text) {
  const auto value = ParseStrictJson(text);
  if (!value.ok()) {
    return false;
  }
  const auto canonical = Canonicalize(*value);
  return canonical.ok() && *canonical == text;
}

}  // namespace holdfast::legal
