// The report over a scripted year of orders from several countries, against counts worked
// out by hand from the script below.
#include "holdfast/legal/report.h"

#include <gtest/gtest.h>

#include <map>

#include "holdfast/legal/jcs.h"
#include "test_fixtures.h"

namespace holdfast::legal {
namespace {

using testing::BaseOrder;
using testing::FakePersonalData;
using testing::SignedOrderFile;
using testing::TestAuthority;

class ReportTest : public ::testing::Test {
 protected:
  ReportTest()
      : rng_(11),
        at_(TestAuthority::Make(rng_, "at-court", "AT")),
        de_(TestAuthority::Make(rng_, "de-court", "DE")),
        xx_(TestAuthority::Make(rng_, "xx-police", "XX")) {
    policy_.version = 1;
    policy_.categories = {"terrorism", "fraud"};
    policy_.countries = {"AT", "DE"};
    policy_.data_types = {DataType::kPhoneNumber, DataType::kIpRecords};
    policy_.max_ip_window_ms = 90 * kDayMs;
    for (auto* a : {&at_, &de_, &xx_}) {
      a->info.valid_from_ms = *ParseTime("2025-01-01");
      a->info.valid_until_ms = *ParseTime("2030-01-01");
      authorities_[a->info.id] = a->info;
    }
    data_.Add(1, "+43660000001", {});
    data_.Add(2, "+49150000002", {});
    data_.Add(3, "+43660000003", {});
  }

  // Decide one order decided at `day` (YYYY-MM-DD, noon) and received `wait_s` earlier;
  // the decision's log entry is kept.
  void Script(const std::string& day, int wait_s, const TestAuthority& signer,
              std::function<void(Order&)> edit) {
    const int64_t decided = *ParseTime(day) + 12 * 3600 * 1000;
    auto o = BaseOrder(signer.info.id, "ord-" + day);
    o.issued_ms = decided - 86400000;
    o.valid_until_ms = decided + 86400000;
    o.ip_from_ms = decided - 3 * 86400000;
    o.ip_to_ms = decided;
    edit(o);
    AuthorityLookup lookup = [this](std::string_view id) -> Result<std::optional<Authority>> {
      auto it = authorities_.find(std::string(id));
      return it == authorities_.end() ? std::optional<Authority>()
                                      : std::optional<Authority>(it->second);
    };
    auto r = Decide(SignedOrderFile(o, signer.sign), decided - wait_s * 1000, decided, policy_,
                    lookup, data_, rng_);
    ASSERT_TRUE(r.ok());
    auto bytes = Canonicalize(DecisionToLogEntry(r->decision));
    ASSERT_TRUE(bytes.ok());
    entries_.emplace_back(bytes->begin(), bytes->end());
  }

