#include "holdfast/tlog/storage.h"

#include <algorithm>
#include <map>
#include <optional>

#include "holdfast/common/sqlite.h"

namespace holdfast::tlog {
namespace {

Result<void> CopySlices(ByteSpan blob, std::span<const size_t> offsets, size_t length,
                        MutableByteSpan out) {
  if (out.size() != offsets.size() * length) {
    return Error{ErrorCode::kInvalidArgument, "slice buffer size"};
  }
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (offsets[i] > blob.size() || blob.size() - offsets[i] < length) {
      return Error{ErrorCode::kStorageFailure, "tile shorter than expected"};
    }
    std::copy_n(blob.begin() + static_cast<ptrdiff_t>(offsets[i]), length,
                out.begin() + static_cast<ptrdiff_t>(i * length));
  }
  return Ok();
}

// Format version 2: the schema below. Bump it, and refuse old files, on any change.
// (Version 1 kept tiles in a WITHOUT ROWID table keyed by (level, idx); with 16 KiB rows
// that made every lookup walk overflow pages.)
constexpr int64_t kFormatVersion = 2;

// TileRowId packs a tile's level and index into the table's integer key.
int64_t TileRowId(const TileKey& key) {
  return static_cast<int64_t>((uint64_t{key.level} << 56) | key.index);
}

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tiles (id INTEGER PRIMARY KEY, hashes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (idx INTEGER PRIMARY KEY, entries BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
)sql";

class SqliteLogStorage final : public LogStorage {
 public:
  explicit SqliteLogStorage(SqliteDb db) : db_(std::move(db)) {}

  Result<void> Init() {
    // Reads map the file instead of copying pages through SQLite's cache (the kernel's page
    // cache holds them either way).
    HF_RETURN_IF_ERROR(db_.Exec("PRAGMA mmap_size=1073741824"));
    HF_RETURN_IF_ERROR(db_.Exec(kSchema));
    HF_ASSIGN_OR_RETURN(auto get, db_.Prepare("SELECT value FROM meta WHERE key = 'version'"));
    HF_ASSIGN_OR_RETURN(const bool has_version, get.Step());
    if (!has_version) {
      HF_RETURN_IF_ERROR(db_.Exec("INSERT INTO meta VALUES ('version', " +
                                  std::to_string(kFormatVersion) + "), ('size', 0)"));
    } else if (get.ColumnInt64(0) != kFormatVersion) {
      return Error{ErrorCode::kUnsupportedVersion, "tlog database format"};
    }
    HF_ASSIGN_OR_RETURN(size_, db_.Prepare("SELECT value FROM meta WHERE key = 'size'"));
    HF_ASSIGN_OR_RETURN(set_size_, db_.Prepare("UPDATE meta SET value = ?1 WHERE key = 'size'"));
    HF_ASSIGN_OR_RETURN(read_tile_, db_.Prepare("SELECT hashes FROM tiles WHERE id = ?1"));
    HF_ASSIGN_OR_RETURN(write_tile_, db_.Prepare("INSERT OR REPLACE INTO tiles VALUES (?1, ?2)"));
    HF_ASSIGN_OR_RETURN(read_bundle_, db_.Prepare("SELECT entries FROM bundles WHERE idx = ?1"));
    HF_ASSIGN_OR_RETURN(write_bundle_,
                        db_.Prepare("INSERT OR REPLACE INTO bundles VALUES (?1, ?2)"));
    HF_ASSIGN_OR_RETURN(read_checkpoint_,
                        db_.Prepare("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1"));
    HF_ASSIGN_OR_RETURN(write_checkpoint_,
                        db_.Prepare("INSERT OR REPLACE INTO checkpoints VALUES (?1, ?2)"));
    return Ok();
  }

  Result<uint64_t> Size() override {
    HF_ASSIGN_OR_RETURN(const bool row, size_->Step());
    const int64_t v = row ? size_->ColumnInt64(0) : -1;
    size_->Reset();
    if (v < 0) {
      return Error{ErrorCode::kStorageFailure, "tlog size missing"};
    }
    return static_cast<uint64_t>(v);
  }

  Result<Bytes> ReadTile(const TileKey& key) override {
    HF_RETURN_IF_ERROR(read_tile_->BindInt64(1, TileRowId(key)));
    return ReadBlob(*read_tile_);
  }

  Result<void> ReadTileSlices(const TileKey& key, std::span<const size_t> offsets, size_t length,
                              MutableByteSpan out) override {
    // Copies straight out of SQLite's (memory-mapped) page: the blob pointer stays valid
    // until the statement is reset.
    HF_RETURN_IF_ERROR(read_tile_->BindInt64(1, TileRowId(key)));
    auto row = read_tile_->Step();
    Result<void> r = Ok();
    if (!row.ok()) {
      r = row.error();
    } else if (!*row) {
      r = ErrorCode::kNotFound;
    } else {
      r = CopySlices(read_tile_->ColumnBlob(0), offsets, length, out);
    }
    read_tile_->Reset();
    return r;
  }

  Result<Bytes> ReadBundle(uint64_t index) override {
    HF_RETURN_IF_ERROR(read_bundle_->BindInt64(1, static_cast<int64_t>(index)));
    return ReadBlob(*read_bundle_);
  }

  Result<std::string> ReadCheckpoint() override {
    HF_ASSIGN_OR_RETURN(const bool row, read_checkpoint_->Step());
    std::string note = row ? read_checkpoint_->ColumnText(0) : std::string();
    read_checkpoint_->Reset();
    if (!row) {
      return ErrorCode::kNotFound;
    }
    return note;
  }

  Result<void> Commit(const LogBatch& batch) override {
    HF_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
    Result<void> r = Apply(batch);
    if (r.ok()) {
      r = db_.Exec("COMMIT");
    }
    if (!r.ok()) {
      (void)db_.Exec("ROLLBACK");
    }
    return r;
  }

 private:
  static Result<Bytes> ReadBlob(SqliteStatement& stmt) {
    auto row = stmt.Step();
    Bytes out;
    if (row.ok() && *row) {
      out = ToBytes(stmt.ColumnBlob(0));
    }
    stmt.Reset();
    if (!row.ok()) {
      return row.error();
    }
    if (!*row) {
      return ErrorCode::kNotFound;
    }
    return out;
  }

  Result<void> Apply(const LogBatch& batch) {
    for (const auto& [key, data] : batch.tiles) {
      HF_RETURN_IF_ERROR(write_tile_->BindInt64(1, TileRowId(key)));
      HF_RETURN_IF_ERROR(write_tile_->BindBlob(2, data));
      HF_RETURN_IF_ERROR(write_tile_->Run());
    }
    for (const auto& [index, data] : batch.bundles) {
      HF_RETURN_IF_ERROR(write_bundle_->BindInt64(1, static_cast<int64_t>(index)));
      HF_RETURN_IF_ERROR(write_bundle_->BindBlob(2, data));
      HF_RETURN_IF_ERROR(write_bundle_->Run());
    }
    if (batch.checkpoint) {
      HF_RETURN_IF_ERROR(write_checkpoint_->BindInt64(1, static_cast<int64_t>(batch.new_size)));
      HF_RETURN_IF_ERROR(write_checkpoint_->BindText(2, *batch.checkpoint));
      HF_RETURN_IF_ERROR(write_checkpoint_->Run());
    }
    HF_RETURN_IF_ERROR(set_size_->BindInt64(1, static_cast<int64_t>(batch.new_size)));
    return set_size_->Run();
  }

  SqliteDb db_;
  // Prepared once in Init.
  std::optional<SqliteStatement> size_, set_size_, read_tile_, write_tile_, read_bundle_,
      write_bundle_, read_checkpoint_, write_checkpoint_;
};

class MemoryLogStorage final : public LogStorage {
 public:
  Result<uint64_t> Size() override { return size_; }
  Result<Bytes> ReadTile(const TileKey& key) override {
    auto it = tiles_.find({key.level, key.index});
    if (it == tiles_.end()) {
      return ErrorCode::kNotFound;
    }
    return it->second;
  }
  Result<Bytes> ReadBundle(uint64_t index) override {
    auto it = bundles_.find(index);
    if (it == bundles_.end()) {
      return ErrorCode::kNotFound;
    }
    return it->second;
  }
  Result<std::string> ReadCheckpoint() override {
    if (checkpoint_.empty()) {
      return ErrorCode::kNotFound;
    }
    return checkpoint_;
  }
  Result<void> Commit(const LogBatch& batch) override {
    for (const auto& [key, data] : batch.tiles) {
      tiles_[{key.level, key.index}] = data;
    }
    for (const auto& [index, data] : batch.bundles) {
      bundles_[index] = data;
    }
    if (batch.checkpoint) {
      checkpoint_ = *batch.checkpoint;
    }
    size_ = batch.new_size;
    return Ok();
  }

 private:
  uint64_t size_ = 0;
  std::map<std::pair<uint32_t, uint64_t>, Bytes> tiles_;
  std::map<uint64_t, Bytes> bundles_;
  std::string checkpoint_;
};

}  // namespace

Result<void> LogStorage::ReadTileSlices(const TileKey& key, std::span<const size_t> offsets,
                                        size_t length, MutableByteSpan out) {
  HF_ASSIGN_OR_RETURN(const Bytes blob, ReadTile(key));
  return CopySlices(blob, offsets, length, out);
}

Result<std::unique_ptr<LogStorage>> OpenSqliteLogStorage(const std::string& path) {
  // A full stored tile (16,322 bytes) fits in one 16 KiB page, so reading it neither follows
  // an overflow chain nor has SQLite copy it together.
  constexpr int kPageSize = 16384;
  HF_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path, kPageSize));
  auto storage = std::make_unique<SqliteLogStorage>(std::move(db));
  HF_RETURN_IF_ERROR(storage->Init());
  return std::unique_ptr<LogStorage>(std::move(storage));
}

std::unique_ptr<LogStorage> NewMemoryLogStorage() { return std::make_unique<MemoryLogStorage>(); }

}  // namespace holdfast::tlog
