// A VFS over SQLite's default one that gathers the writes to a WAL file into one.
//
// SQLite appends each WAL frame with two writes, its 24-byte header and then its page, so a
// commit of n pages costs 2n pwrite calls, each taking the inode lock and walking the page
// cache, and every page write straddles two pages of the file. Here the writes to a WAL file
// that follow each other are held in a buffer and reach the file in one write: before the
// file is synced, read, truncated, sized, asked a file control or closed, before a write
// elsewhere in the file, when the buffer is full, and before the connection lets go of the
// WAL's write lock, publishes a new WAL index header or lowers its lock on the database file
// (the database file's xShmLock, xShmBarrier and xUnlock, which is why a WAL file is linked to
// its database file; one that cannot be linked is not buffered). So every byte SQLite
// writes reaches the file while the connection still holds the write lock, as it would
// without the buffer, and before any other connection can see or overwrite those frames; a
// commit under synchronous=FULL (which SqliteDb::Open sets) syncs its frames before it is
// visible. Frames still held when the process dies were never synced, so never committed:
// SQLite's recovery treats them as it treats frames the kernel never wrote.
//
// A flush that fails before a read, size, truncate or file control returns SQLITE_IOERR_WRITE,
// which makes SQLite roll back the whole transaction; one before a write or a sync fails that
// write or sync, as SQLite's own write would have. A failure inside xShmLock, xShmBarrier or
// xUnlock cannot be reported: under synchronous=FULL nothing is held there but frames of a
// transaction rolled back.
#include "sqlite_wal_buffer.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>

