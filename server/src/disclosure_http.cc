#include "disclosure_http.h"

#include <fstream>
#include <future>
#include <iterator>
#include <mutex>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/legal/registry.h"
#include "holdfast/legal/report.h"
#include "holdfast/server/disclosure_data.h"
#include "worker_pool.h"

namespace holdfast::server {
namespace {

constexpr size_t kDateChars = 10;  // YYYY-MM-DD

HttpReply Json(unsigned status, const nlohmann::json& j) {
  return HttpReply{status, "application/json", j.dump(2) + "\n"};
}

HttpReply Text(unsigned status, std::string body) {
  return HttpReply{status, "text/plain; charset=utf-8", std::move(body)};
}

// SafeTilePath: a C2SP tile path ("tile/0/x001/234", "tile/entries/000.p/5") and nothing that
// could leave the published directory.
bool SafeTilePath(std::string_view rel) {
  if (rel.rfind("tile/", 0) != 0 || rel.size() > 200 || rel.find("..") != std::string::npos) {
    return false;
  }
  for (char c : rel) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '/' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// QueryValue returns the value of `key` in "a=1&b=2", or "".
std::string QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return {};
}

nlohmann::json Reasons(const std::vector<legal::Reason>& reasons) {
  nlohmann::json out = nlohmann::json::array();
  for (auto r : reasons) {
    out.push_back(std::string(legal::ReasonName(r)));
  }
  return out;
}

}  // namespace

class DisclosureHttp::Impl {
 public:
  Impl(std::string data_dir, const Clock& clock, std::unique_ptr<legal::Registry> registry,
       Database& db)
      : www_(data_dir + "/legal/www"),
        clock_(clock),
        registry_(std::move(registry)),
        data_(NewDatabaseDisclosureData(db)),
        worker_(std::make_unique<WorkerPool>(1, "hf-disclosure")) {}

  bool Route(HttpCall call, std::function<void(HttpReply)> reply) {
    const size_t q = call.target.find('?');
    const std::string path = call.target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : call.target.substr(q + 1);
    std::function<HttpReply()> job;
    if (call.method == "GET" && path == "/tlog/checkpoint") {
      job = [this] { return Checkpoint(); };
    } else if (call.method == "GET" && path.rfind("/tlog/tile/", 0) == 0) {
      job = [this, rel = path.substr(6)] { return Tile(rel); };
    } else if (call.method == "GET" && (path == "/transparency" || path == "/transparency/")) {
      job = [this, query] { return Page(query); };
    } else if (call.method == "GET" && (path.rfind("/transparency/report-", 0) == 0 ||
                                        path.rfind("/tlog/transparency/report-", 0) == 0)) {
      job = [this, path] { return ReportJson(path); };
    } else if (call.method == "POST" && path == "/orders") {
      job = [this, body = std::move(call.body)] { return Order(body); };
    } else {
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      // One thread answers these: a flood of requests must not queue without bound.
      if (worker_ != nullptr && queued_ < kMaxQueued) {
        ++queued_;
        worker_->Post([this, job = std::move(job), reply = std::move(reply)] {
          HttpReply r = job();
          {
            std::lock_guard<std::mutex> done(mu_);
            --queued_;
          }
          reply(std::move(r));
        });
        return true;
      }
      if (worker_ != nullptr) {
        reply(Text(503, "busy; try again later\n"));
        return true;
      }
    }
    reply(Text(503, "shutting down\n"));
    return true;
  }

  void DeliverDueNotices(Service& service, std::function<void()> done) {
    std::lock_guard<std::mutex> lock(mu_);
    if (worker_ == nullptr) {
      if (done) {
        done();
      }
      return;
    }
    worker_->Post([this, &service, done = std::move(done)] {
      DeliverNow(service);
      if (done) {
        done();
      }
    });
  }

  void Stop() {
    std::unique_ptr<WorkerPool> worker;
    {
      std::lock_guard<std::mutex> lock(mu_);
      worker = std::move(worker_);
    }
    worker.reset();  // runs what was queued, then joins
  }

 private:
  // kMaxQueued bounds the HTTP requests waiting for the worker.
  static constexpr size_t kMaxQueued = 64;
  // kNoticeBatch bounds one round; the next maintenance round takes the rest.
  static constexpr size_t kNoticeBatch = 256;

