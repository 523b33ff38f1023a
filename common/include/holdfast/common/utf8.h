// UTF-8 decoding, strict: the one reader used wherever text must be valid UTF-8 (signed-note
// key names and texts, canonical JSON).
#ifndef HOLDFAST_COMMON_UTF8_H_
#define HOLDFAST_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace holdfast {

// DecodeUtf8 reads one code point at s[i] (i < s.size()) into `out` and returns its length,
// or 0 for an invalid sequence: a stray continuation byte, a truncated sequence, an overlong
// form, a surrogate (U+D800..U+DFFF) or a value above U+10FFFF.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t& out);

// IsValidUtf8 is true when every byte of `s` belongs to a valid code point.
bool IsValidUtf8(std::string_view s);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_UTF8_H_
