#include "holdfast/common/sqlite.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "sqlite_wal_buffer.h"

namespace holdfast {
namespace {

constexpr uintmax_t kPage = 4096;  // SQLite's default page size

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hf-sqlite-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string DbPath() const { return (dir_ / "t.db").string(); }

  // OpenWriter opens the database with background checkpoints and creates the test table.
  Result<SqliteDb> OpenWriter(SqliteDb::CheckpointOptions options) const {
    HF_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(DbPath()));
    HF_RETURN_IF_ERROR(db.CheckpointInBackground(options));
    HF_RETURN_IF_ERROR(db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"));
    return db;
  }
  uintmax_t Size(const std::string& suffix) const {
    std::error_code ec;
    const uintmax_t n = std::filesystem::file_size(DbPath() + suffix, ec);
    return ec ? 0 : n;
  }

  // OpenTable opens the database and creates the test table; a non-zero `cache_pages`
  // shrinks the page cache, so that a transaction spills pages to the WAL before its commit.
  Result<SqliteDb> OpenTable(int cache_pages = 0) const {
    HF_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(DbPath()));
    HF_RETURN_IF_ERROR(db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"));
    if (cache_pages > 0) {
      HF_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size=" + std::to_string(cache_pages)));
    }
    return db;
  }

  // Begin opens a transaction and inserts `rows` rows of about a page each.
  static void Begin(SqliteDb& db, int rows) {
    ASSERT_TRUE(db.Exec("BEGIN").ok());
    auto insert = db.Prepare("INSERT INTO t (body) VALUES (randomblob(3900))");
    ASSERT_TRUE(insert.ok());
    for (int j = 0; j < rows; ++j) {
      ASSERT_TRUE(insert->Run().ok());
    }
  }

  // Commits `transactions` transactions of `rows` rows, each row about one page.
  static void Write(SqliteDb& db, int transactions, int rows) {
    for (int i = 0; i < transactions; ++i) {
      Begin(db, rows);
      ASSERT_TRUE(db.Exec("COMMIT").ok());
    }
  }

  // Single runs a query that returns one row, and returns the statement on that row.
  static SqliteStatement Single(SqliteDb& db, std::string_view sql) {
    auto query = db.Prepare(sql);
    EXPECT_TRUE(query.ok());
    auto row = query->Step();
    EXPECT_TRUE(row.ok() && *row);
    return std::move(*query);
  }
  static int64_t Count(SqliteDb& db) { return Single(db, "SELECT count(*) FROM t").ColumnInt64(0); }
  static int64_t BodyBytes(SqliteDb& db) {
    return Single(db, "SELECT sum(length(body)) FROM t").ColumnInt64(0);
  }
  static std::string IntegrityCheck(SqliteDb& db) {
    return Single(db, "PRAGMA integrity_check").ColumnText(0);
  }

