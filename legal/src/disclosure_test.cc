#include "holdfast/legal/disclosure.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/sealed_box.h"
#include "holdfast/legal/jcs.h"
#include "test_fixtures.h"

namespace holdfast::legal {
namespace {

using testing::BaseOrder;
using testing::FakePersonalData;
using testing::kHour;
using testing::kNow;
using testing::SignedOrderFile;
using testing::TestAuthority;

constexpr int64_t kDay = 24 * kHour;

class DisclosureTest : public ::testing::Test {
 protected:
  DisclosureTest()
      : rng_(42),
        court_(TestAuthority::Make(rng_, "at-court-vienna", "AT")),
        foreign_(TestAuthority::Make(rng_, "xx-police", "XX")),
        operator_key_(crypto::Ed25519PrivateKey::Generate(rng_)) {
    policy_.version = 1;
    policy_.effective_from_ms = *ParseTime("2026-01-01");
    policy_.categories = {"terrorism", "fraud", "child_sexual_abuse_material"};
    policy_.countries = {"AT", "DE"};
    policy_.data_types = {DataType::kPhoneNumber, DataType::kIpRecords};
    policy_.max_ip_window_ms = 90 * kDay;
    policy_.ip_retention_ms = 7 * kDay;
    authorities_[court_.info.id] = court_.info;
    authorities_[foreign_.info.id] = foreign_.info;

    suspect_ =
        data_.Add(1, "+43660000001", {in_window_, open_now_, before_window_, beyond_retention_});
    bystander_ = data_.Add(2, "+43660000002", {{"198.51.100.99", 443, kNow - kHour, kNow}});
  }

  EngineResult Run(std::string_view file, int64_t now = kNow) {
    AuthorityLookup lookup = [this](std::string_view id) -> Result<std::optional<Authority>> {
      auto it = authorities_.find(std::string(id));
      if (it == authorities_.end()) {
        return std::optional<Authority>();
      }
      return std::optional<Authority>(it->second);
    };
    auto r = Decide(file, now, now, policy_, lookup, data_, rng_);
    EXPECT_TRUE(r.ok());
    return std::move(*r);
  }
  EngineResult Run(const Order& o) { return Run(SignedOrderFile(o, court_.sign)); }

  static std::set<Reason> Reasons(const EngineResult& r) {
    return {r.decision.reasons.begin(), r.decision.reasons.end()};
  }

