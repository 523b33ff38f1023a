#include "holdfast/legal/registry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "holdfast/common/clock.h"
#include "holdfast/crypto/sealed_box.h"
#include "holdfast/legal/jcs.h"
#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/merkle.h"
#include "test_fixtures.h"

namespace holdfast::legal {
namespace {

using testing::BaseOrder;
using testing::FakePersonalData;
using testing::kHour;
using testing::kNow;
using testing::SignedOrderFile;
using testing::TestAuthority;

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest()
      : clock_(FromUnixMillis(kNow)),
        rng_(9),
        court_(TestAuthority::Make(rng_, "at-court-vienna", "AT")) {
    std::string tmpl = ::testing::TempDir() + "/legal-registry-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
    data_.Add(1, "+43660000001", {{"203.0.113.7", 51000, kNow - 2 * kHour, kNow - kHour}});
  }
  ~RegistryTest() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  std::unique_ptr<Registry> Open() {
    auto r = Registry::Open(dir_, clock_, rng_);
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(*r) : nullptr;
  }

  static Policy MakePolicy(uint32_t version) {
    Policy p;
    p.version = version;
    p.effective_from_ms = *ParseTime("2026-01-01");
    p.categories = {"terrorism"};
    p.countries = {"AT"};
    p.data_types = {DataType::kPhoneNumber, DataType::kIpRecords};
    p.max_ip_window_ms = 30 * kDayMs;
    return p;
  }

  static std::string EntryType(const Bytes& entry) {
    auto j = ParseStrictJson(std::string_view(reinterpret_cast<const char*>(entry.data()),
                                              entry.size()));
    return j.ok() ? (*j)["type"].get<std::string>() : "";
  }

  ManualClock clock_;
  DeterministicRng rng_;
  TestAuthority court_;
  std::string dir_;
  FakePersonalData data_;
};

TEST_F(RegistryTest, EveryChangeAndDecisionIsLogged) {
  ASSERT_FALSE(dir_.empty());
  auto reg = Open();
  ASSERT_TRUE(reg);
  auto added = reg->AddAuthority(court_.info);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, 0u);
  EXPECT_EQ(reg->AddAuthority(court_.info).error().code, ErrorCode::kAlreadyExists);
  // No policy yet: orders cannot be decided.
  EXPECT_EQ(reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id), court_.sign), data_)
                .error()
                .code,
            ErrorCode::kNotFound);
  ASSERT_TRUE(reg->SetPolicy(MakePolicy(1)).ok());
  EXPECT_EQ(reg->SetPolicy(MakePolicy(1)).error().code, ErrorCode::kInvalidArgument);

  const std::string file = SignedOrderFile(BaseOrder(court_.info.id), court_.sign);
  auto first = reg->SubmitOrder(file, data_);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->record.decision.outcome, Outcome::kFulfilled);
  EXPECT_EQ(first->record.log_index, 2u);
  ASSERT_TRUE(first->sealed_package.has_value());
  auto opened = OpenPackage(*first->sealed_package, court_.box, reg->OperatorKey());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ((*opened)["targets"][0]["phone_number"], "+43660000001");

  // The receipt is signed by the operator over its JCS body.
  auto receipt = ParseStrictJson(first->record.receipt);
  ASSERT_TRUE(receipt.ok());
  auto body = Canonicalize((*receipt)["receipt"]);
  auto sig = Base64Decode((*receipt)["signature"].get<std::string>());
  ASSERT_TRUE(body.ok() && sig.ok());
  EXPECT_TRUE(crypto::Ed25519Verify(reg->OperatorKey(), AsBytes(*body), *sig).ok());

  // A replay (same authority and order id, even re-signed with other content) writes nothing.
  auto edited = BaseOrder(court_.info.id);
  edited.category = "fraud";
  auto replay = reg->SubmitOrder(SignedOrderFile(edited, court_.sign), data_);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_FALSE(replay->sealed_package.has_value());
  EXPECT_EQ(replay->record.log_index, first->record.log_index);
  auto again = reg->SubmitOrder(file, data_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  // Garbage twice is one decision too.
  auto junk1 = reg->SubmitOrder("{not json", data_);
  auto junk2 = reg->SubmitOrder("{not json", data_);
  ASSERT_TRUE(junk1.ok() && junk2.ok());
  EXPECT_FALSE(junk1->replayed);
  EXPECT_TRUE(junk2->replayed);
  EXPECT_EQ(junk1->record.decision.reasons, std::vector<Reason>{Reason::kMalformed});

  ASSERT_TRUE(reg->RevokeAuthority(court_.info.id).ok());
  EXPECT_EQ(reg->RevokeAuthority(court_.info.id).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(reg->RevokeAuthority("nobody").error().code, ErrorCode::kNotFound);
  clock_.Advance(std::chrono::minutes(1));
  auto late = reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "ord-2"), court_.sign),
                               data_);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->record.decision.reasons, std::vector<Reason>{Reason::kAuthorityRevoked});

  auto entries = reg->LogEntries();
  ASSERT_TRUE(entries.ok());
  std::vector<std::string> types;
  for (const auto& e : *entries) {
    types.push_back(EntryType(e));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"authority", "policy", "decision", "decision",
                                             "authority", "decision"}));
  auto orders = reg->Orders();
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 3u);
  EXPECT_EQ((*orders)[0].order_id, "ord-1");
  EXPECT_EQ((*orders)[2].log_index, 5u);

  // Reopened from disk: the same state, and the checkpoint verifies under log.vkey.
  reg.reset();
  auto reopened = Open();
  ASSERT_TRUE(reopened);
  auto authorities = reopened->Authorities();
  ASSERT_TRUE(authorities.ok());
  ASSERT_EQ(authorities->size(), 1u);
  EXPECT_TRUE((*authorities)[0].revoked_ms.has_value());
  auto orders2 = reopened->Orders();
  ASSERT_TRUE(orders2.ok());
  EXPECT_EQ(orders2->size(), 3u);
  auto log = reopened->LogEntries();
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 6u);
}

TEST_F(RegistryTest, PolicyVersionsTakeEffectOnTheirDate) {
  auto reg = Open();
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->SetPolicy(MakePolicy(1)).ok());
  auto next = MakePolicy(2);
  next.effective_from_ms = kNow + 10 * kDayMs;
  next.categories = {"terrorism", "fraud"};
  ASSERT_TRUE(reg->SetPolicy(next).ok());
  auto now = reg->CurrentPolicy(kNow);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->version, 1u);
  auto later = reg->CurrentPolicy(kNow + 11 * kDayMs);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->version, 2u);
  EXPECT_EQ(reg->CurrentPolicy(*ParseTime("2025-01-01")).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace holdfast::legal
