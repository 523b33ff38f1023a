// Hex and base64, in constant time (libsodium's codecs), so keys can pass through them.
//
// Decoders are strict: they accept exactly one text for each byte string (hex aside, which
// takes either case). Whitespace, missing or extra padding and non-zero unused bits are all
// kInvalidEncoding.
#ifndef HOLDFAST_COMMON_ENCODING_H_
#define HOLDFAST_COMMON_ENCODING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"

namespace holdfast {

enum class Base64Variant {
  kStandard,     // RFC 4648 section 4, with '=' padding
  kStandardRaw,  // RFC 4648 section 4, no padding
  kUrlSafe,      // RFC 4648 section 5, with '=' padding
  kUrlSafeRaw,   // RFC 4648 section 5, no padding
};

// HexEncode returns lower-case hex.
std::string HexEncode(ByteSpan bytes);
// HexDecode accepts lower- or upper-case hex of even length and nothing else.
Result<Bytes> HexDecode(std::string_view text);

// ParseDecimal reads a canonical unsigned decimal: digits only, no sign, no leading zeros
// ("0" itself is fine), at most 2^64 - 1. Anything else is kMalformed.
Result<uint64_t> ParseDecimal(std::string_view text);

std::string Base64Encode(ByteSpan bytes, Base64Variant variant = Base64Variant::kStandard);
Result<Bytes> Base64Decode(std::string_view text, Base64Variant variant = Base64Variant::kStandard);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_ENCODING_H_
