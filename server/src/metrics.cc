#include "holdfast/server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace holdfast::server {
namespace {

[[noreturn]] void Misuse(const char* what, std::string_view name) {
  std::fprintf(stderr, "holdfast: broken invariant: metrics: %s: %.*s\n", what,
               static_cast<int>(name.size()), name.data());
  std::abort();
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || IsAsciiDigit(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return IsAsciiLetter(c) || IsAsciiDigit(c) || c == '_' || c == ':';
  });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || IsAsciiDigit(name.front()) || name.starts_with("__")) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAsciiLetter(c) || IsAsciiDigit(c) || c == '_'; });
}

// AppendEscaped escapes for a HELP line (backslash, newline) or, with `quote`, for a label
// value (also the double quote), as the 0.0.4 format asks.
void AppendEscaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// AppendDouble writes the shortest text that reads back as `v`, in the spellings Prometheus
// parses: "NaN", "+Inf", "-Inf", otherwise e.g. "0.25", "1", "1e-05".
void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) {
    Misuse("formatting a value", "");
  }
  out.append(buf, end);
}

// AppendBound writes a bucket bound in plain decimals when that takes at most 12 characters
// ("0.0005" rather than "5e-04", as Prometheus' own clients print them), else as AppendDouble.
void AppendBound(std::string& out, double v) {
  char buf[12];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (std::isfinite(v) && ec == std::errc()) {
    out.append(buf, end);
  } else {
    AppendDouble(out, v);
  }
}

template <typename Int>
void AppendInt(std::string& out, Int v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) {
    Misuse("formatting a value", "");
  }
  out.append(buf, end);
}

// CanonicalLabels checks `labels` and renders them sorted by name as `a="x",b="y"` (no
// braces), the identity of a series within its family.
std::string CanonicalLabels(std::string_view name, MetricLabels labels, bool histogram) {
  std::sort(labels.begin(), labels.end());
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& [label, value] = labels[i];
    if (!IsValidLabelName(label)) {
      Misuse("invalid label name", name);
    }
    if (histogram && label == "le") {
      Misuse("histogram label \"le\" is reserved", name);
    }
    if (i > 0 && labels[i - 1].first == label) {
      Misuse("duplicate label", name);
    }
    if (i > 0) {
      out += ',';
    }
    out += label;
    out += "=\"";
    AppendEscaped(out, value, /*quote=*/true);
    out += '"';
  }
  return out;
}

// AppendSeriesName writes `name<suffix>{labels,extra} ` and leaves the value to the caller.
void AppendSeriesName(std::string& out, std::string_view name, std::string_view suffix,
                      std::string_view labels, std::string_view extra) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) {
      out += ',';
    }
    out += extra;
    out += '}';
  }
  out += ' ';
}

}  // namespace

std::vector<double> DefaultLatencyBounds() {
  // Sub-millisecond buckets too: the delivery goal is a p99 under 5 ms.
  return {0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double seconds) {
  if (std::isnan(seconds)) {
    return;
  }
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
                                       bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

struct MetricsRegistry::Series {
  std::string labels;  // canonical, without braces
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Series& MetricsRegistry::GetSeries(Type type, std::string_view name,
                                                    std::string_view help, MetricLabels labels,
                                                    const std::vector<double>* bounds) {
  if (!IsValidMetricName(name)) {
    Misuse("invalid metric name", name);
  }
  if (bounds != nullptr) {
    for (size_t i = 0; i < bounds->size(); ++i) {
      if (!std::isfinite((*bounds)[i]) || (i > 0 && (*bounds)[i] <= (*bounds)[i - 1])) {
        Misuse("histogram bounds must be finite and strictly increasing", name);
      }
    }
  }
  std::string canonical = CanonicalLabels(name, std::move(labels), type == Type::kHistogram);

  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    Misuse("name reused with another type", name);
  } else if (it->second.help != help) {
    Misuse("name reused with another help text", name);
  }
  Family& family = it->second;
  for (const auto& series : family.series) {
    if (series->labels == canonical) {
      if (bounds != nullptr && series->histogram->upper_bounds() != *bounds) {
        Misuse("histogram series reused with other bounds", name);
      }
      return *series;
    }
  }
  auto series = std::make_unique<Series>();
  series->labels = std::move(canonical);
  switch (type) {
    case Type::kCounter:
      series->counter.reset(new Counter());
      break;
    case Type::kGauge:
      series->gauge.reset(new Gauge());
      break;
    case Type::kHistogram:
      series->histogram.reset(new Histogram(*bounds));
      break;
  }
  family.series.push_back(std::move(series));
  return *family.series.back();
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     MetricLabels labels) {
  return *GetSeries(Type::kCounter, name, help, std::move(labels), nullptr).counter;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 MetricLabels labels) {
  return *GetSeries(Type::kGauge, name, help, std::move(labels), nullptr).gauge;
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         std::vector<double> upper_bounds, MetricLabels labels) {
  return *GetSeries(Type::kHistogram, name, help, std::move(labels), &upper_bounds).histogram;
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, family] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, family.help, /*quote=*/false);
    out += "\n# TYPE ";
    out += name;
    switch (family.type) {
      case Type::kCounter:
        out += " counter\n";
        break;
      case Type::kGauge:
        out += " gauge\n";
        break;
      case Type::kHistogram:
        out += " histogram\n";
        break;
    }
    for (const auto& series : family.series) {
      switch (family.type) {
        case Type::kCounter:
          AppendSeriesName(out, name, "", series->labels, "");
          AppendInt(out, series->counter->Value());
          out += '\n';
          break;
        case Type::kGauge:
          AppendSeriesName(out, name, "", series->labels, "");
          AppendInt(out, series->gauge->Value());
          out += '\n';
          break;
        case Type::kHistogram: {
          const Histogram& h = *series->histogram;
          const std::vector<uint64_t> cumulative = h.BucketCounts();
          for (size_t i = 0; i < cumulative.size(); ++i) {
            std::string le = "le=\"";
            if (i < h.upper_bounds().size()) {
              AppendBound(le, h.upper_bounds()[i]);
            } else {
              le += "+Inf";
            }
            le += '"';
            AppendSeriesName(out, name, "_bucket", series->labels, le);
            AppendInt(out, cumulative[i]);
            out += '\n';
          }
          AppendSeriesName(out, name, "_sum", series->labels, "");
          AppendDouble(out, h.Sum());
          out += '\n';
          // _count is the +Inf bucket of the same snapshot, so the two always agree.
          AppendSeriesName(out, name, "_count", series->labels, "");
          AppendInt(out, cumulative.back());
          out += '\n';
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace holdfast::server