  DeterministicRng rng_;
  TestAuthority court_;
  TestAuthority foreign_;
  crypto::Ed25519PrivateKey operator_key_;
  Policy policy_;
  std::map<std::string, Authority> authorities_;
  FakePersonalData data_;
  Bytes suspect_;
  Bytes bystander_;
  const IpRecordView in_window_{"203.0.113.7", 51000, kNow - 2 * kHour, kNow - kHour};
  const IpRecordView open_now_{"2001:db8::7", 40000, kNow - kHour / 2, std::nullopt};
  const IpRecordView before_window_{"203.0.113.8", 51001, kNow - 5 * kDay, kNow - 5 * kDay + kHour};
  const IpRecordView beyond_retention_{"203.0.113.9", 51002, kNow - 10 * kDay,
                                       kNow - 10 * kDay + kHour};
};

TEST_F(DisclosureTest, ValidOrderDisclosesExactlyPhoneAndIpRecordsInTheWindow) {
  auto r = Run(BaseOrder(court_.info.id));
  EXPECT_EQ(r.decision.outcome, Outcome::kFulfilled);
  EXPECT_TRUE(r.decision.reasons.empty());
  EXPECT_EQ(r.decision.accounts_named, 1u);
  EXPECT_EQ(r.decision.accounts_affected, 1u);
  ASSERT_TRUE(r.package.has_value());

  auto sealed = SealPackage(*r.package, operator_key_, court_.info.box_key, rng_);
  ASSERT_TRUE(sealed.ok());
  // Only the authority's box key opens it.
  EXPECT_EQ(OpenPackage(*sealed, foreign_.box, operator_key_.PublicKey()).error().code,
            ErrorCode::kAuthenticationFailed);
  auto opened = OpenPackage(*sealed, court_.box, operator_key_.PublicKey());
  ASSERT_TRUE(opened.ok());
  // A package signed by another operator key does not verify.
  EXPECT_EQ(OpenPackage(*sealed, court_.box, foreign_.sign.PublicKey()).error().code,
            ErrorCode::kAuthenticationFailed);

  const auto& pkg = *opened;
  EXPECT_EQ(pkg["order_id"], "ord-1");
  EXPECT_EQ(pkg["authority_id"], court_.info.id);
  ASSERT_EQ(pkg["targets"].size(), 1u);
  const auto& t = pkg["targets"][0];
  std::set<std::string> keys;
  for (const auto& [k, v] : t.items()) {
    keys.insert(k);
  }
  EXPECT_EQ(keys, (std::set<std::string>{"named_as", "phone_number", "ip_records"}));
  EXPECT_EQ(t["phone_number"], "+43660000001");
  ASSERT_EQ(t["ip_records"].size(), 2u);
  EXPECT_EQ(t["ip_records"][0]["ip"], "203.0.113.7");
  EXPECT_EQ(t["ip_records"][0]["port"], 51000);
  EXPECT_EQ(t["ip_records"][0]["start"], FormatTime(in_window_.start_ms));
  EXPECT_EQ(t["ip_records"][0]["end"], FormatTime(*in_window_.end_ms));
  EXPECT_EQ(t["ip_records"][1]["ip"], "2001:db8::7");
  EXPECT_TRUE(t["ip_records"][1]["end"].is_null());
  // Nothing from outside the window, nothing of the bystander's.
  const std::string text = pkg.dump();
  for (const char* absent : {"203.0.113.8", "203.0.113.9", "198.51.100.99", "+43660000002"}) {
    EXPECT_EQ(text.find(absent), std::string::npos) << absent;
  }
}

TEST_F(DisclosureTest, LogEntryHoldsNoPersonalDataAndCommitsToTheAccount) {
  auto r = Run(BaseOrder(court_.info.id));
  const auto entry = DecisionToLogEntry(r.decision);
  auto canonical = Canonicalize(entry);
  ASSERT_TRUE(canonical.ok());
  for (const std::string& absent :
       {std::string("+43660000001"), std::string("203.0.113.7"), std::string("2001:db8::7"),
        HexEncode(suspect_), std::string("ord-1"), std::string("attack")}) {
    EXPECT_EQ(canonical->find(absent), std::string::npos) << absent;
  }
  auto back = DecisionFromLogEntry(entry);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(DecisionToLogEntry(*back), entry);

  // The notice's salt, and only it, links the user to the entry.
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0].account_id, suspect_);
  EXPECT_EQ(r.notices[0].deliver_at_ms, kNow);  // no gag: at once
  ASSERT_EQ(r.decision.commitments.size(), 1u);
  EXPECT_EQ(Commitment(r.notices[0].salt, suspect_), r.decision.commitments[0]);
  EXPECT_NE(Commitment(r.notices[0].salt, bystander_), r.decision.commitments[0]);
  Bytes other_salt = r.notices[0].salt;
  other_salt[0] ^= 1;
  EXPECT_NE(Commitment(other_salt, suspect_), r.decision.commitments[0]);
}

TEST_F(DisclosureTest, GagDelaysTheNotice) {
  auto o = BaseOrder(court_.info.id);
  o.gag_until_ms = kNow + 60 * kDay;
  auto r = Run(o);
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0].deliver_at_ms, kNow + 60 * kDay);
  EXPECT_EQ(r.decision.gag_until_ms, kNow + 60 * kDay);
}

TEST_F(DisclosureTest, WindowBeforeRetentionIsClippedAndSaysSo) {
  auto o = BaseOrder(court_.info.id);
  o.ip_from_ms = kNow - 30 * kDay;  // reaches past the 7-day horizon
  auto r = Run(o);
  EXPECT_EQ(r.decision.outcome, Outcome::kPartiallyFulfilled);
  EXPECT_EQ(Reasons(r), std::set<Reason>{Reason::kDataOutsideRetention});
  ASSERT_TRUE(r.package && r.package->ip_from_ms);
  EXPECT_EQ(*r.package->ip_from_ms, kNow - policy_.ip_retention_ms);
  const auto& records = *r.package->targets[0].ip_records;
  ASSERT_EQ(records.size(), 3u);  // in window, open, and the one five days ago
  for (const auto& rec : records) {
    EXPECT_NE(rec.ip, beyond_retention_.ip);  // purged by policy even if a store still had it
  }

  o.ip_from_ms = kNow - 30 * kDay;
  o.ip_to_ms = kNow - 20 * kDay;  // entirely purged
  o.order_id = "ord-2";
  o.data_requested = {DataType::kIpRecords};
  auto gone = Run(o);
  EXPECT_EQ(gone.decision.outcome, Outcome::kRejected);
  EXPECT_EQ(Reasons(gone), std::set<Reason>{Reason::kDataOutsideRetention});
  EXPECT_FALSE(gone.package.has_value());
}