  void DeliverNow(Service& service) {
    const int64_t now = ToUnixMillis(clock_.Now());
    auto due = registry_->DueNotices(now, kNoticeBatch);
    if (!due.ok()) {
      return;  // the next round tries again
    }
    for (auto& n : *due) {
      AccountId account{};
      if (n.account_id.size() != account.size()) {
        continue;
      }
      std::copy(n.account_id.begin(), n.account_id.end(), account.begin());
      std::promise<Result<void>> stored;
      auto future = stored.get_future();
      const std::string key = "notice:" + std::to_string(n.id);
      service.DeliverServerNotice(account, Bytes(n.content.begin(), n.content.end()),
                                  Bytes(key.begin(), key.end()),
                                  [&stored](Result<void> r) { stored.set_value(std::move(r)); });
      // Marked only once the envelopes are committed: a crash in between delivers the notice
      // again, with the same envelope ids, which clients deduplicate.
      if (future.get().ok()) {
        (void)registry_->MarkNoticeDelivered(n.id, now);
      }
    }
  }

  HttpReply Checkpoint() {
    // The tiles are written again only when the log has grown since they were published
    // (holdfast-admin may have appended meanwhile); otherwise this is one read.
    auto latest = registry_->LatestCheckpoint();
    if (!latest.ok()) {
      return Text(latest.error().code == ErrorCode::kNotFound ? 404 : 500, "no checkpoint yet\n");
    }
    if (ReadFile(www_ + "/checkpoint") == *latest) {
      return Text(200, std::move(*latest));
    }
    // Serve what was published, which the tiles beside it match (the log may have grown
    // again in between).
    auto published = registry_->PublishTiles(www_);
    auto text = ReadFile(www_ + "/checkpoint");
    if (!published.ok() || !text) {
      return Text(500, "cannot publish the log\n");
    }
    return Text(200, std::move(*text));
  }

  HttpReply Tile(const std::string& rel) {
    if (!SafeTilePath(rel)) {
      return Text(404, "not found\n");
    }
    auto bytes = ReadFile(www_ + "/" + rel);
    return bytes ? HttpReply{200, "application/octet-stream", std::move(*bytes)}
                 : Text(404, "not found\n");
  }

  // Period: ?from=&to= dates, or the current UTC year.
  std::optional<std::pair<int64_t, int64_t>> Period(const std::string& from_text,
                                                    const std::string& to_text) const {
    if (from_text.empty() && to_text.empty()) {
      const std::string year = legal::FormatTime(ToUnixMillis(clock_.Now())).substr(0, 4);
      const auto from = legal::ParseTime(year + "-01-01");
      const auto to = legal::ParseTime(std::to_string(std::stoi(year) + 1) + "-01-01");
      return std::make_pair(*from, *to);
    }
    const auto from = legal::ParseTime(from_text);
    const auto to = legal::ParseTime(to_text);
    if (!from || !to || *to <= *from || from_text.size() != kDateChars ||
        to_text.size() != kDateChars) {
      return std::nullopt;
    }
    return std::make_pair(*from, *to);
  }

  HttpReply Page(const std::string& query) {
    const auto period = Period(QueryValue(query, "from"), QueryValue(query, "to"));
    if (!period) {
      return Text(400, "from and to must be dates (YYYY-MM-DD), from before to\n");
    }
    auto report = registry_->ComputeReport(period->first, period->second);
    if (!report.ok()) {
      return Text(report.error().code == ErrorCode::kNotFound ? 404 : 500,
                  "no transparency log yet\n");
    }
    return HttpReply{200, "text/html; charset=utf-8", legal::ReportToHtml(*report)};
  }

