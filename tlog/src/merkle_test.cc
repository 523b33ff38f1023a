// Proof generation and verification against a naive reference written straight from the
// RFC 9162 definitions (MTH, PATH, PROOF/SUBPROOF), on small trees exhaustively and on a
// random tree of 100,000 leaves.
#include "holdfast/tlog/merkle.h"

#include <gtest/gtest.h>

#include <map>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::tlog {
namespace {

// Reference hashes with SHA-256 directly rather than through HashLeaf/HashChildren.
Hash RefLeaf(ByteSpan data) {
  Bytes buf = {0x00};
  buf.insert(buf.end(), data.begin(), data.end());
  return crypto::Sha256(buf);
}

Hash RefNode(const Hash& l, const Hash& r) {
  Bytes buf = {0x01};
  buf.insert(buf.end(), l.begin(), l.end());
  buf.insert(buf.end(), r.begin(), r.end());
  return crypto::Sha256(buf);
}

uint64_t RefSplit(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) {
    k *= 2;
  }
  return k;
}

class Reference {
 public:
  void Add(ByteSpan leaf) { leaves_.push_back(RefLeaf(leaf)); }

  Hash Mth(uint64_t b, uint64_t e) {
    if (e == b) {
      return crypto::Sha256({});
    }
    if (e - b == 1) {
      return leaves_[b];
    }
    auto it = memo_.find({b, e});
    if (it != memo_.end()) {
      return it->second;
    }
    const uint64_t k = RefSplit(e - b);
    const Hash h = RefNode(Mth(b, b + k), Mth(b + k, e));
    memo_.emplace(std::make_pair(b, e), h);
    return h;
  }

  std::vector<Hash> Path(uint64_t m, uint64_t b, uint64_t e) {
    if (e - b == 1) {
      return {};
    }
    const uint64_t k = RefSplit(e - b);
    std::vector<Hash> out;
    if (m - b < k) {
      out = Path(m, b, b + k);
      out.push_back(Mth(b + k, e));
    } else {
      out = Path(m, b + k, e);
      out.push_back(Mth(b, b + k));
    }
    return out;
  }

  std::vector<Hash> Subproof(uint64_t m, uint64_t b, uint64_t e, bool complete) {
    const uint64_t n = e - b;
    if (m == n) {
      return complete ? std::vector<Hash>{} : std::vector<Hash>{Mth(b, e)};
    }
    const uint64_t k = RefSplit(n);
    std::vector<Hash> out;
    if (m <= k) {
      out = Subproof(m, b, b + k, complete);
      out.push_back(Mth(b + k, e));
    } else {
      out = Subproof(m - k, b + k, e, false);
      out.push_back(Mth(b, b + k));
    }
    return out;
  }

  const Hash& leaf(uint64_t i) const { return leaves_[i]; }

 private:
  std::vector<Hash> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> memo_;
};

struct Trees {
  MemoryTree tree;
  Reference ref;
};

void Fill(Trees& t, uint64_t n, uint64_t seed) {
  DeterministicRng rng(seed);
  for (uint64_t i = 0; i < n; ++i) {
    Bytes leaf(rng.Uniform(40));
    rng.Fill(leaf);
    t.tree.Append(leaf);
    t.ref.Add(leaf);
  }
}

