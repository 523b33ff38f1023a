#include "holdfast/server/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/encoding.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::server {
namespace {

// The API takes no runtime text and no bytes. These are compile-time proofs; the concepts
// are templates because a requires-expression outside a template cannot test ill-formed
// calls.
template <typename T>
concept IntTakes = requires(T v) {
  LogField::Int("count", v);
};
template <typename T>
concept BoolTakes = requires(T v) {
  LogField::Bool("flag", v);
};
template <typename T>
concept TextTakes = requires(T v) {
  LogField::Text("reason", v);
};
template <typename T>
concept StatusTakes = requires(T v) {
  LogField::Status(v);
};
template <typename T>
concept IpTakes = requires(T v) {
  LogField::Ip(v);
};
template <typename T>
concept AccountTakes = requires(T v) {
  LogField::Account(v);
};
template <typename T>
concept InfoTakesField = requires(Logger& l, T v) {
  l.Info("event", {v});
};

static_assert(IntTakes<int> && IntTakes<uint64_t> && IntTakes<int64_t> && IntTakes<size_t>);
static_assert(!IntTakes<Bytes> && !IntTakes<ByteSpan> && !IntTakes<MutableByteSpan>);
static_assert(!IntTakes<uint8_t> && !IntTakes<char> && !IntTakes<int8_t> && !IntTakes<char8_t>);
static_assert(!IntTakes<bool> && !IntTakes<double> && !IntTakes<const uint8_t*>);
static_assert(!IntTakes<std::string> && !IntTakes<std::string_view>);
static_assert(BoolTakes<bool> && !BoolTakes<int> && !BoolTakes<const char*>);
static_assert(!BoolTakes<Bytes> && !BoolTakes<ByteSpan>);
static_assert(!TextTakes<std::string> && !TextTakes<std::string_view> && !TextTakes<const char*>);
static_assert(!TextTakes<Bytes> && !TextTakes<ByteSpan> && !TextTakes<SecretBytes>);
static_assert(!StatusTakes<std::string> && !StatusTakes<std::string_view>);
static_assert(!StatusTakes<const char*> && !StatusTakes<ByteSpan>);
static_assert(IpTakes<std::string_view> && !IpTakes<Bytes> && !IpTakes<ByteSpan>);
static_assert(AccountTakes<AccountTag> && InfoTakesField<LogField>);
static_assert(!AccountTakes<std::string> && !AccountTakes<Bytes> && !AccountTakes<ByteSpan>);
static_assert(!std::is_constructible_v<LogField, Bytes>);
static_assert(!std::is_constructible_v<LogField, ByteSpan>);
static_assert(!std::is_constructible_v<LogField, const SecretBytes&>);
static_assert(!std::is_constructible_v<LogField, std::string>);
static_assert(!std::is_constructible_v<LogField, std::string_view>);
static_assert(!std::is_constructible_v<LogField, const char*>);
static_assert(!std::is_constructible_v<LogLiteral, std::string>);
static_assert(!std::is_constructible_v<LogLiteral, std::string_view>);
static_assert(!std::is_constructible_v<LogLiteral, const char*>);
static_assert(!std::is_constructible_v<LogKey, std::string>);
static_assert(!std::is_constructible_v<LogKey, const char*>);
static_assert(!std::is_constructible_v<LogEvent, std::string_view>);
static_assert(!InfoTakesField<std::string> && !InfoTakesField<Bytes> && !InfoTakesField<ByteSpan>);
static_assert(!std::is_default_constructible_v<AccountTag>);

// 2024-01-01T00:00:00.123Z
constexpr int64_t kStartMillis = 1704067200123;

class Captured {
 public:
  LogSink Sink() {
    return [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(Log, WritesExactLines) {
  ManualClock clock(FromUnixMillis(kStartMillis));
  Captured out;
  Logger logger(clock, out.Sink(), LogLevel::kDebug);
  logger.Info("conn.open", {LogField::Ip("203.0.113.77"), LogField::Int("device", 3),
                            LogField::Bool("sealed", true)});
  clock.Advance(std::chrono::milliseconds(86'400'000 + 1500));
  logger.Warning("queue.full", {LogField::Int("depth", std::numeric_limits<uint64_t>::max()),
                                LogField::Int("delta", std::numeric_limits<int64_t>::min()),
                                LogField::Millis("waited_ms", std::chrono::microseconds(2999)),
                                LogField::Status("refused")});
  logger.Error("store.failed", {LogField::Failure(Error{ErrorCode::kStorageFailure, "disk full"}),
                                LogField::Text("backend", "sqlite")});
  logger.Debug("tick");
  logger.Info("lookup.miss", {LogField::Failure(Error{ErrorCode::kNotFound})});

  const std::vector<std::string> want = {
      R"({"ts":"2024-01-01T00:00:00.123Z","level":"info","event":"conn.open",)"
      R"("ip_prefix":"203.0.113.0/24","device":3,"sealed":true})"
      "\n",
      R"({"ts":"2024-01-02T00:00:01.623Z","level":"warning","event":"queue.full",)"
      R"("depth":18446744073709551615,"delta":-9223372036854775808,"waited_ms":2,)"
      R"("status":"refused"})"
      "\n",
      R"({"ts":"2024-01-02T00:00:01.623Z","level":"error","event":"store.failed",)"
      R"("error":"storage_failure","error_detail":"disk full","backend":"sqlite"})"
      "\n",
      R"({"ts":"2024-01-02T00:00:01.623Z","level":"debug","event":"tick"})"
      "\n",
      R"({"ts":"2024-01-02T00:00:01.623Z","level":"info","event":"lookup.miss",)"
      R"("error":"not_found"})"
      "\n",
  };
  EXPECT_EQ(out.lines(), want);
}

TEST(Log, TimestampsAreUtc) {
  struct Case {
    int64_t ms;
    std::string want;
  };
  for (const Case& c :
       {Case{0, "1970-01-01T00:00:00.000Z"}, Case{951782400999, "2000-02-29T00:00:00.999Z"},
        Case{4102444799001, "2099-12-31T23:59:59.001Z"}, Case{-1, "1969-12-31T23:59:59.999Z"}}) {
    ManualClock clock(FromUnixMillis(c.ms));
    Captured out;
    Logger logger(clock, out.Sink());
    logger.Info("t");
    ASSERT_EQ(out.lines().size(), 1u);
    EXPECT_EQ(out.lines()[0], R"({"ts":")" + c.want + R"(","level":"info","event":"t"})" + "\n");
  }
}

TEST(Log, DropsEventsBelowTheMinimumLevel) {
  ManualClock clock(FromUnixMillis(kStartMillis));
  Captured out;
  Logger logger(clock, out.Sink(), LogLevel::kWarning);
  EXPECT_FALSE(logger.Enabled(LogLevel::kInfo));
  EXPECT_TRUE(logger.Enabled(LogLevel::kError));
  logger.Debug("a");
  logger.Info("b");
  logger.Warning("c");
  logger.Error("d");
  logger.set_min_level(LogLevel::kDebug);
  logger.Debug("e");
  const auto lines = out.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find(R"("event":"c")"), std::string::npos);
  EXPECT_NE(lines[1].find(R"("event":"d")"), std::string::npos);
  EXPECT_NE(lines[2].find(R"("event":"e")"), std::string::npos);
}

TEST(Log, EscapesStrings) {
  ManualClock clock(FromUnixMillis(0));
  Captured out;
  Logger logger(clock, out.Sink());
  logger.Info(
      "escape",
      {LogField::Text("quote", "say \"hi\" \\ back"),
       LogField::Failure(Error{ErrorCode::kMalformed, "tab\there\nnew\r\x01\x1f\x7f\xc3\xa9\""})});
  ASSERT_EQ(out.lines().size(), 1u);
  EXPECT_EQ(out.lines()[0], R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","event":"escape",)"
                            R"("quote":"say \"hi\" \\ back","error":"malformed",)"
                            R"("error_detail":"tab\there\nnew\r\u0001\u001f\u007f\ufffd\ufffd\""})"
                            "\n");
}

