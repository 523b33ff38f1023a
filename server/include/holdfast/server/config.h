// holdfastd's configuration: every limit and period the server enforces, with the defaults
// it runs with when given no configuration file (docs/server.md lists them).
#ifndef HOLDFAST_SERVER_CONFIG_H_
#define HOLDFAST_SERVER_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "holdfast/common/result.h"

namespace holdfast::server {

// RateLimit allows `burst` events at once and `per_minute` on average.
struct RateLimit {
  double per_minute = 60;
  double burst = 10;

  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

struct ServerConfig {
  // Where and how to listen.
  std::string data_dir;
  std::string listen = "127.0.0.1:8443";
  bool plain = false;  // WebSocket without TLS: loopback addresses only
  std::string tls_certificate_file;  // PEM; default: <data_dir>/tls/cert.pem, made if absent
  std::string tls_key_file;
  int io_threads = 0;  // 0: one per core

  // How verification codes reach phones: a development file, or a webhook (an SMS gateway).
  std::string dev_codes_file;
  std::string sms_webhook_url;

  // Limits.
  size_t max_envelope_bytes = 256 * 1024;
  uint64_t max_queue_per_device = 100000;
  uint32_t max_linked_devices = 5;  // besides the primary
  size_t max_inflight_pushes = 256;  // unacknowledged envelopes pushed to one connection
  size_t max_pending_write_bytes = 8 << 20;  // a connection that reads slower is closed

  // Periods.
  std::chrono::milliseconds envelope_ttl = std::chrono::hours(24 * 30);
  std::chrono::milliseconds ip_retention = std::chrono::hours(24 * 7);
  std::chrono::milliseconds code_ttl = std::chrono::minutes(10);
  std::chrono::milliseconds link_code_ttl = std::chrono::minutes(10);
  std::chrono::milliseconds sender_certificate_ttl = std::chrono::hours(24);
  std::chrono::milliseconds maintenance_interval = std::chrono::minutes(1);
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
  uint32_t max_code_attempts = 5;

  // Rate limits, per client IP and per account or phone.
  RateLimit register_per_phone{3, 3};
  RateLimit register_per_ip{30, 10};
  RateLimit verify_per_ip{60, 20};
  RateLimit auth_failures_per_ip{60, 20};
  RateLimit connections_per_ip{600, 200};
  RateLimit requests_per_connection{6000, 500};
  RateLimit sends_per_account{6000, 500};
  RateLimit lookups_per_account{120, 30};

  // Tests only: the server's clock starts at the real time and moves only when told to
  // (POST /test/advance?ms=N on a loopback connection).
  bool test_clock = false;

  friend bool operator==(const ServerConfig&, const ServerConfig&) = default;
};

// LoadConfigFile reads a JSON object whose keys are the field names above (durations in
// milliseconds with an "_ms" suffix, e.g. "envelope_ttl_ms"; rate limits as
// {"per_minute": x, "burst": y}) over `config`. Unknown keys are kInvalidArgument, so that a
// typo never silently leaves a default in place; so is an integer the field cannot hold.
// A file that cannot be opened is kNotFound; one that is not a JSON object, kMalformed. On
// failure `config` is unchanged.
Result<void> LoadConfigFile(const std::string& path, ServerConfig& config);

// ParseConfig reads `json`, the text of a configuration file, over `config` exactly as
// LoadConfigFile reads the file's contents, with the same errors (kMalformed, kInvalidArgument)
// and, on failure, `config` unchanged. It touches no file: `json` is all it reads.
Result<void> ParseConfig(std::string_view json, ServerConfig& config);

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_CONFIG_H_
