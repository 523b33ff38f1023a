#include "holdfast/common/sqlite.h"

#include <sqlite3.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "holdfast/common/thread_name.h"
#include "sqlite_wal_buffer.h"

namespace holdfast {
namespace {

Error Fail(int rc) {
  return Error{
      (rc & 0xff) == SQLITE_CONSTRAINT ? ErrorCode::kAlreadyExists : ErrorCode::kStorageFailure,
      "sqlite"};
}

// ConfigureOnce runs before this process's first sqlite3_open. SQLite's memory statistics
// (on by default) take a process-wide mutex around every allocation and free, which a
// writer inserting thousands of rows a second pays for on each. Nothing here reads them.
// sqlite3_config fails harmlessly if something else initialized SQLite first.
void ConfigureOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Result<SqliteDb> SqliteDb::Open(const std::string& path, int page_size) {
  ConfigureOnce();
  sqlite3* db = nullptr;
  // The WAL-gathering VFS relies on every commit syncing the WAL: synchronous=FULL, below.
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 WalBufferVfs());
  SqliteDb out(db);  // closes `db` even when opening failed
  if (rc != SQLITE_OK) {
    return Error{ErrorCode::kStorageFailure, "cannot open database"};
  }
  sqlite3_busy_timeout(db, 5000);
  if (page_size > 0) {
    HF_RETURN_IF_ERROR(out.Exec("PRAGMA page_size=" + std::to_string(page_size)));
  }
  HF_RETURN_IF_ERROR(out.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  return out;
}

// The checkpointing thread and its own connection. The writer's WAL hook (run after each of
// its commits, on its thread) wakes it; everything else happens on the thread.
class SqliteDb::Checkpointer {
 public:
  Checkpointer(sqlite3* writer, sqlite3* own, CheckpointOptions options)
      : writer_(writer), own_(own), options_(options) {
    // May throw; then nothing is hooked yet.
    thread_ = std::thread([this] {
      NameThisThread("hf-checkpoint");
      Run();
    });
    // Replaces SQLite's automatic checkpoint, which is a WAL hook too.
    sqlite3_wal_hook(writer_, &Checkpointer::OnCommit, this);
  }

  ~Checkpointer() {
    sqlite3_wal_hook(writer_, nullptr, nullptr);
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    sqlite3_close_v2(own_);
  }

  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

 private:
  // OnCommit runs inside each commit call on the writer connection, after the commit, with
  // the number of pages now in the WAL.
  static int OnCommit(void* arg, sqlite3* db, const char*, int pages) {
    auto* self = static_cast<Checkpointer*>(arg);
    const CheckpointOptions& o = self->options_;
    if (pages < self->latest_pages_.exchange(pages)) {
      self->writer_retry_at_ = 0;  // the WAL restarted
    }
    const int behind = Behind(pages, self->backfilled_.load());
    // The writer finishes the copy when little is left, or when the thread has not caught up
    // by twice the limit (it is slower than the writer, or a reader held the WAL back).
    if (pages >= o.limit_pages && pages >= self->writer_retry_at_ &&
        (behind <= o.wake_pages || pages >= 2 * o.limit_pages)) {
      const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                               nullptr);
      // Busy: the thread is mid-copy, so try again at the next commit. Otherwise, if the WAL
      // does not restart (a reader's snapshot holds pages back), try again only after as many
      // pages as wake the thread.
      self->writer_retry_at_ = rc == SQLITE_BUSY ? 0 : pages + o.wake_pages;
      return SQLITE_OK;
    }
    if (behind >= o.wake_pages) {
      self->Wake();
    }
    return SQLITE_OK;
  }

  // Behind is how many of the WAL's `pages` are not yet in the main file, given that the last
  // checkpoint had copied `backfilled` (of an earlier WAL, if it has restarted since).
  static int Behind(int pages, int backfilled) {
    return pages >= backfilled ? pages - backfilled : pages;
  }

  void Wake() {
    if (woken_.exchange(true)) {
      return;  // already woken; below the limit, Run looks at latest_pages_ again after its
                // pass, and otherwise the next commit wakes it
    }
    {
      std::lock_guard lock(mu_);
      wake_ = true;
    }
    cv_.notify_one();
  }

