// Metrics: counters, gauges and histograms, rendered in the Prometheus text format 0.0.4.
//
// A MetricsRegistry owns every metric. Components ask it for their metrics once (creation
// takes a lock) and keep the reference; updating a metric is a relaxed atomic operation with
// no lock and no allocation. Metrics count events and measure durations; they carry no
// identifiers (labels are fixed by the code, never taken from requests), so a scrape reveals
// nothing about any user.
#ifndef HOLDFAST_SERVER_METRICS_H_
#define HOLDFAST_SERVER_METRICS_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace holdfast::server {

// kMetricsContentType is the Content-Type of MetricsRegistry::Render's output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// MetricLabels are the constant label pairs of one series: (name, value). Label names follow
// Prometheus ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"); values are any text.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// DefaultLatencyBounds returns the usual latency bucket bounds in seconds, 0.25 ms to 10 s.
std::vector<double> DefaultLatencyBounds();

// Counter only goes up. Inc is lock-free and safe from any thread.
class Counter {
 public:
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend class MetricsRegistry;
  Counter() = default;

  std::atomic<uint64_t> value_{0};
};

// Gauge is a value that goes up and down (open connections, queue depth). Lock-free.
class Gauge {
 public:
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend class MetricsRegistry;
  Gauge() = default;

  std::atomic<int64_t> value_{0};
};

// Histogram counts observations into buckets with fixed upper bounds (in seconds), plus an
// implicit +Inf bucket, and keeps their sum. Observe is lock-free: a binary search, one
// atomic increment and one atomic add.
class Histogram {
 public:
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Observe records `seconds` in the first bucket whose bound is >= it. NaN is ignored.
  void Observe(double seconds);
  // Observe records a duration.
  void Observe(std::chrono::nanoseconds d) { Observe(std::chrono::duration<double>(d).count()); }

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // BucketCounts returns the cumulative count of each bound, then of +Inf; the last entry is
  // the number of observations. Under concurrent Observe calls the snapshot is per bucket.
  std::vector<uint64_t> BucketCounts() const;
  // Sum returns the sum of all observations.
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  friend class MetricsRegistry;
  explicit Histogram(std::vector<double> upper_bounds);

  const std::vector<double> bounds_;
  // counts_[i] counts observations in bucket i alone (not cumulative); the last is +Inf.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// MetricsRegistry creates and owns metrics by name. Getting a metric that exists (same name,
// same labels) returns it; otherwise it is created. Names follow Prometheus
// ([a-zA-Z_:][a-zA-Z0-9_:]*). Names and labels are constants of the code, so using one
// wrongly is a broken invariant and aborts: an invalid name or label, a name reused with
// another type or help text, a histogram series with other bounds, a histogram label "le",
// or histogram bounds that are not finite and strictly increasing.
//
// Returned references stay valid as long as the registry. Thread-safe.
class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  ~MetricsRegistry();

  Counter& GetCounter(std::string_view name, std::string_view help, MetricLabels labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, MetricLabels labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          std::vector<double> upper_bounds, MetricLabels labels = {});

  // Render returns every metric in the text exposition format 0.0.4: families sorted by name,
  // each with "# HELP" and "# TYPE" lines, then its series in creation order. Histograms give
  // cumulative "_bucket{le="..."}" lines ending with le="+Inf", then "_sum" and "_count".
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series;
  struct Family {
    Type type;
    std::string help;
    std::vector<std::unique_ptr<Series>> series;  // in creation order
  };

  Series& GetSeries(Type type, std::string_view name, std::string_view help, MetricLabels labels,
                    const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // GUARDED_BY(mu_)
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_METRICS_H_
