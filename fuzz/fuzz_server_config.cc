// holdfastd's configuration file from untrusted bytes, through ParseConfig (the text that
// LoadConfigFile reads; no file is written or read here). Nothing may crash, hang or leak;
// a rejected file leaves the configuration as it was; whether a file is accepted does not
// depend on the configuration it is read over; reading an accepted file again over its own
// result changes nothing; and what is accepted is within the documented ranges.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "holdfast/server/config.h"

using namespace holdfast;          // NOLINT(google-build-using-namespace): a fuzz entry point
using namespace holdfast::server;  // NOLINT(google-build-using-namespace)

namespace {

constexpr RateLimit ServerConfig::*kRateLimits[] = {
    &ServerConfig::register_per_phone, &ServerConfig::register_per_ip,
    &ServerConfig::verify_per_ip,      &ServerConfig::auth_failures_per_ip,
    &ServerConfig::connections_per_ip, &ServerConfig::requests_per_connection,
    &ServerConfig::sends_per_account,  &ServerConfig::lookups_per_account,
};
constexpr std::chrono::milliseconds ServerConfig::*kPeriods[] = {
    &ServerConfig::envelope_ttl,
    &ServerConfig::ip_retention,
    &ServerConfig::code_ttl,
    &ServerConfig::link_code_ttl,
    &ServerConfig::sender_certificate_ttl,
    &ServerConfig::maintenance_interval,
    &ServerConfig::handshake_timeout,
    &ServerConfig::idle_timeout,
};

// Sentinel differs from the defaults in every field, so that a partial write on failure shows.
ServerConfig Sentinel() {
  ServerConfig c;
  c.data_dir = "/nonexistent/sentinel";
  c.listen = "127.0.0.2:1";
  c.plain = true;
  c.tls_certificate_file = "cert";
  c.tls_key_file = "key";
  c.io_threads = 3;
  c.dev_codes_file = "codes";
  c.sms_webhook_url = "http://127.0.0.1:1/";
  c.max_envelope_bytes = 7;
  c.max_queue_per_device = 7;
  c.max_linked_devices = 7;
  c.max_inflight_pushes = 7;
  c.max_pending_write_bytes = 7;
  for (auto period : kPeriods) {
    c.*period = std::chrono::milliseconds(7);
  }
  c.max_code_attempts = 7;
  for (auto limit : kRateLimits) {
    c.*limit = RateLimit{7, 7};
  }
  c.test_clock = true;
  return c;
}

bool InRange(const RateLimit& r) {
  return std::isfinite(r.per_minute) && std::isfinite(r.burst) && r.per_minute > 0 && r.burst >= 1;
}

bool InRange(const ServerConfig& c) {
  for (auto limit : kRateLimits) {
    if (!InRange(c.*limit)) {
      return false;
    }
  }
  for (auto period : kPeriods) {
    if ((c.*period).count() < 1 || (c.*period).count() > int64_t{10} * 366 * 24 * 3600 * 1000) {
      return false;
    }
  }
  return c.io_threads >= 0 && c.io_threads <= 1024;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const ServerConfig sentinel = Sentinel();
  ServerConfig over_sentinel = sentinel;
  const bool accepted = ParseConfig(text, over_sentinel).ok();
  if (!accepted && over_sentinel != sentinel) {
    std::abort();
  }

  ServerConfig over_defaults;
  if (ParseConfig(text, over_defaults).ok() != accepted) {
    std::abort();
  }
  if (!accepted) {
    return 0;
  }
  if (!InRange(over_sentinel) || !InRange(over_defaults)) {
    std::abort();
  }
  ServerConfig again = over_defaults;
  if (!ParseConfig(text, again).ok() || again != over_defaults) {
    std::abort();
  }
  return 0;
}
