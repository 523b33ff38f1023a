#include "holdfast/tlog/log.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace holdfast::tlog {
namespace {

// Stored tile: u16 width (1..256), then levels 0..7 of the tile, level k holding width >> k
// hashes.
size_t StoredTileHashes(uint64_t width) {
  size_t n = 0;
  for (uint32_t k = 0; k < kTileHeight; ++k) {
    n += width >> k;
  }
  return n;
}

size_t LevelOffset(uint64_t width, uint32_t level) {
  size_t n = 0;
  for (uint32_t k = 0; k < level; ++k) {
    n += width >> k;
  }
  return n;
}

uint64_t CacheKey(const TileKey& key) { return (uint64_t{key.level} << 56) | key.index; }

Result<uint64_t> StoredTileWidth(const Bytes& blob) {
  ByteReader r(blob);
  auto width = r.ReadU16Be();
  if (!width.ok() || *width == 0 || *width > kTileWidth ||
      r.remaining() != StoredTileHashes(*width) * kHashBytes) {
    return Error{ErrorCode::kStorageFailure, "corrupt tile"};
  }
  return *width;
}

Hash HashAt(const Bytes& blob, size_t position) {
  Hash h;
  const auto* p = blob.data() + 2 + position * kHashBytes;
  std::copy(p, p + kHashBytes, h.begin());
  return h;
}

std::string IndexPath(uint64_t n) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%03u", static_cast<unsigned>(n % 1000));
  std::string s = buf;
  while (n >= 1000) {
    n /= 1000;
    std::snprintf(buf, sizeof(buf), "x%03u/", static_cast<unsigned>(n % 1000));
    s = buf + s;
  }
  return s;
}

}  // namespace

Bytes SerializeBundle(std::span<const Bytes> entries) {
  ByteWriter w;
  for (const Bytes& e : entries) {
    // Entry sizes are checked before they reach a bundle.
    (void)w.WritePrefixed16(e);
  }
  return w.Take();
}

Result<std::vector<Bytes>> ParseBundle(ByteSpan bundle) {
  std::vector<Bytes> out;
  ByteReader r(bundle);
  while (!r.empty()) {
    HF_ASSIGN_OR_RETURN(const ByteSpan e, r.ReadPrefixed16());
    out.push_back(ToBytes(e));
    if (out.size() > kTileWidth) {
      return Error{ErrorCode::kMalformed, "bundle holds more than 256 entries"};
    }
  }
  return out;
}

std::string TilePath(uint32_t level, uint64_t index, uint64_t width) {
  std::string p = "tile/" + std::to_string(level) + "/" + IndexPath(index);
  if (width < kTileWidth) {
    p += ".p/" + std::to_string(width);
  }
  return p;
}

std::string EntriesPath(uint64_t index, uint64_t width) {
  std::string p = "tile/entries/" + IndexPath(index);
  if (width < kTileWidth) {
    p += ".p/" + std::to_string(width);
  }
  return p;
}

Result<std::unique_ptr<Log>> Log::Open(std::unique_ptr<LogStorage> storage, LogOptions options) {
  std::unique_ptr<Log> log(new Log(std::move(storage), std::move(options)));
  HF_RETURN_IF_ERROR(log->LoadEdge());
  return log;
}

Result<void> Log::LoadEdge() {
  std::lock_guard lock(mu_);
  HF_ASSIGN_OR_RETURN(size_, storage_->Size());
  edge_.clear();
  for (uint32_t t = 0; t == 0 || (size_ >> (kTileHeight * t)) > 0; ++t) {
    const uint64_t nodes = size_ >> (kTileHeight * t);  // complete nodes at level 8t
    EdgeTile tile;
    tile.index = nodes / kTileWidth;
    const uint64_t width = nodes % kTileWidth;
    if (width > 0) {
      HF_ASSIGN_OR_RETURN(const Bytes blob, storage_->ReadTile({t, tile.index}));
      HF_ASSIGN_OR_RETURN(const uint64_t stored_width, StoredTileWidth(blob));
      if (stored_width != width) {
        return Error{ErrorCode::kStorageFailure, "edge tile width does not match the log size"};
      }
      for (uint32_t k = 0; k < kTileHeight; ++k) {
        const size_t off = LevelOffset(width, k);
        for (uint64_t j = 0; j < (width >> k); ++j) {
          tile.levels[k].push_back(HashAt(blob, off + j));
        }
      }
    }
    edge_.push_back(std::move(tile));
    if (nodes == 0) {
      break;
    }
  }
  edge_entries_.clear();
  const uint64_t pending = size_ % kTileWidth;
  if (pending > 0) {
    HF_ASSIGN_OR_RETURN(const Bytes bundle, storage_->ReadBundle(size_ / kTileWidth));
    auto entries = ParseBundle(bundle);
    if (!entries.ok() || entries->size() != pending) {
      return Error{ErrorCode::kStorageFailure, "edge bundle does not match the log size"};
    }
    edge_entries_ = std::move(*entries);
  }
  root_ = ComputeRoot();
  return Ok();
}