  DeterministicRng rng_;
  TestAuthority at_, de_, xx_;
  Policy policy_;
  std::map<std::string, Authority> authorities_;
  FakePersonalData data_;
  std::vector<Bytes> entries_;
};

TEST_F(ReportTest, ScriptedYearMatchesHandCounts) {
  // An authority entry and a policy entry are in the log too; reports skip them.
  auto authority_entry = Canonicalize(nlohmann::json{{"type", "authority"},
                                                     {"v", 1},
                                                     {"action", "add"},
                                                     {"at", "2026-01-01T00:00:00Z"},
                                                     {"authority", AuthorityToJson(at_.info)}});
  entries_.emplace_back(authority_entry->begin(), authority_entry->end());

  // Jan: AT, one target found -> fulfilled.
  Script("2026-01-10", 10, at_, [](Order&) {});
  // Feb: DE, two targets, one exists -> partially (target_not_found).
  Script("2026-02-05", 20, de_, [](Order& o) {
    o.targets = {OrderTarget{"+49150000002", {}}, OrderTarget{"+49150009999", {}}};
  });
  // Mar: XX is not an allowed jurisdiction -> rejected.
  Script("2026-03-03", 30, xx_, [](Order&) {});
  // Apr: AT asks only for content -> rejected content_not_held.
  Script("2026-04-01", 40, at_, [](Order& o) {
    o.data_requested = {};
    o.content_requested = {"messages"};
    o.ip_from_ms.reset();
    o.ip_to_ms.reset();
  });
  // May: AT asks for the phone number and messages -> partially (content_not_held).
  Script("2026-05-20", 50, at_, [](Order& o) {
    o.data_requested = {DataType::kPhoneNumber};
    o.content_requested = {"messages"};
  });
  // Jun: an order in DE's name signed with AT's key -> rejected bad_signature.
  Script("2026-06-02", 60, at_, [this](Order& o) { o.authority_id = de_.info.id; });
  // Jul: an unregistered authority -> rejected unknown_authority, country unknown.
  Script("2026-07-09", 70, at_, [](Order& o) { o.authority_id = "nobody"; });
  // Dec: AT, two targets, both exist -> fulfilled.
  Script("2026-12-30", 80, at_, [](Order& o) {
    o.targets = {OrderTarget{"+43660000001", {}}, OrderTarget{"+43660000003", {}}};
  });
  // Jan next year: outside the report.
  Script("2027-01-02", 90, at_, [](Order&) {});

  auto report = ComputeReport(entries_, *ParseTime("2026-01-01"), *ParseTime("2027-01-01"), "root");
  ASSERT_TRUE(report.ok());
  const auto j = ReportToJson(*report);
  const auto& t = j["total"];
  EXPECT_EQ(t["orders_received"], 8);
  EXPECT_EQ(t["fulfilled"], 2);
  EXPECT_EQ(t["partially_fulfilled"], 2);
  EXPECT_EQ(t["rejected"], 4);
  EXPECT_EQ(t["rejected_by_reason"], (nlohmann::json{{"bad_signature", 1},
                                                     {"content_not_held", 1},
                                                     {"jurisdiction_not_allowed", 1},
                                                     {"unknown_authority", 1}}));
  EXPECT_EQ(t["reasons"]["content_not_held"], 2);
  EXPECT_EQ(t["reasons"]["target_not_found"], 1);
  EXPECT_EQ(t["accounts_named"], 10);    // 1 + 2 + 1 + 1 + 1 + 1 + 1 + 2
  EXPECT_EQ(t["accounts_affected"], 5);  // Jan 1, Feb 1, May 1, Dec 2
  EXPECT_EQ(t["content_requests_received"], 2);
  EXPECT_EQ(t["content_requests_fulfilled"], 0);
  EXPECT_EQ(t["median_seconds_to_effect"], 45.0);  // 10 20 30 40 | 50 60 70 80
  EXPECT_EQ(t["median_seconds_to_acknowledge"], 0.0);

  const auto& at = j["countries"]["AT"];
  EXPECT_EQ(at["orders_received"], 4);  // Jan, Apr, May, Dec
  EXPECT_EQ(at["fulfilled"], 2);
  EXPECT_EQ(at["partially_fulfilled"], 1);
  EXPECT_EQ(at["rejected"], 1);
  EXPECT_EQ(at["accounts_affected"], 4);
  EXPECT_EQ(at["median_seconds_to_effect"], 45.0);  // 10 40 | 50 80
  const auto& de = j["countries"]["DE"];
  EXPECT_EQ(de["orders_received"], 2);
  EXPECT_EQ(de["partially_fulfilled"], 1);
  EXPECT_EQ(de["rejected_by_reason"], (nlohmann::json{{"bad_signature", 1}}));
  EXPECT_EQ(de["median_seconds_to_effect"], 40.0);  // 20 | 60
  EXPECT_EQ(j["countries"]["XX"]["rejected_by_reason"],
            (nlohmann::json{{"jurisdiction_not_allowed", 1}}));
  EXPECT_EQ(j["countries"]["unknown"]["orders_received"], 1);
  EXPECT_EQ(j["countries"].size(), 4u);

  EXPECT_EQ(j["months"].size(), 8u);
  EXPECT_EQ(j["months"]["2026-12"]["AT"]["accounts_affected"], 2);
  EXPECT_FALSE(j["months"].contains("2027-01"));
  EXPECT_EQ(j["checkpoint"]["tree_size"], 10);

  // The same entries give the same report; an edited one is named field by field.
  auto again = ComputeReport(entries_, *ParseTime("2026-01-01"), *ParseTime("2027-01-01"), "root");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(CompareReports(j, ReportToJson(*again)).empty());
  auto edited = j;
  edited["total"]["fulfilled"] = 3;
  edited["countries"]["XX"]["rejected"] = 0;
  const auto diffs = CompareReports(edited, ReportToJson(*again));
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(diffs[0], "/countries/XX/rejected: published 0, recomputed 1");
  EXPECT_EQ(diffs[1], "/total/fulfilled: published 3, recomputed 2");

  // CSV and HTML carry the same figures.
  const std::string csv = ReportToCsv(*report);
  EXPECT_NE(csv.find("\ntotal,all,8,2,2,4,10,5,2,0,0.0,45.0,"), std::string::npos) << csv;
  const std::string html = ReportToHtml(*report);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Content requests received: 2. Fulfilled: 0."), std::string::npos);
}

TEST_F(ReportTest, UnreadableEntryFailsTheReport) {
  entries_.push_back(Bytes{'{', '}'});
  EXPECT_EQ(ComputeReport(entries_, 0, INT64_MAX, "").error().code, ErrorCode::kMalformed);
  entries_.back() = Bytes{'{', '"', 't', 'y', 'p', 'e', '"', ':', '"', 'x', '"', '}'};
  EXPECT_EQ(ComputeReport(entries_, 0, INT64_MAX, "").error().code, ErrorCode::kMalformed);
}

}  // namespace
}  // namespace holdfast::legal
