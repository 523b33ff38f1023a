#include "holdfast/legal/types.h"

#include <array>
#include <charconv>
#include <cstdio>

namespace holdfast::legal {
namespace {

struct ReasonInfo {
  Reason reason;
  std::string_view name;
  std::string_view message;
};

constexpr ReasonInfo kReasons[] = {
    {Reason::kMalformed, "malformed", "the order is not well-formed"},
    {Reason::kNonCanonical, "non_canonical",
     "the order's JSON has no single canonical form (RFC 8785)"},
    {Reason::kOversized, "oversized", "the order exceeds the size limits"},
    {Reason::kUnknownAuthority, "unknown_authority", "the issuing authority is not recognized"},
    {Reason::kAuthorityRevoked, "authority_revoked", "the issuing authority has been revoked"},
    {Reason::kAuthorityNotValid, "authority_not_valid",
     "the issuing authority is outside its validity period"},
    {Reason::kBadSignature, "bad_signature", "the order's signature does not verify"},
    {Reason::kNotYetValid, "not_yet_valid", "the order's issue date is in the future"},
    {Reason::kExpired, "expired", "the order has expired"},
    {Reason::kCategoryNotAllowed, "category_not_allowed",
     "the crime category is not one the policy allows"},
    {Reason::kJurisdictionNotAllowed, "jurisdiction_not_allowed",
     "the authority's country is not one the policy allows"},
    {Reason::kDataTypeNotAllowed, "data_type_not_allowed",
     "the policy does not allow disclosing this data type"},
    {Reason::kIpWindowExceedsPolicy, "ip_window_exceeds_policy",
     "the IP-record window is longer than the policy allows"},
    {Reason::kTargetNotFound, "target_not_found", "a named target does not exist"},
    {Reason::kDataOutsideRetention, "data_outside_retention",
     "IP records before the retention horizon have been purged and cannot be disclosed"},
    {Reason::kContentNotHeld, "content_not_held", "end-to-end encrypted: not held"},
};

constexpr std::array<Reason, std::size(kReasons)> MakeReasonList() {
  std::array<Reason, std::size(kReasons)> out{};
  for (size_t i = 0; i < std::size(kReasons); ++i) {
    out[i] = kReasons[i].reason;
  }
  return out;
}
constexpr auto kReasonList = MakeReasonList();

constexpr std::string_view kCategories[] = {
    "child_sexual_abuse_material",
    "cybercrime",
    "fraud",
    "homicide",
    "human_trafficking",
    "illegal_drug_trafficking",
    "kidnapping",
    "money_laundering",
    "organised_crime",
    "terrorism",
    "weapons_trafficking",
};

// DaysFromCivil is the proleptic Gregorian day number of y-m-d, 0 for 1970-01-01
// (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool Digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) {
    return false;
  }
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

bool IsLeap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kPhoneNumber:
      return "phone_number";
    case DataType::kIpRecords:
      return "ip_records";
  }
  return "phone_number";  // unreachable: the switch covers the enum
}

std::optional<DataType> ParseDataType(std::string_view name) {
  for (DataType t : kAllDataTypes) {
    if (DataTypeName(t) == name) {
      return t;
    }
  }
  return std::nullopt;
}

std::string_view AuthorityKindName(AuthorityKind kind) {
  switch (kind) {
    case AuthorityKind::kCourt:
      return "court";
    case AuthorityKind::kProsecutor:
      return "prosecutor";
    case AuthorityKind::kPolice:
      return "police";
  }
  return "court";
}

std::optional<AuthorityKind> ParseAuthorityKind(std::string_view name) {
  for (auto k : {AuthorityKind::kCourt, AuthorityKind::kProsecutor, AuthorityKind::kPolice}) {
    if (AuthorityKindName(k) == name) {
      return k;
    }
  }
  return std::nullopt;
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kFulfilled:
      return "fulfilled";
    case Outcome::kPartiallyFulfilled:
      return "partially_fulfilled";
    case Outcome::kRejected:
      return "rejected";
  }
  return "rejected";
}

std::optional<Outcome> ParseOutcome(std::string_view name) {
  for (auto o : {Outcome::kFulfilled, Outcome::kPartiallyFulfilled, Outcome::kRejected}) {
    if (OutcomeName(o) == name) {
      return o;
    }
  }
  return std::nullopt;
}

std::string_view ReasonName(Reason reason) {
  for (const auto& r : kReasons) {
    if (r.reason == reason) {
      return r.name;
    }
  }
  return "malformed";
}

std::optional<Reason> ParseReason(std::string_view name) {
  for (const auto& r : kReasons) {
    if (r.name == name) {
      return r.reason;
    }
  }
  return std::nullopt;
}

std::string_view ReasonMessage(Reason reason) {
  for (const auto& r : kReasons) {
    if (r.reason == reason) {
      return r.message;
    }
  }
  return "";
}

std::span<const Reason> AllReasons() { return kReasonList; }

std::span<const std::string_view> KnownCategories() { return kCategories; }

bool IsKnownCategory(std::string_view category) {
  for (auto c : kCategories) {
    if (c == category) {
      return true;
    }
  }
  return false;
}

bool IsCountryCode(std::string_view code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

std::string FormatTime(int64_t ms) {
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  const auto secs = rem / 1000;
  const auto milli = rem % 1000;
  char buf[40];
  if (milli == 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                  static_cast<long long>(milli));
  }
  return buf;
}

std::optional<int64_t> ParseTime(std::string_view s) {
  unsigned y, mo, d;
  if (!Digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  static constexpr unsigned kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
      d > kMonthDays[mo - 1] + (mo == 2 && IsLeap(y) ? 1 : 0)) {
    return std::nullopt;
  }
  int64_t ms = DaysFromCivil(y, mo, d) * 86400000;
  if (s.size() == 10) {
    return ms;
  }
  unsigned hh, mm, ss;
  if (s.size() < 20 || s[10] != 'T' || !Digits(s, 11, 2, hh) || s[13] != ':' ||
      !Digits(s, 14, 2, mm) || s[16] != ':' || !Digits(s, 17, 2, ss) || hh > 23 || mm > 59 ||
      ss > 59) {
    return std::nullopt;
  }
  ms += (static_cast<int64_t>(hh) * 3600 + mm * 60 + ss) * 1000;
  size_t pos = 19;
  if (s[pos] == '.') {
    unsigned frac;
    if (!Digits(s, pos + 1, 3, frac)) {
      return std::nullopt;
    }
    ms += frac;
    pos += 4;
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') {
    return std::nullopt;
  }
  return ms;
}

}  // namespace holdfast::legal
