// holdfast-admin: the operator's tool for lawful disclosure, on the server's data directory.
//
//   holdfast-admin --data DIR authorities add --id ID --name NAME --country CC --kind KIND
//                  --sign-key B64 --box-key B64 [--valid-from DATE] [--valid-until DATE]
//   holdfast-admin --data DIR authorities list | revoke ID
//   holdfast-admin --data DIR policy set FILE | show
//   holdfast-admin --data DIR orders submit FILE [--package-out FILE]
//   holdfast-admin --data DIR orders list | show SEQ
//   holdfast-admin --data DIR report --from DATE --to DATE [--format json|csv|html]
//   holdfast-admin --data DIR publish --out WEBDIR --from DATE --to DATE
//
// `publish` writes the log as static C2SP tiles with its checkpoint, and the report as
// WEBDIR/transparency/report-FROM-TO.{json,html}, which holdfast-audit recomputes.
//
// Output is JSON on stdout. Errors go to stderr as "error: <code name> (<number>): ..." with
// exit status 2. holdfastd may be running on the same directory meanwhile.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "holdfast/common/clock.h"
#include "holdfast/common/encoding.h"
#include "holdfast/crypto/random.h"
#include "holdfast/legal/registry.h"
#include "holdfast/server/disclosure_data.h"
#include "holdfast/server/storage.h"

namespace legal = holdfast::legal;