TEST_F(DisclosureTest, ContentIsNeverHeldAndIsCounted) {
  auto o = BaseOrder(court_.info.id);
  o.data_requested = {};
  o.content_requested = {"messages", "contacts", "groups"};
  o.ip_from_ms.reset();
  o.ip_to_ms.reset();
  auto only_content = Run(o);
  EXPECT_EQ(only_content.decision.outcome, Outcome::kRejected);
  EXPECT_EQ(Reasons(only_content), std::set<Reason>{Reason::kContentNotHeld});
  EXPECT_TRUE(only_content.decision.content_requested);
  EXPECT_FALSE(only_content.package.has_value());
  // Not even whether the number has an account is looked up.
  EXPECT_EQ(data_.lookups, 0);
  EXPECT_EQ(data_.ip_queries, 0);
  EXPECT_EQ(ReasonMessage(Reason::kContentNotHeld), "end-to-end encrypted: not held");

  o.data_requested = {DataType::kPhoneNumber};
  o.order_id = "ord-mixed";
  auto mixed = Run(o);
  EXPECT_EQ(mixed.decision.outcome, Outcome::kPartiallyFulfilled);
  EXPECT_EQ(Reasons(mixed), std::set<Reason>{Reason::kContentNotHeld});
  ASSERT_TRUE(mixed.package.has_value());
  EXPECT_EQ(mixed.package->not_held, o.content_requested);
  EXPECT_FALSE(mixed.package->targets[0].ip_records.has_value());
  const auto j = PackageToJson(*mixed.package);
  EXPECT_EQ(j["not_held_reason"], "end-to-end encrypted: not held");
}

TEST_F(DisclosureTest, TargetsNotFound) {
  auto o = BaseOrder(court_.info.id);
  o.targets = {OrderTarget{"+43660009999", {}}};
  auto none = Run(o);
  EXPECT_EQ(none.decision.outcome, Outcome::kRejected);
  EXPECT_EQ(Reasons(none), std::set<Reason>{Reason::kTargetNotFound});
  EXPECT_EQ(none.decision.accounts_named, 1u);
  EXPECT_EQ(none.decision.accounts_affected, 0u);

  o.targets = {OrderTarget{"+43660009999", {}}, OrderTarget{"", suspect_}};
  auto some = Run(o);
  EXPECT_EQ(some.decision.outcome, Outcome::kPartiallyFulfilled);
  EXPECT_EQ(some.decision.accounts_named, 2u);
  EXPECT_EQ(some.decision.accounts_affected, 1u);
  ASSERT_EQ(some.package->targets.size(), 1u);
  EXPECT_EQ(some.package->targets[0].named_as, HexEncode(suspect_));
  EXPECT_EQ(*some.package->targets[0].phone_number, "+43660000001");
}

