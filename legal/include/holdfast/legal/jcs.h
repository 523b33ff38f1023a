// RFC 8785 JSON Canonicalization Scheme (JCS) and a strict I-JSON (RFC 7493) parser.
//
// Signed orders are JSON; the bytes that are signed and logged are the JCS form of the parsed
// value, so two parties that parse the same order always sign and compare the same bytes. The
// parser refuses everything I-JSON forbids (duplicate member names, invalid Unicode, numbers
// that are not IEEE-754 doubles) instead of silently picking one reading, and bounds input size
// and nesting depth.
#ifndef HOLDFAST_LEGAL_JCS_H_
#define HOLDFAST_LEGAL_JCS_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "holdfast/common/result.h"

namespace holdfast::legal {

// kMaxJsonBytes is the default limit on the size of the text ParseStrictJson reads.
inline constexpr size_t kMaxJsonBytes = 256 * 1024;
// kMaxJsonDepth bounds the nesting of objects and arrays (together): a top-level scalar has
// depth 0, `[]` depth 1, `[[]]` depth 2.
inline constexpr size_t kMaxJsonDepth = 32;

// ParseStrictJson parses `text` (UTF-8, no byte order mark) as one I-JSON value of any type,
// with optional white space around it. It never throws and never aborts on any input.
//
// Failures:
//  - kOversized, detail "json size": text.size() > max_bytes;
//  - kOversized, detail "json depth": objects and arrays nested deeper than kMaxJsonDepth;
//  - kMalformed, with a static detail naming the reason: a syntax error (a raw NUL byte is
//    one), anything after the value ("json trailing data"), a leading byte order mark,
//    invalid UTF-8 anywhere, an escaped lone surrogate such as "\ud800", a member name that
//    appears twice in one object (after unescaping), a number that overflows to infinity
//    (1e400), or an integer literal (no fraction, no exponent) of magnitude above 2^53 that
//    does not denote a double. Such a literal denotes a double when it is exactly that
//    double's value or exactly that double's JCS form: 9007199254740993 is refused, while
//    9007199254740994, 295147905179352825856 (2^68) and 295147905179352830000 (the JCS form
//    of 2^68) are accepted, so the output of Canonicalize always parses again.
//
// Integers that fit int64 or uint64 and are exact doubles are stored as nlohmann integers;
// every other number is stored as a double. A fraction or exponent rounds to the nearest
// double as usual (333333333.33333329 is accepted).
Result<nlohmann::json> ParseStrictJson(std::string_view text, size_t max_bytes = kMaxJsonBytes);

// Canonicalize returns the RFC 8785 canonical UTF-8 bytes of `value`: no white space, object
// members sorted by their names compared as UTF-16 code units, strings escaped only where JCS
// requires, and every number written as ECMAScript's Number.prototype.toString writes the
// IEEE-754 double (integers are converted to double first; -0 is "0").
//
// Failures are kInvalidArgument: a NaN or infinite number, an int64/uint64 that is not exactly
// a double (RFC 8785 section 3.1 requires I-JSON numbers), a string or name that is not valid
// UTF-8, or a binary or discarded value; kOversized "json depth" when `value` nests deeper than
// kMaxJsonDepth. Values from ParseStrictJson never fail.
Result<std::string> Canonicalize(const nlohmann::json& value);

// IsCanonical is true when `text` parses with ParseStrictJson (default limit) and equals the
// Canonicalize form of its value, byte for byte.
bool IsCanonical(std::string_view text);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_JCS_H_
