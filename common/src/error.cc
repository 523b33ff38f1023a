#include "holdfast/common/error.h"

#include <cstdio>
#include <cstdlib>

#include "holdfast/common/result.h"

namespace holdfast {

std::string_view ErrorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kTrailingData:
      return "trailing_data";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kOversized:
      return "oversized";
    case ErrorCode::kInvalidEncoding:
      return "invalid_encoding";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported_version";
    case ErrorCode::kAuthenticationFailed:
      return "authentication_failed";
    case ErrorCode::kInvalidKey:
      return "invalid_key";
    case ErrorCode::kWeakKey:
      return "weak_key";
    case ErrorCode::kCryptoFailure:
      return "crypto_failure";
    case ErrorCode::kDuplicateMessage:
      return "duplicate_message";
    case ErrorCode::kUntrustedIdentity:
      return "untrusted_identity";
    case ErrorCode::kUnknownPreKey:
      return "unknown_prekey";
    case ErrorCode::kInvalidSignature:
      return "invalid_signature";
    case ErrorCode::kNoSession:
      return "no_session";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kStorageFailure:
      return "storage_failure";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInvalidProof:
      return "invalid_proof";
  }
  return "unknown";
}

std::string_view ErrorMessage(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated:
      return "input ended before a complete value";
    case ErrorCode::kTrailingData:
      return "unexpected bytes after a complete value";
    case ErrorCode::kMalformed:
      return "input does not follow the expected format";
    case ErrorCode::kOversized:
      return "input exceeds a size limit";
    case ErrorCode::kInvalidEncoding:
      return "invalid hex or base64 text";
    case ErrorCode::kInvalidArgument:
      return "argument outside the allowed range";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported format version";
    case ErrorCode::kAuthenticationFailed:
      return "authentication failed";
    case ErrorCode::kInvalidKey:
      return "invalid key";
    case ErrorCode::kWeakKey:
      return "key agreement produced a degenerate secret";
    case ErrorCode::kCryptoFailure:
      return "cryptographic library failure";
    case ErrorCode::kDuplicateMessage:
      return "message already received";
    case ErrorCode::kUntrustedIdentity:
      return "the contact's identity key changed";
    case ErrorCode::kUnknownPreKey:
      return "unknown prekey";
    case ErrorCode::kInvalidSignature:
      return "signature does not verify";
    case ErrorCode::kNoSession:
      return "no session with this contact";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kStorageFailure:
      return "storage failure";
    case ErrorCode::kUnavailable:
      return "remote service unavailable";
    case ErrorCode::kInvalidProof:
      return "proof does not verify";
  }
  return "unknown error";
}

namespace internal {
void ResultAccessAbort(const char* what) {
  std::fprintf(stderr, "holdfast: broken invariant: %s\n", what);
  std::abort();
}
}  // namespace internal

std::string ErrorText(const Error& e) {
  std::string s(ErrorName(e.code));
  if (e.detail != nullptr) {
    s.append(": ").append(e.detail);
  }
  return s;
}

std::string ErrorLine(std::string_view what, const Error& e) {
  std::string s = "error: ";
  s.append(ErrorName(e.code)).append(" (").append(std::to_string(static_cast<int>(e.code)));
  s.append("): ").append(what).append(": ").append(ErrorMessage(e.code));
  if (e.detail != nullptr) {
    s.append(": ").append(e.detail);
  }
  return s;
}

}  // namespace holdfast
