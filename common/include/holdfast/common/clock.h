// Clock: the time source that every Holdfast component takes from its caller.
//
// Production code passes SystemClock. Tests pass ManualClock and move time forward to check
// expiry, retention and gag periods without sleeping.
#ifndef HOLDFAST_COMMON_CLOCK_H_
#define HOLDFAST_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace holdfast {

// Timestamp is wall-clock time with millisecond resolution, as milliseconds since the Unix
// epoch (UTC).
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

// FromUnixMillis and ToUnixMillis convert to and from the integer form used on the wire.
inline Timestamp FromUnixMillis(int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }
inline int64_t ToUnixMillis(Timestamp t) { return t.time_since_epoch().count(); }

class Clock {
 public:
  virtual ~Clock() = default;
  // Now returns the current time. Implementations are safe to call from any thread.
  virtual Timestamp Now() const = 0;
};

// SystemClock reads the operating system's real-time clock.
class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
};

// ManualClock only moves when told to. Safe to read and advance from several threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : now_ms_(ToUnixMillis(start)) {}
  Timestamp Now() const override { return FromUnixMillis(now_ms_.load()); }
  void Advance(std::chrono::milliseconds d) { now_ms_ += d.count(); }
  void Set(Timestamp t) { now_ms_ = ToUnixMillis(t); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_CLOCK_H_