TEST_F(DisclosureTest, EachRejectionReasonFromRealSignedOrders) {
  struct Case {
    const char* name;
    std::function<std::string()> file;
    Reason want;
  };
  auto signed_with_court = [this](std::function<void(Order&)> edit) {
    return [this, edit] {
      auto o = BaseOrder(court_.info.id);
      edit(o);
      return SignedOrderFile(o, court_.sign);
    };
  };
  std::vector<Case> cases = {
      {"unknown authority",
       [this] {
         auto o = BaseOrder("nobody");
         return SignedOrderFile(o, court_.sign);
       },
       Reason::kUnknownAuthority},
      {"signed by another key",
       [this] { return SignedOrderFile(BaseOrder(court_.info.id), foreign_.sign); },
       Reason::kBadSignature},
      {"edited after signing",
       [this] {
         auto file = nlohmann::json::parse(SignedOrderFile(BaseOrder(court_.info.id), court_.sign));
         file["order"]["targets"][0]["phone_number"] = "+43660000002";
         return file.dump();
       },
       Reason::kBadSignature},
      {"signed over non-canonical bytes",
       [this] {
         auto o = BaseOrder(court_.info.id);
         const std::string pretty = OrderToJson(o).dump(2);
         nlohmann::json file = {{"order", OrderToJson(o)},
                                {"signature", Base64Encode(court_.sign.Sign(AsBytes(pretty)))}};
         return file.dump();
       },
       Reason::kBadSignature},
      {"not yet valid", signed_with_court([](Order& o) {
         o.issued_ms = kNow + 2 * kDay;
         o.valid_until_ms = kNow + 9 * kDay;
       }),
       Reason::kNotYetValid},
      {"expired", signed_with_court([](Order& o) {
         o.issued_ms = kNow - 9 * kDay;
         o.valid_until_ms = kNow - kDay;
       }),
       Reason::kExpired},
      {"category", signed_with_court([](Order& o) { o.category = "money_laundering"; }),
       Reason::kCategoryNotAllowed},
      {"jurisdiction",
       [this] { return SignedOrderFile(BaseOrder(foreign_.info.id), foreign_.sign); },
       Reason::kJurisdictionNotAllowed},
      {"malformed json", [] { return std::string("{\"order\": {"); }, Reason::kMalformed},
      {"missing field",
       [this] {
         auto file = nlohmann::json::parse(SignedOrderFile(BaseOrder(court_.info.id), court_.sign));
         file["order"].erase("legal_basis");
         return file.dump();
       },
       Reason::kMalformed},
      {"unknown category name", signed_with_court([](Order& o) { o.category = "jaywalking"; }),
       Reason::kCategoryNotAllowed},
      {"duplicate member (no canonical form)",
       [this] {
         std::string file = SignedOrderFile(BaseOrder(court_.info.id), court_.sign);
         file.insert(file.find('{', 1) + 1, "\"category\":\"fraud\",");
         return file;
       },
       Reason::kNonCanonical},
      {"oversized", [] { return std::string(kMaxOrderBytes + 1, ' '); }, Reason::kOversized},
      {"too many targets", signed_with_court([](Order& o) {
         o.targets.clear();
         for (int i = 0; i < static_cast<int>(kMaxTargets) + 1; ++i) {
           o.targets.push_back(OrderTarget{"+4366010" + std::to_string(10000 + i), {}});
         }
       }),
       Reason::kOversized},
  };
  for (const auto& c : cases) {
    auto r = Run(c.file());
    EXPECT_EQ(r.decision.outcome, Outcome::kRejected) << c.name;
    EXPECT_EQ(Reasons(r), std::set<Reason>{c.want}) << c.name;
    EXPECT_FALSE(r.package.has_value()) << c.name;
    EXPECT_TRUE(r.notices.empty()) << c.name;
    // Every rejection still makes a log entry that reads back.
    EXPECT_TRUE(DecisionFromLogEntry(DecisionToLogEntry(r.decision)).ok()) << c.name;
  }
  EXPECT_EQ(data_.lookups, 0);
  EXPECT_EQ(data_.ip_queries, 0);
}

TEST_F(DisclosureTest, RevokedAndOutOfPeriodAuthorities) {
  authorities_[court_.info.id].revoked_ms = kNow - kDay;
  EXPECT_EQ(Reasons(Run(BaseOrder(court_.info.id))), std::set<Reason>{Reason::kAuthorityRevoked});
  authorities_[court_.info.id].revoked_ms.reset();
  authorities_[court_.info.id].valid_until_ms = kNow - kDay;
  EXPECT_EQ(Reasons(Run(BaseOrder(court_.info.id))), std::set<Reason>{Reason::kAuthorityNotValid});
}

TEST_F(DisclosureTest, PolicyLimitsDataTypesAndWindows) {
  policy_.data_types = {DataType::kPhoneNumber};
  auto r = Run(BaseOrder(court_.info.id));
  EXPECT_EQ(r.decision.outcome, Outcome::kPartiallyFulfilled);
  EXPECT_EQ(Reasons(r), std::set<Reason>{Reason::kDataTypeNotAllowed});
  EXPECT_FALSE(r.package->targets[0].ip_records.has_value());
  EXPECT_EQ(r.decision.data_disclosed, std::vector<DataType>{DataType::kPhoneNumber});

  policy_.data_types = {DataType::kPhoneNumber, DataType::kIpRecords};
  policy_.max_ip_window_ms = kDay;
  auto wide = Run(BaseOrder(court_.info.id));  // asks for three days
  EXPECT_EQ(wide.decision.outcome, Outcome::kPartiallyFulfilled);
  EXPECT_EQ(Reasons(wide), std::set<Reason>{Reason::kIpWindowExceedsPolicy});
  EXPECT_FALSE(wide.package->targets[0].ip_records.has_value());
}