Hash Log::ComputeRoot() const {
  if (size_ == 0) {
    return EmptyRoot();
  }
  // Each set bit k of the size is a complete subtree on the right edge: the node at level k
  // with index (size >> k) - 1, which always sits in the edge tile of its tile level.
  bool have = false;
  Hash root{};
  for (uint32_t k = 0; k < 64; ++k) {
    if (((size_ >> k) & 1) == 0) {
      continue;
    }
    const uint32_t t = k / kTileHeight, b = k % kTileHeight;
    const uint64_t i = (size_ >> k) - 1;
    const Hash& node = edge_[t].levels[b][i & ((uint64_t{1} << (kTileHeight - b)) - 1)];
    root = have ? HashChildren(node, root) : node;
    have = true;
  }
  return root;
}

void Log::PushNode(uint32_t tile_level, const Hash& h, LogBatch& batch) {
  if (edge_.size() == tile_level) {
    edge_.emplace_back();
  }
  EdgeTile& tile = edge_[tile_level];
  tile.levels[0].push_back(h);
  tile.dirty = true;
  for (uint32_t k = 0; tile.levels[k].size() % 2 == 0; ++k) {
    const auto& row = tile.levels[k];
    const Hash parent = HashChildren(row[row.size() - 2], row[row.size() - 1]);
    if (k + 1 == kTileHeight) {
      // The tile is full: store it, start the next one, and carry its root upwards.
      ByteWriter w(2 + StoredTileHashes(kTileWidth) * kHashBytes);
      w.WriteU16Be(static_cast<uint16_t>(kTileWidth));
      for (const auto& level : tile.levels) {
        for (const Hash& x : level) {
          w.WriteBytes(x);
        }
      }
      batch.tiles.emplace_back(TileKey{tile_level, tile.index}, w.Take());
      const uint64_t next = tile.index + 1;
      tile = EdgeTile{};
      tile.index = next;
      PushNode(tile_level + 1, parent, batch);
      return;
    }
    tile.levels[k + 1].push_back(parent);
  }
}

Result<uint64_t> Log::Append(std::span<const ByteSpan> entries, const NoteSigner* signer) {
  for (const ByteSpan e : entries) {
    if (e.size() > kMaxEntryBytes) {
      return Error{ErrorCode::kOversized, "log entry over 65535 bytes"};
    }
  }
  std::lock_guard lock(mu_);
  const uint64_t first = size_;
  // Keep the edge to restore it if the commit fails.
  const std::vector<EdgeTile> saved_edge = edge_;
  const std::vector<Bytes> saved_entries = edge_entries_;

  LogBatch batch;
  for (const ByteSpan e : entries) {
    edge_entries_.push_back(ToBytes(e));
    if (edge_entries_.size() == kTileWidth) {
      batch.bundles.emplace_back((size_ + batch.new_size) / kTileWidth,
                                 SerializeBundle(edge_entries_));
      edge_entries_.clear();
    }
    PushNode(0, HashLeaf(e), batch);
    ++batch.new_size;  // counts the appended entries until it becomes the new size below
  }
  batch.new_size += size_;
  // Upper edge tiles change only when a tile below them fills; store only what changed.
  for (uint32_t t = 0; t < edge_.size(); ++t) {
    EdgeTile& tile = edge_[t];
    if (tile.levels[0].empty() || !tile.dirty) {
      continue;
    }
    tile.dirty = false;
    ByteWriter w;
    w.WriteU16Be(static_cast<uint16_t>(tile.levels[0].size()));
    for (const auto& level : tile.levels) {
      for (const Hash& x : level) {
        w.WriteBytes(x);
      }
    }
    batch.tiles.emplace_back(TileKey{t, tile.index}, w.Take());
  }
  if (!edge_entries_.empty()) {
    batch.bundles.emplace_back(batch.new_size / kTileWidth, SerializeBundle(edge_entries_));
  }

  const uint64_t old_size = size_;
  size_ = batch.new_size;
  const Hash new_root = ComputeRoot();
  Result<void> committed = Ok();
  if (signer != nullptr) {
    auto note = SignCheckpoint(Checkpoint{options_.origin, size_, new_root, {}}, *signer);
    if (note.ok()) {
      batch.checkpoint = std::move(*note);
    } else {
      committed = note.error();
    }
  }
  if (committed.ok()) {
    committed = storage_->Commit(batch);
  }
  if (!committed.ok()) {
    size_ = old_size;
    edge_ = saved_edge;
    edge_entries_ = saved_entries;
    return committed.error();
  }
  root_ = new_root;
  // Cached copies of tiles this batch rewrote are stale.
  for (const auto& [key, data] : batch.tiles) {
    auto it = cache_.find(CacheKey(key));
    if (it != cache_.end()) {
      lru_.erase(it->second);
      cache_.erase(it);
    }
  }
  return first;
}

