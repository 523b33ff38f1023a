// The vocabulary of lawful disclosure: what an order may ask for, what can ever be handed
// over, and the stable codes every decision is given.
#ifndef HOLDFAST_LEGAL_TYPES_H_
#define HOLDFAST_LEGAL_TYPES_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace holdfast::legal {

// DataType is everything Holdfast can ever disclose. There are exactly two kinds, and no
// other value can be constructed from text: a request for anything else (messages,
// contacts, groups, profile, ...) is a content request, answered "end-to-end encrypted:
// not held". Adding a third kind here is the only way to widen disclosure, and the package
// types in package.h would have to grow a field for it as well.
enum class DataType : uint8_t {
  kPhoneNumber,
  kIpRecords,
};
inline constexpr DataType kAllDataTypes[] = {DataType::kPhoneNumber, DataType::kIpRecords};
static_assert(std::size(kAllDataTypes) == 2,
              "Holdfast discloses phone numbers and IP records only");

// DataTypeName returns "phone_number" or "ip_records".
std::string_view DataTypeName(DataType type);
// ParseDataType maps "phone_number" and "ip_records" to their DataType; any other text is
// nullopt (for an order, a content request).
std::optional<DataType> ParseDataType(std::string_view name);

enum class AuthorityKind : uint8_t { kCourt, kProsecutor, kPolice };
std::string_view AuthorityKindName(AuthorityKind kind);
std::optional<AuthorityKind> ParseAuthorityKind(std::string_view name);

// Outcome of one order.
enum class Outcome : uint8_t { kFulfilled, kPartiallyFulfilled, kRejected };
std::string_view OutcomeName(Outcome outcome);
std::optional<Outcome> ParseOutcome(std::string_view name);

// Reason is a stable reason code attached to a decision. Codes are never renumbered or
// renamed: reports and the public log refer to them by name. (A replayed order is not a
// decision: it is answered with the first decision and "replayed": true.)
enum class Reason : uint8_t {
  kMalformed,               // not an order: bad JSON, a missing or ill-typed field
  kNonCanonical,            // JSON without one canonical form (duplicate names, bad Unicode)
  kOversized,               // larger than kMaxOrderBytes or too many targets
  kUnknownAuthority,        // the issuing authority is not in the registry
  kAuthorityRevoked,        // the authority was revoked before the order arrived
  kAuthorityNotValid,       // the order arrived outside the authority's validity period
  kBadSignature,            // the signature does not verify under the authority's key
  kNotYetValid,             // issued in the future
  kExpired,                 // past its valid-until date
  kCategoryNotAllowed,      // the crime category is not in the policy
  kJurisdictionNotAllowed,  // the authority's country is not in the policy
  kDataTypeNotAllowed,      // phone numbers or IP records asked for, but the policy forbids it
  kIpWindowExceedsPolicy,   // the IP-record window is longer than the policy allows
  kTargetNotFound,          // a named phone number or account does not exist
  kDataOutsideRetention,    // the IP window lies (partly) before the retention horizon
  kContentNotHeld,          // messages, contacts, groups or other content: E2E encrypted, not held
};
std::string_view ReasonName(Reason reason);
std::optional<Reason> ParseReason(std::string_view name);
// ReasonMessage is the sentence given to the authority, e.g. for kContentNotHeld
// "end-to-end encrypted: not held".
std::string_view ReasonMessage(Reason reason);
// kAllReasons lists every reason, for reports.
std::span<const Reason> AllReasons();

// The crime categories an order may name. The policy allows a subset.
std::span<const std::string_view> KnownCategories();
bool IsKnownCategory(std::string_view category);

// IsCountryCode: two upper-case ASCII letters (ISO 3166-1 alpha-2 shape).
bool IsCountryCode(std::string_view code);

// Time is milliseconds since the Unix epoch (UTC). FormatTime writes RFC 3339 with a "Z"
// and whole seconds when the milliseconds are zero, e.g. 2026-03-01T12:00:00Z; ParseTime
// reads "YYYY-MM-DDTHH:MM:SS[.fff]Z" and plain dates "YYYY-MM-DD" (midnight UTC), and
// nothing else (no local offsets: orders are compared across countries).
std::string FormatTime(int64_t ms);
std::optional<int64_t> ParseTime(std::string_view text);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_TYPES_H_
