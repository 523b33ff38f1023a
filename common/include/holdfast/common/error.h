// Error codes shared by every Holdfast module.
//
// Each code has a stable number (never reused, never renumbered) and a stable short name that
// tools print, so scripts and operators can rely on them across releases.
#ifndef HOLDFAST_COMMON_ERROR_H_
#define HOLDFAST_COMMON_ERROR_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace holdfast {

// ErrorCode is the closed set of failure reasons. Numbers are part of the public interface:
// add new codes at the end of a group, never change an existing one.
enum class ErrorCode : uint16_t {
  // 1xx: malformed or out-of-range input.
  kTruncated = 100,        // input ended before a complete value was read
  kTrailingData = 101,     // bytes were left over after a complete value
  kMalformed = 102,        // input does not follow the grammar
  kOversized = 103,        // input exceeds a named limit
  kInvalidEncoding = 104,  // bad hex or base64
  kInvalidArgument = 105,  // caller passed a value outside the documented domain
  kUnsupportedVersion = 106,
  // 2xx: cryptographic failures. Authentication failures of any kind collapse into one code.
  kAuthenticationFailed = 200,  // MAC, AEAD tag, padding or signature did not verify
  kInvalidKey = 201,            // key bytes are not a valid key of the expected type
  kWeakKey = 202,               // key agreement produced a degenerate (all-zero) secret
  kCryptoFailure = 203,         // the underlying library failed (out of memory, bad build)
  kDuplicateMessage = 204,      // a message whose key was already used (replay)
  kUntrustedIdentity = 205,     // a peer's identity key changed and the user has not accepted it
  kUnknownPreKey = 206,         // a prekey message names a prekey we do not have (any more)
  kInvalidSignature = 207,      // a signed prekey or sender-key signature does not verify
  kNoSession = 208,             // no session with this peer
  // 3xx: state and storage.
  kNotFound = 300,
  kAlreadyExists = 301,
  kStorageFailure = 302,
  kUnavailable = 303,  // a remote service could not be reached or answered with an error
  // 4xx: transparency-log verification.
  kInvalidProof = 400,  // an inclusion or consistency proof does not verify
};

// ErrorName returns the stable short name of `code`, e.g. "truncated". Never empty.
std::string_view ErrorName(ErrorCode code);

// ErrorMessage returns a one-sentence description of `code` for people.
std::string_view ErrorMessage(ErrorCode code);

// Error is a failure value: a code and an optional static detail string naming the field or
// limit involved. `detail` must point to storage that outlives the Error (a string literal).
struct Error {
  ErrorCode code;
  const char* detail = nullptr;

  friend bool operator==(const Error& a, const Error& b) { return a.code == b.code; }
};

// ErrorText is "<name>[: <detail>]", e.g. "malformed: checkpoint size", for messages that
// name what failed.
std::string ErrorText(const Error& e);

// ErrorLine is the command-line tools' stable error line (without a newline):
// "error: <name> (<number>): <what>: <message>[: <detail>]". Scripts match its start.
std::string ErrorLine(std::string_view what, const Error& e);

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_ERROR_H_