uint64_t Log::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

Hash Log::root() const {
  std::lock_guard lock(mu_);
  return root_;
}

Result<std::string> Log::LatestCheckpoint() const {
  std::lock_guard lock(mu_);
  return storage_->ReadCheckpoint();
}

Result<std::shared_ptr<const Bytes>> Log::ReadTile(const TileKey& key) const {
  const uint64_t ck = CacheKey(key);
  if (auto it = cache_.find(ck); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  HF_ASSIGN_OR_RETURN(Bytes blob, storage_->ReadTile(key));
  HF_RETURN_IF_ERROR(StoredTileWidth(blob));
  auto shared = std::make_shared<const Bytes>(std::move(blob));
  if (options_.tile_cache_tiles > 0) {
    lru_.emplace_front(ck, shared);
    cache_[ck] = lru_.begin();
    if (lru_.size() > options_.tile_cache_tiles) {
      cache_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return shared;
}

// ProofReader answers a proof's node questions with mu_ held for the whole proof, and
// remembers the incomplete right-edge ranges of the tree size being proved.
class Log::ProofReader final : public NodeReader {
 public:
  ProofReader(const Log& log, uint64_t tree_size) : log_(log), tree_size_(tree_size) {
    if (log_.edge_ranges_size_ != tree_size_) {
      log_.edge_ranges_.clear();
      log_.edge_ranges_size_ = tree_size_;
    }
  }
  Result<Hash> Node(uint32_t level, uint64_t index) const override {
    if (level < memo_.path_levels && index == ((memo_.path_leaf >> level) ^ 1)) {
      return memo_.path[level];
    }
    return log_.NodeLocked(level, index, &memo_);
  }

  // PrefetchPath reads, in one storage call, the siblings on leaf m's path inside its
  // bottom tile. At a large log that tile is rarely cached, and the proof needs only these
  // eight hashes of its 510.
  void PrefetchPath(uint64_t m) const {
    const uint64_t tile_index = m / kTileWidth;
    if (log_.edge_.empty() || tile_index == log_.edge_[0].index ||
        log_.cache_.count(CacheKey({0, tile_index})) != 0) {
      return;  // in memory already
    }
    std::array<size_t, kTileHeight> offsets;
    uint32_t levels = 0;
    for (uint32_t b = 0; b < kTileHeight; ++b) {
      const uint64_t sibling = (m >> b) ^ 1;
      if (((sibling + 1) << b) > tree_size_) {
        break;  // from here up the path leaves the complete part of the tile
      }
      const uint64_t j = sibling & ((uint64_t{1} << (kTileHeight - b)) - 1);
      offsets[levels++] = 2 + (LevelOffset(kTileWidth, b) + j) * kHashBytes;
    }
    if (levels == 0) {
      return;
    }
    MutableByteSpan out(memo_.path[0].data(), levels * kHashBytes);
    if (log_.storage_
            ->ReadTileSlices({0, tile_index}, std::span(offsets).first(levels), kHashBytes, out)
            .ok()) {
      memo_.path_leaf = m;
      memo_.path_levels = levels;
    }
  }
  Result<Hash> Range(uint64_t begin, uint64_t end) const override {
    const uint64_t n = end - begin;
    if (end != tree_size_ || (std::has_single_bit(n) && begin % n == 0)) {
      return NodeReader::Range(begin, end);
    }
    if (auto it = log_.edge_ranges_.find(begin); it != log_.edge_ranges_.end()) {
      return it->second;
    }
    HF_ASSIGN_OR_RETURN(const Hash h, NodeReader::Range(begin, end));
    log_.edge_ranges_.emplace(begin, h);
    return h;
  }

 private:
  const Log& log_;
  uint64_t tree_size_;
  mutable TileMemo memo_;
};

Result<Hash> Log::Node(uint32_t level, uint64_t index) const {
  std::lock_guard lock(mu_);
  return NodeLocked(level, index);
}

Result<Hash> Log::NodeLocked(uint32_t level, uint64_t index, TileMemo* memo) const {
  if (level >= 64 || index >= (size_ >> level)) {
    return Error{ErrorCode::kNotFound, "no such complete subtree"};
  }
  const uint32_t t = level / kTileHeight, b = level % kTileHeight;
  const uint64_t tile_index = index >> (kTileHeight - b);
  const uint64_t j = index & ((uint64_t{1} << (kTileHeight - b)) - 1);
  if (t < edge_.size() && tile_index == edge_[t].index) {
    return edge_[t].levels[b][j];
  }
  std::shared_ptr<const Bytes> blob;
  const TileKey key{t, tile_index};
  if (memo != nullptr && memo->key == CacheKey(key)) {
    blob = memo->tile;
  } else {
    HF_ASSIGN_OR_RETURN(blob, ReadTile(key));
    if (memo != nullptr) {
      *memo = TileMemo{CacheKey(key), blob};
    }
  }
  // ReadTile checked the stored width; only full tiles are off the right edge.
  const uint64_t width = ByteReader(*blob).ReadU16Be().value();
  if (j >= (width >> b)) {
    return Error{ErrorCode::kStorageFailure, "tile is missing a node"};
  }
  return HashAt(*blob, LevelOffset(width, b) + j);
}

Result<std::vector<Hash>> Log::Inclusion(uint64_t index, uint64_t tree_size) const {
  std::lock_guard lock(mu_);
  if (tree_size > size_) {
    return Error{ErrorCode::kInvalidArgument, "tree size beyond the log"};
  }
  const ProofReader reader(*this, tree_size);
  if (index < tree_size) {
    reader.PrefetchPath(index);
  }
  return InclusionProof(reader, index, tree_size);
}

Result<std::vector<Hash>> Log::Consistency(uint64_t size1, uint64_t size2) const {
  std::lock_guard lock(mu_);
  if (size2 > size_) {
    return Error{ErrorCode::kInvalidArgument, "tree size beyond the log"};
  }
  // Consistency proofs mix ranges ending at size1 and at size2; remember those of size2.
  return ConsistencyProof(ProofReader(*this, size2), size1, size2);
}

Result<Bytes> Log::HashTile(uint32_t level, uint64_t index, uint64_t tree_size) const {
  if (tree_size > size() || level >= 8) {
    return ErrorCode::kNotFound;
  }
  const uint64_t nodes = tree_size >> (kTileHeight * level);
  const uint64_t full = nodes / kTileWidth;
  const uint64_t width = index < full ? kTileWidth : (index == full ? nodes % kTileWidth : 0);
  if (width == 0) {
    return ErrorCode::kNotFound;
  }
  Bytes out;
  out.reserve(width * kHashBytes);
  for (uint64_t j = 0; j < width; ++j) {
    HF_ASSIGN_OR_RETURN(const Hash h, Node(kTileHeight * level, index * kTileWidth + j));
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

Result<Bytes> Log::EntryBundle(uint64_t index, uint64_t tree_size) const {
  std::lock_guard lock(mu_);
  if (tree_size > size_) {
    return ErrorCode::kNotFound;
  }
  const uint64_t full = tree_size / kTileWidth;
  const uint64_t width = index < full ? kTileWidth : (index == full ? tree_size % kTileWidth : 0);
  if (width == 0) {
    return ErrorCode::kNotFound;
  }
  std::vector<Bytes> entries;
  if (index == size_ / kTileWidth) {
    entries = edge_entries_;
  } else {
    HF_ASSIGN_OR_RETURN(const Bytes stored, storage_->ReadBundle(index));
    auto parsed = ParseBundle(stored);
    if (!parsed.ok()) {
      return Error{ErrorCode::kStorageFailure, "corrupt bundle"};
    }
    entries = std::move(*parsed);
  }
  if (entries.size() < width) {
    return Error{ErrorCode::kStorageFailure, "bundle shorter than the log says"};
  }
  entries.resize(width);
  return SerializeBundle(entries);
}

Result<Bytes> Log::Entry(uint64_t index) const {
  {
    std::lock_guard lock(mu_);
    if (index >= size_) {
      return ErrorCode::kNotFound;
    }
  }
  HF_ASSIGN_OR_RETURN(const Bytes bundle, EntryBundle(index / kTileWidth, size()));
  HF_ASSIGN_OR_RETURN(auto entries, ParseBundle(bundle));
  return entries[index % kTileWidth];
}

}  // namespace holdfast::tlog