std::string IpPrefix(std::string_view address) {
  std::string json;
  LogField::Ip(address).AppendJson(json);
  return json;
}

TEST(Log, IpFieldsKeepOnlyTheNetworkPrefix) {
  EXPECT_EQ(IpPrefix("203.0.113.77"), R"("ip_prefix":"203.0.113.0/24")");
  EXPECT_EQ(IpPrefix("10.1.2.255"), R"("ip_prefix":"10.1.2.0/24")");
  EXPECT_EQ(IpPrefix("::ffff:198.51.100.9"), R"("ip_prefix":"198.51.100.0/24")");
  EXPECT_EQ(IpPrefix("2001:db8:1234:5678:9abc:def0:1234:5678"),
            R"("ip_prefix":"2001:db8:1234::/48")");
  EXPECT_EQ(IpPrefix("::1"), R"("ip_prefix":"::/48")");
  EXPECT_EQ(IpPrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            R"("ip_prefix":"ffff:ffff:ffff::/48")");
  for (std::string_view bad : {"", "+15551234567", "1.2.3", "1.2.3.4.5", "fe80::1%eth0",
                               "203.0.113.77:443", "not an ip\n", "1.2.3.4 "}) {
    EXPECT_EQ(IpPrefix(bad), R"("ip_prefix":"invalid")") << bad;
  }
  EXPECT_EQ(IpPrefix(std::string(1000, '1')), R"("ip_prefix":"invalid")");
}