  std::filesystem::path dir_;
};

TEST_F(SqliteTest, LastInsertRowidIsTheRowTheLastInsertMade) {
  auto db = SqliteDb::Open(DbPath());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO t (id, body) VALUES (41, x'00')").ok());
  EXPECT_EQ(db->LastInsertRowid(), 41);
  auto insert = db->Prepare("INSERT INTO t (body) VALUES (?1)");
  ASSERT_TRUE(insert.ok());
  for (int64_t want = 42; want < 45; ++want) {
    ASSERT_TRUE(insert->BindBlob(1, ByteSpan()).ok());
    ASSERT_TRUE(insert->Run().ok());
    EXPECT_EQ(db->LastInsertRowid(), want);
  }
  // A failed insert (here a duplicate key) leaves it at the last row made.
  EXPECT_FALSE(db->Exec("INSERT INTO t (id, body) VALUES (42, x'00')").ok());
  EXPECT_EQ(db->LastInsertRowid(), 44);
}

TEST_F(SqliteTest, ACommitReachesTheWalInOneWriteAndOtherConnectionsSeeIt) {
  auto db = OpenTable();
  ASSERT_TRUE(db.ok());
  ASSERT_NE(WalBufferVfs(), nullptr);  // Debian's SQLite: the default VFS is the Unix one
  auto reader = SqliteDb::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  for (int i = 1; i <= 3; ++i) {
    const SqliteWalWrites before = SqliteWalWriteCounts();
    Write(*db, 1, 20);  // about 20 pages, under 100 KiB: a header and a page each
    const SqliteWalWrites after = SqliteWalWriteCounts();
    EXPECT_GE(after.asked - before.asked, 40u);
    EXPECT_LE(after.made - before.made, 2u);  // the frames, and at most a WAL header apart
    EXPECT_EQ(Count(*reader), 20 * i);        // in the file once the commit returns
  }
}

TEST_F(SqliteTest, TheWalBufferKeepsSpillsRollbacksAndLargeTransactionsRight) {
  // A small page cache makes SQLite write pages to the WAL before the commit and read them
  // back from it within the transaction; 600 pages is more than the buffer holds.
  auto db = OpenTable(10);
  ASSERT_TRUE(db.ok());
  Begin(*db, 300);
  EXPECT_EQ(Count(*db), 300);
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  // The next transaction writes over the frames the rollback dropped.
  Write(*db, 1, 600);
  EXPECT_EQ(BodyBytes(*db), 600 * 3900);
  auto reader = SqliteDb::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(Count(*reader), 600);
  EXPECT_EQ(IntegrityCheck(*reader), "ok");
}

TEST_F(SqliteTest, FramesOfARolledBackTransactionNeverLandOnAnotherConnections) {
  auto a = OpenTable(10);
  ASSERT_TRUE(a.ok());
  // With the WAL emptied, the rollback finds nothing of its pages in it and reads nothing
  // from it: only the release of the write lock can write out what A still holds.
  ASSERT_TRUE(a->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  // A spills about 25 pages to the WAL (fewer than its buffer holds) and rolls back.
  Begin(*a, 25);
  EXPECT_GT(SqliteWalWriteCounts().held, 0u);
  ASSERT_TRUE(a->Exec("ROLLBACK").ok());
  EXPECT_EQ(SqliteWalWriteCounts().held, 0u);
  // B commits frames at the same place in the WAL; A then reads, which would write out
  // anything A still held over them.
  auto b = SqliteDb::Open(DbPath());
  ASSERT_TRUE(b.ok());
  Write(*b, 1, 20);
  EXPECT_EQ(Count(*a), 20);
  auto c = SqliteDb::Open(DbPath());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Count(*c), 20);
  EXPECT_EQ(IntegrityCheck(*c), "ok");
  EXPECT_EQ(BodyBytes(*c), 20 * 3900);
}

TEST_F(SqliteTest, ACrashLosesOnlyWhatWasNotCommitted) {
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // Commits 20 transactions, then dies without closing anything in the middle of one
    // whose pages a small cache spilled to the WAL, some still in the buffer.
    // (No ASSERT here: a failure in the child must show as its exit status.)
    auto db = OpenTable(10);
    bool ok = db.ok();
    for (int i = 0; ok && i < 20; ++i) {
      ok = db->Exec(
                 "BEGIN; INSERT INTO t (body) VALUES (randomblob(3900)), "
                 "(randomblob(3900)); COMMIT")
               .ok();
    }
    const SqliteWalWrites before = SqliteWalWriteCounts();
    ok = ok && db->Exec("BEGIN").ok();
    for (int j = 0; ok && j < 40; ++j) {
      ok = db->Exec("INSERT INTO t (body) VALUES (randomblob(3900))").ok();
    }
    const SqliteWalWrites after = SqliteWalWriteCounts();
    // Spilled frames were asked for, and some of them are still held.
    ok = ok && after.asked - before.asked > 2 * (after.made - before.made) && after.held > 0;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_GT(Size("-wal"), 0u);  // nothing was checkpointed: recovery reads the WAL
  auto db = SqliteDb::Open(DbPath());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Count(*db), 40);
  EXPECT_EQ(IntegrityCheck(*db), "ok");
}

