#include "holdfast/legal/report.h"

#include <algorithm>
#include <sstream>

#include "holdfast/legal/disclosure.h"
#include "holdfast/legal/jcs.h"

namespace holdfast::legal {
namespace {

void Add(ReportCounts& c, const Decision& d) {
  ++c.received;
  switch (d.outcome) {
    case Outcome::kFulfilled:
      ++c.fulfilled;
      break;
    case Outcome::kPartiallyFulfilled:
      ++c.partially_fulfilled;
      break;
    case Outcome::kRejected:
      ++c.rejected;
      for (Reason r : d.reasons) {
        ++c.rejected_by_reason[std::string(ReasonName(r))];
      }
      break;
  }
  for (Reason r : d.reasons) {
    ++c.reasons[std::string(ReasonName(r))];
  }
  c.accounts_named += d.accounts_named;
  c.accounts_affected += d.accounts_affected;
  if (d.content_requested) {
    ++c.content_requests;
  }
  c.acknowledge_ms.push_back(d.acknowledged_ms - d.received_ms);
  c.effect_ms.push_back(d.decided_ms - d.received_ms);
}

// MedianSeconds: the median in seconds (the mean of the middle two for an even count),
// rounded to milliseconds; null when there is nothing.
nlohmann::json MedianSeconds(std::vector<int64_t> v) {
  if (v.empty()) {
    return nullptr;
  }
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const int64_t twice = n % 2 == 1 ? 2 * v[n / 2] : v[n / 2 - 1] + v[n / 2];
  // Integer milliseconds, halved exactly: the JSON holds a decimal with at most 4 places.
  return static_cast<double>(twice) / 2000.0;
}

nlohmann::json CountsToJson(const ReportCounts& c) {
  return {
      {"orders_received", c.received},
      {"fulfilled", c.fulfilled},
      {"partially_fulfilled", c.partially_fulfilled},
      {"rejected", c.rejected},
      {"rejected_by_reason", c.rejected_by_reason},
      {"reasons", c.reasons},
      {"accounts_named", c.accounts_named},
      {"accounts_affected", c.accounts_affected},
      {"content_requests_received", c.content_requests},
      {"content_requests_fulfilled", c.content_fulfilled},
      {"median_seconds_to_acknowledge", MedianSeconds(c.acknowledge_ms)},
      {"median_seconds_to_effect", MedianSeconds(c.effect_ms)},
  };
}

std::string Month(int64_t ms) { return FormatTime(ms).substr(0, 7); }

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void Compare(const std::string& path, const nlohmann::json& a, const nlohmann::json& b,
             std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k)) {
        out.push_back(path + "/" + k + ": published " + v.dump() + ", recomputed (absent)");
      } else {
        Compare(path + "/" + k, v, b[k], out);
      }
    }
    for (const auto& [k, v] : b.items()) {
      if (!a.contains(k)) {
        out.push_back(path + "/" + k + ": published (absent), recomputed " + v.dump());
      }
    }
    return;
  }
  if (a != b) {
    out.push_back(path + ": published " + a.dump() + ", recomputed " + b.dump());
  }
}

}  // namespace

Result<Report> ComputeReport(std::span<const Bytes> entries, int64_t from_ms, int64_t to_ms,
                             std::string root_hash) {
  Report r;
  r.from_ms = from_ms;
  r.to_ms = to_ms;
  r.tree_size = entries.size();
  r.root_hash = std::move(root_hash);
  for (const auto& e : entries) {
    auto j = ParseStrictJson(std::string_view(reinterpret_cast<const char*>(e.data()), e.size()));
    if (!j.ok() || !j->is_object() || !j->contains("type") || !(*j)["type"].is_string()) {
      return Error{ErrorCode::kMalformed, "log entry"};
    }
    const auto& type = (*j)["type"].get_ref<const std::string&>();
    if (type == "authority" || type == "policy") {
      continue;
    }
    if (type != "decision") {
      return Error{ErrorCode::kMalformed, "log entry type"};
    }
    auto d = DecisionFromLogEntry(*j);
    if (!d.ok()) {
      return d.error();
    }
    if (d->decided_ms < from_ms || d->decided_ms >= to_ms) {
      continue;
    }
    Add(r.total, *d);
    Add(r.countries[d->country], *d);
    Add(r.months[Month(d->decided_ms)][d->country], *d);
  }
  return r;
}

