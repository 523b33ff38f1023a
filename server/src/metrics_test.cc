#include "holdfast/server/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace holdfast::server {
namespace {

TEST(Metrics, RendersASmallRegistryExactly) {
  MetricsRegistry registry;
  Counter& messages = registry.GetCounter("holdfast_messages_stored_total", "Messages stored.");
  Gauge& connections = registry.GetGauge("holdfast_connections", "Open connections.");
  Histogram& latency =
      registry.GetHistogram("holdfast_request_seconds", "Request latency.", {0.25, 0.5, 1});
  messages.Inc();
  messages.Inc(2);
  connections.Set(5);
  connections.Add(-7);
  // Binary fractions, so the sum is exact.
  latency.Observe(0.125);
  latency.Observe(0.25);  // a bound belongs to its own bucket (le = less or equal)
  latency.Observe(0.375);
  latency.Observe(3.0);

  EXPECT_EQ(registry.Render(),
            "# HELP holdfast_connections Open connections.\n"
            "# TYPE holdfast_connections gauge\n"
            "holdfast_connections -2\n"
            "# HELP holdfast_messages_stored_total Messages stored.\n"
            "# TYPE holdfast_messages_stored_total counter\n"
            "holdfast_messages_stored_total 3\n"
            "# HELP holdfast_request_seconds Request latency.\n"
            "# TYPE holdfast_request_seconds histogram\n"
            "holdfast_request_seconds_bucket{le=\"0.25\"} 2\n"
            "holdfast_request_seconds_bucket{le=\"0.5\"} 3\n"
            "holdfast_request_seconds_bucket{le=\"1\"} 3\n"
            "holdfast_request_seconds_bucket{le=\"+Inf\"} 4\n"
            "holdfast_request_seconds_sum 3.75\n"
            "holdfast_request_seconds_count 4\n");
}

TEST(Metrics, EmptyRegistryRendersNothing) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.Render(), "");
}

TEST(Metrics, LabelledSeriesShareOneFamily) {
  MetricsRegistry registry;
  registry.GetCounter("holdfast_requests_total", "Requests by type.", {{"type", "send"}}).Inc(4);
  registry.GetCounter("holdfast_requests_total", "Requests by type.", {{"type", "fetch"}}).Inc();
  // Labels are an identity regardless of the order they are given in.
  Counter& a = registry.GetCounter("holdfast_requests_total", "Requests by type.",
                                   {{"z", "1"}, {"type", "x"}});
  Counter& b = registry.GetCounter("holdfast_requests_total", "Requests by type.",
                                   {{"type", "x"}, {"z", "1"}});
  EXPECT_EQ(&a, &b);
  registry.GetHistogram("holdfast_store_seconds", "Store latency.", {0.5}, {{"backend", "sqlite"}})
      .Observe(std::chrono::milliseconds(250));

  EXPECT_EQ(registry.Render(),
            "# HELP holdfast_requests_total Requests by type.\n"
            "# TYPE holdfast_requests_total counter\n"
            "holdfast_requests_total{type=\"send\"} 4\n"
            "holdfast_requests_total{type=\"fetch\"} 1\n"
            "holdfast_requests_total{type=\"x\",z=\"1\"} 0\n"
            "# HELP holdfast_store_seconds Store latency.\n"
            "# TYPE holdfast_store_seconds histogram\n"
            "holdfast_store_seconds_bucket{backend=\"sqlite\",le=\"0.5\"} 1\n"
            "holdfast_store_seconds_bucket{backend=\"sqlite\",le=\"+Inf\"} 1\n"
            "holdfast_store_seconds_sum{backend=\"sqlite\"} 0.25\n"
            "holdfast_store_seconds_count{backend=\"sqlite\"} 1\n");
}

TEST(Metrics, EscapesHelpAndLabelValues) {
  MetricsRegistry registry;
  registry.GetGauge("holdfast_odd", "Back\\slash and\nnewline \"quoted\".",
                    {{"path", "a\"b\\c\nd"}});
  EXPECT_EQ(registry.Render(),
            "# HELP holdfast_odd Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE holdfast_odd gauge\n"
            "holdfast_odd{path=\"a\\\"b\\\\c\\nd\"} 0\n");
}

