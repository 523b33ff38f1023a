// LogStorage: where a transparency log keeps its tiles, entry bundles and checkpoints.
//
// The log writes in batches. Commit applies a whole batch or none of it, so after a crash
// the stored log is exactly as it was after some committed batch.
#ifndef HOLDFAST_TLOG_STORAGE_H_
#define HOLDFAST_TLOG_STORAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"

namespace holdfast::tlog {

// TileKey names a stored tile: tile level (tree level / 8) and index within that level.
struct TileKey {
  uint32_t level = 0;
  uint64_t index = 0;
  friend bool operator==(const TileKey&, const TileKey&) = default;
};

struct LogBatch {
  uint64_t new_size = 0;
  // Tiles (in the stored form, see log.h) and entry bundles (C2SP form) to create or replace.
  std::vector<std::pair<TileKey, Bytes>> tiles;
  std::vector<std::pair<uint64_t, Bytes>> bundles;
  // The signed checkpoint for new_size, if the batch carries one.
  std::optional<std::string> checkpoint;
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  // Size is the number of committed leaves.
  virtual Result<uint64_t> Size() = 0;
  // ReadTile and ReadBundle return kNotFound for absent items.
  virtual Result<Bytes> ReadTile(const TileKey& key) = 0;
  // ReadTileSlices copies `length` bytes at each of `offsets` of a stored tile into `out`
  // (which holds offsets.size() * length bytes), without copying the rest of the tile. An
  // offset past the end is kStorageFailure. The default reads the whole tile.
  virtual Result<void> ReadTileSlices(const TileKey& key, std::span<const size_t> offsets,
                                      size_t length, MutableByteSpan out);
  virtual Result<Bytes> ReadBundle(uint64_t index) = 0;
  // ReadCheckpoint returns the most recent signed checkpoint (kNotFound when none).
  virtual Result<std::string> ReadCheckpoint() = 0;
  // Commit applies `batch` atomically and durably.
  virtual Result<void> Commit(const LogBatch& batch) = 0;
};

// OpenSqliteLogStorage opens or creates a log database (SQLite, WAL, synchronous=FULL). A
// database of another format version is kUnsupportedVersion.
Result<std::unique_ptr<LogStorage>> OpenSqliteLogStorage(const std::string& path);

// NewMemoryLogStorage keeps everything in memory, for tests and tools.
std::unique_ptr<LogStorage> NewMemoryLogStorage();

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_STORAGE_H_
