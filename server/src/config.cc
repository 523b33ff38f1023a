#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "holdfast/server/config.h"

namespace holdfast::server {
namespace {

using Json = nlohmann::json;
using Setter = std::function<bool(const Json&, ServerConfig&)>;

template <typename T>
Setter Field(T ServerConfig::*field) {
  return [field](const Json& v, ServerConfig& c) {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) {
        return false;
      }
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) {
        return false;
      }
    } else {
      // Checked against T's range too: get<T>() truncates, and 4294967297 threads is not one.
      if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
          v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return false;
      }
    }
    c.*field = v.get<T>();
    return true;
  };
}

// A period is 1 ms to 10 years: 0 would spin or expire everything at once, and a longer one
// overflows when added to a clock in milliseconds (or converted to nanoseconds).
constexpr int64_t kMaxPeriodMs = int64_t{10} * 366 * 24 * 3600 * 1000;

Setter Millis(std::chrono::milliseconds ServerConfig::*field) {
  return [field](const Json& v, ServerConfig& c) {
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxPeriodMs) {
      return false;
    }
    c.*field = std::chrono::milliseconds(v.get<int64_t>());
    return true;
  };
}

// kMaxIoThreads bounds io_threads (0: one per core); more would only exhaust the machine.
constexpr int kMaxIoThreads = 1024;

Setter Threads() {
  return [](const Json& v, ServerConfig& c) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxIoThreads) {
      return false;
    }
    c.io_threads = static_cast<int>(v.get<int64_t>());
    return true;
  };
}

Setter Limit(RateLimit ServerConfig::*field) {
  return [field](const Json& v, ServerConfig& c) {
    if (!v.is_object() || v.size() != 2 || !v.contains("per_minute") || !v.contains("burst") ||
        !v["per_minute"].is_number() || !v["burst"].is_number() ||
        v["per_minute"].get<double>() <= 0 || v["burst"].get<double>() < 1) {
      return false;
    }
    c.*field = RateLimit{v["per_minute"].get<double>(), v["burst"].get<double>()};
    return true;
  };
}

const std::map<std::string, Setter>& Setters() {
  static const std::map<std::string, Setter> setters = {
      {"data_dir", Field(&ServerConfig::data_dir)},
      {"listen", Field(&ServerConfig::listen)},
      {"plain", Field(&ServerConfig::plain)},
      {"tls_certificate_file", Field(&ServerConfig::tls_certificate_file)},
      {"tls_key_file", Field(&ServerConfig::tls_key_file)},
      {"io_threads", Threads()},
      {"dev_codes_file", Field(&ServerConfig::dev_codes_file)},
      {"sms_webhook_url", Field(&ServerConfig::sms_webhook_url)},
      {"max_envelope_bytes", Field(&ServerConfig::max_envelope_bytes)},
      {"max_queue_per_device", Field(&ServerConfig::max_queue_per_device)},
      {"max_linked_devices", Field(&ServerConfig::max_linked_devices)},
      {"max_inflight_pushes", Field(&ServerConfig::max_inflight_pushes)},
      {"max_pending_write_bytes", Field(&ServerConfig::max_pending_write_bytes)},
      {"envelope_ttl_ms", Millis(&ServerConfig::envelope_ttl)},
      {"ip_retention_ms", Millis(&ServerConfig::ip_retention)},
      {"code_ttl_ms", Millis(&ServerConfig::code_ttl)},
      {"link_code_ttl_ms", Millis(&ServerConfig::link_code_ttl)},
      {"sender_certificate_ttl_ms", Millis(&ServerConfig::sender_certificate_ttl)},
      {"maintenance_interval_ms", Millis(&ServerConfig::maintenance_interval)},
      {"handshake_timeout_ms", Millis(&ServerConfig::handshake_timeout)},
      {"idle_timeout_ms", Millis(&ServerConfig::idle_timeout)},
      {"max_code_attempts", Field(&ServerConfig::max_code_attempts)},
      {"register_per_phone", Limit(&ServerConfig::register_per_phone)},
      {"register_per_ip", Limit(&ServerConfig::register_per_ip)},
      {"verify_per_ip", Limit(&ServerConfig::verify_per_ip)},
      {"auth_failures_per_ip", Limit(&ServerConfig::auth_failures_per_ip)},
      {"connections_per_ip", Limit(&ServerConfig::connections_per_ip)},
      {"requests_per_connection", Limit(&ServerConfig::requests_per_connection)},
      {"sends_per_account", Limit(&ServerConfig::sends_per_account)},
      {"lookups_per_account", Limit(&ServerConfig::lookups_per_account)},
  };
  return setters;
}

}  // namespace

Result<void> LoadConfigFile(const std::string& path, ServerConfig& config) {
  std::ifstream in(path);
  if (!in) {
    return Error{ErrorCode::kNotFound, "config file"};
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), config);
}

Result<void> ParseConfig(std::string_view json, ServerConfig& config) {
  const Json j = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error{ErrorCode::kMalformed, "config file is not a JSON object"};
  }
  ServerConfig updated = config;
  for (const auto& [key, value] : j.items()) {
    auto it = Setters().find(key);
    if (it == Setters().end()) {
      return Error{ErrorCode::kInvalidArgument, "unknown config key"};
    }
    if (!it->second(value, updated)) {
      return Error{ErrorCode::kInvalidArgument, "config value of the wrong type or range"};
    }
  }
  config = std::move(updated);
  return Ok();
}

}  // namespace holdfast::server
