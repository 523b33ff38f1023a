#include "holdfast/tlog/merkle.h"

#include <algorithm>
#include <bit>

#include "holdfast/crypto/hash.h"

namespace holdfast::tlog {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// LargestPowerOfTwoBelow returns the largest power of two strictly less than n (n >= 2).
uint64_t LargestPowerOfTwoBelow(uint64_t n) { return std::bit_floor(n - 1); }

// AppendPath writes PATH(m, D[begin:end]) (RFC 9162 section 2.1.3.1), bottom-up.
Result<void> AppendPath(const NodeReader& nodes, uint64_t m, uint64_t begin, uint64_t end,
                        std::vector<Hash>& out) {
  if (end - begin <= 1) {
    return Ok();
  }
  const uint64_t k = LargestPowerOfTwoBelow(end - begin);
  if (m < begin + k) {
    HF_RETURN_IF_ERROR(AppendPath(nodes, m, begin, begin + k, out));
    HF_ASSIGN_OR_RETURN(const Hash sibling, nodes.Range(begin + k, end));
    out.push_back(sibling);
  } else {
    HF_RETURN_IF_ERROR(AppendPath(nodes, m, begin + k, end, out));
    HF_ASSIGN_OR_RETURN(const Hash sibling, nodes.Range(begin, begin + k));
    out.push_back(sibling);
  }
  return Ok();
}

// AppendSubproof writes SUBPROOF(m, D[begin:end], b) (RFC 9162 section 2.1.4.1), where m
// counts leaves from `begin`.
Result<void> AppendSubproof(const NodeReader& nodes, uint64_t m, uint64_t begin, uint64_t end,
                            bool complete, std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!complete) {
      HF_ASSIGN_OR_RETURN(const Hash h, nodes.Range(begin, end));
      out.push_back(h);
    }
    return Ok();
  }
  const uint64_t k = LargestPowerOfTwoBelow(n);
  if (m <= k) {
    HF_RETURN_IF_ERROR(AppendSubproof(nodes, m, begin, begin + k, complete, out));
    HF_ASSIGN_OR_RETURN(const Hash right, nodes.Range(begin + k, end));
    out.push_back(right);
  } else {
    HF_RETURN_IF_ERROR(AppendSubproof(nodes, m - k, begin + k, end, false, out));
    HF_ASSIGN_OR_RETURN(const Hash left, nodes.Range(begin, begin + k));
    out.push_back(left);
  }
  return Ok();
}

bool IsOdd(uint64_t v) { return (v & 1) != 0; }

bool SameBytes(ByteSpan a, ByteSpan b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

Result<Hash> NodeReader::Range(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return Node(static_cast<uint32_t>(std::countr_zero(n)), begin / n);
  }
  const uint64_t k = LargestPowerOfTwoBelow(n);
  HF_ASSIGN_OR_RETURN(const Hash left, Range(begin, begin + k));
  HF_ASSIGN_OR_RETURN(const Hash right, Range(begin + k, end));
  return HashChildren(left, right);
}

Hash HashLeaf(ByteSpan leaf) {
  static constexpr uint8_t kPrefix[1] = {kLeafPrefix};
  return crypto::Sha256({kPrefix, leaf});
}

Hash HashChildren(const Hash& left, const Hash& right) {
  static constexpr uint8_t kPrefix[1] = {kNodePrefix};
  return crypto::Sha256({kPrefix, left, right});
}

Hash EmptyRoot() { return crypto::Sha256({}); }