namespace {

constexpr int kError = 2;

int Fail(const std::string& what, const holdfast::Error& e) {
  std::fprintf(stderr, "%s\n", holdfast::ErrorLine(what, e).c_str());
  return kError;
}

holdfast::Result<std::string> ReadInput(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return holdfast::Error{holdfast::ErrorCode::kNotFound, "cannot open the file"};
  }
  std::string text;
  text.resize(limit + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;  // one byte over the limit is enough for the caller to refuse it
}

nlohmann::json ReasonsJson(const std::vector<legal::Reason>& reasons) {
  nlohmann::json out = nlohmann::json::array();
  for (auto r : reasons) {
    out.push_back(std::string(legal::ReasonName(r)));
  }
  return out;
}

nlohmann::json OrderJson(const legal::OrderRecord& r) {
  return {{"seq", r.seq},
          {"authority_id", r.authority_id},
          {"order_id", r.order_id},
          {"order_hash", r.decision.order_hash},
          {"decision", std::string(legal::OutcomeName(r.decision.outcome))},
          {"reasons", ReasonsJson(r.decision.reasons)},
          {"log_index", r.log_index},
          {"entry", legal::DecisionToLogEntry(r.decision)},
          {"receipt", nlohmann::json::parse(r.receipt, nullptr, false)}};
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

void Print(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"holdfast-admin: authorities, policy and court orders for lawful disclosure"};
  app.require_subcommand(1);
  std::string data_dir;
  app.add_option("--data", data_dir, "holdfastd's data directory")->required();

  auto* authorities = app.add_subcommand("authorities", "the registry of recognized authorities");
  authorities->require_subcommand(1);
  auto* a_add = authorities->add_subcommand("add", "register an authority (logged)");
  legal::Authority a;
  std::string kind = "court", sign_b64, box_b64, valid_from, valid_until;
  a_add->add_option("--id", a.id)->required();
  a_add->add_option("--name", a.name)->required();
  a_add->add_option("--country", a.country, "ISO 3166-1 alpha-2")->required();
  a_add->add_option("--kind", kind, "court, prosecutor or police")->required();
  a_add->add_option("--sign-key", sign_b64, "Ed25519 public key, base64")->required();
  a_add->add_option("--box-key", box_b64, "X25519 public key, base64")->required();
  a_add->add_option("--valid-from", valid_from, "RFC 3339 date (default: now)");
  a_add->add_option("--valid-until", valid_until, "RFC 3339 date (default: five years on)");
  authorities->add_subcommand("list", "list the registry");
  auto* a_revoke = authorities->add_subcommand("revoke", "revoke an authority (logged)");
  std::string revoke_id;
  a_revoke->add_option("id", revoke_id)->required();

  auto* policy = app.add_subcommand("policy", "the disclosure policy");
  policy->require_subcommand(1);
  auto* p_set = policy->add_subcommand("set", "adopt a new policy version (logged)");
  std::string policy_file;
  p_set->add_option("file", policy_file)->required();
  policy->add_subcommand("show", "print the policy in effect");

  auto* orders = app.add_subcommand("orders", "court orders");
  orders->require_subcommand(1);
  auto* o_submit = orders->add_subcommand("submit", "decide a signed order (logged)");
  std::string order_file, package_out;
  o_submit->add_option("file", order_file)->required();
  o_submit->add_option("--package-out", package_out, "write the sealed package here");
  orders->add_subcommand("list", "every order received, with its decision");
  auto* o_show = orders->add_subcommand("show", "one order");
  int64_t show_seq = 0;
  o_show->add_option("seq", show_seq)->required();

  auto* report = app.add_subcommand("report", "the transparency report, computed from the log");
  std::string from_text, to_text, format = "json";
  report->add_option("--from", from_text, "first day (RFC 3339 date)")->required();
  report->add_option("--to", to_text, "end day, exclusive (RFC 3339 date)")->required();
  report->add_option("--format", format, "json, csv or html")
      ->check(CLI::IsMember({"json", "csv", "html"}));
  auto* publish = app.add_subcommand("publish", "write the log's tiles and the report");
  std::string out_dir;
  publish->add_option("--out", out_dir, "directory a web server serves")->required();
  publish->add_option("--from", from_text, "first day of the report")->required();
  publish->add_option("--to", to_text, "end day of the report, exclusive")->required();

  CLI11_PARSE(app, argc, argv);

  holdfast::SystemClock clock;
  holdfast::crypto::SystemRng rng;
  auto registry = legal::Registry::Open(data_dir, clock, rng);
  if (!registry.ok()) {
    return Fail("opening " + data_dir + "/legal", registry.error());
  }
  auto& reg = **registry;
  const int64_t now = holdfast::ToUnixMillis(clock.Now());

  if (authorities->got_subcommand("add")) {
    auto k = legal::ParseAuthorityKind(kind);
    auto sign = holdfast::Base64Decode(sign_b64);
    auto box = holdfast::Base64Decode(box_b64);
    if (!k) {
      return Fail("--kind", {holdfast::ErrorCode::kInvalidArgument, "court, prosecutor or police"});
    }
    if (!sign.ok() || !box.ok()) {
      return Fail("keys", {holdfast::ErrorCode::kInvalidEncoding, "base64"});
    }
    auto sk = holdfast::crypto::Ed25519PublicKey::FromBytes(*sign);
    auto bk = holdfast::crypto::X25519PublicKey::FromRaw(*box);
    if (!sk.ok() || !bk.ok()) {
      return Fail("keys", {holdfast::ErrorCode::kInvalidKey, "32-byte public keys"});
    }
    a.kind = *k;
    a.sign_key = *sk;
    a.box_key = *bk;
    auto from = valid_from.empty() ? std::optional<int64_t>(now) : legal::ParseTime(valid_from);
    auto until = valid_until.empty() ? std::optional<int64_t>(now + 5 * 365 * legal::kDayMs)
                                     : legal::ParseTime(valid_until);
    if (!from || !until) {
      return Fail("validity", {holdfast::ErrorCode::kInvalidArgument, "RFC 3339 UTC dates"});
    }
    a.valid_from_ms = *from;
    a.valid_until_ms = *until;
    auto index = reg.AddAuthority(a);
    if (!index.ok()) {
      return Fail("authorities add", index.error());
    }
    Print({{"authority", legal::AuthorityToJson(a)}, {"log_index", *index}});
  } else if (authorities->got_subcommand("list")) {
    auto list = reg.Authorities();
    if (!list.ok()) {
      return Fail("authorities list", list.error());
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : *list) {
      out.push_back(legal::AuthorityToJson(x));
    }
    Print(out);
  } else if (authorities->got_subcommand("revoke")) {
    auto index = reg.RevokeAuthority(revoke_id);
    if (!index.ok()) {
      return Fail("authorities revoke", index.error());
    }
    Print({{"revoked", revoke_id}, {"log_index", *index}});
  } else if (policy->got_subcommand("set")) {
    auto text = ReadInput(policy_file, 64 * 1024);
    if (!text.ok()) {
      return Fail(policy_file, text.error());
    }
    auto p = legal::ParsePolicy(*text);
    if (!p.ok()) {
      return Fail(policy_file, p.error());
    }
    auto index = reg.SetPolicy(*p);
    if (!index.ok()) {
      return Fail("policy set", index.error());
    }
    Print({{"policy", legal::PolicyToJson(*p)}, {"log_index", *index}});
  } else if (policy->got_subcommand("show")) {
    auto p = reg.CurrentPolicy(now);
    if (!p.ok()) {
      return Fail("policy show", p.error());
    }
    Print(legal::PolicyToJson(*p));
  } else if (orders->got_subcommand("submit")) {
    auto text = ReadInput(order_file, legal::kMaxOrderBytes);
    if (!text.ok()) {
      return Fail(order_file, text.error());
    }
    // Beside a running holdfastd: never migrate its database under it.
    auto storage = holdfast::server::OpenSqliteStorage(
        data_dir + "/holdfast.db", holdfast::server::SqliteStorageOptions{.upgrade_existing = false});
    if (!storage.ok()) {
      return Fail("opening " + data_dir + "/holdfast.db", storage.error());
    }
    auto data = holdfast::server::NewDisclosureData(**storage);
    auto result = reg.SubmitOrder(*text, *data);
    if (!result.ok()) {
      return Fail("orders submit", result.error());
    }
    if (result->sealed_package && !package_out.empty()) {
      std::ofstream out(package_out, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(result->sealed_package->data()),
                static_cast<std::streamsize>(result->sealed_package->size()));
      if (!out) {
        return Fail(package_out, {holdfast::ErrorCode::kStorageFailure, "cannot write"});
      }
    }
    auto j = OrderJson(result->record);
    j["replayed"] = result->replayed;
    j["package_written"] = result->sealed_package.has_value() && !package_out.empty();
    Print(j);
  } else if (report->parsed() || publish->parsed()) {
    const auto from = legal::ParseTime(from_text);
    const auto to = legal::ParseTime(to_text);
    if (!from || !to || *to <= *from) {
      return Fail("--from/--to", {holdfast::ErrorCode::kInvalidArgument,
                                  "RFC 3339 UTC dates, --from before --to"});
    }
    auto computed = reg.ComputeReport(*from, *to);
    if (!computed.ok()) {
      return Fail("report", computed.error());
    }
    const nlohmann::json j = legal::ReportToJson(*computed);
    if (report->parsed()) {
      if (format == "json") {
        Print(j);
      } else if (format == "csv") {
        std::cout << legal::ReportToCsv(*computed);
      } else {
        std::cout << legal::ReportToHtml(*computed);
      }
      return 0;
    }
    auto published = reg.PublishTiles(out_dir);
    if (!published.ok()) {
      return Fail("publish", published.error());
    }
    std::error_code ec;
    std::filesystem::create_directories(out_dir + "/transparency", ec);
    const std::string base = out_dir + "/transparency/report-" + from_text + "-" + to_text;
    if (!WriteText(base + ".json", j.dump(2) + "\n") ||
        !WriteText(base + ".html", legal::ReportToHtml(*computed))) {
      return Fail(base, {holdfast::ErrorCode::kStorageFailure, "cannot write the report"});
    }
    Print({{"tree_size", *published}, {"report", base + ".json"}, {"page", base + ".html"}});
  } else if (orders->got_subcommand("list") || orders->got_subcommand("show")) {
    auto list = reg.Orders();
    if (!list.ok()) {
      return Fail("orders", list.error());
    }
    if (orders->got_subcommand("list")) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : *list) {
        out.push_back(OrderJson(r));
      }
      Print(out);
    } else {
      for (const auto& r : *list) {
        if (r.seq == show_seq) {
          Print(OrderJson(r));
          return 0;
        }
      }
      return Fail("orders show", {holdfast::ErrorCode::kNotFound, "no such order"});
    }
  }
  return 0;
}
