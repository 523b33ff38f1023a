// AuditPublishedReport: what holdfast-audit checks about a published transparency report.
#ifndef HOLDFAST_LEGAL_REPORT_AUDIT_H_
#define HOLDFAST_LEGAL_REPORT_AUDIT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "holdfast/tlog/fetch.h"
#include "holdfast/tlog/note.h"

namespace holdfast::legal {

struct ReportAuditResult {
  // Every problem found, each naming what it concerns. Empty when all verified.
  std::vector<std::string> failures;
  uint64_t log_size = 0;     // the verified checkpoint's size
  uint64_t report_size = 0;  // the size the report names
  uint64_t orders_checked = 0;
  bool ok() const { return failures.empty(); }
};

// AuditPublishedReport verifies the log behind `fetcher` (checkpoint signature, every tile
// and entry bundle, the root), then reads the entries, checks that the first N of them (N
// the size the report names) hash to the root the report names, recomputes the report over
// [from_ms, to_ms) from them and names every field that differs from `published`.
// `orders`, when not null, is the operator's order list (holdfast-admin orders list): every
// order must be in the log at its log index with the same entry, or it is named as decided
// but not logged.
ReportAuditResult AuditPublishedReport(tlog::TileFetcher& fetcher, const tlog::NoteVerifier& key,
                                       const nlohmann::json& published, int64_t from_ms,
                                       int64_t to_ms, const nlohmann::json* orders);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_REPORT_AUDIT_H_
