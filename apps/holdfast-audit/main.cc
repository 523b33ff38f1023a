// holdfast-audit: the public's tool for checking Holdfast's transparency logs.
//
//   holdfast-audit log (--url URL | --dir DIR) --key VKEY [--state FILE] [--origin ORIGIN]
//   holdfast-audit proof FILE --key VKEY --entry ENTRYFILE [--origin ORIGIN]
//   holdfast-audit report (--url URL | --dir DIR) --key VKEY [--from DATE --to DATE]
//                  [--report FILE] [--orders FILE]
//
// `report` verifies the disclosure log, recomputes the transparency report for [from, to)
// from its entries and names every difference from the published one (by default
// transparency/report-FROM-TO.json under the same URL or directory). With --orders (the
// operator's `holdfast-admin orders list`), it also names every order decided but not
// logged.
//
// VKEY is the log's verifier key, "<name>+<key id>+<base64>"; the origin defaults to its
// name. Prints one verdict line. Exit status 0 when everything verifies, 1 otherwise.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "holdfast/common/encoding.h"
#include "holdfast/legal/report_audit.h"
#include "holdfast/legal/types.h"
#include "holdfast/tlog/audit.h"
#include "holdfast/tlog/fetch.h"
#include "holdfast/tlog/proof_file.h"

namespace tlog = holdfast::tlog;