TEST(Log, AccountTagsAreKeyedAndShort) {
  DeterministicRng rng(7);
  AccountTagger tagger(rng);
  const AccountTag a = tagger.Tag("+15551234567");
  EXPECT_EQ(a.hex().size(), 2 * kAccountTagBytes);
  EXPECT_EQ(a.hex().find_first_not_of("0123456789abcdef"), std::string_view::npos);
  EXPECT_EQ(tagger.Tag("+15551234567"), a);
  EXPECT_EQ(tagger.Tag(AsBytes("+15551234567")), a);
  EXPECT_NE(tagger.Tag("+15551234568"), a);

  // The tag is HMAC-SHA256 under the key the tagger drew, with the documented input.
  DeterministicRng same(7);
  Secret<crypto::kHmacSha256Bytes> key;
  same.Fill(key.mutable_span());
  const Bytes input = [] {
    const std::string_view label = "holdfast log account tag v1";
    Bytes b(label.begin(), label.end());
    b.push_back(0);
    const std::string_view id = "+15551234567";
    b.insert(b.end(), id.begin(), id.end());
    return b;
  }();
  const auto mac = crypto::HmacSha256(key.span(), input);
  EXPECT_EQ(a.hex(), HexEncode(mac.span().first(kAccountTagBytes)));

  // Another key (another process) gives unrelated tags.
  DeterministicRng other_rng(8);
  AccountTagger other(other_rng);
  EXPECT_NE(other.Tag("+15551234567"), a);

  ManualClock clock(FromUnixMillis(0));
  Captured out;
  Logger logger(clock, out.Sink());
  logger.Info("register.start", {LogField::Account(a)});
  ASSERT_EQ(out.lines().size(), 1u);
  EXPECT_EQ(out.lines()[0],
            R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","event":"register.start",)"
            R"("account":")" +
                std::string(a.hex()) + "\"}\n");
  EXPECT_EQ(out.lines()[0].find("5551234567"), std::string::npos);
}

TEST(Log, ConcurrentLinesDoNotInterleave) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  ManualClock clock(FromUnixMillis(kStartMillis));
  Captured out;
  Logger logger(clock, out.Sink());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&logger, t] {
      for (int i = 0; i < kPerThread; ++i) {
        logger.Info("work", {LogField::Int("thread", t), LogField::Int("i", i)});
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  const auto lines = out.lines();
  ASSERT_EQ(lines.size(), size_t{kThreads * kPerThread});
  for (const std::string& line : lines) {
    EXPECT_EQ(line.front(), '{');
    EXPECT_TRUE(line.ends_with("}\n"));
    EXPECT_EQ(line.find('\n'), line.size() - 1);
  }
}

}  // namespace
}  // namespace holdfast::server
