// RFC 9162 proof verification against the public vectors in ../shared/vectors/merkle
// (transparency-dev/merkle testdata): every inclusion and consistency file, including every
// one that expects an error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "holdfast/common/encoding.h"
#include "holdfast/testing/kat.h"
#include "holdfast/tlog/merkle.h"

namespace holdfast::tlog {
namespace {

using nlohmann::json;

Bytes B64(const json& v) {
  if (v.is_null()) {
    return {};
  }
  auto b = Base64Decode(v.get<std::string>());
  EXPECT_TRUE(b.ok()) << v;
  return b.ok() ? *b : Bytes{};
}

// ParseProof converts the proof hashes; any hash that is not 32 bytes is an error.
Result<std::vector<Hash>> ParseProof(const json& v) {
  std::vector<Hash> out;
  if (v.is_null()) {
    return out;
  }
  for (const auto& h : v) {
    HF_ASSIGN_OR_RETURN(Hash hash, HashFromBytes(B64(h)));
    out.push_back(hash);
  }
  return out;
}

Result<void> CheckInclusion(const json& t) {
  HF_ASSIGN_OR_RETURN(const Hash leaf, HashFromBytes(B64(t["leafHash"])));
  HF_ASSIGN_OR_RETURN(const auto proof, ParseProof(t["proof"]));
  return VerifyInclusion(leaf, t["leafIdx"].get<uint64_t>(), t["treeSize"].get<uint64_t>(), proof,
                         B64(t["root"]));
}

Result<void> CheckConsistency(const json& t) {
  HF_ASSIGN_OR_RETURN(const auto proof, ParseProof(t["proof"]));
  return VerifyConsistency(t["size1"].get<uint64_t>(), t["size2"].get<uint64_t>(), proof,
                           B64(t["root1"]), B64(t["root2"]));
}

size_t RunDir(const std::filesystem::path& dir, Result<void> (*check)(const json&)) {
  size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    std::ifstream in(entry.path());
    const json t = json::parse(in);
    const bool want_err = t["wantErr"].get<bool>();
    const Result<void> got = check(t);
    EXPECT_EQ(!got.ok(), want_err) << entry.path() << ": " << t["desc"];
    ++count;
  }
  return count;
}

class MerkleVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::SharedVectorsDir();
    if (dir_.empty()) {
      GTEST_SKIP() << "../shared/vectors is missing: the RFC 9162 vectors were not checked";
    }
    dir_ /= "merkle";
  }
  std::filesystem::path dir_;
};

TEST_F(MerkleVectors, Inclusion) {
  const size_t n = RunDir(dir_ / "inclusion", CheckInclusion);
  EXPECT_GT(n, 50u) << "too few vector files found";
  std::cout << "checked " << n << " inclusion vector files\n";
}

TEST_F(MerkleVectors, Consistency) {
  const size_t n = RunDir(dir_ / "consistency", CheckConsistency);
  EXPECT_GT(n, 50u) << "too few vector files found";
  std::cout << "checked " << n << " consistency vector files\n";
}

// The eight leaves behind the vectors give the roots the happy-path files use.
TEST_F(MerkleVectors, LeavesGiveTheVectorRoots) {
  const char* leaves[] = {"",
                          "00",
                          "10",
                          "2021",
                          "3031",
                          "40414243",
                          "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f"};
  MemoryTree tree;
  for (const char* hex : leaves) {
    tree.Append(*HexDecode(hex));
  }
  std::ifstream in(dir_ / "inclusion" / "1" / "happy-path.json");
  const json t = json::parse(in);
  ASSERT_EQ(t["treeSize"].get<uint64_t>(), 8u);
  EXPECT_EQ(Base64Encode(tree.Root()), t["root"].get<std::string>());
  auto proof = InclusionProof(tree, t["leafIdx"].get<uint64_t>(), 8);
  ASSERT_TRUE(proof.ok());
  ASSERT_EQ(proof->size(), t["proof"].size());
  for (size_t i = 0; i < proof->size(); ++i) {
    EXPECT_EQ(Base64Encode((*proof)[i]), t["proof"][i].get<std::string>());
  }
}

}  // namespace
}  // namespace holdfast::tlog
