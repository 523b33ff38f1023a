#include "accounts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "holdfast/common/encoding.h"

namespace holdfast::load {

namespace {

constexpr uint32_t kStateVersion = 1;
constexpr size_t kCredentialBytes = 32;
constexpr size_t kMaxAccounts = 999999;  // six digits of index in the phone number
// Per account: failures (not rate limits) before giving up; polls of the codes file.
constexpr uint32_t kMaxFailures = 5;
constexpr uint32_t kMaxCodePolls = 250;
constexpr std::chrono::milliseconds kCodePoll{20};
constexpr std::chrono::milliseconds kFailureBackoff{100};
constexpr uint64_t kMaxRetryAfterMs = 5000;

// Registration is what the workers of one RegisterAccounts call share.
struct Registration {
  Registration(CodeBook& c, size_t n, std::string p, Deadline d)
      : codes(c), count(n), prefix(std::move(p)), deadline(d), results(n) {}
  std::string Phone(size_t i) const {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%06zu", i);
    return "+1555" + prefix + digits;
  }
  CodeBook& codes;
  const size_t count;
  const std::string prefix;
  const Deadline deadline;
  std::atomic<size_t> next{0};
  std::atomic<size_t> finished{0};
  std::atomic<size_t> registered{0};
  std::mutex mu;
  std::vector<std::optional<Account>> results;  // GUARDED_BY(mu)
};

// Registrar is one worker: one connection, one account at a time.
class Registrar : public std::enable_shared_from_this<Registrar> {
 public:
  Registrar(Env& env, size_t context, size_t ordinal, std::shared_ptr<Registration> job)
      : env_(env),
        context_(context),
        ordinal_(ordinal),
        job_(std::move(job)),
        timer_(env.context(context)) {}

  void Next() {
    if (env_.interrupted() || SteadyClock::now() >= job_->deadline) {
      return Quit();
    }
    current_ = job_->next++;
    if (current_ >= job_->count) {
      return Quit();
    }
    phone_ = job_->Phone(current_);
    failures_ = 0;
    Begin();
  }

 private:
  void Quit() {
    timer_.cancel();
    if (conn_) {
      conn_->Close();
    }
  }

  void Begin() {
    if (conn_ && conn_->open()) {
      return Register();
    }
    conn_ = Connection::Create(env_, context_);
    conn_->Open(env_.Source(ordinal_), [self = shared_from_this()](std::string_view error) {
      if (!error.empty()) {
        return self->Fail(ErrorKind::kConnect, error);
      }
      self->Register();
    });
  }

  void Register() {
    pb::Request r;
    r.mutable_register_()->set_phone(phone_);
    conn_->Send(std::move(r), [self = shared_from_this()](const pb::Response* response) {
      if (response == nullptr) {
        return self->Fail(ErrorKind::kDisconnect, "connection lost during Register");
      }
      if (response->status() == pb::OK) {
        return self->AwaitCode(0);
      }
      if (response->status() == pb::RATE_LIMITED) {
        return self->RateLimited(*response, [self] { self->Register(); });
      }
      self->Fail(ErrorKind::kRegister,
                 std::string(wire::StatusName(response->status())) + ": " + response->message());
    });
  }

  void AwaitCode(uint32_t polls) {
    // The server answers Register after it appended the code, so it is normally there now.
    if (auto code = job_->codes.Find(phone_)) {
      return Verify(*code);
    }
    if (polls >= kMaxCodePolls) {
      return Fail(ErrorKind::kCode, "no code in the codes file for " + phone_);
    }
    After(kCodePoll, [self = shared_from_this(), polls] { self->AwaitCode(polls + 1); });
  }

  void Verify(const std::string& code) {
    Account account;
    account.phone = phone_;
    account.credential.resize(kCredentialBytes);
    env_.rng().Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(account.credential.data()),
                                    account.credential.size()));
    account.registration_id =
        1 + static_cast<uint32_t>(env_.rng().Uniform(wire::kMaxRegistrationId));
    pb::Request r;
    auto* v = r.mutable_verify();
    v->set_phone(phone_);
    v->set_code(code);
    v->set_credential(account.credential);
    v->set_registration_id(account.registration_id);
    v->set_device_name("hf-load");
    conn_->Send(std::move(r), [self = shared_from_this(), code,
                               account = std::move(account)](const pb::Response* response) mutable {
      if (response == nullptr) {
        return self->Fail(ErrorKind::kDisconnect, "connection lost during Verify");
      }
      if (response->status() == pb::RATE_LIMITED) {
        return self->RateLimited(*response, [self, code] { self->Verify(code); });
      }
      if (response->status() != pb::OK || !response->has_verify() ||
          response->verify().account_id().size() != wire::kAccountIdBytes) {
        return self->Fail(ErrorKind::kVerify, std::string(wire::StatusName(response->status())) +
                                                  ": " + response->message());
      }
      account.account_id = response->verify().account_id();
      account.device_id = response->verify().device_id();
      self->Done(std::move(account));
    });
  }