TEST_F(SqliteTest, TheWriterLeavesCheckpointsToTheThread) {
  // A thread that never wakes: whatever reaches the main file, the writer put there.
  auto db = OpenWriter({.wake_pages = 1 << 29, .limit_pages = 1 << 29});
  ASSERT_TRUE(db.ok());
  const uintmax_t before = Size("");
  Write(*db, 30, 100);  // 3000 pages: SQLite's own checkpoint would have run at 1000
  EXPECT_LE(Size(""), before + 10 * kPage);
  EXPECT_GE(Size("-wal"), 3000 * kPage);
  EXPECT_EQ(Count(*db), 3000);
}

TEST_F(SqliteTest, TheThreadCopiesTheWalIntoTheMainFile) {
  auto db = OpenWriter({.wake_pages = 50, .limit_pages = 100000});
  ASSERT_TRUE(db.ok());
  Write(*db, 10, 40);  // 400 pages
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Size("") < 300 * kPage && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(Size(""), 300 * kPage);
  EXPECT_EQ(Count(*db), 400);
}

TEST_F(SqliteTest, TheWalStaysBoundedUnderAWriterThatNeverPauses) {
  {
    auto db = OpenWriter({.wake_pages = 20, .limit_pages = 200});
    ASSERT_TRUE(db.ok());
    Write(*db, 600, 10);  // 6000 pages
    // The WAL file keeps its largest size. Unbounded it would hold all 6000 pages; bounded it
    // holds the limit plus what commits added while the checkpoint before a restart ran.
    EXPECT_LE(Size("-wal"), 3000 * kPage);
    EXPECT_EQ(Count(*db), 6000);
  }
  // Everything committed is there after a reopen.
  auto again = SqliteDb::Open(DbPath());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Count(*again), 6000);
}

TEST_F(SqliteTest, AReaderOnAnOldSnapshotOnlyDelaysTheRestart) {
  auto db = OpenWriter({.wake_pages = 20, .limit_pages = 200});
  ASSERT_TRUE(db.ok());
  Write(*db, 10, 10);
  auto reader = SqliteDb::Open(DbPath());
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(reader->Exec("BEGIN").ok());
  ASSERT_EQ(Count(*reader), 100);  // the snapshot is taken here
  Write(*db, 300, 10);
  // Nothing past the reader's snapshot can be copied, so the WAL held all of it.
  EXPECT_EQ(Count(*reader), 100);
  ASSERT_TRUE(reader->Exec("COMMIT").ok());
  const uintmax_t held = Size("-wal");
  EXPECT_GE(held, 3000 * kPage);
  // With the reader gone, a checkpoint copies what it held back and the WAL restarts: the
  // file is reused, where without a restart it would grow by all 6000 new pages.
  Write(*db, 600, 10);
  EXPECT_LE(Size("-wal"), held + 3000 * kPage);
  EXPECT_EQ(Count(*db), 9100);
}

TEST_F(SqliteTest, BackgroundCheckpointsNeedAFileAndSaneOptions) {
  auto memory = SqliteDb::Open(":memory:");
  ASSERT_TRUE(memory.ok());
  EXPECT_EQ(memory->CheckpointInBackground().code(), ErrorCode::kInvalidArgument);
  auto db = SqliteDb::Open(DbPath());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db->CheckpointInBackground({.wake_pages = 0, .limit_pages = 10}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->CheckpointInBackground({.wake_pages = 10, .limit_pages = 5}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(db->CheckpointInBackground({.wake_pages = 10, .limit_pages = 1 << 30}).code(),
            ErrorCode::kInvalidArgument);  // twice the limit would overflow
  ASSERT_TRUE(db->CheckpointInBackground().ok());
  EXPECT_EQ(db->CheckpointInBackground().code(), ErrorCode::kInvalidArgument);  // only once
}

}  // namespace
}  // namespace holdfast
