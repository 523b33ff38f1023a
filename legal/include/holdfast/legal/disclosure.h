// The disclosure engine: from a submitted order to a decision, and, when the order is valid,
// a package holding the suspect's phone number and IP records and nothing else.
//
// What can reach a package is fixed by structure, not by a check:
//  - the engine's only source of personal data is PersonalData below, whose methods return
//    phone numbers and IP records and nothing else;
//  - DisclosedTarget has a phone-number field and an IP-record list and no other field, and
//    the package serializer writes exactly those;
//  - an order's request is split into DataType values (two kinds exist) and content names,
//    which can only ever become the reason content_not_held.
#ifndef HOLDFAST_LEGAL_DISCLOSURE_H_
#define HOLDFAST_LEGAL_DISCLOSURE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/legal/authority.h"
#include "holdfast/legal/order.h"
#include "holdfast/legal/policy.h"
#include "holdfast/legal/types.h"

namespace holdfast::legal {

inline constexpr size_t kAccountIdBytes = 16;
inline constexpr size_t kSaltBytes = 32;

// AccountRef is an account as the engine sees it: an id and a phone number.
struct AccountRef {
  Bytes id;  // kAccountIdBytes
  std::string phone_number;
};

// IpRecordView is one connection: address, port, start and (when it ended) end.
struct IpRecordView {
  std::string ip;
  uint16_t port = 0;
  int64_t start_ms = 0;
  std::optional<int64_t> end_ms;
};

// PersonalData is the engine's only access to personal data. server/ implements it over the
// account store and the IP-record store.
class PersonalData {
 public:
  virtual ~PersonalData() = default;
  virtual Result<std::optional<AccountRef>> ByPhone(std::string_view e164) = 0;
  virtual Result<std::optional<AccountRef>> ById(ByteSpan account_id) = 0;
  // IpRecords returns the account's connections overlapping [from_ms, to_ms].
  virtual Result<std::vector<IpRecordView>> IpRecords(ByteSpan account_id, int64_t from_ms,
                                                      int64_t to_ms) = 0;
};

// DisclosedTarget: what one target's entry in a package can hold. Nothing else exists.
struct DisclosedTarget {
  std::string named_as;                     // how the order named the target
  std::optional<std::string> phone_number;  // when phone_number was requested and allowed
  std::optional<std::vector<IpRecordView>> ip_records;  // when ip_records was
};

struct DisclosurePackage {
  std::string order_id;
  std::string order_hash;  // hex
  std::string authority_id;
  int64_t created_ms = 0;
  std::optional<int64_t> ip_from_ms;  // the window actually searched (after retention)
  std::optional<int64_t> ip_to_ms;
  std::vector<DisclosedTarget> targets;
  std::vector<std::string> not_held;  // content requested, answered "not held"
};

// The operator's key signs packages and receipts; each signature covers a context string,
// a zero byte and the JCS bytes, so that one can never pass for the other.
inline constexpr std::string_view kPackageSignatureContext = "holdfast/package/v1";
inline constexpr std::string_view kReceiptSignatureContext = "holdfast/receipt/v1";
// ContextMessage returns context || 0x00 || body.
Bytes ContextMessage(std::string_view context, ByteSpan body);

// PackageToJson gives {"version":1,"order_id",...,"targets":[...]} (documented in
// docs/lawful-disclosure.md).
nlohmann::json PackageToJson(const DisclosurePackage& package);

// SealPackage signs ContextMessage(kPackageSignatureContext, JCS(package JSON)) with the
// operator's key, wraps both as
// {"package":{...},"signature":"<base64>"} and seals that to the authority's box key.
Result<Bytes> SealPackage(const DisclosurePackage& package,
                          const crypto::Ed25519PrivateKey& operator_key,
                          const crypto::X25519PublicKey& authority_box_key, Rng& rng);
// OpenPackage is the authority's side: open the sealed box, verify the operator's signature
// and return the package JSON. A wrong key or any tampering is kAuthenticationFailed; a
// signed object that is not a version-1 package is kMalformed.
Result<nlohmann::json> OpenPackage(ByteSpan sealed, const crypto::X25519PrivateKey& box_key,
                                   const crypto::Ed25519PublicKey& operator_key);

// Decision is what the public log records about one order: no personal data.
struct Decision {
  std::string order_hash;    // hex of ParsedOrder::order_hash
  std::string authority_id;  // empty when the order could not be read
  std::string country;       // the authority's, when it is registered
  std::string category;
  Outcome outcome = Outcome::kRejected;
  std::vector<Reason> reasons;           // sorted, distinct
  std::vector<DataType> data_requested;  // the disclosable types asked for
  std::vector<DataType> data_disclosed;
  bool content_requested = false;
  uint32_t accounts_named = 0;
  uint32_t accounts_affected = 0;
  int64_t received_ms = 0;
  int64_t acknowledged_ms = 0;
  int64_t decided_ms = 0;
  std::optional<int64_t> gag_until_ms;
  uint32_t policy_version = 0;
  // commitments[i] = hex SHA-256("holdfast/disclosure-commitment/v1" || 0 || salt || id).
  std::vector<std::string> commitments;
};

// DecisionToLogEntry gives the log entry's JSON; its JCS bytes are the leaf.
nlohmann::json DecisionToLogEntry(const Decision& d);
// DecisionFromLogEntry reads a decision entry back (for reports and the auditor).
Result<Decision> DecisionFromLogEntry(const nlohmann::json& entry);

// Commitment computes a decision's commitment to one account.
std::string Commitment(ByteSpan salt, ByteSpan account_id);

// Notice: what an affected user is told once the gag period ends.
struct Notice {
  Bytes account_id;
  Bytes salt;  // kSaltBytes; only this user receives it
  std::string commitment;
  int64_t deliver_at_ms = 0;
};

struct EngineResult {
  ParsedOrder parsed;
  Decision decision;
  std::optional<DisclosurePackage> package;  // only when something is disclosed
  std::vector<Notice> notices;
};

// AuthorityLookup returns the registered authority with that id, or nullopt.
using AuthorityLookup = std::function<Result<std::optional<Authority>>(std::string_view id)>;

// Decide applies `policy` to the submitted `bytes`, received at `received_ms` and decided at
// `now_ms`. Replays are not its business (the registry checks order ids). It fails only when
// storage does; every problem with the order is a Reason in the decision.
Result<EngineResult> Decide(std::string_view bytes, int64_t received_ms, int64_t now_ms,
                            const Policy& policy, const AuthorityLookup& authorities,
                            PersonalData& data, Rng& rng);
// Decide on an order already read with ParseOrderFile (the registry reads it once, to find
// replays, and decides on the same reading).
Result<EngineResult> Decide(ParsedOrder parsed, int64_t received_ms, int64_t now_ms,
                            const Policy& policy, const AuthorityLookup& authorities,
                            PersonalData& data, Rng& rng);

// kNotYetValidSkewMs: an order issued up to five minutes in the future is accepted (clocks).
inline constexpr int64_t kNotYetValidSkewMs = 5 * 60 * 1000;

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_DISCLOSURE_H_
