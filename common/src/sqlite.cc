#include "holdfast/common/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace holdfast {
namespace {

Error Fail(int rc) {
  return Error{
      (rc & 0xff) == SQLITE_CONSTRAINT ? ErrorCode::kAlreadyExists : ErrorCode::kStorageFailure,
      "sqlite"};
}

}  // namespace

Result<SqliteDb> SqliteDb::Open(const std::string& path, int page_size) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
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

SqliteDb::SqliteDb(SqliteDb&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

bool SqliteDb::InTransaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

uint64_t SqliteDb::Changes() const {
  return db_ == nullptr ? 0 : static_cast<uint64_t>(sqlite3_changes64(db_));
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
