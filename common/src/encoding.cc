// Codecs delegate to libsodium's constant-time sodium_bin2hex/hex2bin/bin2base64/base642bin.
#include "holdfast/common/encoding.h"

#include <sodium/utils.h>

namespace holdfast {
namespace {

int SodiumVariant(Base64Variant v) {
  switch (v) {
    case Base64Variant::kStandard:
      return sodium_base64_VARIANT_ORIGINAL;
    case Base64Variant::kStandardRaw:
      return sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    case Base64Variant::kUrlSafe:
      return sodium_base64_VARIANT_URLSAFE;
    case Base64Variant::kUrlSafeRaw:
      return sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  }
  return sodium_base64_VARIANT_ORIGINAL;
}

// libsodium 1.0.18's decoders read characters as signed chars, so some bytes >= 0x80 alias
// valid digits (0xde decodes as '/'). Neither alphabet has such bytes: refuse them first,
// without branching on each character.
bool HasNonAscii(std::string_view text) {
  uint8_t any = 0;
  for (char c : text) {
    any |= static_cast<uint8_t>(c);
  }
  return (any & 0x80) != 0;
}

}  // namespace

std::string HexEncode(ByteSpan bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

Result<Bytes> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) {
    return Error{ErrorCode::kInvalidEncoding, "odd-length hex"};
  }
  if (HasNonAscii(text)) {
    return Error{ErrorCode::kInvalidEncoding, "hex"};
  }
  Bytes out(text.size() / 2);
  if (text.empty()) {
    return out;
  }
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end) != 0 ||
      len != out.size() || end != text.data() + text.size()) {
    return Error{ErrorCode::kInvalidEncoding, "hex"};
  }
  return out;
}

Result<uint64_t> ParseDecimal(std::string_view text) {
  const Error malformed{ErrorCode::kMalformed, "not a canonical decimal"};
  if (text.empty() || (text.size() > 1 && text[0] == '0')) {
    return malformed;
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return malformed;
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) {
      return malformed;
    }
    v = v * 10 + digit;
  }
  return v;
}

std::string Base64Encode(ByteSpan bytes, Base64Variant variant) {
  const int v = SodiumVariant(variant);
  std::string out(sodium_base64_encoded_len(bytes.size(), v), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), v);
  out.pop_back();  // the terminating NUL counted by sodium_base64_encoded_len
  return out;
}

Result<Bytes> Base64Decode(std::string_view text, Base64Variant variant) {
  if (HasNonAscii(text)) {
    return Error{ErrorCode::kInvalidEncoding, "base64"};
  }
  // Every 4 characters decode to at most 3 bytes.
  Bytes out(text.size() / 4 * 3 + 3);
  if (text.empty()) {
    return Bytes{};
  }
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        SodiumVariant(variant)) != 0 ||
      end != text.data() + text.size()) {
    return Error{ErrorCode::kInvalidEncoding, "base64"};
  }
  out.resize(len);
  return out;
}

}  // namespace holdfast