  void RateLimited(const pb::Response& response, std::function<void()> again) {
    ++env_.counters().rate_limited;
    if (!warned_rate_limit_.exchange(true)) {
      std::fprintf(stderr,
                   "hf-load: the server rate-limits registration; for load runs start holdfastd "
                   "with --config tools/hf-load/holdfastd-load.json\n");
    }
    const uint64_t ms = std::clamp<uint64_t>(response.retry_after_ms(), 1, kMaxRetryAfterMs);
    After(std::chrono::milliseconds(ms), std::move(again));
  }

  void Fail(ErrorKind kind, std::string_view detail) {
    env_.counters().Error(kind, detail);
    if (++failures_ >= kMaxFailures || SteadyClock::now() >= job_->deadline || env_.interrupted()) {
      return Done(std::nullopt);
    }
    // Begin again from Register (on a new connection if this one is gone).
    After(kFailureBackoff, [self = shared_from_this()] { self->Begin(); });
  }

  void Done(std::optional<Account> account) {
    {
      std::lock_guard<std::mutex> lock(job_->mu);
      job_->results[current_] = std::move(account);
      if (job_->results[current_]) {
        ++job_->registered;
      }
    }
    ++job_->finished;
    Next();
  }

  void After(std::chrono::milliseconds d, std::function<void()> fn) {
    timer_.expires_after(d);
    timer_.async_wait(
        [self = shared_from_this(), fn = std::move(fn)](const boost::system::error_code& ec) {
          if (ec) {
            return;
          }
          if (self->env_.interrupted() || SteadyClock::now() >= self->job_->deadline) {
            return self->Done(std::nullopt);
          }
          fn();
        });
  }

  static inline std::atomic<bool> warned_rate_limit_{false};

  Env& env_;
  size_t context_;
  size_t ordinal_;
  std::shared_ptr<Registration> job_;
  asio::steady_timer timer_;
  std::shared_ptr<Connection> conn_;
  size_t current_ = 0;
  std::string phone_;
  uint32_t failures_ = 0;
};

}  // namespace

// --- CodeBook ------------------------------------------------------------------------------

CodeBook::CodeBook(std::string path) : path_(std::move(path)) {
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    offset_ = static_cast<uint64_t>(st.st_size);
  }
}

std::optional<std::string> CodeBook::Find(const std::string& phone) {
  std::lock_guard<std::mutex> lock(mu_);
  ReadNew();
  auto it = codes_.find(phone);
  if (it == codes_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void CodeBook::ReadNew() {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;  // not created yet: the server makes it on the first Register
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_) {
    offset_ = 0;  // the file was replaced or truncated
    partial_.clear();
  }
  char buf[65536];
  // Bounded per call; what is left is read by the next one.
  for (size_t chunk = 0; chunk < kMaxChunksPerRead; ++chunk) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset_));
    if (n <= 0) {
      break;
    }
    offset_ += static_cast<uint64_t>(n);
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buf[i];
      if (c != '\n') {
        if (partial_.size() < kMaxLineBytes) {
          partial_.push_back(c);
        }
        continue;
      }
      const size_t space = partial_.find(' ');
      if (space != std::string::npos && space > 0 && space + 1 < partial_.size()) {
        codes_[partial_.substr(0, space)] = partial_.substr(space + 1);
      }
      partial_.clear();
    }
  }
  ::close(fd);
}

// --- Registration --------------------------------------------------------------------------