Result<Hash> HashFromBytes(ByteSpan bytes) {
  if (bytes.size() != kHashBytes) {
    return Error{ErrorCode::kInvalidProof, "hash must be 32 bytes"};
  }
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

Result<Hash> RootHash(const NodeReader& nodes, uint64_t size) {
  if (size == 0) {
    return EmptyRoot();
  }
  return nodes.Range(0, size);
}

Result<std::vector<Hash>> InclusionProof(const NodeReader& nodes, uint64_t index, uint64_t size) {
  if (index >= size) {
    return Error{ErrorCode::kInvalidArgument, "leaf index outside the tree"};
  }
  std::vector<Hash> proof;
  proof.reserve(64);
  HF_RETURN_IF_ERROR(AppendPath(nodes, index, 0, size, proof));
  return proof;
}

Result<std::vector<Hash>> ConsistencyProof(const NodeReader& nodes, uint64_t size1,
                                           uint64_t size2) {
  if (size1 == 0 || size1 > size2) {
    return Error{ErrorCode::kInvalidArgument, "need 0 < size1 <= size2"};
  }
  std::vector<Hash> proof;
  proof.reserve(64);
  HF_RETURN_IF_ERROR(AppendSubproof(nodes, size1, 0, size2, true, proof));
  return proof;
}

Result<void> VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                             std::span<const Hash> proof, ByteSpan root) {
  if (index >= size) {
    return Error{ErrorCode::kInvalidProof, "leaf index outside the tree"};
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) {
      return Error{ErrorCode::kInvalidProof, "proof too long"};
    }
    if (IsOdd(fn) || fn == sn) {
      r = HashChildren(p, r);
      while (!IsOdd(fn) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Error{ErrorCode::kInvalidProof, "proof too short"};
  }
  if (!SameBytes(r, root)) {
    return Error{ErrorCode::kInvalidProof, "root mismatch"};
  }
  return Ok();
}

Result<void> VerifyConsistency(uint64_t size1, uint64_t size2, std::span<const Hash> proof,
                               ByteSpan root1, ByteSpan root2) {
  if (size1 == 0) {
    return Error{ErrorCode::kInvalidProof, "consistency from the empty tree"};
  }
  if (size1 > size2) {
    return Error{ErrorCode::kInvalidProof, "size1 > size2"};
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return Error{ErrorCode::kInvalidProof, "proof must be empty for equal sizes"};
    }
    if (!SameBytes(root1, root2)) {
      return Error{ErrorCode::kInvalidProof, "roots differ at equal sizes"};
    }
    return Ok();
  }
  if (proof.empty()) {
    return Error{ErrorCode::kInvalidProof, "empty proof"};
  }
  // When size1 is a power of two its root is the first node of the path, and the proof
  // omits it.
  size_t next = 0;
  Hash fr, sr;
  if (std::has_single_bit(size1)) {
    // A power-of-two size1 root must be a real hash to start the path from.
    HF_ASSIGN_OR_RETURN(fr, HashFromBytes(root1));
    sr = fr;
  } else {
    fr = sr = proof[next++];
  }
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while (IsOdd(fn)) {
    fn >>= 1;
    sn >>= 1;
  }
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    if (sn == 0) {
      return Error{ErrorCode::kInvalidProof, "proof too long"};
    }
    if (IsOdd(fn) || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while (!IsOdd(fn) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Error{ErrorCode::kInvalidProof, "proof too short"};
  }
  if (!SameBytes(fr, root1) || !SameBytes(sr, root2)) {
    return Error{ErrorCode::kInvalidProof, "root mismatch"};
  }
  return Ok();
}

void CompactRange::AppendLeafHash(const Hash& leaf_hash) {
  peaks_.push_back(leaf_hash);
  // Each trailing one bit of the old size is a peak that now has a right sibling.
  for (uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    const Hash right = peaks_.back();
    peaks_.pop_back();
    peaks_.back() = HashChildren(peaks_.back(), right);
  }
  ++size_;
}

Hash CompactRange::Root() const {
  if (peaks_.empty()) {
    return EmptyRoot();
  }
  Hash root = peaks_.back();
  for (size_t i = peaks_.size() - 1; i > 0; --i) {
    root = HashChildren(peaks_[i - 1], root);
  }
  return root;
}

uint64_t MemoryTree::AppendLeafHash(const Hash& leaf_hash) {
  if (levels_.empty()) {
    levels_.emplace_back();
  }
  const uint64_t index = levels_[0].size();
  levels_[0].push_back(leaf_hash);
  // Complete every subtree that this leaf finishes.
  for (size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
    if (levels_.size() == level + 1) {
      levels_.emplace_back();
    }
    const auto& row = levels_[level];
    levels_[level + 1].push_back(HashChildren(row[row.size() - 2], row[row.size() - 1]));
  }
  return index;
}

Result<Hash> MemoryTree::Node(uint32_t level, uint64_t index) const {
  if (level >= levels_.size() || index >= levels_[level].size()) {
    return Error{ErrorCode::kNotFound, "no such complete subtree"};
  }
  return levels_[level][index];
}

Hash MemoryTree::Root() const {
  auto root = RootHash(*this, size());
  return root.ok() ? *root : EmptyRoot();  // RootHash cannot fail on our own nodes
}

}  // namespace holdfast::tlog
