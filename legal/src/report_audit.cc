#include "holdfast/legal/report_audit.h"

#include "holdfast/common/encoding.h"
#include "holdfast/legal/jcs.h"
#include "holdfast/legal/registry.h"
#include "holdfast/legal/report.h"
#include "holdfast/tlog/audit.h"
#include "holdfast/tlog/log.h"
#include "holdfast/tlog/merkle.h"

namespace holdfast::legal {
ReportAuditResult AuditPublishedReport(tlog::TileFetcher& fetcher, const tlog::NoteVerifier& key,
                                       const nlohmann::json& published, int64_t from_ms,
                                       int64_t to_ms, const nlohmann::json* orders) {
  ReportAuditResult out;
  const tlog::AuditReport log = tlog::AuditLog(fetcher, kLogOrigin, key, "");
  if (!log.ok()) {
    out.failures.push_back("log: " + log.failure);
    return out;
  }
  out.log_size = log.checkpoint.size;

  // The entries, read again, must be the ones the audit verified: their root is checked.
  std::vector<Bytes> entries;
  tlog::CompactRange range;
  for (uint64_t start = 0; start < log.checkpoint.size; start += tlog::kTileWidth) {
    const uint64_t width = std::min<uint64_t>(tlog::kTileWidth, log.checkpoint.size - start);
    auto bundle = fetcher.Fetch(tlog::EntriesPath(start / tlog::kTileWidth, width));
    if (!bundle.ok()) {
      out.failures.push_back("log: entry bundle " + std::to_string(start / tlog::kTileWidth) +
                             ": " + ErrorText(bundle.error()));
      return out;
    }
    auto parsed = tlog::ParseBundle(*bundle);
    if (!parsed.ok() || parsed->size() != width) {
      out.failures.push_back("log: entry bundle " + std::to_string(start / tlog::kTileWidth) +
                             " is malformed");
      return out;
    }
    for (auto& e : *parsed) {
      range.AppendLeafHash(tlog::HashLeaf(e));
      entries.push_back(std::move(e));
    }
  }
  if (range.Root() != log.checkpoint.root) {
    out.failures.push_back("log: entries changed while being read (root mismatch)");
    return out;
  }

  // The report's own checkpoint: a prefix of the verified log.
  const auto& cp = published.contains("checkpoint") ? published["checkpoint"] : nlohmann::json();
  if (!cp.is_object() || !cp.contains("tree_size") || !cp["tree_size"].is_number_unsigned() ||
      !cp.contains("root_hash") || !cp["root_hash"].is_string()) {
    out.failures.push_back("report: no checkpoint named");
    return out;
  }
  out.report_size = cp["tree_size"].get<uint64_t>();
  if (out.report_size > entries.size()) {
    out.failures.push_back("report: names tree size " + std::to_string(out.report_size) +
                           ", beyond the log's " + std::to_string(entries.size()));
    return out;
  }
  tlog::CompactRange prefix;
  for (uint64_t i = 0; i < out.report_size; ++i) {
    prefix.AppendLeafHash(tlog::HashLeaf(entries[i]));
  }
  const std::string prefix_root = Base64Encode(prefix.Root());
  if (prefix_root != cp["root_hash"].get<std::string>()) {
    out.failures.push_back("report: root hash " + cp["root_hash"].get<std::string>() +
                           " is not the log's root at size " + std::to_string(out.report_size) +
                           " (" + prefix_root + ")");
  }
  auto recomputed = ComputeReport(std::span<const Bytes>(entries.data(), out.report_size), from_ms,
                                  to_ms, prefix_root);
  if (!recomputed.ok()) {
    out.failures.push_back("log: an entry cannot be read: " + ErrorText(recomputed.error()));
    return out;
  }
  for (auto& diff : CompareReports(published, ReportToJson(*recomputed))) {
    out.failures.push_back("report: " + diff);
  }

  if (orders != nullptr) {
    if (!orders->is_array()) {
      out.failures.push_back("orders: not a list");
      return out;
    }
    for (const auto& o : *orders) {
      ++out.orders_checked;
      const std::string name = "order " + (o.contains("seq") ? o["seq"].dump() : std::string("?")) +
                               " (" +
                               (o.contains("order_hash") && o["order_hash"].is_string()
                                    ? o["order_hash"].get<std::string>().substr(0, 16)
                                    : std::string("no hash")) +
                               ")";
      if (!o.contains("log_index") || !o["log_index"].is_number_unsigned() ||
          !o.contains("entry")) {
        out.failures.push_back(name + ": no log index or entry");
        continue;
      }
      const uint64_t index = o["log_index"].get<uint64_t>();
      auto canonical = Canonicalize(o["entry"]);
      if (index >= entries.size()) {
        out.failures.push_back(name + ": decided but not logged (index " + std::to_string(index) +
                               " is beyond the log)");
      } else if (!canonical.ok() ||
                 std::string_view(reinterpret_cast<const char*>(entries[index].data()),
                                  entries[index].size()) != *canonical) {
        out.failures.push_back(name + ": decided but not logged (log entry " +
                               std::to_string(index) + " is a different decision)");
      }
    }
  }
  return out;
}

}  // namespace holdfast::legal