nlohmann::json ReportToJson(const Report& r) {
  nlohmann::json countries = nlohmann::json::object();
  for (const auto& [cc, c] : r.countries) {
    countries[cc.empty() ? "unknown" : cc] = CountsToJson(c);
  }
  nlohmann::json months = nlohmann::json::object();
  for (const auto& [m, by_country] : r.months) {
    nlohmann::json jm = nlohmann::json::object();
    for (const auto& [cc, c] : by_country) {
      jm[cc.empty() ? "unknown" : cc] = CountsToJson(c);
    }
    months[m] = std::move(jm);
  }
  return {
      {"version", 1},
      {"from", FormatTime(r.from_ms)},
      {"to", FormatTime(r.to_ms)},
      {"checkpoint",
       {{"origin", "holdfast/transparency"},
        {"tree_size", r.tree_size},
        {"root_hash", r.root_hash}}},
      {"total", CountsToJson(r.total)},
      {"countries", std::move(countries)},
      {"months", std::move(months)},
  };
}

std::string ReportToCsv(const Report& r) {
  std::ostringstream out;
  out << "period,country,orders_received,fulfilled,partially_fulfilled,rejected,"
         "accounts_named,accounts_affected,content_requests_received,"
         "content_requests_fulfilled,median_seconds_to_acknowledge,median_seconds_to_effect";
  for (Reason reason : AllReasons()) {
    out << ",rejected_" << ReasonName(reason);
  }
  out << "\n";
  auto row = [&](const std::string& period, const std::string& country, const ReportCounts& c) {
    const auto ack = MedianSeconds(c.acknowledge_ms);
    const auto eff = MedianSeconds(c.effect_ms);
    out << period << "," << (country.empty() ? "unknown" : country) << "," << c.received << ","
        << c.fulfilled << "," << c.partially_fulfilled << "," << c.rejected << ","
        << c.accounts_named << "," << c.accounts_affected << "," << c.content_requests << ","
        << c.content_fulfilled << "," << (ack.is_null() ? "" : ack.dump()) << ","
        << (eff.is_null() ? "" : eff.dump());
    for (Reason reason : AllReasons()) {
      auto it = c.rejected_by_reason.find(std::string(ReasonName(reason)));
      out << "," << (it == c.rejected_by_reason.end() ? 0 : it->second);
    }
    out << "\n";
  };
  row("total", "all", r.total);
  for (const auto& [cc, c] : r.countries) {
    row("total", cc, c);
  }
  for (const auto& [m, by_country] : r.months) {
    for (const auto& [cc, c] : by_country) {
      row(m, cc, c);
    }
  }
  return out.str();
}