namespace holdfast {
namespace {

constexpr char kVfsName[] = "holdfast-wal-buffer";
// The Unix VFS writes at most 128 KiB - 1 bytes per call (and fails a write of a multiple of
// 128 KiB), so a buffer stays below that: 29 frames of 4 KiB pages per write.
constexpr size_t kBufferBytes = 120 << 10;

std::atomic<uint64_t> writes_asked{0};  // writes SQLite asked of WAL files
std::atomic<uint64_t> writes_made{0};   // writes that reached the file system for them
std::atomic<uint64_t> bytes_held{0};    // bytes in the buffers now

// One open file: ours, then the default VFS's file object right after it.
struct File {
  sqlite3_file base;  // first: SQLite sees this
  sqlite3_file* real;
  bool wal;
  uint8_t* buffer;  // kBufferBytes, made at the first write to a WAL file
  size_t held;      // bytes in `buffer`, which go at `at`
  sqlite3_int64 at;
  // A main database's WAL file, or a WAL file's main database. Both belong to one connection
  // and are used on its thread only.
  File* linked;
};

constexpr size_t kFileBytes = (sizeof(File) + 15) & ~size_t{15};

sqlite3_vfs* Real(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
const sqlite3_io_methods* RealMethods(File* f) { return f->real->pMethods; }

int Flush(File* f) {
  if (f->held == 0) {
    return SQLITE_OK;
  }
  const size_t n = f->held;
  f->held = 0;
  bytes_held.fetch_sub(n, std::memory_order_relaxed);
  writes_made.fetch_add(1, std::memory_order_relaxed);
  return RealMethods(f)->xWrite(f->real, f->buffer, static_cast<int>(n), f->at);
}

// FlushBefore flushes before an operation other than a write or a sync, where SQLite would not
// expect a write error: any failure becomes an I/O error, which rolls the transaction back.
int FlushBefore(File* f) { return Flush(f) == SQLITE_OK ? SQLITE_OK : SQLITE_IOERR_WRITE; }

// The WAL's write lock is the first of SQLite's WAL locks (WAL_WRITE_LOCK in wal.c).
constexpr int kWalWriteLock = 0;

// FlushLinkedWal writes what a database's WAL holds. Called on the connection's own thread,
// which is the only one that uses either file.
void FlushLinkedWal(File* db) {
  if (db->linked != nullptr) {
    (void)Flush(db->linked);  // see the top of this file
  }
}

int Close(sqlite3_file* file) {
  File* f = Of(file);
  if (f->linked != nullptr) {
    f->linked->linked = nullptr;
    f->linked = nullptr;
  }
  const int flushed = Flush(f);
  delete[] f->buffer;
  f->buffer = nullptr;
  const int rc = RealMethods(f)->xClose(f->real);
  return flushed != SQLITE_OK ? flushed : rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  if (const int rc = FlushBefore(f); rc != SQLITE_OK) {
    return rc;
  }
  return RealMethods(f)->xRead(f->real, out, amount, offset);
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  if (!f->wal) {
    return RealMethods(f)->xWrite(f->real, data, amount, offset);
  }
  writes_asked.fetch_add(1, std::memory_order_relaxed);
  const auto n = static_cast<size_t>(amount);
  if (f->held > 0 &&
      (offset != f->at + static_cast<sqlite3_int64>(f->held) || f->held + n > kBufferBytes)) {
    if (const int rc = Flush(f); rc != SQLITE_OK) {
      return rc;
    }
  }
  if (f->buffer == nullptr) {
    f->buffer = new (std::nothrow) uint8_t[kBufferBytes];
  }
  if (f->buffer == nullptr || n > kBufferBytes) {
    writes_made.fetch_add(1, std::memory_order_relaxed);
    return RealMethods(f)->xWrite(f->real, data, amount, offset);
  }
  if (f->held == 0) {
    f->at = offset;
  }
  std::memcpy(f->buffer + f->held, data, n);
  f->held += n;
  bytes_held.fetch_add(n, std::memory_order_relaxed);
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = Of(file);
  if (const int rc = FlushBefore(f); rc != SQLITE_OK) {
    return rc;
  }
  return RealMethods(f)->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  File* f = Of(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) {
    return rc;
  }
  return RealMethods(f)->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  File* f = Of(file);
  if (const int rc = FlushBefore(f); rc != SQLITE_OK) {
    return rc;
  }
  return RealMethods(f)->xFileSize(f->real, size);
}

int Lock(sqlite3_file* file, int level) {
  return RealMethods(Of(file))->xLock(Of(file)->real, level);
}

// Unlock writes out the WAL before the database file's lock is lowered. With
// locking_mode=EXCLUSIVE the WAL index lives in the connection's own memory and xShmLock is
// never called; the database file's lock is then what keeps other connections out.
int Unlock(sqlite3_file* file, int level) {
  File* f = Of(file);
  FlushLinkedWal(f);
  return RealMethods(f)->xUnlock(f->real, level);
}

int CheckReservedLock(sqlite3_file* file, int* out) {
  return RealMethods(Of(file))->xCheckReservedLock(Of(file)->real, out);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  File* f = Of(file);
  if (const int rc = FlushBefore(f); rc != SQLITE_OK) {
    return rc;
  }
  return RealMethods(f)->xFileControl(f->real, op, arg);
}

int SectorSize(sqlite3_file* file) { return RealMethods(Of(file))->xSectorSize(Of(file)->real); }

int DeviceCharacteristics(sqlite3_file* file) {
  return RealMethods(Of(file))->xDeviceCharacteristics(Of(file)->real);
}

// The shared-memory and memory-map methods exist from versions 2 and 3 of the methods; SQLite
// calls them only when the file's methods have that version, which ours copy from the real.
int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return RealMethods(Of(file))->xShmMap(Of(file)->real, region, size, extend, out);
}

int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  File* f = Of(file);
  if (offset == kWalWriteLock && (flags & SQLITE_SHM_UNLOCK) != 0 &&
      (flags & SQLITE_SHM_EXCLUSIVE) != 0) {
    FlushLinkedWal(f);
  }
  return RealMethods(f)->xShmLock(f->real, offset, n, flags);
}

void ShmBarrier(sqlite3_file* file) {
  File* f = Of(file);
  FlushLinkedWal(f);
  RealMethods(f)->xShmBarrier(f->real);
}

int ShmUnmap(sqlite3_file* file, int delete_flag) {
  return RealMethods(Of(file))->xShmUnmap(Of(file)->real, delete_flag);
}

int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  File* f = Of(file);
  if (const int rc = FlushBefore(f); rc != SQLITE_OK) {
    *out = nullptr;
    return rc;
  }
  return RealMethods(f)->xFetch(f->real, offset, amount, out);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  return RealMethods(Of(file))->xUnfetch(Of(file)->real, offset, page);
}

