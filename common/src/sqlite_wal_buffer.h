// The VFS through which SqliteDb opens its databases (sqlite_wal_buffer.cc): SQLite's default
// VFS, but the writes that follow each other in a WAL file reach it as one write.
#ifndef HOLDFAST_COMMON_SQLITE_WAL_BUFFER_H_
#define HOLDFAST_COMMON_SQLITE_WAL_BUFFER_H_

#include <cstdint>

namespace holdfast {

// WalBufferVfs registers the VFS on its first call (not as the default) and returns its name,
// or nullptr when SQLite's default VFS is not one it can wrap; then the default is used.
const char* WalBufferVfs();

// SqliteWalWrites counts, for this process, the writes SQLite asked of WAL files opened
// through the VFS, the writes that reached the file system for them, and the bytes the
// buffers hold now.
struct SqliteWalWrites {
  uint64_t asked = 0;
  uint64_t made = 0;
  uint64_t held = 0;
};
SqliteWalWrites SqliteWalWriteCounts();

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_SQLITE_WAL_BUFFER_H_