std::string ReportToHtml(const Report& r) {
  std::ostringstream out;
  out << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<title>Holdfast transparency report</title>"
         "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;"
         "padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:.3em .6em;text-align:right}th:first-child,td:first-child{text-align:left}"
         ".note{color:#555}</style></head><body>\n";
  out << "<h1>Transparency report</h1>\n<p>Orders decided from " << FormatTime(r.from_ms) << " to "
      << FormatTime(r.to_ms) << ". Computed from the transparency log at tree size " << r.tree_size
      << ", root hash <code>" << Escape(r.root_hash)
      << "</code>. Anyone can recompute it with <code>holdfast-audit report</code>.</p>\n";
  out << "<p><strong>Content requests received: " << r.total.content_requests
      << ". Fulfilled: 0.</strong> Messages, contacts and groups are end-to-end encrypted: "
         "Holdfast does not hold them in a readable form.</p>\n";

  // Bar chart: per country, fulfilled / partial / rejected stacked.
  const int bar_h = 22;
  const int width = 600;
  uint64_t max = 1;
  for (const auto& [cc, c] : r.countries) {
    max = std::max(max, c.received);
  }
  out << "<h2>Orders by country</h2>\n<svg role=\"img\" aria-label=\"orders by country\" "
         "width=\""
      << width + 120 << "\" height=\"" << (r.countries.size() + 1) * (bar_h + 6) + 10
      << "\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"12\">\n";
  int y = 5;
  for (const auto& [cc, c] : r.countries) {
    const double scale = static_cast<double>(width - 60) / static_cast<double>(max);
    double x = 40;
    out << "<text x=\"0\" y=\"" << y + 15 << "\">" << Escape(cc.empty() ? "?" : cc) << "</text>\n";
    const std::pair<uint64_t, const char*> parts[] = {
        {c.fulfilled, "#2a7"}, {c.partially_fulfilled, "#fb3"}, {c.rejected, "#c33"}};
    for (const auto& [n, color] : parts) {
      const double w = static_cast<double>(n) * scale;
      out << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"" << bar_h
          << "\" fill=\"" << color << "\"/>\n";
      x += w;
    }
    out << "<text x=\"" << x + 6 << "\" y=\"" << y + 15 << "\">" << c.received << "</text>\n";
    y += bar_h + 6;
  }
  out << "<text x=\"40\" y=\"" << y + 14
      << "\" fill=\"#555\">green: fulfilled, amber: partially fulfilled, red: rejected</text>\n"
         "</svg>\n";

  out << "<h2>Per country</h2>\n<table><tr><th>country</th><th>received</th><th>fulfilled</th>"
         "<th>partially</th><th>rejected</th><th>accounts named</th><th>accounts affected</th>"
         "<th>content requests</th><th>median s to acknowledge</th><th>median s to effect</th>"
         "</tr>\n";
  auto row = [&](const std::string& name, const ReportCounts& c) {
    const auto ack = MedianSeconds(c.acknowledge_ms);
    const auto eff = MedianSeconds(c.effect_ms);
    out << "<tr><td>" << Escape(name) << "</td><td>" << c.received << "</td><td>" << c.fulfilled
        << "</td><td>" << c.partially_fulfilled << "</td><td>" << c.rejected << "</td><td>"
        << c.accounts_named << "</td><td>" << c.accounts_affected << "</td><td>"
        << c.content_requests << "</td><td>" << (ack.is_null() ? "" : ack.dump()) << "</td><td>"
        << (eff.is_null() ? "" : eff.dump()) << "</td></tr>\n";
  };
  for (const auto& [cc, c] : r.countries) {
    row(cc.empty() ? "unknown authority" : cc, c);
  }
  row("all", r.total);
  out << "</table>\n<h2>Rejections by reason</h2>\n<table><tr><th>reason</th><th>orders</th>"
         "<th>meaning</th></tr>\n";
  for (const auto& [reason, n] : r.total.rejected_by_reason) {
    auto parsed = ParseReason(reason);
    out << "<tr><td><code>" << Escape(reason) << "</code></td><td>" << n << "</td><td>"
        << Escape(parsed ? ReasonMessage(*parsed) : "") << "</td></tr>\n";
  }
  out << "</table>\n<p class=\"note\">Machine-readable: the same figures as JSON and CSV. "
         "Holdfast can disclose a phone number and IP records (address, port, times), on a "
         "valid order for a listed crime category, and nothing else.</p>\n</body></html>\n";
  return out.str();
}

std::vector<std::string> CompareReports(const nlohmann::json& published,
                                        const nlohmann::json& recomputed) {
  std::vector<std::string> out;
  Compare("", published, recomputed, out);
  return out;
}

}  // namespace holdfast::legal