sqlite3_io_methods MethodsOfVersion(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = Close;
  m.xRead = Read;
  m.xWrite = Write;
  m.xTruncate = Truncate;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  if (version >= 2) {
    m.xShmMap = ShmMap;
    m.xShmLock = ShmLock;
    m.xShmBarrier = ShmBarrier;
    m.xShmUnmap = ShmUnmap;
  }
  if (version >= 3) {
    m.xFetch = Fetch;
    m.xUnfetch = Unfetch;
  }
  return m;
}

const sqlite3_io_methods kMethods[] = {MethodsOfVersion(1), MethodsOfVersion(2),
                                       MethodsOfVersion(3)};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = Of(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<uint8_t*>(file) + kFileBytes);
  f->real->pMethods = nullptr;
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->buffer = nullptr;
  f->held = 0;
  f->at = 0;
  f->linked = nullptr;
  const int rc = Real(vfs)->xOpen(Real(vfs), name, f->real, flags, out_flags);
  const sqlite3_io_methods* real = f->real->pMethods;
  if (rc != SQLITE_OK || real == nullptr) {
    if (real != nullptr) {
      real->xClose(f->real);  // SQLite would close it; it will not close ours
    }
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  const int version = real->iVersion < 1 ? 1 : (real->iVersion > 3 ? 3 : real->iVersion);
  f->base.pMethods = &kMethods[version - 1];
  // SQLite opens a connection's database file before its WAL, and names the one from the
  // other (sqlite3_database_file_object). A WAL without its database file here could not be
  // written out at the lock release: it is written through unbuffered.
  if (f->wal && name != nullptr) {
    sqlite3_file* db = sqlite3_database_file_object(name);
    const bool ours = db != nullptr &&
                      std::any_of(std::begin(kMethods), std::end(kMethods),
                                  [db](const sqlite3_io_methods& m) { return db->pMethods == &m; });
    if (ours && Of(db)->linked == nullptr) {
      f->linked = Of(db);
      Of(db)->linked = f;
    }
  }
  f->wal = f->wal && f->linked != nullptr;
  return SQLITE_OK;
}

// The VFS's other methods go to the default VFS, with it as their VFS.
int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Real(vfs)->xDelete(Real(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Real(vfs)->xAccess(Real(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Real(vfs)->xFullPathname(Real(vfs), name, n, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) { return Real(vfs)->xDlOpen(Real(vfs), name); }
void DlError(sqlite3_vfs* vfs, int n, char* out) { Real(vfs)->xDlError(Real(vfs), n, out); }
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Real(vfs)->xDlSym(Real(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) { Real(vfs)->xDlClose(Real(vfs), handle); }
int Randomness(sqlite3_vfs* vfs, int n, char* out) {
  return Real(vfs)->xRandomness(Real(vfs), n, out);
}
int Sleep(sqlite3_vfs* vfs, int us) { return Real(vfs)->xSleep(Real(vfs), us); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Real(vfs)->xCurrentTime(Real(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Real(vfs)->xGetLastError(Real(vfs), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Real(vfs)->xCurrentTimeInt64(Real(vfs), out);
}

const char* Register() {
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  // Only SQLite's Unix VFS (version 3 here), whose write limit sized the buffer, is wrapped.
  if (real == nullptr || real->iVersion < 2 || real->xCurrentTimeInt64 == nullptr ||
      real->zName == nullptr || std::strcmp(real->zName, "unix") != 0) {
    return nullptr;
  }
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;  // the system-call overrides of version 3 stay with the default VFS
  vfs.szOsFile = static_cast<int>(kFileBytes) + real->szOsFile;
  vfs.mxPathname = real->mxPathname;
  vfs.zName = kVfsName;
  vfs.pAppData = real;
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = DlOpen;
  vfs.xDlError = DlError;
  vfs.xDlSym = DlSym;
  vfs.xDlClose = DlClose;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = GetLastError;
  vfs.xCurrentTimeInt64 = CurrentTimeInt64;
  return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK ? kVfsName : nullptr;
}

}  // namespace

const char* WalBufferVfs() {
  static const char* name = Register();
  return name;
}

SqliteWalWrites SqliteWalWriteCounts() {
  return SqliteWalWrites{writes_asked.load(std::memory_order_relaxed),
                         writes_made.load(std::memory_order_relaxed),
                         bytes_held.load(std::memory_order_relaxed)};
}

}  // namespace holdfast
