#include "holdfast/client/local_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "holdfast/common/encoding.h"
#include "holdfast/common/sqlite.h"

namespace holdfast::client {
namespace {

// Small Argon2id costs keep the tests quick; the format is the same.
constexpr crypto::Argon2idParams kTestKdf{1, 64 * 1024};

StoreSecret Passphrase(std::string_view p) {
  return StoreSecret{StoreSecret::Kind::kPassphrase, SecretBytes::Copy(AsBytes(p))};
}

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "local_store_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/store.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string ReadAll() {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(e.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), {});
    }
    return all;
  }
  std::string dir_, path_;
};

TEST_F(LocalStoreTest, RecordsRoundTripAndTheFileHoldsNoneOfThemInTheClear) {
  auto store = LocalStore::Create(path_, Passphrase("correct horse"), kTestKdf);
  ASSERT_TRUE(store.ok()) << ErrorName(store.code());
  const std::string secret_value = "PLAINTEXT-MESSAGE-a1b2c3d4e5";
  const std::string secret_key = "KEYNAME-contact-+14155550123";
  ASSERT_TRUE((*store)->Put("contacts", secret_key, AsBytes(secret_value)).ok());
  ASSERT_TRUE((*store)->Put("contacts", "another", AsBytes("v2")).ok());
  ASSERT_TRUE((*store)->Put("other", "another", AsBytes("v3")).ok());
  auto got = (*store)->Get("contacts", secret_key);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*got)->data()), (*got)->size()), secret_value);
  auto keys = (*store)->Keys("contacts");
  ASSERT_TRUE(keys.ok());
  // Ascending byte order: 'K' (0x4b) before 'a' (0x61).
  EXPECT_EQ(*keys, (std::vector<std::string>{"KEYNAME-contact-+14155550123", "another"}));
  auto other = (*store)->Get("other", "another");
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->size(), 2u);
  ASSERT_TRUE((*store)->Delete("other", "another").ok());
  EXPECT_FALSE((*(*store)->Get("other", "another")).has_value());
  store->reset();

  const std::string all = ReadAll();
  for (const std::string& needle : {secret_value, secret_key, std::string("contacts"),
                                    std::string("+14155550123")}) {
    EXPECT_EQ(all.find(needle), std::string::npos) << needle << " is in the file";
    EXPECT_EQ(all.find(HexEncode(AsBytes(needle))), std::string::npos);
    EXPECT_EQ(all.find(Base64Encode(AsBytes(needle))), std::string::npos);
  }
}

TEST_F(LocalStoreTest, WrongPassphraseIsAClearErrorAndTheRightOneOpens) {
  {
    auto store = LocalStore::Create(path_, Passphrase("right"), kTestKdf);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Put("t", "k", AsBytes("v")).ok());
  }
  auto wrong = LocalStore::Open(path_, Passphrase("wrong"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.code(), kWrongSecret);
  auto empty = LocalStore::Open(path_, Passphrase(""));
  EXPECT_EQ(empty.code(), ErrorCode::kInvalidArgument);
  StoreSecret file{StoreSecret::Kind::kKeyFile, SecretBytes(32)};
  EXPECT_EQ(LocalStore::Open(path_, file).code(), ErrorCode::kInvalidArgument);
  auto right = LocalStore::Open(path_, Passphrase("right"));
  ASSERT_TRUE(right.ok());
  auto v = (*right)->Get("t", "k");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(LocalStore::Create(path_, Passphrase("x"), kTestKdf).code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(LocalStore::Open(dir_ + "/none.db", Passphrase("x")).code(), ErrorCode::kNotFound);
}

TEST_F(LocalStoreTest, KeyFileUnlocksAndOtherFilesDoNot) {
  const std::string key = dir_ + "/key";
  ASSERT_TRUE(GenerateKeyFile(key).ok());
  EXPECT_EQ(GenerateKeyFile(key).code(), ErrorCode::kAlreadyExists);
  auto bytes = ReadKeyFile(key);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::group_read,
            std::filesystem::perms::none);
  {
    auto store = LocalStore::Create(path_, StoreSecret{StoreSecret::Kind::kKeyFile,
                                                       SecretBytes::Copy(bytes->span())});
    ASSERT_TRUE(store.ok());
  }
  EXPECT_TRUE(LocalStore::Open(path_, StoreSecret{StoreSecret::Kind::kKeyFile,
                                                  SecretBytes::Copy(bytes->span())})
                  .ok());
  SecretBytes other = SecretBytes::Copy(bytes->span());
  other.data()[0] ^= 1;
  EXPECT_EQ(LocalStore::Open(path_, StoreSecret{StoreSecret::Kind::kKeyFile, std::move(other)})
                .code(),
            kWrongSecret);
  EXPECT_EQ(LocalStore::Open(path_, Passphrase("x")).code(), ErrorCode::kInvalidArgument);
  std::ofstream(dir_ + "/short") << "too short";
  EXPECT_EQ(ReadKeyFile(dir_ + "/short").code(), ErrorCode::kInvalidArgument);
}

TEST_F(LocalStoreTest, RecordsMovedOrAlteredInTheFileDoNotOpen) {
  {
    auto store = LocalStore::Create(path_, Passphrase("p"), kTestKdf);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Put("t", "a", AsBytes("value a")).ok());
    ASSERT_TRUE((*store)->Put("t", "b", AsBytes("value b")).ok());
  }
  {
    // Swap the two rows' encrypted values, as someone with the file could.
    auto db = SqliteDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TEMP TABLE s AS SELECT k, v FROM kv;"
                         "UPDATE kv SET v = (SELECT v FROM s WHERE s.k != kv.k);")
                    .ok());
  }
  auto store = LocalStore::Open(path_, Passphrase("p"));
  ASSERT_TRUE(store.ok());
  auto a = (*store)->Get("t", "a");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.code(), ErrorCode::kStorageFailure);
  EXPECT_FALSE((*store)->Keys("t").ok());
}

TEST_F(LocalStoreTest, TransactionsNestAndAnInnerRollbackUndoesTheWhole) {
  auto store = LocalStore::Create(path_, Passphrase("p"), kTestKdf);
  ASSERT_TRUE(store.ok());
  LocalStore& s = **store;
  ASSERT_TRUE(s.Begin().ok());
  ASSERT_TRUE(s.Put("t", "outer", AsBytes("1")).ok());
  ASSERT_TRUE(s.Begin().ok());
  ASSERT_TRUE(s.Put("t", "inner", AsBytes("2")).ok());
  ASSERT_TRUE(s.Commit().ok());
  ASSERT_TRUE(s.Commit().ok());
  EXPECT_TRUE((*s.Get("t", "inner")).has_value());

  ASSERT_TRUE(s.Begin().ok());
  ASSERT_TRUE(s.Put("t", "x", AsBytes("1")).ok());
  ASSERT_TRUE(s.Begin().ok());
  s.Rollback();  // inner
  EXPECT_FALSE(s.Put("t", "y", AsBytes("2")).ok()) << "writes after an inner rollback must fail";
  EXPECT_FALSE(s.Commit().ok());
  EXPECT_FALSE((*s.Get("t", "x")).has_value());
  // The store is usable again afterwards.
  ASSERT_TRUE(s.Put("t", "z", AsBytes("3")).ok());
  EXPECT_TRUE((*s.Get("t", "z")).has_value());
}

}  // namespace
}  // namespace holdfast::client
