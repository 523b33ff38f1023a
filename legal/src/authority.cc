#include "holdfast/legal/authority.h"

#include "holdfast/common/encoding.h"
#include "json_fields.h"

namespace holdfast::legal {

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

nlohmann::json AuthorityToJson(const Authority& a) {
  nlohmann::json j = {
      {"id", a.id},
      {"name", a.name},
      {"country", a.country},
      {"kind", std::string(AuthorityKindName(a.kind))},
      {"sign_key", Base64Encode(a.sign_key.bytes())},
      {"box_key", Base64Encode(a.box_key.raw())},
      {"valid_from", FormatTime(a.valid_from_ms)},
      {"valid_until", FormatTime(a.valid_until_ms)},
  };
  if (a.revoked_ms) {
    j["revoked_at"] = FormatTime(*a.revoked_ms);
  }
  return j;
}

Result<Authority> AuthorityFromJson(const nlohmann::json& j) {
  internal::Fields f(j, {"id", "name", "country", "kind", "sign_key", "box_key", "valid_from",
                         "valid_until", "revoked_at"});
  Authority a;
  a.id = f.String("id", kMaxIdBytes);
  a.name = f.String("name", kMaxNameBytes);
  a.country = f.String("country", 2);
  const std::string kind = f.String("kind", 16);
  const Bytes sign = f.Base64("sign_key");
  const Bytes box = f.Base64("box_key");
  a.valid_from_ms = f.Time("valid_from");
  a.valid_until_ms = f.Time("valid_until");
  if (f.Has("revoked_at")) {
    a.revoked_ms = f.Time("revoked_at");
  }
  if (!f.ok()) {
    return Error{ErrorCode::kMalformed, f.failed_field()};
  }
  if (!IsValidId(a.id)) {
    return Error{ErrorCode::kMalformed, "id"};
  }
  if (a.name.empty()) {
    return Error{ErrorCode::kMalformed, "name"};
  }
  if (!IsCountryCode(a.country)) {
    return Error{ErrorCode::kMalformed, "country"};
  }
  auto k = ParseAuthorityKind(kind);
  if (!k) {
    return Error{ErrorCode::kMalformed, "kind"};
  }
  a.kind = *k;
  if (a.valid_until_ms < a.valid_from_ms) {
    return Error{ErrorCode::kMalformed, "valid_until"};
  }
  auto sk = crypto::Ed25519PublicKey::FromBytes(sign);
  auto bk = crypto::X25519PublicKey::FromRaw(box);
  if (!sk.ok()) {
    return Error{ErrorCode::kInvalidKey, "sign_key"};
  }
  if (!bk.ok()) {
    return Error{ErrorCode::kInvalidKey, "box_key"};
  }
  a.sign_key = *sk;
  a.box_key = *bk;
  return a;
}

}  // namespace holdfast::legal