  HttpReply ReportJson(const std::string& path) {
    // .../report-YYYY-MM-DD-YYYY-MM-DD.json
    const size_t at = path.find("report-");
    const std::string_view rest = std::string_view(path).substr(at + 7);
    if (rest.size() != 2 * kDateChars + 1 + 5 || rest[kDateChars] != '-' ||
        rest.substr(2 * kDateChars + 1) != ".json") {
      return Text(404, "not found\n");
    }
    const auto period = Period(std::string(rest.substr(0, kDateChars)),
                               std::string(rest.substr(kDateChars + 1, kDateChars)));
    if (!period) {
      return Text(404, "not found\n");
    }
    auto report = registry_->ComputeReport(period->first, period->second);
    if (!report.ok()) {
      return Text(404, "no transparency log yet\n");
    }
    return Json(200, legal::ReportToJson(*report));
  }

  HttpReply Order(const std::string& body) {
    // Only orders signed by a registered authority reach the log from here.
    const legal::ParsedOrder parsed = legal::ParseOrderFile(body);
    if (parsed.failure) {
      return Json(400, {{"error", std::string(legal::ReasonName(*parsed.failure))},
                        {"message", std::string(legal::ReasonMessage(*parsed.failure))}});
    }
    auto authority = registry_->FindAuthority(parsed.authority_id);
    if (!authority.ok()) {
      return Text(500, "registry unavailable\n");
    }
    if (!*authority) {
      return Json(
          403, {{"error", "unknown_authority"},
                {"message", std::string(legal::ReasonMessage(legal::Reason::kUnknownAuthority))}});
    }
    if (!crypto::Ed25519Verify((*authority)->sign_key, AsBytes(parsed.canonical), parsed.signature)
             .ok()) {
      return Json(403,
                  {{"error", "bad_signature"},
                   {"message", std::string(legal::ReasonMessage(legal::Reason::kBadSignature))}});
    }
    // A revoked or expired key (revocation usually means it leaked) must not be able to
    // fill the public log from outside either.
    if (!(*authority)->ValidAt(ToUnixMillis(clock_.Now()))) {
      const auto reason = (*authority)->revoked_ms ? legal::Reason::kAuthorityRevoked
                                                   : legal::Reason::kAuthorityNotValid;
      return Json(403, {{"error", std::string(legal::ReasonName(reason))},
                        {"message", std::string(legal::ReasonMessage(reason))}});
    }
    auto result = registry_->SubmitOrder(body, *data_);
    if (!result.ok()) {
      return Text(result.error().code == ErrorCode::kNotFound ? 503 : 500,
                  "the order could not be decided now; send it again later\n");
    }
    const auto& r = result->record;
    return Json(200, {{"order_id", r.order_id},
                      {"decision", std::string(legal::OutcomeName(r.decision.outcome))},
                      {"reasons", Reasons(r.decision.reasons)},
                      {"log_index", r.log_index},
                      {"replayed", result->replayed},
                      {"receipt", nlohmann::json::parse(r.receipt, nullptr, false)},
                      {"package", result->sealed_package
                                      ? nlohmann::json(Base64Encode(*result->sealed_package))
                                      : nlohmann::json(nullptr)}});
  }

  const std::string www_;
  const Clock& clock_;
  std::unique_ptr<legal::Registry> registry_;  // used on the worker thread only
  std::unique_ptr<legal::PersonalData> data_;
  std::mutex mu_;
  std::unique_ptr<WorkerPool> worker_;  // GUARDED_BY(mu_)
  size_t queued_ = 0;                   // GUARDED_BY(mu_)
};

DisclosureHttp::DisclosureHttp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DisclosureHttp::~DisclosureHttp() { Stop(); }

Result<std::unique_ptr<DisclosureHttp>> DisclosureHttp::Open(const std::string& data_dir,
                                                             const Clock& clock, Rng& rng,
                                                             Database& db) {
  HF_ASSIGN_OR_RETURN(auto registry, legal::Registry::Open(data_dir, clock, rng));
  return std::unique_ptr<DisclosureHttp>(
      new DisclosureHttp(std::make_unique<Impl>(data_dir, clock, std::move(registry), db)));
}

bool DisclosureHttp::Route(HttpCall call, std::function<void(HttpReply)> reply) {
  return impl_->Route(std::move(call), std::move(reply));
}

void DisclosureHttp::DeliverDueNotices(Service& service, std::function<void()> done) {
  impl_->DeliverDueNotices(service, std::move(done));
}

void DisclosureHttp::Stop() { impl_->Stop(); }

}  // namespace holdfast::server
