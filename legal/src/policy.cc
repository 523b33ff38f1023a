#include "holdfast/legal/policy.h"

#include "holdfast/legal/jcs.h"
#include "json_fields.h"

namespace holdfast::legal {

namespace {
// A window longer than ten years is a mistake, not a policy.
constexpr int64_t kMaxDays = 3650;
}  // namespace

Result<Policy> PolicyFromJson(const nlohmann::json& j) {
  internal::Fields f(j, {"version", "effective_from", "categories", "countries", "data_types",
                         "max_ip_window_days", "ip_retention_days"});
  Policy p;
  p.version = static_cast<uint32_t>(f.Int("version", 1, UINT32_MAX));
  p.effective_from_ms = f.Time("effective_from");
  p.max_ip_window_ms = f.Int("max_ip_window_days", 1, kMaxDays) * kDayMs;
  p.ip_retention_ms = f.Int("ip_retention_days", 1, kMaxDays) * kDayMs;
  const auto& categories = f.Member("categories");
  const auto& countries = f.Member("countries");
  const auto& types = f.Member("data_types");
  if (!f.ok()) {
    return Error{ErrorCode::kMalformed, f.failed_field()};
  }
  if (!categories.is_array() || categories.size() > 64) {
    return Error{ErrorCode::kMalformed, "categories"};
  }
  for (const auto& c : categories) {
    if (!c.is_string() || !IsKnownCategory(c.get_ref<const std::string&>()) ||
        !p.categories.insert(c.get<std::string>()).second) {
      return Error{ErrorCode::kMalformed, "categories"};
    }
  }
  if (!countries.is_array() || countries.size() > 300) {
    return Error{ErrorCode::kMalformed, "countries"};
  }
  for (const auto& c : countries) {
    if (!c.is_string() || !IsCountryCode(c.get_ref<const std::string&>()) ||
        !p.countries.insert(c.get<std::string>()).second) {
      return Error{ErrorCode::kMalformed, "countries"};
    }
  }
  if (!types.is_array() || types.size() > std::size(kAllDataTypes)) {
    return Error{ErrorCode::kMalformed, "data_types"};
  }
  for (const auto& t : types) {
    // The line that matters: nothing but the two data types can be named here.
    auto type = t.is_string() ? ParseDataType(t.get_ref<const std::string&>()) : std::nullopt;
    if (!type || !p.data_types.insert(*type).second) {
      return Error{ErrorCode::kMalformed, "data_types"};
    }
  }
  return p;
}

Result<Policy> ParsePolicy(std::string_view text) {
  auto j = ParseStrictJson(text);
  if (!j.ok()) {
    return j.error();
  }
  return PolicyFromJson(*j);
}

nlohmann::json PolicyToJson(const Policy& p) {
  nlohmann::json types = nlohmann::json::array();
  for (DataType t : p.data_types) {
    types.push_back(std::string(DataTypeName(t)));
  }
  return {
      {"version", p.version},
      {"effective_from", FormatTime(p.effective_from_ms)},
      {"categories", p.categories},
      {"countries", p.countries},
      {"data_types", types},
      {"max_ip_window_days", p.max_ip_window_ms / kDayMs},
      {"ip_retention_days", p.ip_retention_ms / kDayMs},
  };
}

}  // namespace holdfast::legal
