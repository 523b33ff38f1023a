// Authority: a body whose orders Holdfast recognizes, named in the public registry.
#ifndef HOLDFAST_LEGAL_AUTHORITY_H_
#define HOLDFAST_LEGAL_AUTHORITY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "holdfast/common/result.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/legal/types.h"

namespace holdfast::legal {

// kMaxIdBytes bounds authority ids and order ids.
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxNameBytes = 256;

struct Authority {
  std::string id;       // IsValidId: 1..kMaxIdBytes of [A-Za-z0-9._:-]
  std::string name;     // for people
  std::string country;  // ISO 3166-1 alpha-2
  AuthorityKind kind = AuthorityKind::kCourt;
  crypto::Ed25519PublicKey sign_key;  // verifies its orders
  crypto::X25519PublicKey box_key;    // packages are sealed to it
  int64_t valid_from_ms = 0;
  int64_t valid_until_ms = 0;
  std::optional<int64_t> revoked_ms;

  // ValidAt: within [valid_from, valid_until] and not revoked at or before `ms`.
  bool ValidAt(int64_t ms) const {
    return ms >= valid_from_ms && ms <= valid_until_ms && (!revoked_ms || ms < *revoked_ms);
  }
};

// IsValidId: 1..kMaxIdBytes characters from [A-Za-z0-9._:/-].
bool IsValidId(std::string_view id);

// AuthorityToJson gives the public registry form: id, name, country, kind, sign_key and
// box_key (standard base64 of the 32 raw bytes), valid_from, valid_until (RFC 3339) and,
// when revoked, revoked_at.
nlohmann::json AuthorityToJson(const Authority& a);
// AuthorityFromJson reads that form back; anything else is kMalformed (or kInvalidKey).
Result<Authority> AuthorityFromJson(const nlohmann::json& j);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_AUTHORITY_H_
