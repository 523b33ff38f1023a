#include "holdfast/tlog/audit.h"

#include <array>
#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/tlog/log.h"

namespace holdfast::tlog {
namespace {

// PerfectRoot hashes 256 nodes into the root of the perfect subtree above them.
Hash PerfectRoot(std::vector<Hash> level) {
  while (level.size() > 1) {
    for (size_t i = 0; i < level.size() / 2; ++i) {
      level[i] = HashChildren(level[2 * i], level[2 * i + 1]);
    }
    level.resize(level.size() / 2);
  }
  return level[0];
}

class Auditor {
 public:
  Auditor(TileFetcher& fetcher, AuditReport& report) : fetcher_(fetcher), report_(report) {}

  // Run streams every entry of a tree of `size` leaves through the checks. Returns false on
  // the first failure (described in report_.failure). `at_size` and `root_at` ask for the
  // root after a given number of leaves (for the consistency check).
  bool Run(uint64_t size, uint64_t at_size, Hash& root, Hash& root_at) {
    CompactRange range;
    if (at_size == 0) {
      root_at = EmptyRoot();
    }
    for (uint64_t b = 0; b * kTileWidth < size; ++b) {
      const uint64_t width = std::min<uint64_t>(kTileWidth, size - b * kTileWidth);
      const std::string path = EntriesPath(b, width);
      auto bundle = fetcher_.Fetch(path);
      if (!bundle.ok()) {
        return Fail("cannot fetch entry bundle " + path + ": " +
                    std::string(ErrorName(bundle.code())));
      }
      auto entries = ParseBundle(*bundle);
      if (!entries.ok() || entries->size() != width) {
        return Fail("entry bundle " + path + " is malformed or holds the wrong number of entries");
      }
      for (const Bytes& e : *entries) {
        const Hash leaf = HashLeaf(e);
        range.AppendLeafHash(leaf);
        if (range.size() == at_size) {
          root_at = range.Root();
        }
        if (!Push(0, leaf)) {
          return false;
        }
        ++report_.entries_checked;
      }
    }
    // What is left at each level is the partial tile for this size.
    for (uint32_t level = 0; level < pending_.size(); ++level) {
      const uint64_t nodes = size >> (kTileHeight * level);
      if (nodes % kTileWidth == 0) {
        continue;
      }
      if (!CompareTile(level, nodes / kTileWidth, pending_[level])) {
        return false;
      }
    }
    root = range.Root();
    return true;
  }

  bool Fail(std::string what) {
    report_.failure = std::move(what);
    return false;
  }

 private:
  // Push adds a node at tree level 8*level; each full group of 256 is checked against its
  // hash tile and carried up as one node of the next tile level.
  bool Push(uint32_t level, const Hash& h) {
    if (pending_.size() == level) {
      pending_.emplace_back();
      next_index_.push_back(0);
    }
    pending_[level].push_back(h);
    if (pending_[level].size() < kTileWidth) {
      return true;
    }
    std::vector<Hash> full = std::move(pending_[level]);
    pending_[level].clear();
    if (!CompareTile(level, next_index_[level]++, full)) {
      return false;
    }
    return Push(level + 1, PerfectRoot(std::move(full)));
  }

  bool CompareTile(uint32_t level, uint64_t index, const std::vector<Hash>& want) {
    const std::string path = TilePath(level, index, want.size());
    auto tile = fetcher_.Fetch(path);
    if (!tile.ok()) {
      return Fail("cannot fetch hash tile " + path + ": " + std::string(ErrorName(tile.code())));
    }
    if (tile->size() != want.size() * kHashBytes) {
      return Fail("hash tile " + path + " has the wrong length");
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (!std::equal(want[i].begin(), want[i].end(), tile->begin() + i * kHashBytes)) {
        return Fail("hash tile " + path + " disagrees with the entries beneath it at position " +
                    std::to_string(i));
      }
    }
    ++report_.tiles_checked;
    return true;
  }

  TileFetcher& fetcher_;
  AuditReport& report_;
  std::vector<std::vector<Hash>> pending_;
  std::vector<uint64_t> next_index_;
};

std::string Describe(const Error& e) {
  std::string s(ErrorName(e.code));
  if (e.detail != nullptr) {
    s += std::string(" (") + e.detail + ")";
  }
  return s;
}

}  // namespace

AuditReport AuditLog(TileFetcher& fetcher, std::string_view origin, const NoteVerifier& log_key,
                     std::string_view previous_note) {
  AuditReport report;
  Auditor auditor(fetcher, report);

  // The previous checkpoint must itself be genuine, or it proves nothing.
  std::optional<Checkpoint> previous;
  if (!previous_note.empty()) {
    auto prev = OpenCheckpoint(previous_note, origin, log_key);
    if (!prev.ok()) {
      auditor.Fail("the saved checkpoint does not verify: " + Describe(prev.error()));
      return report;
    }
    previous = prev->checkpoint;
  }

  auto fetched = fetcher.Fetch("checkpoint");
  if (!fetched.ok()) {
    auditor.Fail("cannot fetch checkpoint: " + Describe(fetched.error()));
    return report;
  }
  const std::string note(fetched->begin(), fetched->end());
  auto opened = OpenCheckpoint(note, origin, log_key);
  if (!opened.ok()) {
    auditor.Fail("checkpoint does not verify: " + Describe(opened.error()));
    return report;
  }
  const Checkpoint& cp = opened->checkpoint;
  if (previous && previous->size > cp.size) {
    auditor.Fail("rollback: the log shows size " + std::to_string(cp.size) +
                 " after it showed size " + std::to_string(previous->size));
    return report;
  }
  if (previous && previous->size == cp.size && previous->root != cp.root) {
    auditor.Fail("fork: two different roots signed for size " + std::to_string(cp.size));
    return report;
  }

  Hash root{}, root_at{};
  if (!auditor.Run(cp.size, previous ? previous->size : 0, root, root_at)) {
    return report;
  }
  if (root != cp.root) {
    auditor.Fail("the entries give root " + Base64Encode(root) + " but the checkpoint says " +
                 Base64Encode(cp.root));
    return report;
  }
  if (previous && root_at != previous->root) {
    auditor.Fail("fork: the first " + std::to_string(previous->size) +
                 " entries no longer give the root signed earlier; history was rewritten");
    return report;
  }
  report.checkpoint = cp;
  report.checkpoint_note = note;
  return report;
}

}  // namespace holdfast::tlog
