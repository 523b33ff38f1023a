// QueueSlot: where each device's envelopes lie in the SQLite envelopes table (schema 2).
// Internal to server/ (sqlite_storage.cc and its test).
#ifndef HOLDFAST_SERVER_QUEUE_SLOT_H_
#define HOLDFAST_SERVER_QUEUE_SLOT_H_

#include <cstdint>

#include "holdfast/server/storage.h"

namespace holdfast::server {

// A device's envelopes have sequence numbers (rowids) QueueSlot(account, device) << 32 | n,
// n = 1, 2, ... in arrival order. Rows of a rowid table lie in rowid order, so one device's
// queue fills neighbouring pages: a drain that deletes it touches a few pages per batch,
// where sequence numbers shared by all devices put each device's envelopes on every page
// (and every page was written to the WAL again at every commit of a drain of many devices).
// The slot is a hash of the account id and device id into 31 bits; devices that share a slot
// share its range (each query also checks account and device), which costs only a skipped
// row. This function is part of the schema: never change it.
inline constexpr int kQueueSlotShift = 32;
inline constexpr uint64_t kQueueSlotMask = 0x7fffffff;
inline constexpr uint64_t kQueueCounterMax = 0xffffffff;

inline uint64_t QueueSlot(const AccountId& account, uint32_t device) {
  uint64_t h = 0xcbf29ce484222325;  // FNV-1a, 64 bits
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 0x100000001b3;
  };
  for (uint8_t b : account) {
    mix(b);
  }
  for (int i = 0; i < 4; ++i) {
    mix(static_cast<uint8_t>(device >> (8 * i)));
  }
  return (h ^ (h >> 31)) & kQueueSlotMask;
}

inline uint64_t QueueRangeStart(uint64_t slot) { return slot << kQueueSlotShift; }

// kFetchQueueSql reads a page of a queue: ?1 account, ?2 device, ?3 the larger of the last
// seq seen and the range's start, ?4 the page size, ?5 the range's last number. It walks
// the rowid range; the unary + keeps SQLite from reading the (account, device, id) index
// instead, and the test on account and device skips rows of a device that shares the slot.
inline constexpr const char* kFetchQueueSql =
    "SELECT seq, id, type, source_account, source_device, client_ts, server_ts, content FROM "
    "envelopes WHERE seq > ?3 AND seq <= ?5 AND +account = ?1 AND +device = ?2 ORDER BY seq "
    "LIMIT ?4";

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_QUEUE_SLOT_H_
