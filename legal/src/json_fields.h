// Fields: strict reading of one JSON object's members, for orders, policies and registry
// records. Every getter records the first failure (missing member, wrong type, too long,
// bad encoding) and returns an empty value after it, so a parser reads all fields in a row
// and checks ok() once. Members not named at construction make the object fail.
#ifndef HOLDFAST_LEGAL_SRC_JSON_FIELDS_H_
#define HOLDFAST_LEGAL_SRC_JSON_FIELDS_H_

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"

namespace holdfast::legal::internal {

class Fields {
 public:
  // `allowed` names every member the object may have; `allowed` entries must be literals.
  Fields(const nlohmann::json& object, std::initializer_list<const char*> allowed);

  bool ok() const { return failed_ == nullptr; }
  const char* failed_field() const { return failed_ == nullptr ? "" : failed_; }
  bool Has(const char* name) const;

  // String: a required string of at most `max_bytes` (non-empty).
  std::string String(const char* name, size_t max_bytes);
  // MaybeEmptyString: a required string of at most `max_bytes`, which may be "".
  std::string MaybeEmptyString(const char* name, size_t max_bytes);
  // OptionalString: "" when absent.
  std::string OptionalString(const char* name, size_t max_bytes);
  // Int: a required integer in [min, max].
  int64_t Int(const char* name, int64_t min, int64_t max);
  // Time: a required RFC 3339 UTC time (legal::ParseTime).
  int64_t Time(const char* name);
  // Base64: a required standard base64 string.
  Bytes Base64(const char* name);
  // Member: the raw member (null json when absent and records the failure).
  const nlohmann::json& Member(const char* name);

  void Fail(const char* name) {
    if (failed_ == nullptr) {
      failed_ = name;
    }
  }

 private:
  const nlohmann::json* Find(const char* name);
  const nlohmann::json& object_;
  const char* failed_ = nullptr;
};

}  // namespace holdfast::legal::internal

#endif  // HOLDFAST_LEGAL_SRC_JSON_FIELDS_H_
