// RateLimiter: token buckets by key (a client IP, a phone number, an account), shared by
// every thread.
#ifndef HOLDFAST_SERVER_SRC_RATE_LIMITER_H_
#define HOLDFAST_SERVER_SRC_RATE_LIMITER_H_

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "holdfast/common/clock.h"
#include "holdfast/server/config.h"
#include "holdfast/server/service.h"

namespace holdfast::server {

class RateLimiter {
 public:
  // kMaxKeys bounds memory: when reached, buckets that have refilled are dropped, and if that
  // frees nothing, all are (a flood of new keys then meets full buckets, never a crash).
  static constexpr size_t kMaxKeys = 100000;

  RateLimiter(RateLimit limit, const Clock& clock) : limit_(limit), clock_(clock) {}

  // Allow takes one token for `key`. When none is left it returns false and sets
  // `retry_after_ms` (if given) to the wait for the next token.
  bool Allow(std::string_view key, uint64_t* retry_after_ms = nullptr) {
    const int64_t now = ToUnixMillis(clock_.Now());
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.size() >= kMaxKeys && buckets_.find(std::string(key)) == buckets_.end()) {
      Prune(now);
    }
    TokenBucket& b = buckets_[std::string(key)];
    if (b.Take(limit_, now)) {
      return true;
    }
    if (retry_after_ms != nullptr) {
      const double per_ms = limit_.per_minute / 60000.0;
      *retry_after_ms = per_ms > 0 ? static_cast<uint64_t>((1.0 - b.tokens) / per_ms) + 1 : 60000;
    }
    return false;
  }

  // Exhausted is true when `key` has no token left, and then sets `retry_after_ms` (if given)
  // as Allow does. It takes no token: for limits that count only some outcomes (failed
  // sign-ins), checked before the attempt and charged after it with Allow.
  bool Exhausted(std::string_view key, uint64_t* retry_after_ms = nullptr) {
    const int64_t now = ToUnixMillis(clock_.Now());
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = buckets_.find(std::string(key));
    if (it == buckets_.end() || it->second.tokens < 0) {
      return false;  // never charged: full
    }
    const double per_ms = limit_.per_minute / 60000.0;
    const int64_t elapsed = std::max<int64_t>(0, now - it->second.last_ms);
    const double tokens =
        std::min(limit_.burst, it->second.tokens + static_cast<double>(elapsed) * per_ms);
    if (tokens >= 1.0) {
      return false;
    }
    if (retry_after_ms != nullptr) {
      *retry_after_ms =
          per_ms > 0 ? static_cast<uint64_t>((1.0 - tokens) / per_ms) + 1 : 60000;
    }
    return true;
  }

 private:
  void Prune(int64_t now) {
    const double per_ms = limit_.per_minute / 60000.0;
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double refilled = it->second.tokens + static_cast<double>(now - it->second.last_ms) * per_ms;
      it = refilled >= limit_.burst ? buckets_.erase(it) : std::next(it);
    }
    if (buckets_.size() >= kMaxKeys) {
      buckets_.clear();
    }
  }

  const RateLimit limit_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;  // GUARDED_BY(mu_)
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_SRC_RATE_LIMITER_H_