TEST(Merkle, HashingMatchesRfc) {
  EXPECT_EQ(HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const Bytes leaf = {1, 2, 3};
  EXPECT_EQ(HashLeaf(leaf), RefLeaf(leaf));
  const Hash a = HashLeaf(Bytes{1}), b = HashLeaf(Bytes{2});
  EXPECT_EQ(HashChildren(a, b), RefNode(a, b));
  EXPECT_NE(HashChildren(a, b), HashChildren(b, a));
}

TEST(Merkle, EmptyTree) {
  MemoryTree tree;
  EXPECT_EQ(tree.Root(), EmptyRoot());
  EXPECT_EQ(InclusionProof(tree, 0, 0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(tree, 0, 0).code(), ErrorCode::kInvalidArgument);
}

TEST(Merkle, SmallTreesExhaustively) {
  Trees t;
  constexpr uint64_t kMax = 70;
  Fill(t, kMax, 1);
  for (uint64_t n = 1; n <= kMax; ++n) {
    const Hash root = *RootHash(t.tree, n);
    ASSERT_EQ(root, t.ref.Mth(0, n)) << n;
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = InclusionProof(t.tree, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, t.ref.Path(m, 0, n)) << m << "/" << n;
      ASSERT_TRUE(VerifyInclusion(t.ref.leaf(m), m, n, *proof, root).ok()) << m << "/" << n;
    }
    for (uint64_t m = 1; m <= n; ++m) {
      auto proof = ConsistencyProof(t.tree, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_EQ(*proof, t.ref.Subproof(m, 0, n, true)) << m << "->" << n;
      ASSERT_TRUE(VerifyConsistency(m, n, *proof, t.ref.Mth(0, m), root).ok()) << m << "->" << n;
    }
  }
}

TEST(CompactRange, MatchesReferenceAtEverySize) {
  Trees t;
  Fill(t, 600, 9);
  CompactRange range;
  EXPECT_EQ(range.Root(), EmptyRoot());
  for (uint64_t n = 1; n <= 600; ++n) {
    range.AppendLeafHash(t.ref.leaf(n - 1));
    ASSERT_EQ(range.size(), n);
    ASSERT_EQ(range.Root(), t.ref.Mth(0, n)) << n;
  }
}

TEST(Merkle, TamperedProofsFail) {
  Trees t;
  Fill(t, 37, 2);
  const uint64_t n = 37;
  const Hash root = t.tree.Root();
  for (uint64_t m = 0; m < n; ++m) {
    const auto proof = *InclusionProof(t.tree, m, n);
    for (size_t i = 0; i < proof.size(); ++i) {
      auto bad = proof;
      bad[i][i % kHashBytes] ^= 1;
      EXPECT_FALSE(VerifyInclusion(t.ref.leaf(m), m, n, bad, root).ok());
    }
    auto shorter = proof;
    shorter.pop_back();
    EXPECT_FALSE(VerifyInclusion(t.ref.leaf(m), m, n, shorter, root).ok());
    auto longer = proof;
    longer.push_back(root);
    EXPECT_FALSE(VerifyInclusion(t.ref.leaf(m), m, n, longer, root).ok());
    // (A proof can hold for a neighbouring tree size with the same path shape: the size is
    // bound by the checkpoint's signature, not by the hashes.)
    EXPECT_FALSE(VerifyInclusion(t.ref.leaf(m), m ^ 1, n, proof, root).ok());
    EXPECT_EQ(VerifyInclusion(t.ref.leaf(m), n, n, proof, root).code(), ErrorCode::kInvalidProof);
  }
  for (uint64_t m = 1; m < n; ++m) {
    const auto proof = *ConsistencyProof(t.tree, m, n);
    const Hash old_root = t.ref.Mth(0, m);
    for (size_t i = 0; i < proof.size(); ++i) {
      auto bad = proof;
      bad[i][0] ^= 0x80;
      EXPECT_FALSE(VerifyConsistency(m, n, bad, old_root, root).ok()) << m;
    }
    EXPECT_FALSE(VerifyConsistency(m, n, proof, root, root).ok()) << m;
    EXPECT_FALSE(VerifyConsistency(n, m, proof, root, old_root).ok()) << m;
  }
}

TEST(Merkle, RandomTreeOfOneHundredThousandLeaves) {
  constexpr uint64_t kLeaves = 100'000;
  Trees t;
  Fill(t, kLeaves, 3);
  const Hash root = t.tree.Root();
  ASSERT_EQ(root, t.ref.Mth(0, kLeaves));

  // Every inclusion proof in the full tree verifies; a random sample also matches the
  // reference proof hash for hash.
  DeterministicRng rng(4);
  for (uint64_t m = 0; m < kLeaves; ++m) {
    auto proof = InclusionProof(t.tree, m, kLeaves);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(VerifyInclusion(t.ref.leaf(m), m, kLeaves, *proof, root).ok()) << m;
    if (rng.Uniform(100) == 0) {
      ASSERT_EQ(*proof, t.ref.Path(m, 0, kLeaves)) << m;
    }
  }

  // Consistency between random pairs of sizes, and inclusion in the smaller tree.
  for (int i = 0; i < 300; ++i) {
    uint64_t a = 1 + rng.Uniform(kLeaves), b = 1 + rng.Uniform(kLeaves);
    if (a > b) {
      std::swap(a, b);
    }
    const Hash root_a = t.ref.Mth(0, a), root_b = t.ref.Mth(0, b);
    ASSERT_EQ(*RootHash(t.tree, a), root_a);
    auto proof = ConsistencyProof(t.tree, a, b);
    ASSERT_TRUE(proof.ok());
    ASSERT_EQ(*proof, t.ref.Subproof(a, 0, b, true)) << a << "->" << b;
    ASSERT_TRUE(VerifyConsistency(a, b, *proof, root_a, root_b).ok()) << a << "->" << b;
    const uint64_t m = rng.Uniform(a);
    auto inclusion = InclusionProof(t.tree, m, a);
    ASSERT_TRUE(inclusion.ok());
    ASSERT_EQ(*inclusion, t.ref.Path(m, 0, a));
    ASSERT_TRUE(VerifyInclusion(t.ref.leaf(m), m, a, *inclusion, root_a).ok());
  }
}

}  // namespace
}  // namespace holdfast::tlog