namespace {

constexpr int kFailed = 1;

int Fail(const std::string& why) {
  std::cout << "FAIL: " << why << "\n";
  return kFailed;
}

bool ReadFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

bool WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out.flush()) {
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

int AuditLog(const std::string& url, const std::string& dir, const tlog::NoteVerifier& key,
             const std::string& origin, const std::string& state_file) {
  std::unique_ptr<tlog::TileFetcher> fetcher;
  if (!url.empty()) {
    auto http = tlog::NewHttpFetcher(url);
    if (!http.ok()) {
      return Fail("--url: " + holdfast::ErrorText(http.error()));
    }
    fetcher = std::move(*http);
  } else {
    fetcher = tlog::NewDirectoryFetcher(dir);
  }
  std::string previous;
  if (!state_file.empty() && std::filesystem::exists(state_file) &&
      !ReadFile(state_file, previous)) {
    return Fail("cannot read state file " + state_file);
  }
  const tlog::AuditReport report = tlog::AuditLog(*fetcher, origin, key, previous);
  if (!report.ok()) {
    return Fail(report.failure);
  }
  if (!state_file.empty() && !WriteFileAtomically(state_file, report.checkpoint_note)) {
    return Fail("verified, but cannot write state file " + state_file);
  }
  std::cout << "OK: " << report.checkpoint.origin << " size " << report.checkpoint.size << " root "
            << holdfast::Base64Encode(report.checkpoint.root) << " (" << report.entries_checked
            << " entries, " << report.tiles_checked << " tiles checked)\n";
  return 0;
}

int VerifyProof(const std::string& proof_file, const std::string& entry_file,
                const tlog::NoteVerifier& key, const std::string& origin) {
  std::string proof, entry;
  if (!ReadFile(proof_file, proof)) {
    return Fail("cannot read proof file " + proof_file);
  }
  if (!ReadFile(entry_file, entry)) {
    return Fail("cannot read entry file " + entry_file);
  }
  auto opened = tlog::VerifyTlogProof(proof, holdfast::AsBytes(entry), origin, key);
  if (!opened.ok()) {
    return Fail("proof does not verify: " + holdfast::ErrorText(opened.error()));
  }
  const auto parsed = tlog::ParseTlogProof(proof);
  std::cout << "OK: entry " << parsed->index << " is in " << opened->checkpoint.origin
            << " at size " << opened->checkpoint.size << " root "
            << holdfast::Base64Encode(opened->checkpoint.root) << "\n";
  return 0;
}

std::unique_ptr<tlog::TileFetcher> MakeFetcher(const std::string& url, const std::string& dir,
                                               std::string& error) {
  if (url.empty()) {
    return tlog::NewDirectoryFetcher(dir);
  }
  auto http = tlog::NewHttpFetcher(url);
  if (!http.ok()) {
    error = "--url: " + holdfast::ErrorText(http.error());
    return nullptr;
  }
  return std::move(*http);
}

int AuditReportCommand(const std::string& url, const std::string& dir,
                       const tlog::NoteVerifier& key, std::string from_text,
                       std::string to_text, const std::string& report_file,
                       const std::string& orders_file) {
  if (from_text.empty() != to_text.empty()) {
    return Fail("--from and --to go together");
  }
  if (from_text.empty()) {
    const std::time_t t = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&t, &utc);
    from_text = std::to_string(utc.tm_year + 1900) + "-01-01";
    to_text = std::to_string(utc.tm_year + 1901) + "-01-01";
  }
  const auto from = holdfast::legal::ParseTime(from_text);
  const auto to = holdfast::legal::ParseTime(to_text);
  if (!from || !to) {
    return Fail("--from/--to: RFC 3339 UTC dates");
  }
  std::string error;
  auto fetcher = MakeFetcher(url, dir, error);
  if (!fetcher) {
    return Fail(error);
  }
  std::string published_text;
  if (!report_file.empty()) {
    if (!ReadFile(report_file, published_text)) {
      return Fail("cannot read " + report_file);
    }
  } else {
    auto fetched =
        fetcher->Fetch("transparency/report-" + from_text + "-" + to_text + ".json");
    if (!fetched.ok()) {
      return Fail("cannot fetch the published report: " + holdfast::ErrorText(fetched.error()));
    }
    published_text.assign(fetched->begin(), fetched->end());
  }
  auto published = nlohmann::json::parse(published_text, nullptr, false);
  if (published.is_discarded()) {
    return Fail("the published report is not JSON");
  }
  nlohmann::json orders;
  if (!orders_file.empty()) {
    std::string text;
    if (!ReadFile(orders_file, text)) {
      return Fail("cannot read " + orders_file);
    }
    orders = nlohmann::json::parse(text, nullptr, false);
    if (orders.is_discarded()) {
      return Fail(orders_file + " is not JSON");
    }
  }
  const auto result = holdfast::legal::AuditPublishedReport(
      *fetcher, key, published, *from, *to, orders_file.empty() ? nullptr : &orders);
  if (!result.ok()) {
    for (const auto& f : result.failures) {
      std::cout << "FAIL: " << f << "\n";
    }
    return kFailed;
  }
  std::cout << "OK: report " << from_text << " to " << to_text << " matches the log at size "
            << result.report_size << " (log size " << result.log_size << ")";
  if (!orders_file.empty()) {
    std::cout << "; " << result.orders_checked << " orders all logged";
  }
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"holdfast-audit: verify Holdfast's public transparency logs"};
  app.require_subcommand(1);
  std::string url, dir, vkey, state, origin, proof_file, entry_file;

  auto* log = app.add_subcommand("log", "verify a published log: checkpoint, tiles, entries");
  auto* source = log->add_option_group("source");
  source->add_option("--url", url, "base URL of the log (http:// or https://)");
  source->add_option("--dir", dir, "directory holding the published log");
  source->require_option(1);
  log->add_option("--key", vkey, "the log's verifier key")->required();
  log->add_option("--state", state, "file keeping the last verified checkpoint");
  log->add_option("--origin", origin, "checkpoint origin (default: the key's name)");

  auto* proof = app.add_subcommand("proof", "verify a c2sp.org/tlog-proof file for one entry");
  proof->add_option("file", proof_file, "the proof file")->required();
  proof->add_option("--key", vkey, "the log's verifier key")->required();
  proof->add_option("--entry", entry_file, "file holding the entry's exact bytes")->required();
  proof->add_option("--origin", origin, "checkpoint origin (default: the key's name)");

  auto* report = app.add_subcommand("report", "recompute a published transparency report");
  std::string from_text, to_text, report_file, orders_file;
  auto* report_source = report->add_option_group("source");
  report_source->add_option("--url", url, "base URL of the published log and report");
  report_source->add_option("--dir", dir, "directory holding them");
  report_source->require_option(1);
  report->add_option("--key", vkey, "the log's verifier key (DIR/legal/log.vkey)")->required();
  report->add_option("--from", from_text, "first day of the report (default: Jan 1 this year)");
  report->add_option("--to", to_text, "end day, exclusive (default: Jan 1 next year)");
  report->add_option("--report", report_file, "the published report (default: fetched)");
  report->add_option("--orders", orders_file, "the operator's order list, to compare");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kFailed;
  }
  auto key = tlog::NoteVerifier::Parse(vkey);
  if (!key.ok()) {
    return Fail("--key: " + holdfast::ErrorText(key.error()));
  }
  if (origin.empty()) {
    origin = key->name();
  }
  if (*log) {
    return AuditLog(url, dir, *key, origin, state);
  }
  if (*report) {
    return AuditReportCommand(url, dir, *key, from_text, to_text, report_file, orders_file);
  }
  return VerifyProof(proof_file, entry_file, *key, origin);
}
