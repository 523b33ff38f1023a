#include "holdfast/common/utf8.h"

#include <algorithm>

#include <cstdint>

namespace holdfast {

size_t DecodeUtf8(std::string_view s, size_t i, char32_t& out) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c0 = byte(0);
  if (c0 < 0x80) {
    out = c0;
    return 1;
  }
  size_t len = 0;
  char32_t min = 0;
  if ((c0 & 0xE0) == 0xC0) {
    len = 2, out = c0 & 0x1F, min = 0x80;
  } else if ((c0 & 0xF0) == 0xE0) {
    len = 3, out = c0 & 0x0F, min = 0x800;
  } else if ((c0 & 0xF8) == 0xF0) {
    len = 4, out = c0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (len > s.size() - i) {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if ((byte(k) & 0xC0) != 0x80) {
      return 0;
    }
    out = (out << 6) | (byte(k) & 0x3F);
  }
  if (out < min || out > 0x10FFFF || (out >= 0xD800 && out <= 0xDFFF)) {
    return 0;
  }
  return len;
}

bool IsValidUtf8(std::string_view s) {
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = DecodeUtf8(s, i, cp);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
}

std::string ToValidUtf8(std::string_view s, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  size_t i = 0;
  while (i < s.size()) {
    char32_t c = 0;
    const size_t n = DecodeUtf8(s, i, c);
    const size_t size_before = out.size();
    if (n == 0) {
      AppendUtf8(kReplacementCharacter, out);
    } else {
      out.append(s.substr(i, n));
    }
    if (out.size() > max_bytes) {
      out.resize(size_before);
      break;
    }
    i += n == 0 ? 1 : n;
  }
  return out;
}

bool IsTerminalControl(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x061c || c == 0x200e || c == 0x200f ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace holdfast