TEST(PolicyTest, OnlyTheTwoDataTypesCanEverBeAllowed) {
  const std::string good = R"({"version":1,"effective_from":"2026-01-01T00:00:00Z",
    "categories":["terrorism"],"countries":["AT"],"data_types":["phone_number","ip_records"],
    "max_ip_window_days":90,"ip_retention_days":7})";
  auto p = ParsePolicy(good);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->data_types.size(), 2u);
  auto back = PolicyFromJson(PolicyToJson(*p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(PolicyToJson(*back), PolicyToJson(*p));

  for (const char* widened : {"messages", "contacts", "groups", "profile", "PHONE_NUMBER"}) {
    std::string bad = good;
    bad.replace(bad.find("\"ip_records\""), 12, std::string("\"") + widened + "\"");
    auto refused = ParsePolicy(bad);
    ASSERT_FALSE(refused.ok()) << widened;
    EXPECT_EQ(refused.error().code, ErrorCode::kMalformed);
  }
  for (const char* bad : {R"({"version":1})", "[]", "not json"}) {
    EXPECT_FALSE(ParsePolicy(bad).ok()) << bad;
  }
  std::string unknown_category = good;
  unknown_category.replace(unknown_category.find("terrorism"), 9, "jaywalking");
  EXPECT_FALSE(ParsePolicy(unknown_category).ok());
}

TEST(OrderTest, RoundTripsThroughItsCanonicalForm) {
  DeterministicRng rng(5);
  auto key = crypto::Ed25519PrivateKey::Generate(rng);
  auto o = BaseOrder("at-court-vienna");
  o.gag_until_ms = kNow + 5 * kDay;
  o.content_requested = {"messages"};
  auto parsed = ParseOrderFile(SignedOrderFile(o, key));
  ASSERT_FALSE(parsed.failure.has_value()) << parsed.detail;
  ASSERT_TRUE(parsed.order.has_value());
  EXPECT_EQ(CanonicalOrder(*parsed.order), CanonicalOrder(o));
  EXPECT_EQ(parsed.canonical, CanonicalOrder(o));
  EXPECT_TRUE(
      crypto::Ed25519Verify(key.PublicKey(), AsBytes(parsed.canonical), parsed.signature).ok());
}

TEST(OrderTest, FieldRules) {
  DeterministicRng rng(6);
  auto key = crypto::Ed25519PrivateKey::Generate(rng);
  auto failure = [&](std::function<void(nlohmann::json&)> edit) {
    auto file = nlohmann::json::parse(SignedOrderFile(BaseOrder("a"), key));
    edit(file["order"]);
    return ParseOrderFile(file.dump()).failure;
  };
  const auto malformed = std::optional<Reason>(Reason::kMalformed);
  EXPECT_EQ(failure([](auto& o) { o["extra"] = 1; }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["version"] = 2; }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["targets"] = nlohmann::json::array(); }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["targets"][0]["phone_number"] = "0660 1234"; }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["targets"].push_back(o["targets"][0]); }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["targets"][0] = {{"account_id", "zz"}}; }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["statement_of_reasons_sha256"] = std::string(64, 'a'); }),
            malformed);  // both the statement and its hash
  EXPECT_EQ(failure([](auto& o) { o.erase("ip_window"); }), malformed);  // ip_records asked
  EXPECT_EQ(failure([](auto& o) { o["ip_window"]["to"] = "2020-01-01"; }), malformed);
  EXPECT_EQ(failure([](auto& o) { o["issued_at"] = "2026-06-15T12:00:00+02:00"; }), malformed);
  EXPECT_EQ(failure([](auto& o) {
              o["data_requested"] = {"phone_number", "phone_number"};
            }),
            malformed);
  EXPECT_EQ(failure([](auto& o) { o["order_id"] = "has space"; }), malformed);
  EXPECT_EQ(failure([](auto&) {}), std::nullopt);
  EXPECT_EQ(ParseOrderFile(R"({"order":{},"signature":"AAAA","x":1})").failure, malformed);
  EXPECT_EQ(ParseOrderFile("\xef\xbb\xbf{}").failure.has_value(), true);
}

TEST(TimeTest, ParsesAndFormatsRfc3339Utc) {
  EXPECT_EQ(ParseTime("1970-01-01"), 0);
  EXPECT_EQ(ParseTime("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(ParseTime("2024-02-29T23:59:59.999Z"), 1709251199999);
  EXPECT_EQ(FormatTime(1709251199999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(FormatTime(1709251199000), "2024-02-29T23:59:59Z");
  for (const char* bad : {"2023-02-29", "2026-13-01", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00",
                          "2026-01-01T00:00:00+00:00", "2026-1-01", "", "1969-12-31"}) {
    EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
  }
  for (int64_t t : {int64_t{0}, kNow, kNow + 123, *ParseTime("2100-12-31T23:59:59Z")}) {
    EXPECT_EQ(ParseTime(FormatTime(t)), t);
  }
}

}  // namespace
}  // namespace holdfast::legal
