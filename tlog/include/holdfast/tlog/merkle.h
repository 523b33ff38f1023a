// RFC 9162 Merkle trees: hashing, proof generation and proof verification.
//
// The tree stores opaque leaves. A leaf is hashed as SHA-256(0x00 || leaf), an interior node
// as SHA-256(0x01 || left || right), and the empty tree's root is SHA-256("").
#ifndef HOLDFAST_TLOG_MERKLE_H_
#define HOLDFAST_TLOG_MERKLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"

namespace holdfast::tlog {

inline constexpr size_t kHashBytes = 32;
using Hash = std::array<uint8_t, kHashBytes>;

// HashLeaf returns SHA-256(0x00 || leaf).
Hash HashLeaf(ByteSpan leaf);
// HashChildren returns SHA-256(0x01 || left || right).
Hash HashChildren(const Hash& left, const Hash& right);
// EmptyRoot returns the root of the tree with no leaves, SHA-256("").
Hash EmptyRoot();
// HashFromBytes checks that `bytes` is exactly 32 bytes; anything else is kInvalidProof.
Result<Hash> HashFromBytes(ByteSpan bytes);

// NodeReader gives the hashes of complete, aligned subtrees. Node(level, index) is the root
// of the subtree over leaves [index * 2^level, (index + 1) * 2^level); level 0 holds the leaf
// hashes. A reader only has to answer for subtrees inside the tree sizes it is asked about.
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  virtual Result<Hash> Node(uint32_t level, uint64_t index) const = 0;
  // Range returns MTH(D[begin:end]) for the ranges RFC 9162's proofs ask for, where `begin`
  // is a multiple of the largest power of two below end - begin. The default builds it from
  // Node(); a reader may remember the incomplete ranges at the tree's right edge, which
  // every proof at one tree size asks for again.
  virtual Result<Hash> Range(uint64_t begin, uint64_t end) const;
};

// RootHash computes the root of the first `size` leaves.
Result<Hash> RootHash(const NodeReader& nodes, uint64_t size);

// InclusionProof returns the RFC 9162 audit path for leaf `index` in the tree of `size`
// leaves, from the leaf's sibling upwards. index >= size is kInvalidArgument.
Result<std::vector<Hash>> InclusionProof(const NodeReader& nodes, uint64_t index, uint64_t size);

// ConsistencyProof returns the RFC 9162 proof that the tree of `size1` leaves is a prefix of
// the tree of `size2` leaves. It is empty when size1 == size2; 0 < size1 <= size2 is required.
Result<std::vector<Hash>> ConsistencyProof(const NodeReader& nodes, uint64_t size1, uint64_t size2);

// VerifyInclusion checks an audit path (RFC 9162 section 2.1.3.2). Any mismatch, an index
// outside the tree, or a proof of the wrong length is kInvalidProof. Roots are taken as bytes
// and only compared, so a root of the wrong length simply does not match.
Result<void> VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                             std::span<const Hash> proof, ByteSpan root);

// VerifyConsistency checks a consistency proof (RFC 9162 section 2.1.4.2). size1 must be
// non-zero and at most size2; equal sizes need an empty proof and equal roots. Every failure
// is kInvalidProof.
Result<void> VerifyConsistency(uint64_t size1, uint64_t size2, std::span<const Hash> proof,
                               ByteSpan root1, ByteSpan root2);

// CompactRange folds leaves into the roots of the complete subtrees on the tree's right edge:
// O(log n) memory, two hashes per leaf amortized. It recomputes a log's root from a stream
// of entries, as the auditor does.
class CompactRange {
 public:
  void AppendLeafHash(const Hash& leaf_hash);
  uint64_t size() const { return size_; }
  // Root is the root of the leaves appended so far.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> peaks_;  // complete subtrees, largest (leftmost) first
};

// MemoryTree is an append-only tree held in memory, keeping the hash of every complete
// subtree: about two hashes per leaf. It serves tests, tools that rebuild a log from its
// entries (the auditor), and small logs.
class MemoryTree final : public NodeReader {
 public:
  // Append adds a leaf and returns its index.
  uint64_t Append(ByteSpan leaf) { return AppendLeafHash(HashLeaf(leaf)); }
  uint64_t AppendLeafHash(const Hash& leaf_hash);

  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Result<Hash> Node(uint32_t level, uint64_t index) const override;
  // Root is the root hash of the whole tree.
  Hash Root() const;

 private:
  std::vector<std::vector<Hash>> levels_;
};

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_MERKLE_H_