TEST(Metrics, SameNameReturnsTheSameMetric) {
  MetricsRegistry registry;
  Counter& a = registry.GetCounter("holdfast_x_total", "X.");
  Counter& b = registry.GetCounter("holdfast_x_total", "X.");
  EXPECT_EQ(&a, &b);
  Histogram& h1 = registry.GetHistogram("holdfast_h", "H.", {1, 2});
  Histogram& h2 = registry.GetHistogram("holdfast_h", "H.", {1, 2});
  EXPECT_EQ(&h1, &h2);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram& h = registry.GetHistogram("holdfast_latency_seconds", "L.", DefaultLatencyBounds());
  ASSERT_EQ(h.upper_bounds().size(), 15u);
  for (int i = 0; i < 10; ++i) {
    h.Observe(0.001);  // le=0.001, the third bucket
  }
  h.Observe(0.07);  // le=0.1
  h.Observe(7.0);   // le=10
  h.Observe(60.0);  // +Inf only
  h.Observe(-1.0);  // a negative value falls in the first bucket
  h.Observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  const std::vector<uint64_t> c = h.BucketCounts();
  ASSERT_EQ(c.size(), 16u);
  EXPECT_EQ(c, (std::vector<uint64_t>{1, 1, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 13, 14}));
  for (size_t i = 1; i < c.size(); ++i) {
    EXPECT_LE(c[i - 1], c[i]);
  }
  EXPECT_DOUBLE_EQ(h.Sum(), 10 * 0.001 + 0.07 + 7.0 + 60.0 - 1.0);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("holdfast_latency_seconds_bucket{le=\"0.00025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("holdfast_latency_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("holdfast_latency_seconds_bucket{le=\"10\"} 13\n"), std::string::npos);
  EXPECT_NE(text.find("holdfast_latency_seconds_bucket{le=\"0.005\"} 11\n"), std::string::npos);
  EXPECT_NE(text.find("holdfast_latency_seconds_bucket{le=\"2.5\"} 12\n"), std::string::npos);
  EXPECT_NE(text.find("holdfast_latency_seconds_bucket{le=\"+Inf\"} 14\n"), std::string::npos);
  EXPECT_NE(text.find("holdfast_latency_seconds_count 14\n"), std::string::npos);
}

TEST(Metrics, HistogramWithOnlyTheInfiniteBucket) {
  MetricsRegistry registry;
  registry.GetHistogram("holdfast_any", "Any.", {}).Observe(2.5);
  EXPECT_EQ(registry.Render(),
            "# HELP holdfast_any Any.\n"
            "# TYPE holdfast_any histogram\n"
            "holdfast_any_bucket{le=\"+Inf\"} 1\n"
            "holdfast_any_sum 2.5\n"
            "holdfast_any_count 1\n");
}

TEST(Metrics, BoundsTooLongForPlainDecimalsUseExponents) {
  MetricsRegistry registry;
  registry.GetHistogram("holdfast_wide", "Wide.", {1e-20, 0.0005, 1e20}).Observe(1.0);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("holdfast_wide_bucket{le=\"1e-20\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("holdfast_wide_bucket{le=\"0.0005\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("holdfast_wide_bucket{le=\"1e+20\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;
  MetricsRegistry registry;
  Counter& counter = registry.GetCounter("holdfast_c_total", "C.");
  Gauge& gauge = registry.GetGauge("holdfast_g", "G.");
  Histogram& histogram = registry.GetHistogram("holdfast_h_seconds", "H.", {0.5});
  std::vector<Counter*> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Creation from several threads yields one metric.
      seen[t] = &registry.GetCounter("holdfast_shared_total", "Shared.");
      for (int i = 0; i < kIterations; ++i) {
        counter.Inc();
        seen[t]->Inc(2);
        gauge.Add(1);
        gauge.Add(-1);
        gauge.Add(1);
        histogram.Observe(i % 2 == 0 ? 0.25 : 1.0);  // exact binary fractions
        if (i % 1000 == 0) {
          (void)registry.Render();  // rendering while others write is safe
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (Counter* c : seen) {
    EXPECT_EQ(c, seen[0]);
  }
  const uint64_t total = uint64_t{kThreads} * kIterations;
  EXPECT_EQ(counter.Value(), total);
  EXPECT_EQ(seen[0]->Value(), 2 * total);
  EXPECT_EQ(gauge.Value(), static_cast<int64_t>(total));
  EXPECT_EQ(histogram.BucketCounts(), (std::vector<uint64_t>{total / 2, total}));
  EXPECT_DOUBLE_EQ(histogram.Sum(), (total / 2) * 0.25 + (total / 2) * 1.0);
}

TEST(MetricsDeathTest, MisuseAborts) {
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetCounter("holdfast_x", "X.");
        r.GetGauge("holdfast_x", "X.");
      },
      "another type");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetCounter("holdfast_x", "X.");
        r.GetCounter("holdfast_x", "Y.");
      },
      "another help");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetCounter("9bad", "X.");
      },
      "invalid metric name");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetCounter("holdfast_x", "X.", {{"bad-label", "v"}});
      },
      "invalid label name");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetCounter("holdfast_x", "X.", {{"a", "1"}, {"a", "2"}});
      },
      "duplicate label");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetHistogram("holdfast_h", "H.", {1}, {{"le", "1"}});
      },
      "reserved");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetHistogram("holdfast_h", "H.", {1, 1});
      },
      "strictly increasing");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetHistogram("holdfast_h", "H.", {1, std::numeric_limits<double>::infinity()});
      },
      "finite");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.GetHistogram("holdfast_h", "H.", {1});
        r.GetHistogram("holdfast_h", "H.", {2});
      },
      "other bounds");
}

}  // namespace
}  // namespace holdfast::server
