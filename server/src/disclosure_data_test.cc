// Lawful disclosure over the server's real SQLite stores: a valid order yields exactly the
// suspect's phone number and the IP records inside its window; records outside the window,
// records the server has purged and everything else the server holds stay out.
#include "holdfast/server/disclosure_data.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "holdfast/common/clock.h"
#include "holdfast/common/encoding.h"
#include "holdfast/legal/jcs.h"
#include "holdfast/legal/registry.h"

namespace holdfast::server {
namespace {

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;

class DisclosureDataTest : public ::testing::Test {
 protected:
  DisclosureDataTest()
      : now_(*legal::ParseTime("2026-06-15T12:00:00Z")), clock_(FromUnixMillis(now_)), rng_(3) {
    std::string tmpl = ::testing::TempDir() + "/disclosure-data-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~DisclosureDataTest() override { std::filesystem::remove_all(dir_); }

  Account MakeAccount(uint8_t tag, std::string phone) {
    Account a;
    a.id.fill(tag);
    a.phone = std::move(phone);
    a.access_key = Bytes(16, 0xAA);
    a.created_ms = now_ - 100 * kDay;
    return a;
  }

  void Connection(Storage& s, const Account& a, std::string ip, uint16_t port, int64_t start,
                  std::optional<int64_t> end) {
    IpRecord r;
    r.account = a.id;
    r.device = 1;
    r.ip = std::move(ip);
    r.port = port;
    r.start_ms = start;
    auto id = s.ip_records().Open(r);
    ASSERT_TRUE(id.ok());
    if (end) {
      ASSERT_TRUE(s.ip_records().Close(*id, *end).ok());
    }
  }

  int64_t now_;
  ManualClock clock_;
  DeterministicRng rng_;
  std::string dir_;
};

TEST_F(DisclosureDataTest, PackageHoldsOnlyThePhoneAndTheRecordsInTheWindow) {
  ASSERT_FALSE(dir_.empty());
  auto storage = OpenSqliteStorage(dir_ + "/holdfast.db");
  ASSERT_TRUE(storage.ok());
  Storage& s = **storage;
  const Account suspect = MakeAccount(1, "+43660000001");
  const Account other = MakeAccount(2, "+43660000002");
  ASSERT_TRUE(s.accounts().Create(suspect).ok());
  ASSERT_TRUE(s.accounts().Create(other).ok());
  Connection(s, suspect, "203.0.113.7", 51000, now_ - 2 * kHour, now_ - kHour);
  Connection(s, suspect, "2001:db8::7", 40000, now_ - kHour / 2, std::nullopt);
  Connection(s, suspect, "203.0.113.8", 51001, now_ - 5 * kDay, now_ - 5 * kDay + kHour);
  Connection(s, suspect, "203.0.113.9", 51002, now_ - 20 * kDay, now_ - 20 * kDay + kHour);
  Connection(s, other, "198.51.100.99", 443, now_ - kHour, now_);
  // The server's retention purge (7 days) has run: the 20-day-old record is gone for good.
  auto purged = s.ip_records().PurgeEndedBefore(now_ - 7 * kDay);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1u);

  auto reg = legal::Registry::Open(dir_, clock_, rng_);
  ASSERT_TRUE(reg.ok());
  auto sign = crypto::Ed25519PrivateKey::Generate(rng_);
  auto box = crypto::X25519PrivateKey::Generate(rng_);
  legal::Authority court;
  court.id = "at-court";
  court.name = "Landesgericht";
  court.country = "AT";
  court.sign_key = sign.PublicKey();
  court.box_key = box.PublicKey();
  court.valid_from_ms = now_ - 100 * kDay;
  court.valid_until_ms = now_ + 100 * kDay;
  ASSERT_TRUE((*reg)->AddAuthority(court).ok());
  legal::Policy policy;
  policy.version = 1;
  policy.effective_from_ms = now_ - kDay;
  policy.categories = {"terrorism"};
  policy.countries = {"AT"};
  policy.data_types = {legal::DataType::kPhoneNumber, legal::DataType::kIpRecords};
  policy.max_ip_window_ms = 90 * kDay;
  policy.ip_retention_ms = 7 * kDay;
  ASSERT_TRUE((*reg)->SetPolicy(policy).ok());

  legal::Order o;
  o.order_id = "LG-2026-1";
  o.authority_id = court.id;
  o.legal_basis = "StPO 135";
  o.statement_of_reasons_sha256 = std::string(64, 'a');
  o.targets = {legal::OrderTarget{"+43660000001", {}}};
  o.category = "terrorism";
  o.data_requested = {legal::DataType::kPhoneNumber, legal::DataType::kIpRecords};
  o.content_requested = {"messages"};
  o.ip_from_ms = now_ - 3 * kDay;
  o.ip_to_ms = now_;
  o.issued_ms = now_ - kHour;
  o.valid_until_ms = now_ + 10 * kDay;
  o.effect_report_to = "mailto:court@example.at";
  o.redress = "appeal";
  const std::string canonical = legal::CanonicalOrder(o);
  const nlohmann::json file = {{"order", legal::OrderToJson(o)},
                               {"signature", Base64Encode(sign.Sign(AsBytes(canonical)))}};

  auto data = NewDisclosureData(s);
  auto result = (*reg)->SubmitOrder(file.dump(), *data);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->record.decision.outcome, legal::Outcome::kPartiallyFulfilled);
  EXPECT_EQ(result->record.decision.reasons,
            std::vector<legal::Reason>{legal::Reason::kContentNotHeld});
  ASSERT_TRUE(result->sealed_package.has_value());
  auto pkg = legal::OpenPackage(*result->sealed_package, box, (*reg)->OperatorKey());
  ASSERT_TRUE(pkg.ok());
  const auto& t = (*pkg)["targets"];
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0]["phone_number"], "+43660000001");
  ASSERT_EQ(t[0]["ip_records"].size(), 2u);
  EXPECT_EQ(t[0]["ip_records"][0]["ip"], "203.0.113.7");
  EXPECT_EQ(t[0]["ip_records"][1]["ip"], "2001:db8::7");
  EXPECT_TRUE(t[0]["ip_records"][1]["end"].is_null());
  const std::string text = pkg->dump();
  for (const std::string& absent :
       {std::string("203.0.113.8"), std::string("203.0.113.9"), std::string("198.51.100.99"),
        std::string("+43660000002"), HexEncode(suspect.id), HexEncode(suspect.access_key)}) {
    EXPECT_EQ(text.find(absent), std::string::npos) << absent;
  }
  EXPECT_EQ((*pkg)["not_held"], nlohmann::json::array({"messages"}));
}

}  // namespace
}  // namespace holdfast::server
