#include "holdfast/legal/disclosure.h"

#include <algorithm>
#include <set>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/sealed_box.h"
#include "holdfast/legal/jcs.h"
#include "json_fields.h"

namespace holdfast::legal {
namespace {

constexpr std::string_view kCommitmentDomain = "holdfast/disclosure-commitment/v1";
constexpr int kPackageVersion = 1;
constexpr int kEntryVersion = 1;
// A decision names at most kMaxTargets accounts; the entry must fit a log leaf.
constexpr size_t kMaxCommitments = kMaxTargets;

nlohmann::json TimeOrNull(const std::optional<int64_t>& t) {
  return t ? nlohmann::json(FormatTime(*t)) : nlohmann::json(nullptr);
}

nlohmann::json TypeNames(const std::vector<DataType>& types) {
  nlohmann::json out = nlohmann::json::array();
  for (DataType t : types) {
    out.push_back(std::string(DataTypeName(t)));
  }
  return out;
}

bool Contains(const std::vector<DataType>& v, DataType t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

Result<std::vector<DataType>> ReadTypes(const nlohmann::json& j) {
  if (!j.is_array() || j.size() > std::size(kAllDataTypes)) {
    return Error{ErrorCode::kMalformed, "data types"};
  }
  std::vector<DataType> out;
  for (const auto& t : j) {
    auto type = t.is_string() ? ParseDataType(t.get_ref<const std::string&>()) : std::nullopt;
    if (!type || Contains(out, *type)) {
      return Error{ErrorCode::kMalformed, "data types"};
    }
    out.push_back(*type);
  }
  return out;
}

}  // namespace

Bytes ContextMessage(std::string_view context, ByteSpan body) {
  Bytes out(context.begin(), context.end());
  out.push_back(0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::string Commitment(ByteSpan salt, ByteSpan account_id) {
  const uint8_t zero = 0;
  const auto d = crypto::Sha256({AsBytes(kCommitmentDomain), ByteSpan(&zero, 1), salt, account_id});
  return HexEncode(d);
}

nlohmann::json PackageToJson(const DisclosurePackage& p) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : p.targets) {
    nlohmann::json jt = {{"named_as", t.named_as}};
    if (t.phone_number) {
      jt["phone_number"] = *t.phone_number;
    }
    if (t.ip_records) {
      nlohmann::json records = nlohmann::json::array();
      for (const auto& r : *t.ip_records) {
        records.push_back({{"ip", r.ip},
                           {"port", r.port},
                           {"start", FormatTime(r.start_ms)},
                           {"end", TimeOrNull(r.end_ms)}});
      }
      jt["ip_records"] = std::move(records);
    }
    targets.push_back(std::move(jt));
  }
  nlohmann::json j = {
      {"version", kPackageVersion},
      {"order_id", p.order_id},
      {"order_hash", p.order_hash},
      {"authority_id", p.authority_id},
      {"created_at", FormatTime(p.created_ms)},
      {"targets", std::move(targets)},
      {"not_held", p.not_held},
  };
  if (p.ip_from_ms && p.ip_to_ms) {
    j["ip_window"] = {{"from", FormatTime(*p.ip_from_ms)}, {"to", FormatTime(*p.ip_to_ms)}};
  }
  if (!p.not_held.empty()) {
    j["not_held_reason"] = std::string(ReasonMessage(Reason::kContentNotHeld));
  }
  return j;
}

Result<Bytes> SealPackage(const DisclosurePackage& package,
                          const crypto::Ed25519PrivateKey& operator_key,
                          const crypto::X25519PublicKey& authority_box_key, Rng& rng) {
  nlohmann::json body = PackageToJson(package);
  auto canonical = Canonicalize(body);
  if (!canonical.ok()) {
    return canonical.error();
  }
  const auto signature =
      operator_key.Sign(ContextMessage(kPackageSignatureContext, AsBytes(*canonical)));
  nlohmann::json signed_package = {{"package", std::move(body)},
                                   {"signature", Base64Encode(signature)}};
  auto text = Canonicalize(signed_package);
  if (!text.ok()) {
    return text.error();
  }
  return crypto::SealedBoxSeal(authority_box_key, AsBytes(*text), rng);
}

Result<nlohmann::json> OpenPackage(ByteSpan sealed, const crypto::X25519PrivateKey& box_key,
                                   const crypto::Ed25519PublicKey& operator_key) {
  auto plain = crypto::SealedBoxOpen(box_key, sealed);
  if (!plain.ok()) {
    return plain.error();
  }
  auto j =
      ParseStrictJson(std::string_view(reinterpret_cast<const char*>(plain->data()), plain->size()),
                      crypto::kMaxSealedBoxPlaintext);
  if (!j.ok() || !j->is_object() || !j->contains("package") || !j->contains("signature") ||
      !(*j)["signature"].is_string()) {
    return Error{ErrorCode::kMalformed, "package"};
  }
  auto canonical = Canonicalize((*j)["package"]);
  auto sig = Base64Decode((*j)["signature"].get_ref<const std::string&>());
  if (!canonical.ok() || !sig.ok()) {
    return Error{ErrorCode::kMalformed, "package"};
  }
  if (!crypto::Ed25519Verify(operator_key,
                             ContextMessage(kPackageSignatureContext, AsBytes(*canonical)), *sig)
           .ok()) {
    return Error{ErrorCode::kAuthenticationFailed, "package signature"};
  }
  const auto& p = (*j)["package"];
  if (!p.is_object() || !p.contains("version") || p["version"] != kPackageVersion ||
      !p.contains("targets") || !p["targets"].is_array() || !p.contains("order_hash")) {
    return Error{ErrorCode::kMalformed, "not a package"};
  }
  return p;
}

nlohmann::json DecisionToLogEntry(const Decision& d) {
  nlohmann::json reasons = nlohmann::json::array();
  for (Reason r : d.reasons) {
    reasons.push_back(std::string(ReasonName(r)));
  }
  return {
      {"type", "decision"},
      {"v", kEntryVersion},
      {"order_hash", d.order_hash},
      {"authority_id", d.authority_id},
      {"country", d.country},
      {"category", d.category},
      {"outcome", std::string(OutcomeName(d.outcome))},
      {"reasons", reasons},
      {"data_requested", TypeNames(d.data_requested)},
      {"data_disclosed", TypeNames(d.data_disclosed)},
      {"content_requested", d.content_requested},
      {"accounts_named", d.accounts_named},
      {"accounts_affected", d.accounts_affected},
      {"received_at", FormatTime(d.received_ms)},
      {"acknowledged_at", FormatTime(d.acknowledged_ms)},
      {"decided_at", FormatTime(d.decided_ms)},
      {"gag_until", TimeOrNull(d.gag_until_ms)},
      {"policy_version", d.policy_version},
      {"commitments", d.commitments},
  };
}

Result<Decision> DecisionFromLogEntry(const nlohmann::json& j) {
  internal::Fields f(
      j, {"type", "v", "order_hash", "authority_id", "country", "category", "outcome", "reasons",
          "data_requested", "data_disclosed", "content_requested", "accounts_named",
          "accounts_affected", "received_at", "acknowledged_at", "decided_at", "gag_until",
          "policy_version", "commitments"});
  Decision d;
  if (f.String("type", 16) != "decision") {
    return Error{ErrorCode::kMalformed, "type"};
  }
  (void)f.Int("v", kEntryVersion, kEntryVersion);
  d.order_hash = f.String("order_hash", 64);
  d.authority_id = f.MaybeEmptyString("authority_id", kMaxIdBytes);
  d.country = f.MaybeEmptyString("country", 2);
  d.category = f.MaybeEmptyString("category", 64);
  const std::string outcome = f.String("outcome", 32);
  d.accounts_named = static_cast<uint32_t>(f.Int("accounts_named", 0, kMaxTargets));
  d.accounts_affected = static_cast<uint32_t>(f.Int("accounts_affected", 0, kMaxTargets));
  d.received_ms = f.Time("received_at");
  d.acknowledged_ms = f.Time("acknowledged_at");
  d.decided_ms = f.Time("decided_at");
  d.policy_version = static_cast<uint32_t>(f.Int("policy_version", 0, UINT32_MAX));
  const auto& reasons = f.Member("reasons");
  const auto& requested = f.Member("data_requested");
  const auto& disclosed = f.Member("data_disclosed");
  const auto& content = f.Member("content_requested");
  const auto& gag = f.Member("gag_until");
  const auto& commitments = f.Member("commitments");
  if (!f.ok()) {
    return Error{ErrorCode::kMalformed, f.failed_field()};
  }
  auto o = ParseOutcome(outcome);
  if (!o || !content.is_boolean() || !reasons.is_array() || !commitments.is_array() ||
      commitments.size() > kMaxCommitments || d.accounts_affected > d.accounts_named) {
    return Error{ErrorCode::kMalformed, "decision"};
  }
  d.outcome = *o;
  d.content_requested = content.get<bool>();
  for (const auto& r : reasons) {
    auto reason = r.is_string() ? ParseReason(r.get_ref<const std::string&>()) : std::nullopt;
    if (!reason) {
      return Error{ErrorCode::kMalformed, "reasons"};
    }
    d.reasons.push_back(*reason);
  }
  auto req = ReadTypes(requested);
  auto dis = ReadTypes(disclosed);
  if (!req.ok() || !dis.ok()) {
    return Error{ErrorCode::kMalformed, "data types"};
  }
  d.data_requested = std::move(*req);
  d.data_disclosed = std::move(*dis);
  if (!gag.is_null()) {
    auto t = gag.is_string() ? ParseTime(gag.get_ref<const std::string&>()) : std::nullopt;
    if (!t) {
      return Error{ErrorCode::kMalformed, "gag_until"};
    }
    d.gag_until_ms = *t;
  }
  for (const auto& c : commitments) {
    if (!c.is_string() || c.get_ref<const std::string&>().size() != 64) {
      return Error{ErrorCode::kMalformed, "commitments"};
    }
    d.commitments.push_back(c.get<std::string>());
  }
  return d;
}

Result<EngineResult> Decide(std::string_view bytes, int64_t received_ms, int64_t now_ms,
                            const Policy& policy, const AuthorityLookup& authorities,
                            PersonalData& data, Rng& rng) {
  return Decide(ParseOrderFile(bytes), received_ms, now_ms, policy, authorities, data, rng);
}

Result<EngineResult> Decide(ParsedOrder parsed_order, int64_t received_ms, int64_t now_ms,
                            const Policy& policy, const AuthorityLookup& authorities,
                            PersonalData& data, Rng& rng) {
  EngineResult out;
  out.parsed = std::move(parsed_order);
  const ParsedOrder& parsed = out.parsed;
  Decision& d = out.decision;
  d.order_hash = HexEncode(parsed.order_hash);
  d.received_ms = received_ms;
  d.acknowledged_ms = received_ms;
  d.decided_ms = now_ms;
  d.policy_version = policy.version;

  std::set<Reason> reasons;
  auto reject = [&](Reason r) -> Result<EngineResult> {
    reasons.insert(r);
    d.outcome = Outcome::kRejected;
    d.reasons.assign(reasons.begin(), reasons.end());
    return std::move(out);
  };

  // The authority first, even for an unreadable order, so its country can be counted.
  std::optional<Authority> authority;
  if (!parsed.authority_id.empty()) {
    auto a = authorities(parsed.authority_id);
    if (!a.ok()) {
      return a.error();
    }
    authority = std::move(*a);
    if (authority) {
      // Only what the registry vouches for reaches the public log: text from an order that
      // names no registered authority stays out of it.
      d.authority_id = authority->id;
      d.country = authority->country;
    }
  }
  if (parsed.failure) {
    return reject(*parsed.failure);
  }
  const Order& order = *parsed.order;
  d.category = IsKnownCategory(order.category) ? order.category : "other";
  d.gag_until_ms = order.gag_until_ms;
  d.accounts_named = static_cast<uint32_t>(order.targets.size());
  d.data_requested = order.data_requested;
  d.content_requested = !order.content_requested.empty();

  if (!authority) {
    return reject(Reason::kUnknownAuthority);
  }
  // The signature before anything the order claims is believed.
  if (!crypto::Ed25519Verify(authority->sign_key, AsBytes(parsed.canonical), parsed.signature)
           .ok()) {
    return reject(Reason::kBadSignature);
  }
  if (authority->revoked_ms && received_ms >= *authority->revoked_ms) {
    return reject(Reason::kAuthorityRevoked);
  }
  if (!authority->ValidAt(received_ms)) {
    return reject(Reason::kAuthorityNotValid);
  }
  if (order.issued_ms > received_ms + kNotYetValidSkewMs) {
    return reject(Reason::kNotYetValid);
  }
  if (order.valid_until_ms < received_ms) {
    return reject(Reason::kExpired);
  }
  if (policy.categories.count(order.category) == 0) {
    reasons.insert(Reason::kCategoryNotAllowed);
  }
  if (policy.countries.count(authority->country) == 0) {
    reasons.insert(Reason::kJurisdictionNotAllowed);
  }
  if (!reasons.empty()) {
    return reject(*reasons.begin());
  }

  // What may be disclosed: the requested disclosable types the policy allows.
  std::vector<DataType> types;
  for (DataType t : order.data_requested) {
    if (policy.data_types.count(t) == 0) {
      reasons.insert(Reason::kDataTypeNotAllowed);
    } else {
      types.push_back(t);
    }
  }
  if (!order.content_requested.empty()) {
    reasons.insert(Reason::kContentNotHeld);
  }
  std::optional<int64_t> ip_from;
  std::optional<int64_t> ip_to;
  if (Contains(types, DataType::kIpRecords)) {
    bool keep = true;
    if (*order.ip_to_ms - *order.ip_from_ms > policy.max_ip_window_ms) {
      reasons.insert(Reason::kIpWindowExceedsPolicy);
      keep = false;
    } else {
      // Records before the horizon are purged: what the order asks for there is gone.
      const int64_t horizon = now_ms - policy.ip_retention_ms;
      ip_from = std::max(*order.ip_from_ms, horizon);
      ip_to = *order.ip_to_ms;
      if (*order.ip_from_ms < horizon) {
        reasons.insert(Reason::kDataOutsideRetention);
      }
      if (*ip_to < *ip_from) {
        keep = false;
      }
    }
    if (!keep) {
      types.erase(std::remove(types.begin(), types.end(), DataType::kIpRecords), types.end());
      ip_from.reset();
      ip_to.reset();
    }
  }

  // Nothing disclosable is left: decide without looking anyone up, so that even whether a
  // number has an account is not given away.
  if (types.empty()) {
    d.outcome = Outcome::kRejected;
    d.reasons.assign(reasons.begin(), reasons.end());
    return out;
  }

  // Resolve the targets.
  std::vector<std::pair<const OrderTarget*, AccountRef>> found;
  for (const auto& t : order.targets) {
    auto account = t.phone_number.empty() ? data.ById(t.account_id) : data.ByPhone(t.phone_number);
    if (!account.ok()) {
      return account.error();
    }
    if (!*account) {
      reasons.insert(Reason::kTargetNotFound);
      continue;
    }
    const bool duplicate = std::any_of(
        found.begin(), found.end(), [&](const auto& f) { return f.second.id == (*account)->id; });
    if (!duplicate) {
      found.emplace_back(&t, std::move(**account));
    }
  }
  if (found.empty()) {
    d.outcome = Outcome::kRejected;
    d.reasons.assign(reasons.begin(), reasons.end());
    return out;
  }

  DisclosurePackage package;
  package.order_id = order.order_id;
  package.order_hash = d.order_hash;
  package.authority_id = order.authority_id;
  package.created_ms = now_ms;
  package.ip_from_ms = ip_from;
  package.ip_to_ms = ip_to;
  package.not_held = order.content_requested;
  for (const auto& [target, account] : found) {
    DisclosedTarget dt;
    dt.named_as = target->Label();
    if (Contains(types, DataType::kPhoneNumber)) {
      dt.phone_number = account.phone_number;
    }
    if (ip_from) {
      auto records = data.IpRecords(account.id, *ip_from, *ip_to);
      if (!records.ok()) {
        return records.error();
      }
      dt.ip_records = std::move(*records);
    }
    package.targets.push_back(std::move(dt));

    Notice notice;
    notice.account_id = account.id;
    notice.salt.resize(kSaltBytes);
    rng.Fill(notice.salt);
    notice.commitment = Commitment(notice.salt, account.id);
    notice.deliver_at_ms = std::max(now_ms, order.gag_until_ms.value_or(now_ms));
    d.commitments.push_back(notice.commitment);
    out.notices.push_back(std::move(notice));
  }
  // The log must not reveal which commitment belongs to which named target.
  std::sort(d.commitments.begin(), d.commitments.end());
  d.accounts_affected = static_cast<uint32_t>(found.size());
  d.data_disclosed = types;
  d.outcome = reasons.empty() ? Outcome::kFulfilled : Outcome::kPartiallyFulfilled;
  d.reasons.assign(reasons.begin(), reasons.end());
  out.package = std::move(package);
  return out;
}

}  // namespace holdfast::legal