Result<std::vector<Account>> RegisterAccounts(Env& env, CodeBook& codes, size_t count,
                                              size_t concurrency, Deadline deadline) {
  if (count > kMaxAccounts) {
    return Error{ErrorCode::kInvalidArgument, "at most 999999 accounts per run"};
  }
  char prefix[8];
  std::snprintf(prefix, sizeof prefix, "%05u", static_cast<unsigned>(env.rng().Uniform(100000)));
  auto job = std::make_shared<Registration>(codes, count, prefix, deadline);
  const size_t workers = std::min(count, std::max<size_t>(1, concurrency));
  for (size_t w = 0; w < workers; ++w) {
    auto worker = std::make_shared<Registrar>(env, w % env.threads(), w, job);
    env.Retain(worker);
    asio::post(env.context(w % env.threads()), [worker] { worker->Next(); });
  }
  // The workers give up on their own at the deadline; allow them a little more to say so.
  (void)WaitUntil(
      env, [&] { return job->finished.load() >= count; }, deadline + std::chrono::seconds(2));
  (void)WaitUntil(
      env, [&] { return env.live_connections().load() == 0; },
      SteadyClock::now() + std::chrono::seconds(5));
  std::lock_guard<std::mutex> lock(job->mu);
  if (job->registered.load() < count) {
    std::fprintf(stderr, "hf-load: registered %zu of %zu accounts\n", job->registered.load(),
                 count);
    return Error{ErrorCode::kUnavailable, "not every account could be registered"};
  }
  std::vector<Account> out;
  out.reserve(count);
  for (auto& a : job->results) {
    out.push_back(std::move(*a));
  }
  return out;
}

// --- State file ----------------------------------------------------------------------------

Result<std::vector<Account>> LoadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{ErrorCode::kNotFound, "no state file"};
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("version") ||
      !j["version"].is_number_unsigned()) {
    return Error{ErrorCode::kMalformed, "the state file is not hf-load's"};
  }
  if (j["version"].get<uint64_t>() != kStateVersion) {
    return Error{ErrorCode::kUnsupportedVersion, "state file version"};
  }
  if (!j.contains("accounts") || !j["accounts"].is_array()) {
    return Error{ErrorCode::kMalformed, "the state file has no accounts"};
  }
  std::vector<Account> out;
  for (const auto& a : j["accounts"]) {
    if (!a.is_object() || !a.contains("phone") || !a["phone"].is_string() ||
        !a.contains("account_id") || !a["account_id"].is_string() || !a.contains("device_id") ||
        !a["device_id"].is_number_unsigned() || !a.contains("credential") ||
        !a["credential"].is_string() || !a.contains("registration_id") ||
        !a["registration_id"].is_number_unsigned()) {
      return Error{ErrorCode::kMalformed, "a state file account lacks a field"};
    }
    HF_ASSIGN_OR_RETURN(const Bytes id, HexDecode(a["account_id"].get<std::string>()));
    HF_ASSIGN_OR_RETURN(const Bytes credential, HexDecode(a["credential"].get<std::string>()));
    const uint64_t device = a["device_id"].get<uint64_t>();
    const uint64_t registration = a["registration_id"].get<uint64_t>();
    if (id.size() != wire::kAccountIdBytes || credential.size() < wire::kMinCredentialBytes ||
        credential.size() > wire::kMaxCredentialBytes || device == 0 || device > UINT32_MAX ||
        registration == 0 || registration > wire::kMaxRegistrationId) {
      return Error{ErrorCode::kMalformed, "a state file account has a field out of range"};
    }
    Account account;
    account.phone = a["phone"].get<std::string>();
    account.account_id.assign(id.begin(), id.end());
    account.device_id = static_cast<uint32_t>(device);
    account.credential.assign(credential.begin(), credential.end());
    account.registration_id = static_cast<uint32_t>(registration);
    out.push_back(std::move(account));
  }
  return out;
}

Result<void> SaveState(const std::string& path, const std::vector<Account>& accounts) {
  nlohmann::json list = nlohmann::json::array();
  for (const Account& a : accounts) {
    list.push_back({{"phone", a.phone},
                    {"account_id", HexEncode(AsBytes(a.account_id))},
                    {"device_id", a.device_id},
                    {"credential", HexEncode(AsBytes(a.credential))},
                    {"registration_id", a.registration_id}});
  }
  const nlohmann::json j = {{"version", kStateVersion}, {"accounts", std::move(list)}};
  const std::string text = j.dump(1) + "\n";
  const std::string tmp = path + ".tmp";
  // The file holds device credentials: readable by its owner only.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{ErrorCode::kStorageFailure, "cannot create the state file"};
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Error{ErrorCode::kStorageFailure, "cannot write the state file"};
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error{ErrorCode::kStorageFailure, "cannot write the state file"};
  }
  return Ok();
}

}  // namespace holdfast::load
