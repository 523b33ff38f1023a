#include "holdfast/legal/registry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "holdfast/common/clock.h"
#include "holdfast/common/sqlite.h"
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
    auto j = ParseStrictJson(
        std::string_view(reinterpret_cast<const char*>(entry.data()), entry.size()));
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
  auto bad_name = court_.info;
  bad_name.id = "other";
  bad_name.name = "\xff\xfe";
  EXPECT_EQ(reg->AddAuthority(bad_name).error().code, ErrorCode::kInvalidArgument);
  // No policy yet: orders cannot be decided.
  EXPECT_EQ(
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id), court_.sign), data_).error().code,
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
  EXPECT_TRUE(crypto::Ed25519Verify(reg->OperatorKey(),
                                    ContextMessage(kReceiptSignatureContext, AsBytes(*body)), *sig)
                  .ok());
  // Not under the package context: a receipt cannot pass for a package.
  EXPECT_FALSE(crypto::Ed25519Verify(reg->OperatorKey(),
                                     ContextMessage(kPackageSignatureContext, AsBytes(*body)), *sig)
                   .ok());

  // A forgery naming a real order id is decided on its own and does not take the id.
  DeterministicRng forger_rng(77);
  auto forger = crypto::Ed25519PrivateKey::Generate(forger_rng);
  auto forged =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "ord-9"), forger), data_);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->record.decision.reasons, std::vector<Reason>{Reason::kBadSignature});
  EXPECT_EQ(forged->record.order_id, "");
  auto genuine =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "ord-9"), court_.sign), data_);
  ASSERT_TRUE(genuine.ok());
  EXPECT_FALSE(genuine->replayed);
  EXPECT_EQ(genuine->record.order_id, "ord-9");
  EXPECT_EQ(genuine->record.decision.outcome, Outcome::kFulfilled);

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
  auto late =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "ord-2"), court_.sign), data_);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->record.decision.reasons, std::vector<Reason>{Reason::kAuthorityRevoked});

  auto entries = reg->LogEntries();
  ASSERT_TRUE(entries.ok());
  std::vector<std::string> types;
  for (const auto& e : *entries) {
    types.push_back(EntryType(e));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"authority", "policy", "decision", "decision",
                                             "decision", "decision", "authority", "decision"}));
  auto orders = reg->Orders();
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 5u);
  EXPECT_EQ((*orders)[0].order_id, "ord-1");
  for (size_t i = 0; i < orders->size(); ++i) {
    EXPECT_EQ((*orders)[i].seq, static_cast<int64_t>(i + 1));  // not a notice's row id
  }
  EXPECT_EQ((*orders)[4].log_index, 7u);

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
  EXPECT_EQ(orders2->size(), 5u);
  auto log = reopened->LogEntries();
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 8u);
}

TEST_F(RegistryTest, AnOrderInterruptedByACrashIsLoggedExactlyOnce) {
  auto reg = Open();
  ASSERT_TRUE(reg);
  ASSERT_TRUE(reg->AddAuthority(court_.info).ok());
  ASSERT_TRUE(reg->SetPolicy(MakePolicy(1)).ok());
  auto first =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "a"), court_.sign), data_);
  auto second =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "b"), court_.sign), data_);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(reg->LogEntries()->size(), 4u);
  reg.reset();
  auto db = SqliteDb::Open(dir_ + "/legal/legal.db");
  ASSERT_TRUE(db.ok());
  // "b" died after its entry was appended but before its index was recorded.
  ASSERT_TRUE(db->Exec("UPDATE orders SET log_index = NULL WHERE order_id = 'b'").ok());
  ASSERT_TRUE(db->Exec("UPDATE notices SET log_index = NULL WHERE order_seq = 2").ok());
  reg = Open();
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->Orders()->size(), 1u);  // a pending order is not listed as logged
  auto third =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "c"), court_.sign), data_);
  ASSERT_TRUE(third.ok());
  auto log = reg->LogEntries();
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 5u);  // "b" was not appended again
  auto orders = reg->Orders();
  ASSERT_TRUE(orders.ok());
  ASSERT_EQ(orders->size(), 3u);
  EXPECT_EQ((*orders)[1].log_index, 3u);
  EXPECT_EQ((*orders)[2].log_index, 4u);
  auto notices = reg->DueNotices(kNow + 1, 10);
  ASSERT_TRUE(notices.ok());
  EXPECT_EQ(notices->size(), 3u);  // "b"'s notice is back, with its index

  // "d" died before its entry reached the log (a pending row whose decision is not the
  // log's last entry): the next submission appends it first.
  reg.reset();
  ASSERT_TRUE(db->Exec("INSERT INTO orders (authority_id, order_id, order_hash, decision, receipt, "
                       "log_index) SELECT authority_id, 'd', order_hash, "
                       "replace(decision, '\"accounts_named\":1', '\"accounts_named\":2'), "
                       "receipt, NULL FROM orders WHERE order_id = 'c'")
                  .ok());
  reg = Open();
  ASSERT_TRUE(reg);
  auto fourth =
      reg->SubmitOrder(SignedOrderFile(BaseOrder(court_.info.id, "e"), court_.sign), data_);
  ASSERT_TRUE(fourth.ok());
  log = reg->LogEntries();
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 7u);  // "d" appended by recovery, then "e"
  auto recovered = ParseStrictJson(
      std::string_view(reinterpret_cast<const char*>((*log)[5].data()), (*log)[5].size()));
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ((*recovered)["accounts_named"], 2);
  EXPECT_EQ(fourth->record.log_index, 6u);
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
