// Log: an append-only RFC 9162 Merkle log of opaque entries, stored as tiles.
//
// Storage layout. Tree levels are grouped eight at a time into tiles, as in C2SP
// tlog-tiles: tile (T, N) covers tree levels 8T..8T+7 under 256 consecutive nodes of level
// 8T. Holdfast stores each tile with all eight of its levels (at most 510 hashes, 16 KiB),
// so any node is one lookup away and an inclusion proof from a 10M-leaf log touches about
// four tiles. The C2SP hash tile (T, N) is the stored tile's first level. Entries are kept
// in C2SP entry bundles of 256.
//
// Appending hashes each leaf once and each interior node once (the RFC 9162 floor of about
// two SHA-256 per leaf) and keeps only the right edge of the tree in memory. Each batch is
// one storage transaction. A bounded cache holds recently read tiles, so memory does not
// grow with the log.
#ifndef HOLDFAST_TLOG_LOG_H_
#define HOLDFAST_TLOG_LOG_H_

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/merkle.h"
#include "holdfast/tlog/note.h"
#include "holdfast/tlog/storage.h"

namespace holdfast::tlog {

inline constexpr uint32_t kTileHeight = 8;
inline constexpr uint64_t kTileWidth = 256;
// kMaxEntryBytes: C2SP entry bundles prefix each entry with a 16-bit length.
inline constexpr size_t kMaxEntryBytes = 65535;

struct LogOptions {
  // The checkpoint origin, which is also the name of the log's signing key.
  std::string origin;
  // Tiles kept in memory for reads (16 KiB each at most).
  size_t tile_cache_tiles = 4096;
};

class Log final : public NodeReader {
 public:
  // Open loads the right edge of the stored tree. Stored data that does not add up (a
  // missing tile, a tile of the wrong length) is kStorageFailure.
  static Result<std::unique_ptr<Log>> Open(std::unique_ptr<LogStorage> storage, LogOptions options);

  // Append durably adds `entries` in order (each at most kMaxEntryBytes) and, when `signer`
  // is given, a checkpoint for the new size signed by it, all in one transaction. Returns
  // the index of the first new entry. On failure nothing was added.
  Result<uint64_t> Append(std::span<const ByteSpan> entries, const NoteSigner* signer);

  uint64_t size() const;
  Hash root() const;
  // LatestCheckpoint is the last signed checkpoint stored (kNotFound before the first).
  Result<std::string> LatestCheckpoint() const;

  // Entry returns the entry at `index`.
  Result<Bytes> Entry(uint64_t index) const;
  // Node implements NodeReader for every complete subtree of the current tree.
  Result<Hash> Node(uint32_t level, uint64_t index) const override;
  Result<std::vector<Hash>> Inclusion(uint64_t index, uint64_t tree_size) const;
  Result<std::vector<Hash>> Consistency(uint64_t size1, uint64_t size2) const;

  // HashTile returns the C2SP hash tile (level, index) for a tree of `tree_size`: 256 hashes
  // when that tile is full at that size, else the partial tile of width
  // floor(tree_size / 256^level) mod 256. kNotFound if it would be empty or is beyond the
  // current tree.
  Result<Bytes> HashTile(uint32_t level, uint64_t index, uint64_t tree_size) const;
  // EntryBundle likewise returns the C2SP entry bundle `index` for `tree_size`.
  Result<Bytes> EntryBundle(uint64_t index, uint64_t tree_size) const;

 private:
  // A tile being filled at the right edge, with its eight levels.
  struct EdgeTile {
    uint64_t index = 0;
    std::array<std::vector<Hash>, kTileHeight> levels;
    bool dirty = false;  // changed since it was last stored
  };

  Log(std::unique_ptr<LogStorage> storage, LogOptions options)
      : storage_(std::move(storage)), options_(std::move(options)) {}
  Result<void> LoadEdge();
  // PushNode adds a node at tile level T's lowest level and completes parents; finished
  // tiles go to `batch`.
  void PushNode(uint32_t tile_level, const Hash& h, LogBatch& batch);
  Result<std::shared_ptr<const Bytes>> ReadTile(const TileKey& key) const;
  Hash ComputeRoot() const;
  // TileMemo remembers the last stored tile one proof read: a proof asks for up to eight
  // nodes of the same tile in a row.
  struct TileMemo {
    uint64_t key = UINT64_MAX;
    std::shared_ptr<const Bytes> tile;
    // The audit path's nodes in the leaf's own bottom tile, read without the rest of it.
    uint64_t path_leaf = UINT64_MAX;
    uint32_t path_levels = 0;
    std::array<Hash, kTileHeight> path{};
  };
  // NodeLocked is Node() with mu_ already held.
  Result<Hash> NodeLocked(uint32_t level, uint64_t index, TileMemo* memo = nullptr) const;
  class ProofReader;

  std::unique_ptr<LogStorage> storage_;
  LogOptions options_;

  mutable std::mutex mu_;
  uint64_t size_ = 0;                // GUARDED_BY(mu_)
  Hash root_{};                      // GUARDED_BY(mu_)
  std::vector<EdgeTile> edge_;       // GUARDED_BY(mu_): one per tile level
  std::vector<Bytes> edge_entries_;  // GUARDED_BY(mu_): the partial entry bundle

  // The right-edge ranges [begin, edge_ranges_size_) that proofs for that tree size need,
  // so that each is hashed once per size rather than once per proof.
  mutable uint64_t edge_ranges_size_ = 0;                   // GUARDED_BY(mu_)
  mutable std::unordered_map<uint64_t, Hash> edge_ranges_;  // GUARDED_BY(mu_)
  // Read cache: LRU of stored tiles.
  mutable std::list<std::pair<uint64_t, std::shared_ptr<const Bytes>>> lru_;  // GUARDED_BY(mu_)
  mutable std::unordered_map<uint64_t, decltype(lru_)::iterator> cache_;      // GUARDED_BY(mu_)
};

// SerializeBundle and ParseBundle convert between entries and the C2SP bundle form
// (big-endian u16 length, then the entry, for each entry).
Bytes SerializeBundle(std::span<const Bytes> entries);
Result<std::vector<Bytes>> ParseBundle(ByteSpan bundle);

// TilePath gives the C2SP path of a hash tile, e.g. "tile/0/x001/x234/067" or
// "tile/1/000.p/17"; width 256 means a full tile. EntriesPath does the same for bundles.
std::string TilePath(uint32_t level, uint64_t index, uint64_t width);
std::string EntriesPath(uint64_t index, uint64_t width);

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_LOG_H_
