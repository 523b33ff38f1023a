// A thin RAII layer over SQLite's C API, shared by every storage backend that uses the
// embedded database. Errors become kStorageFailure (or kAlreadyExists for a constraint
// violation); nothing here throws.
#ifndef HOLDFAST_COMMON_SQLITE_H_
#define HOLDFAST_COMMON_SQLITE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace holdfast {

class SqliteStatement;

// SqliteDb owns one connection. Not thread-safe: one connection per thread or a lock.
class SqliteDb {
 public:
  // Open opens (creating if needed) the database at `path` in WAL mode with
  // synchronous=FULL, so a committed transaction survives power loss. A non-zero
  // `page_size` applies to a database being created (SQLite fixes it in WAL mode).
  // The connection goes through a VFS that gathers each transaction's WAL writes into few
  // (common/src/sqlite_wal_buffer.cc) and writes them out before every sync. Do not lower
  // `synchronous` below FULL: a commit would then publish frames that are written out only
  // while it is being published (xShmBarrier), where a failed write cannot be reported, and
  // the commit would report success with frames missing.
  static Result<SqliteDb> Open(const std::string& path, int page_size = 0);
  SqliteDb(SqliteDb&&) noexcept;
  SqliteDb& operator=(SqliteDb&&) noexcept;
  ~SqliteDb();

  // Exec runs one or more statements that return no rows.
  Result<void> Exec(std::string_view sql);
  // Prepare compiles one statement; it must not outlive this connection.
  Result<SqliteStatement> Prepare(std::string_view sql);
  // LastError is SQLite's message for the most recent failure, for logs (never key material:
  // callers bind secrets as parameters, and SQLite does not echo parameters).
  std::string LastError() const;
  // InTransaction is true while a transaction is open (SQLite rolls one back by itself on
  // some errors: disk full, I/O error, out of memory).
  bool InTransaction() const;
  // Changes is the number of rows the last INSERT, UPDATE or DELETE changed.
  uint64_t Changes() const;
  // LastInsertRowid is the rowid (the INTEGER PRIMARY KEY) of the row the last successful
  // INSERT on this connection made. Cheaper than INSERT ... RETURNING, which SQLite runs by
  // collecting the returned rows in a temporary b-tree opened and closed for each statement.
  int64_t LastInsertRowid() const;

  // CheckpointInBackground moves this connection's WAL checkpoints to a thread of their own,
  // with a second connection to the same file. SQLite's automatic checkpoint runs inside the
  // commit that takes the WAL past 1000 pages: copying them into the main file and fsyncing
  // it stalls that writer for milliseconds, several times a second under load. Here, once
  // commits leave `wake_pages` WAL pages beyond what the last checkpoint copied, the thread
  // copies them (a passive checkpoint, which never blocks the writer).
  // The WAL restarts from its beginning only when a transaction begins after a checkpoint has
  // caught up with it, which a busy writer may never allow. So from `limit_pages` on, the
  // writer copies the rest itself, inside the commit that finds no more than `wake_pages`
  // left (that commit waits for the copy and an fsync), or at twice the limit whatever is
  // left (the thread is slower than the writer). That bounds the WAL, except while a reader
  // keeps a read transaction open: no checkpoint can copy past its snapshot, so the WAL
  // holds everything since until it ends. `limit_pages` is at most INT_MAX / 2.
  // Call it once, before the connection's first write. The hook it installs is SQLite's WAL
  // hook, which PRAGMA wal_autocheckpoint would replace: do not run that pragma afterwards.
  struct CheckpointOptions {
    int wake_pages = 1000;
    int limit_pages = 16384;
  };
  Result<void> CheckpointInBackground(CheckpointOptions options);
  Result<void> CheckpointInBackground() { return CheckpointInBackground(CheckpointOptions{}); }

 private:
  class Checkpointer;

  explicit SqliteDb(sqlite3* db);

  sqlite3* db_ = nullptr;
  // Stopped (and unhooked from db_) before db_ closes.
  std::unique_ptr<Checkpointer> checkpointer_;
};

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&&) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) noexcept;
  ~SqliteStatement();

  // Bind* set the 1-based parameter `index`. Blob and text are copied by SQLite.
  Result<void> BindInt64(int index, int64_t v);
  Result<void> BindBlob(int index, ByteSpan v);
  Result<void> BindText(int index, std::string_view v);
  // Step runs to the next row: true when a row is ready, false when done.
  Result<bool> Step();
  // Run steps to completion and resets; for statements that return no rows.
  Result<void> Run();
  // Reset makes the statement ready to run again; bindings are cleared.
  void Reset();

  int64_t ColumnInt64(int column) const;
  // ColumnBlob views the current row's blob; valid until the next Step or Reset.
  ByteSpan ColumnBlob(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDb;
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_SQLITE_H_
