// holdfastd's configuration file: ParseConfig sets each kind of field, refuses what is not a
// JSON object, unknown keys and values of the wrong type or range without touching the
// configuration, and LoadConfigFile reads a file exactly as ParseConfig reads its text.
#include "holdfast/server/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace holdfast::server {
namespace {

TEST(ParseConfigTest, EmptyObjectKeepsEveryValue) {
  ServerConfig config;
  config.listen = "127.0.0.1:0";
  const ServerConfig before = config;
  ASSERT_TRUE(ParseConfig("{}", config).ok());
  EXPECT_EQ(config, before);
}

TEST(ParseConfigTest, SetsEachKindOfField) {
  ServerConfig config;
  ASSERT_TRUE(ParseConfig(R"({
        "listen": "127.0.0.1:0", "plain": true, "io_threads": 2,
        "max_linked_devices": 4294967295, "max_queue_per_device": 9223372036854775807,
        "code_ttl_ms": 1500, "sends_per_account": {"per_minute": 0.5, "burst": 1}
      })",
                          config)
                  .ok());
  EXPECT_EQ(config.listen, "127.0.0.1:0");
  EXPECT_TRUE(config.plain);
  EXPECT_EQ(config.io_threads, 2);
  EXPECT_EQ(config.max_linked_devices, 4294967295u);
  EXPECT_EQ(config.max_queue_per_device, 9223372036854775807u);
  EXPECT_EQ(config.code_ttl, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.sends_per_account, (RateLimit{0.5, 1}));
  EXPECT_EQ(config.lookups_per_account, ServerConfig{}.lookups_per_account);
}

TEST(ParseConfigTest, RefusesWithoutChangingTheConfig) {
  struct Case {
    const char* json;
    ErrorCode code;
  };
  const Case cases[] = {
      {"", ErrorCode::kMalformed},
      {"{", ErrorCode::kMalformed},
      {"[]", ErrorCode::kMalformed},
      {"\"listen\"", ErrorCode::kMalformed},
      {R"({"listen": "127.0.0.1:0"} trailing)", ErrorCode::kMalformed},
      {R"({"code_ttl_ms": 1e400})", ErrorCode::kMalformed},
      {R"({"lisen": "127.0.0.1:0"})", ErrorCode::kInvalidArgument},
      {R"({"listen": 8443})", ErrorCode::kInvalidArgument},
      {R"({"plain": 1})", ErrorCode::kInvalidArgument},
      {R"({"io_threads": -1})", ErrorCode::kInvalidArgument},
      {R"({"io_threads": 2.0})", ErrorCode::kInvalidArgument},
      {R"({"code_ttl_ms": -1})", ErrorCode::kInvalidArgument},
      {R"({"code_ttl_ms": 18446744073709551615})", ErrorCode::kInvalidArgument},
      {R"({"sends_per_account": {"per_minute": 0, "burst": 1}})", ErrorCode::kInvalidArgument},
      {R"({"sends_per_account": {"per_minute": 1, "burst": 0.5}})", ErrorCode::kInvalidArgument},
      {R"({"sends_per_account": {"per_minute": 1}})", ErrorCode::kInvalidArgument},
      {R"({"sends_per_account": {"per_minute": 1, "burst": 1, "x": 1}})",
       ErrorCode::kInvalidArgument},
      // A valid key first: refusing a later one must not leave the earlier one set.
      {R"({"listen": "127.0.0.1:0", "test_clock": true})", ErrorCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    ServerConfig config;
    auto r = ParseConfig(c.json, config);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), c.code);
    EXPECT_EQ(config, ServerConfig{});
  }
}

// get<T>() would truncate these to a small, valid-looking value.
TEST(ParseConfigTest, RefusesIntegersTheFieldCannotHold) {
  const char* cases[] = {
      R"({"io_threads": 4294967297})",
      R"({"io_threads": 2147483648})",
      R"({"max_linked_devices": 4294967296})",
      R"({"max_code_attempts": 4294967301})",
  };
  for (const char* json : cases) {
    SCOPED_TRACE(json);
    ServerConfig config;
    auto r = ParseConfig(json, config);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(config, ServerConfig{});
  }
  ServerConfig config;
  ASSERT_TRUE(ParseConfig(R"({"io_threads": 1024})", config).ok());
  EXPECT_EQ(config.io_threads, 1024);
}

TEST(ParseConfig, RefusesPeriodsAndThreadCountsThatCannotWork) {
  for (const char* json : {R"({"io_threads": 1025})", R"({"io_threads": 2147483647})",
                           R"({"code_ttl_ms": 0})", R"({"maintenance_interval_ms": 0})",
                           R"({"code_ttl_ms": 9223372036854775807})",
                           R"({"envelope_ttl_ms": 316224000001})"}) {
    SCOPED_TRACE(json);
    ServerConfig config;
    EXPECT_EQ(ParseConfig(json, config).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(config, ServerConfig{});
  }
  ServerConfig config;
  ASSERT_TRUE(ParseConfig(R"({"code_ttl_ms": 1, "envelope_ttl_ms": 316224000000})", config).ok());
  EXPECT_EQ(config.code_ttl.count(), 1);
}

class LoadConfigFileTest : public ::testing::Test {
 protected:
  LoadConfigFileTest() {
    std::string tmpl = ::testing::TempDir() + "/server-config-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~LoadConfigFileTest() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  std::string Write(const std::string& text) {
    const std::string path = dir_ + "/config.json";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
  }

  std::string dir_;
};

TEST_F(LoadConfigFileTest, ReadsAFileAsParseConfigReadsItsText) {
  ASSERT_FALSE(dir_.empty());
  const std::string texts[] = {
      R"({"listen": "127.0.0.1:0", "idle_timeout_ms": 5000,
          "connections_per_ip": {"per_minute": 10, "burst": 2}})",
      R"({"listen": "127.0.0.1:0", "nope": 1})",
      "[1, 2]",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    ServerConfig from_file;
    ServerConfig from_text;
    auto f = LoadConfigFile(Write(text), from_file);
    auto t = ParseConfig(text, from_text);
    ASSERT_EQ(f.ok(), t.ok());
    if (!f.ok()) {
      EXPECT_EQ(f.code(), t.code());
    }
    EXPECT_EQ(from_file, from_text);
  }
}

TEST_F(LoadConfigFileTest, MissingFileIsNotFound) {
  ASSERT_FALSE(dir_.empty());
  ServerConfig config;
  auto r = LoadConfigFile(dir_ + "/absent.json", config);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kNotFound);
  EXPECT_EQ(config, ServerConfig{});
}

// The configuration the load driver and its tests run holdfastd with.
TEST(LoadConfigFileCommittedTest, LoadsTheLoadDriverConfig) {
  ServerConfig config;
  ASSERT_TRUE(LoadConfigFile(
                  std::string(HOLDFAST_SOURCE_DIR) + "/tools/hf-load/holdfastd-load.json", config)
                  .ok());
  EXPECT_EQ(config.sends_per_account, (RateLimit{6000000, 1000000}));
}

}  // namespace
}  // namespace holdfast::server
