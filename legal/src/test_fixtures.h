// Shared test fixtures for legal/: an in-memory PersonalData, authorities with real keys,
// and signed orders built the way an authority's tooling would build them.
#ifndef HOLDFAST_LEGAL_SRC_TEST_FIXTURES_H_
#define HOLDFAST_LEGAL_SRC_TEST_FIXTURES_H_

#include <map>
#include <string>
#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/legal/disclosure.h"
#include "holdfast/legal/order.h"

namespace holdfast::legal::testing {

// Times used throughout: the tests run "now" at kNow.
inline const int64_t kNow = *ParseTime("2026-06-15T12:00:00Z");
inline const int64_t kHour = 3600 * 1000;

class FakePersonalData final : public PersonalData {
 public:
  struct Account {
    AccountRef ref;
    std::vector<IpRecordView> records;
  };
  // Add makes an account with id byte `tag` repeated, and returns its id.
  Bytes Add(uint8_t tag, std::string phone, std::vector<IpRecordView> records) {
    Account a;
    a.ref.id = Bytes(kAccountIdBytes, tag);
    a.ref.phone_number = std::move(phone);
    a.records = std::move(records);
    accounts_.push_back(a);
    return a.ref.id;
  }
  Result<std::optional<AccountRef>> ByPhone(std::string_view e164) override {
    ++lookups;
    for (const auto& a : accounts_) {
      if (a.ref.phone_number == e164) {
        return std::optional<AccountRef>(a.ref);
      }
    }
    return std::optional<AccountRef>();
  }
  Result<std::optional<AccountRef>> ById(ByteSpan id) override {
    ++lookups;
    for (const auto& a : accounts_) {
      if (ByteSpan(a.ref.id).size() == id.size() &&
          std::equal(id.begin(), id.end(), a.ref.id.begin())) {
        return std::optional<AccountRef>(a.ref);
      }
    }
    return std::optional<AccountRef>();
  }
  Result<std::vector<IpRecordView>> IpRecords(ByteSpan id, int64_t from, int64_t to) override {
    ++ip_queries;
    std::vector<IpRecordView> out;
    for (const auto& a : accounts_) {
      if (!std::equal(id.begin(), id.end(), a.ref.id.begin())) {
        continue;
      }
      for (const auto& r : a.records) {
        if (r.start_ms <= to && r.end_ms.value_or(INT64_MAX) >= from) {
          out.push_back(r);
        }
      }
    }
    return out;
  }
  int ip_queries = 0;
  int lookups = 0;

 private:
  std::vector<Account> accounts_;
};

// TestAuthority is an authority with its private keys, as the authority would hold them.
struct TestAuthority {
  Authority info;
  crypto::Ed25519PrivateKey sign;
  crypto::X25519PrivateKey box;

  static TestAuthority Make(Rng& rng, std::string id, std::string country) {
    auto sign = crypto::Ed25519PrivateKey::Generate(rng);
    auto box = crypto::X25519PrivateKey::Generate(rng);
    Authority a;
    a.id = std::move(id);
    a.name = "Court of " + a.id;
    a.country = std::move(country);
    a.kind = AuthorityKind::kCourt;
    a.sign_key = sign.PublicKey();
    a.box_key = box.PublicKey();
    a.valid_from_ms = *ParseTime("2026-01-01");
    a.valid_until_ms = *ParseTime("2027-01-01");
    return TestAuthority{std::move(a), std::move(sign), std::move(box)};
  }
};

// BaseOrder is a valid order from `authority_id` for +43660000001's phone and IP records
// of the last three days.
inline Order BaseOrder(const std::string& authority_id, const std::string& order_id = "ord-1") {
  Order o;
  o.order_id = order_id;
  o.authority_id = authority_id;
  o.legal_basis = "Section 135 Code of Criminal Procedure";
  o.statement_of_reasons = "Suspected of planning an attack.";
  o.targets.push_back(OrderTarget{"+43660000001", {}});
  o.category = "terrorism";
  o.data_requested = {DataType::kPhoneNumber, DataType::kIpRecords};
  o.ip_from_ms = kNow - 72 * kHour;
  o.ip_to_ms = kNow;
  o.issued_ms = kNow - kHour;
  o.valid_until_ms = kNow + 30 * 24 * kHour;
  o.effect_report_to = "mailto:registry@court.example";
  o.redress = "Objection to the issuing court within 14 days.";
  return o;
}

// SignedOrderFile signs JCS(order) with `key` and returns the file form.
inline std::string SignedOrderFile(const Order& o, const crypto::Ed25519PrivateKey& key) {
  const std::string canonical = CanonicalOrder(o);
  nlohmann::json file = {{"order", OrderToJson(o)},
                         {"signature", Base64Encode(key.Sign(AsBytes(canonical)))}};
  return file.dump();
}

}  // namespace holdfast::legal::testing

#endif  // HOLDFAST_LEGAL_SRC_TEST_FIXTURES_H_
