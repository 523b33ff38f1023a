// Policy: the versioned, machine-readable rules the disclosure engine applies.
//
// {"version": 3, "effective_from": "2026-01-01T00:00:00Z",
//  "categories": ["terrorism", ...], "countries": ["AT", "DE", ...],
//  "data_types": ["phone_number", "ip_records"], "max_ip_window_days": 90,
//  "ip_retention_days": 7}
//
// Only "phone_number" and "ip_records" can ever be data types: a policy naming anything else
// is refused when it is read, so no policy can widen what is disclosed.
#ifndef HOLDFAST_LEGAL_POLICY_H_
#define HOLDFAST_LEGAL_POLICY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "holdfast/common/result.h"
#include "holdfast/legal/types.h"

namespace holdfast::legal {

inline constexpr int64_t kDayMs = 86400000;

struct Policy {
  uint32_t version = 0;
  int64_t effective_from_ms = 0;
  std::set<std::string> categories;  // each IsKnownCategory
  std::set<std::string> countries;   // each IsCountryCode
  std::set<DataType> data_types;
  int64_t max_ip_window_ms = 0;
  // The IP-record retention the server applies; records older than this are purged, so the
  // engine reports a window reaching further back as data_outside_retention.
  int64_t ip_retention_ms = 7 * kDayMs;
};

// ParsePolicy reads the JSON form above (strict: unknown fields, unknown categories, bad
// country codes, non-positive windows and any data type but the two are kMalformed, with
// the offending field as detail).
Result<Policy> ParsePolicy(std::string_view text);
Result<Policy> PolicyFromJson(const nlohmann::json& j);
nlohmann::json PolicyToJson(const Policy& p);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_POLICY_H_
