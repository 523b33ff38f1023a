// UTF-8 decoding, strict: the one reader used wherever text must be valid UTF-8 (signed-note
// key names and texts, canonical JSON, message texts), and the repairs made to text that
// comes from elsewhere before it is stored or shown.
#ifndef HOLDFAST_COMMON_UTF8_H_
#define HOLDFAST_COMMON_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace holdfast {

// DecodeUtf8 reads one code point at s[i] (i < s.size()) into `out` and returns its length,
// or 0 for an invalid sequence: a stray continuation byte, a truncated sequence, an overlong
// form, a surrogate (U+D800..U+DFFF) or a value above U+10FFFF.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t& out);

// IsValidUtf8 is true when every byte of `s` belongs to a valid code point.
bool IsValidUtf8(std::string_view s);

// AppendUtf8 appends the encoding of the code point `c` (at most U+10FFFF, not a surrogate).
void AppendUtf8(char32_t c, std::string& out);

// kReplacementCharacter stands for what could not be decoded or must not be shown.
inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// ToValidUtf8 returns `s` with each invalid byte replaced by U+FFFD, cut to at most
// `max_bytes` without splitting a code point.
std::string ToValidUtf8(std::string_view s, size_t max_bytes = SIZE_MAX);

// IsTerminalControl is true for what must not reach a terminal as is: C0 and C1 controls,
// DEL, and the bidi controls that reorder the text around them (CVE-2021-42574).
bool IsTerminalControl(char32_t c);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_UTF8_H_
