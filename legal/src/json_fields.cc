#include "json_fields.h"

#include <cstring>

#include "holdfast/common/encoding.h"
#include "holdfast/legal/types.h"

namespace holdfast::legal::internal {
namespace {
const nlohmann::json kNull;
}  // namespace

Fields::Fields(const nlohmann::json& object, std::initializer_list<const char*> allowed)
    : object_(object) {
  if (!object.is_object()) {
    failed_ = "object";
    return;
  }
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* a : allowed) {
      if (key == a) {
        known = true;
        break;
      }
    }
    if (!known) {
      failed_ = "unknown member";
      return;
    }
  }
}

const nlohmann::json* Fields::Find(const char* name) {
  if (!ok()) {
    return nullptr;
  }
  auto it = object_.find(name);
  if (it == object_.end()) {
    Fail(name);
    return nullptr;
  }
  return &*it;
}

bool Fields::Has(const char* name) const { return object_.is_object() && object_.contains(name); }

std::string Fields::String(const char* name, size_t max_bytes) {
  const auto* v = Find(name);
  if (v == nullptr) {
    return {};
  }
  if (!v->is_string() || v->get_ref<const std::string&>().empty() ||
      v->get_ref<const std::string&>().size() > max_bytes) {
    Fail(name);
    return {};
  }
  return v->get<std::string>();
}

std::string Fields::MaybeEmptyString(const char* name, size_t max_bytes) {
  const auto* v = Find(name);
  if (v == nullptr) {
    return {};
  }
  if (!v->is_string() || v->get_ref<const std::string&>().size() > max_bytes) {
    Fail(name);
    return {};
  }
  return v->get<std::string>();
}

std::string Fields::OptionalString(const char* name, size_t max_bytes) {
  if (!Has(name)) {
    return {};
  }
  return String(name, max_bytes);
}

int64_t Fields::Int(const char* name, int64_t min, int64_t max) {
  const auto* v = Find(name);
  if (v == nullptr) {
    return 0;
  }
  if (!v->is_number_integer()) {
    Fail(name);
    return 0;
  }
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      Fail(name);
      return 0;
    }
    x = static_cast<int64_t>(u);
  } else {
    x = v->get<int64_t>();
  }
  if (x < min || x > max) {
    Fail(name);
    return 0;
  }
  return x;
}

int64_t Fields::Time(const char* name) {
  const std::string s = String(name, 40);
  if (!ok()) {
    return 0;
  }
  auto t = ParseTime(s);
  if (!t) {
    Fail(name);
    return 0;
  }
  return *t;
}

Bytes Fields::Base64(const char* name) {
  const std::string s = String(name, 4096);
  if (!ok()) {
    return {};
  }
  auto b = Base64Decode(s);
  if (!b.ok()) {
    Fail(name);
    return {};
  }
  return std::move(*b);
}

const nlohmann::json& Fields::Member(const char* name) {
  const auto* v = Find(name);
  return v == nullptr ? kNull : *v;
}

}  // namespace holdfast::legal::internal
