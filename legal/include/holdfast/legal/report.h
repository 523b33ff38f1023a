// Transparency reports, computed only from the public log's entries, so that anyone holding
// the log can recompute them (holdfast-audit does).
//
// A report covers decisions whose decided_at lies in [from, to). It counts, per country and
// per calendar month (UTC), and in total: orders received, fulfilled, partially fulfilled
// and rejected (and rejections by reason), accounts named and affected, content requests
// received and fulfilled (always zero: content is not held), and the median time to
// acknowledge and to give effect (EU DSA Article 15), in seconds. It names the checkpoint
// (tree size and root hash) whose entries it was computed from.
#ifndef HOLDFAST_LEGAL_REPORT_H_
#define HOLDFAST_LEGAL_REPORT_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/legal/types.h"

namespace holdfast::legal {

struct ReportCounts {
  uint64_t received = 0;
  uint64_t fulfilled = 0;
  uint64_t partially_fulfilled = 0;
  uint64_t rejected = 0;
  std::map<std::string, uint64_t> rejected_by_reason;  // reason name -> rejected orders
  std::map<std::string, uint64_t> reasons;             // reason name -> all orders citing it
  uint64_t accounts_named = 0;
  uint64_t accounts_affected = 0;
  uint64_t content_requests = 0;
  uint64_t content_fulfilled = 0;       // always 0
  std::vector<int64_t> acknowledge_ms;  // per order, for the medians
  std::vector<int64_t> effect_ms;
};

struct Report {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  uint64_t tree_size = 0;
  std::string root_hash;  // base64, as in the checkpoint
  ReportCounts total;
  std::map<std::string, ReportCounts> countries;  // "" for orders from no known authority
  std::map<std::string, std::map<std::string, ReportCounts>> months;  // "YYYY-MM" -> country
};

// ComputeReport reads `entries` (the log's first tree_size entries, in order); non-decision
// entries are skipped. An entry that is not valid JSON of a known type is kMalformed: a
// report must not silently skip what it cannot read.
Result<Report> ComputeReport(std::span<const Bytes> entries, int64_t from_ms, int64_t to_ms,
                             std::string root_hash);

// ReportToJson is the published form (medians computed, per-order times dropped).
nlohmann::json ReportToJson(const Report& report);
// ReportToCsv: one row per (period, country), period "total" first.
std::string ReportToCsv(const Report& report);
// ReportToHtml: a self-contained page with inline SVG charts.
std::string ReportToHtml(const Report& report);

// CompareReports names every difference between a published report and a recomputed one,
// as "path: published X, recomputed Y". Empty when they agree.
std::vector<std::string> CompareReports(const nlohmann::json& published,
                                        const nlohmann::json& recomputed);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_REPORT_H_
