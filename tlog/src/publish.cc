#include "holdfast/tlog/publish.h"

#include <filesystem>
#include <fstream>

namespace holdfast::tlog {
namespace {

namespace fs = std::filesystem;

// WriteFile writes to a temporary name and renames it into place, so a reader never sees half
// a file. (The files can always be published again from the log's database.)
Result<void> WriteFile(const fs::path& path, ByteSpan data) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return Error{ErrorCode::kStorageFailure, "cannot create tile directory"};
  }
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      return Error{ErrorCode::kStorageFailure, "cannot write tile file"};
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    return Error{ErrorCode::kStorageFailure, "cannot rename tile file"};
  }
  return Ok();
}

}  // namespace

Result<uint64_t> PublishTiles(const Log& log, const std::string& dir) {
  HF_ASSIGN_OR_RETURN(const std::string note, log.LatestCheckpoint());
  HF_ASSIGN_OR_RETURN(const Note parsed, ParseNote(note));
  HF_ASSIGN_OR_RETURN(const Checkpoint checkpoint, Checkpoint::Parse(parsed.text));
  const uint64_t size = checkpoint.size;
  const fs::path root(dir);

  // Entry bundles, then hash tiles level by level.
  for (uint64_t b = 0; b * kTileWidth < size; ++b) {
    const uint64_t width = std::min<uint64_t>(kTileWidth, size - b * kTileWidth);
    const fs::path file = root / EntriesPath(b, width);
    if (width == kTileWidth && fs::exists(file)) {
      continue;
    }
    HF_ASSIGN_OR_RETURN(const Bytes bundle, log.EntryBundle(b, size));
    HF_RETURN_IF_ERROR(WriteFile(file, bundle));
  }
  for (uint32_t level = 0; (size >> (kTileHeight * level)) > 0; ++level) {
    const uint64_t nodes = size >> (kTileHeight * level);
    for (uint64_t t = 0; t * kTileWidth < nodes; ++t) {
      const uint64_t width = std::min<uint64_t>(kTileWidth, nodes - t * kTileWidth);
      const fs::path file = root / TilePath(level, t, width);
      if (width == kTileWidth && fs::exists(file)) {
        continue;
      }
      HF_ASSIGN_OR_RETURN(const Bytes tile, log.HashTile(level, t, size));
      HF_RETURN_IF_ERROR(WriteFile(file, tile));
    }
  }
  HF_RETURN_IF_ERROR(WriteFile(root / "checkpoint", AsBytes(note)));
  return size;
}

}  // namespace holdfast::tlog