  void Run() {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return wake_ || stop_; });
        if (stop_) {
          return;
        }
        wake_ = false;
      }
      const int before = backfilled_.load();
      int log_pages = 0;
      int backfilled = 0;
      const int rc = sqlite3_wal_checkpoint_v2(own_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                               &log_pages, &backfilled);
      // A failed checkpoint (busy, I/O error) is tried again on a later wake; the WAL keeps
      // every committed page meanwhile.
      backfilled_.store(rc == SQLITE_OK ? backfilled : 0);
      woken_.store(false);
      // Commits made while this one copied did not wake us: if they left enough behind, and
      // this pass got anywhere (a reader's snapshot can stop it; a restarted WAL counts as
      // progress), go again. Not from the limit on: there the writer finishes the copy, and
      // needs the thread idle for that (it leaves the thread unwoken from twice the limit).
      const int latest = latest_pages_.load();
      if (rc == SQLITE_OK && backfilled != before && latest < options_.limit_pages &&
          Behind(latest, backfilled) >= options_.wake_pages) {
        Wake();
      }
    }
  }

  sqlite3* const writer_;
  sqlite3* const own_;
  const CheckpointOptions options_;
  int writer_retry_at_ = 0;  // only inside calls on the writer connection
  // Shared between the writer and the thread:
  std::atomic<int> latest_pages_{0};  // the WAL's size at the last commit
  std::atomic<int> backfilled_{0};    // pages the last checkpoint had copied
  std::atomic<bool> woken_{false};    // a wake is pending or a pass is running
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;  // GUARDED_BY(mu_)
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

SqliteDb::SqliteDb(sqlite3* db) : db_(db) {}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), checkpointer_(std::move(other.checkpointer_)) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    checkpointer_.reset();
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    checkpointer_ = std::move(other.checkpointer_);
  }
  return *this;
}

SqliteDb::~SqliteDb() {
  checkpointer_.reset();
  sqlite3_close_v2(db_);
}

Result<void> SqliteDb::CheckpointInBackground(CheckpointOptions options) {
  if (db_ == nullptr || checkpointer_ != nullptr || options.wake_pages < 1 ||
      options.limit_pages < options.wake_pages || options.limit_pages > INT_MAX / 2) {
    return Error{ErrorCode::kInvalidArgument, "checkpoint options"};
  }
  const char* path = sqlite3_db_filename(db_, "main");
  if (path == nullptr || *path == '\0') {
    return Error{ErrorCode::kInvalidArgument, "background checkpoints need a database file"};
  }
  HF_ASSIGN_OR_RETURN(SqliteDb own, Open(path));
  try {
    checkpointer_ = std::make_unique<Checkpointer>(db_, own.db_, options);
  } catch (const std::system_error&) {
    return Error{ErrorCode::kStorageFailure, "cannot start the checkpoint thread"};
  }
  own.db_ = nullptr;  // the checkpointer closes it
  return Ok();
}

bool SqliteDb::InTransaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

uint64_t SqliteDb::Changes() const {
  return db_ == nullptr ? 0 : static_cast<uint64_t>(sqlite3_changes64(db_));
}

int64_t SqliteDb::LastInsertRowid() const {
  return db_ == nullptr ? 0 : sqlite3_last_insert_rowid(db_);
}

Result<void> SqliteDb::Exec(std::string_view sql) {
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return Fail(rc);
  }
  return Ok();
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return Fail(rc);
  }
  return SqliteStatement(stmt);
}

std::string SqliteDb::LastError() const { return db_ ? sqlite3_errmsg(db_) : "no database"; }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

Result<void> SqliteStatement::BindInt64(int index, int64_t v) {
  const int rc = sqlite3_bind_int64(stmt_, index, v);
  return rc == SQLITE_OK ? Ok() : Result<void>(Fail(rc));
}

Result<void> SqliteStatement::BindBlob(int index, ByteSpan v) {
  static const uint8_t kEmpty = 0;
  const int rc =
      sqlite3_bind_blob64(stmt_, index, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Ok() : Result<void>(Fail(rc));
}

Result<void> SqliteStatement::BindText(int index, std::string_view v) {
  const int rc =
      sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return rc == SQLITE_OK ? Ok() : Result<void>(Fail(rc));
}

Result<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return Fail(rc);
}

Result<void> SqliteStatement::Run() {
  Result<bool> r = Step();
  while (r.ok() && *r) {
    r = Step();
  }
  Reset();
  if (!r.ok()) {
    return r.error();
  }
  return Ok();
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

ByteSpan SqliteStatement::ColumnBlob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) {
    return {};
  }
  return {static_cast<const uint8_t*>(p), static_cast<size_t>(n)};
}

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

}  // namespace holdfast
