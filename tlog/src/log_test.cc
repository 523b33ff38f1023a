#include "holdfast/tlog/log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"

namespace holdfast::tlog {
namespace {

constexpr char kOrigin[] = "holdfast.test/log";

NoteSigner TestSigner() {
  DeterministicRng rng(99);
  return std::move(
      NoteSigner::Create(kOrigin, NoteKeyType::kEd25519, crypto::Ed25519PrivateKey::Generate(rng))
          .value());
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/holdfast-tlog-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const char* name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

std::unique_ptr<Log> OpenLog(std::unique_ptr<LogStorage> storage) {
  auto log = Log::Open(std::move(storage), LogOptions{kOrigin, 64});
  EXPECT_TRUE(log.ok());
  return log.ok() ? std::move(*log) : nullptr;
}

std::vector<Bytes> RandomEntries(DeterministicRng& rng, size_t n) {
  std::vector<Bytes> out(n);
  for (auto& e : out) {
    e.resize(rng.Uniform(100));
    rng.Fill(e);
  }
  return out;
}

Result<uint64_t> AppendAll(Log& log, const std::vector<Bytes>& entries, const NoteSigner* signer) {
  std::vector<ByteSpan> spans(entries.begin(), entries.end());
  return log.Append(spans, signer);
}

// Checks everything the log serves against an in-memory reference tree.
void CheckAgainst(const Log& log, const MemoryTree& tree, const std::vector<Bytes>& all,
                  DeterministicRng& rng) {
  const uint64_t n = tree.size();
  ASSERT_EQ(log.size(), n);
  ASSERT_EQ(log.root(), tree.Root());
  for (int i = 0; i < 20 && n > 0; ++i) {
    const uint64_t size = 1 + rng.Uniform(n);
    const uint64_t m = rng.Uniform(size);
    ASSERT_EQ(*log.Inclusion(m, size), *InclusionProof(tree, m, size)) << m << "/" << size;
    const uint64_t a = 1 + rng.Uniform(size);
    ASSERT_EQ(*log.Consistency(a, size), *ConsistencyProof(tree, a, size)) << a << "->" << size;
    ASSERT_EQ(*log.Entry(m), all[m]);
  }
  // Every C2SP tile and bundle of the current size.
  for (uint32_t level = 0; (n >> (8 * level)) > 0; ++level) {
    const uint64_t nodes = n >> (8 * level);
    for (uint64_t idx = 0; idx <= nodes / 256; ++idx) {
      auto tile = log.HashTile(level, idx, n);
      const uint64_t width = idx < nodes / 256 ? 256 : nodes % 256;
      if (width == 0) {
        EXPECT_EQ(tile.code(), ErrorCode::kNotFound);
        continue;
      }
      ASSERT_TRUE(tile.ok());
      ASSERT_EQ(tile->size(), width * kHashBytes);
      for (uint64_t j = 0; j < width; j += 37) {
        const Hash want = *tree.Node(8 * level, idx * 256 + j);
        ASSERT_TRUE(std::equal(want.begin(), want.end(), tile->begin() + j * kHashBytes));
      }
    }
  }
  if (n > 0) {
    const uint64_t last = (n - 1) / 256;
    auto bundle = log.EntryBundle(last, n);
    ASSERT_TRUE(bundle.ok());
    auto entries = ParseBundle(*bundle);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), n - last * 256);
    EXPECT_EQ(entries->back(), all.back());
  }
}

TEST(Log, MatchesReferenceAcrossRandomBatches) {
  DeterministicRng rng(7);
  auto log = OpenLog(NewMemoryLogStorage());
  MemoryTree tree;
  std::vector<Bytes> all;
  CheckAgainst(*log, tree, all, rng);
  for (int batch = 0; batch < 60; ++batch) {
    // Mix tiny batches with ones that cross tile boundaries at several levels.
    const size_t n = batch % 10 == 9 ? 700 + rng.Uniform(2000) : rng.Uniform(40);
    const auto entries = RandomEntries(rng, n);
    auto first = AppendAll(*log, entries, nullptr);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(*first, all.size());
    for (const auto& e : entries) {
      tree.Append(e);
      all.push_back(e);
    }
    CheckAgainst(*log, tree, all, rng);
  }
  EXPECT_GT(all.size(), 65536u / 8);
}

TEST(Log, SqliteReopensWhereItStopped) {
  TempDir dir;
  DeterministicRng rng(8);
  const NoteSigner signer = TestSigner();
  MemoryTree tree;
  std::vector<Bytes> all;
  for (int round = 0; round < 4; ++round) {
    auto storage = OpenSqliteLogStorage(dir.File("log.db"));
    ASSERT_TRUE(storage.ok());
    auto log = OpenLog(std::move(*storage));
    CheckAgainst(*log, tree, all, rng);
    for (int batch = 0; batch < 5; ++batch) {
      const auto entries = RandomEntries(rng, rng.Uniform(600));
      ASSERT_TRUE(AppendAll(*log, entries, &signer).ok());
      for (const auto& e : entries) {
        tree.Append(e);
        all.push_back(e);
      }
    }
    CheckAgainst(*log, tree, all, rng);
    auto note = log->LatestCheckpoint();
    ASSERT_TRUE(note.ok());
    auto cp = OpenCheckpoint(*note, kOrigin, signer.Verifier());
    ASSERT_TRUE(cp.ok());
    EXPECT_EQ(cp->checkpoint.size, tree.size());
    EXPECT_EQ(cp->checkpoint.root, tree.Root());
  }
}

TEST(Log, OversizedEntryChangesNothing) {
  auto log = OpenLog(NewMemoryLogStorage());
  const std::vector<Bytes> entries = {Bytes(10), Bytes(kMaxEntryBytes + 1)};
  EXPECT_EQ(AppendAll(*log, entries, nullptr).code(), ErrorCode::kOversized);
  EXPECT_EQ(log->size(), 0u);
  const std::vector<Bytes> max = {Bytes(kMaxEntryBytes, 7)};
  ASSERT_TRUE(AppendAll(*log, max, nullptr).ok());
  EXPECT_EQ(*log->Entry(0), max[0]);
}

TEST(Log, RefusesQuestionsBeyondItsSize) {
  auto log = OpenLog(NewMemoryLogStorage());
  const std::vector<Bytes> entries(10, Bytes{1});
  ASSERT_TRUE(AppendAll(*log, entries, nullptr).ok());
  EXPECT_EQ(log->Inclusion(3, 11).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->Consistency(3, 11).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->Entry(10).code(), ErrorCode::kNotFound);
  EXPECT_EQ(log->HashTile(0, 0, 11).code(), ErrorCode::kNotFound);
  EXPECT_EQ(log->HashTile(0, 1, 10).code(), ErrorCode::kNotFound);
  EXPECT_EQ(log->Node(0, 10).code(), ErrorCode::kNotFound);
}

TEST(TilePaths, FollowTheSpec) {
  EXPECT_EQ(TilePath(0, 0, 256), "tile/0/000");
  EXPECT_EQ(TilePath(0, 1234067, 256), "tile/0/x001/x234/067");
  EXPECT_EQ(TilePath(1, 1000, 256), "tile/1/x001/000");
  EXPECT_EQ(TilePath(2, 999, 17), "tile/2/999.p/17");
  EXPECT_EQ(TilePath(0, 1000000, 256), "tile/0/x001/x000/000");
  EXPECT_EQ(EntriesPath(5, 100), "tile/entries/005.p/100");
  EXPECT_EQ(EntriesPath(1234, 256), "tile/entries/x001/234");
}

TEST(Bundles, RoundTripAndRejectGarbage) {
  const std::vector<Bytes> entries = {Bytes{}, Bytes{1, 2}, Bytes(300, 9)};
  const Bytes b = SerializeBundle(entries);
  EXPECT_EQ(*ParseBundle(b), entries);
  EXPECT_FALSE(ParseBundle(ByteSpan(b).first(b.size() - 1)).ok());
  EXPECT_FALSE(ParseBundle(Bytes{0x00}).ok());
}

// Crash safety: a child process appends signed batches of kBatch entries until it is killed
// with SIGKILL at a random moment. Each time, the reopened log holds a whole number of
// batches, every entry is the one the writer appended at that index, and the stored
// checkpoint verifies and names the stored size and root.
TEST(Log, SurvivesSigkillMidBatch) {
  constexpr uint64_t kBatch = 97;
  constexpr int kKills = 12;
  TempDir dir;
  const std::string path = dir.File("crash.db");
  const NoteSigner signer = TestSigner();
  auto entry_for = [](uint64_t i) {
    Bytes e(8 + i % 50);
    for (size_t k = 0; k < e.size(); ++k) {
      e[k] = static_cast<uint8_t>(i >> (8 * (k % 8)));
    }
    return e;
  };
  DeterministicRng rng(5);
  uint64_t last_size = 0;
  for (int round = 0; round < kKills; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto storage = OpenSqliteLogStorage(path);
      if (!storage.ok()) {
        _exit(2);
      }
      auto log = Log::Open(std::move(*storage), LogOptions{kOrigin, 64});
      if (!log.ok()) {
        _exit(3);
      }
      // Bounded: the parent kills us long before this ends.
      for (int b = 0; b < 100000; ++b) {
        std::vector<Bytes> entries;
        const uint64_t start = (*log)->size();
        for (uint64_t i = 0; i < kBatch; ++i) {
          entries.push_back(entry_for(start + i));
        }
        std::vector<ByteSpan> spans(entries.begin(), entries.end());
        if (!(*log)->Append(spans, &signer).ok()) {
          _exit(4);
        }
      }
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng.Uniform(120)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with status " << WEXITSTATUS(status);

    auto storage = OpenSqliteLogStorage(path);
    ASSERT_TRUE(storage.ok());
    auto log = OpenLog(std::move(*storage));
    ASSERT_NE(log, nullptr);
    const uint64_t size = log->size();
    EXPECT_EQ(size % kBatch, 0u);
    EXPECT_GE(size, last_size);
    last_size = size;
    MemoryTree tree;
    for (uint64_t i = 0; i < size; ++i) {
      tree.Append(entry_for(i));
    }
    ASSERT_EQ(log->root(), tree.Root());
    if (size > 0) {
      EXPECT_EQ(*log->Entry(size - 1), entry_for(size - 1));
      auto cp = OpenCheckpoint(*log->LatestCheckpoint(), kOrigin, signer.Verifier());
      ASSERT_TRUE(cp.ok());
      EXPECT_EQ(cp->checkpoint.size, size);
      EXPECT_EQ(cp->checkpoint.root, tree.Root());
    }
  }
  EXPECT_GT(last_size, 0u) << "the writer never committed a batch";
}

}  // namespace
}  // namespace holdfast::tlog
