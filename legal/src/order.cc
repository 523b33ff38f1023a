#include "holdfast/legal/order.h"

#include "holdfast/common/encoding.h"
#include "holdfast/common/phone.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/legal/authority.h"
#include "holdfast/legal/jcs.h"
#include "json_fields.h"

namespace holdfast::legal {
namespace {

constexpr size_t kAccountIdHexBytes = 32;

std::array<uint8_t, 32> HashOf(std::string_view bytes) {
  const auto d = crypto::Sha256(AsBytes(bytes));
  std::array<uint8_t, 32> out{};
  std::copy(d.begin(), d.end(), out.begin());
  return out;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// ReadOrder fills `order` from the order object; it returns the failing field or nullptr.
const char* ReadOrder(const nlohmann::json& j, Order& order) {
  internal::Fields f(
      j, {"version", "order_id", "authority_id", "legal_basis", "statement_of_reasons",
          "statement_of_reasons_sha256", "targets", "category", "data_requested", "ip_window",
          "issued_at", "valid_until", "gag_until", "effect_report_to", "redress"});
  (void)f.Int("version", kOrderVersion, kOrderVersion);
  order.order_id = f.String("order_id", kMaxIdBytes);
  order.authority_id = f.String("authority_id", kMaxIdBytes);
  order.legal_basis = f.String("legal_basis", kMaxTextBytes);
  order.statement_of_reasons = f.OptionalString("statement_of_reasons", kMaxTextBytes);
  order.statement_of_reasons_sha256 = f.OptionalString("statement_of_reasons_sha256", 64);
  order.category = f.String("category", 64);
  order.issued_ms = f.Time("issued_at");
  order.valid_until_ms = f.Time("valid_until");
  if (f.Has("gag_until")) {
    order.gag_until_ms = f.Time("gag_until");
  }
  order.effect_report_to = f.String("effect_report_to", kMaxTextBytes);
  order.redress = f.String("redress", kMaxTextBytes);
  const auto& targets = f.Member("targets");
  const auto& requested = f.Member("data_requested");
  if (!f.ok()) {
    return f.failed_field();
  }
  if (!IsValidId(order.order_id)) {
    return "order_id";
  }
  if (!IsValidId(order.authority_id)) {
    return "authority_id";
  }
  // Exactly one of the statement and its hash: the hash stands in when it is confidential.
  if (order.statement_of_reasons.empty() == order.statement_of_reasons_sha256.empty()) {
    return "statement_of_reasons";
  }
  if (!order.statement_of_reasons_sha256.empty() &&
      (order.statement_of_reasons_sha256.size() != 64 ||
       !IsLowerHex(order.statement_of_reasons_sha256))) {
    return "statement_of_reasons_sha256";
  }
  if (order.valid_until_ms < order.issued_ms) {
    return "valid_until";
  }
  if (order.gag_until_ms && *order.gag_until_ms < order.issued_ms) {
    return "gag_until";
  }
  if (!targets.is_array() || targets.empty()) {
    return "targets";
  }
  for (const auto& t : targets) {
    internal::Fields tf(t, {"phone_number", "account_id"});
    OrderTarget target;
    target.phone_number = tf.OptionalString("phone_number", 16);
    const std::string account = tf.OptionalString("account_id", kAccountIdHexBytes);
    if (!tf.ok() || target.phone_number.empty() == account.empty()) {
      return "targets";
    }
    if (!target.phone_number.empty() && !IsE164(target.phone_number)) {
      return "targets";
    }
    if (!account.empty()) {
      auto id = HexDecode(account);
      if (account.size() != kAccountIdHexBytes || !IsLowerHex(account) || !id.ok()) {
        return "targets";
      }
      target.account_id = std::move(*id);
    }
    for (const auto& seen : order.targets) {
      if (seen.Label() == target.Label()) {
        return "targets";  // a target named twice would be counted twice
      }
    }
    order.targets.push_back(std::move(target));
  }
  if (!requested.is_array() || requested.empty() || requested.size() > kMaxDataRequested) {
    return "data_requested";
  }
  for (const auto& r : requested) {
    if (!r.is_string() || r.get_ref<const std::string&>().empty() ||
        r.get_ref<const std::string&>().size() > 64) {
      return "data_requested";
    }
    const auto& name = r.get_ref<const std::string&>();
    if (auto type = ParseDataType(name)) {
      if (std::find(order.data_requested.begin(), order.data_requested.end(), *type) !=
          order.data_requested.end()) {
        return "data_requested";
      }
      order.data_requested.push_back(*type);
    } else {
      if (!IsValidId(name)) {
        return "data_requested";
      }
      order.content_requested.push_back(name);
    }
  }
  const bool wants_ip = std::find(order.data_requested.begin(), order.data_requested.end(),
                                  DataType::kIpRecords) != order.data_requested.end();
  if (f.Has("ip_window")) {
    internal::Fields wf(f.Member("ip_window"), {"from", "to"});
    order.ip_from_ms = wf.Time("from");
    order.ip_to_ms = wf.Time("to");
    if (!wf.ok() || *order.ip_to_ms < *order.ip_from_ms) {
      return "ip_window";
    }
  } else if (wants_ip) {
    return "ip_window";
  }
  return nullptr;
}

}  // namespace

std::string OrderTarget::Label() const {
  return phone_number.empty() ? HexEncode(account_id) : phone_number;
}

ParsedOrder ParseOrderFile(std::string_view bytes) {
  ParsedOrder out;
  out.order_hash = HashOf(bytes);
  if (bytes.size() > kMaxOrderBytes) {
    out.failure = Reason::kOversized;
    out.detail = "order size";
    return out;
  }
  auto parsed = ParseStrictJson(bytes, kMaxOrderBytes);
  if (!parsed.ok()) {
    // Syntax errors are malformed; JSON that nlohmann accepts but that has no single
    // canonical form (duplicate names, lone surrogates, huge numbers) is non-canonical.
    const bool syntax_ok = nlohmann::json::accept(bytes);
    out.failure = parsed.error().code == ErrorCode::kOversized ? Reason::kOversized
                  : syntax_ok                                  ? Reason::kNonCanonical
                                                               : Reason::kMalformed;
    out.detail = parsed.error().detail;
    return out;
  }
  const auto& file = *parsed;
  if (!file.is_object() || file.size() != 2 || !file.contains("order") ||
      !file.contains("signature") || !file["order"].is_object() || !file["signature"].is_string()) {
    out.failure = Reason::kMalformed;
    out.detail = "file form";
    return out;
  }
  const auto& order_json = file["order"];
  auto canonical = Canonicalize(order_json);
  if (!canonical.ok()) {
    out.failure = Reason::kNonCanonical;
    out.detail = "order";
    return out;
  }
  out.canonical = std::move(*canonical);
  out.order_hash = HashOf(out.canonical);
  if (auto it = order_json.find("authority_id");
      it != order_json.end() && it->is_string() && IsValidId(it->get_ref<const std::string&>())) {
    out.authority_id = it->get<std::string>();
  }
  if (auto it = order_json.find("order_id");
      it != order_json.end() && it->is_string() && IsValidId(it->get_ref<const std::string&>())) {
    out.order_id = it->get<std::string>();
  }
  auto sig = Base64Decode(file["signature"].get_ref<const std::string&>());
  if (!sig.ok() || sig->size() != crypto::kEd25519SignatureBytes) {
    out.failure = Reason::kMalformed;
    out.detail = "signature";
    return out;
  }
  out.signature = std::move(*sig);
  Order order;
  if (const char* bad = ReadOrder(order_json, order)) {
    out.failure = Reason::kMalformed;
    out.detail = bad;
    return out;
  }
  if (order.targets.size() > kMaxTargets) {
    out.failure = Reason::kOversized;
    out.detail = "targets";
    return out;
  }
  out.order = std::move(order);
  return out;
}

nlohmann::json OrderToJson(const Order& o) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : o.targets) {
    if (t.phone_number.empty()) {
      targets.push_back({{"account_id", HexEncode(t.account_id)}});
    } else {
      targets.push_back({{"phone_number", t.phone_number}});
    }
  }
  nlohmann::json requested = nlohmann::json::array();
  for (DataType t : o.data_requested) {
    requested.push_back(std::string(DataTypeName(t)));
  }
  for (const auto& c : o.content_requested) {
    requested.push_back(c);
  }
  nlohmann::json j = {
      {"version", kOrderVersion},
      {"order_id", o.order_id},
      {"authority_id", o.authority_id},
      {"legal_basis", o.legal_basis},
      {"targets", targets},
      {"category", o.category},
      {"data_requested", requested},
      {"issued_at", FormatTime(o.issued_ms)},
      {"valid_until", FormatTime(o.valid_until_ms)},
      {"effect_report_to", o.effect_report_to},
      {"redress", o.redress},
  };
  if (!o.statement_of_reasons.empty()) {
    j["statement_of_reasons"] = o.statement_of_reasons;
  } else {
    j["statement_of_reasons_sha256"] = o.statement_of_reasons_sha256;
  }
  if (o.ip_from_ms && o.ip_to_ms) {
    j["ip_window"] = {{"from", FormatTime(*o.ip_from_ms)}, {"to", FormatTime(*o.ip_to_ms)}};
  }
  if (o.gag_until_ms) {
    j["gag_until"] = FormatTime(*o.gag_until_ms);
  }
  return j;
}

std::string CanonicalOrder(const Order& order) {
  auto c = Canonicalize(OrderToJson(order));
  return c.ok() ? std::move(*c) : std::string();
}

}  // namespace holdfast::legal
