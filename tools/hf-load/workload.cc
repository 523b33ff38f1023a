#include "workload.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "content.h"
#include "holdfast/common/encoding.h"

namespace holdfast::load {

namespace {

// Envelope ids are kept as wire::EnvelopeId, 16 bytes inline, where a std::string would
// allocate (ids are one byte past its inline capacity).
using wire::EnvelopeId;
using wire::EnvelopeIdHash;

constexpr size_t kAckBatch = 64;
constexpr std::chrono::milliseconds kAckDelay{5};
constexpr uint32_t kMaxSendAttempts = 20;  // refusals (UNAVAILABLE, QUEUE_FULL) per message
constexpr std::chrono::milliseconds kRefusedSendBackoff{200};
constexpr uint64_t kMaxRetryAfterMs = 5000;
// Cleanup waits: for answers to what is in flight, and for connections to close.
constexpr std::chrono::seconds kQuiesceWait{3};
constexpr std::chrono::seconds kCloseWait{10};

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void StoreMax(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load();
  while (cur < v && !a.compare_exchange_weak(cur, v)) {
  }
}

// Meter samples the server process and hf-load itself over a measured interval.
class Meter {
 public:
  explicit Meter(int pid) : pid_(pid) {}
  void Start() {
    server0_ = SampleProcess(pid_);
    self0_ = SelfCpuSeconds();
    box0_ = SampleMachine();
    t0_ns_ = NowNs();
  }
  // Stop samples now; the interval's length is from Start() to `end_ns` (the last event
  // that counts, as the peers' generator measures).
  void Stop(uint64_t end_ns) {
    server1_ = SampleProcess(pid_);
    self1_ = SelfCpuSeconds();
    box1_ = SampleMachine();
    t1_ns_ = end_ns > t0_ns_ ? end_ns : NowNs();
  }
  uint64_t t0_ns() const { return t0_ns_; }
  double secs() const { return static_cast<double>(t1_ns_ - t0_ns_) / 1e9; }
  // Add puts server_cpu_percent, server_rss_kib, gen_cpu_percent, box_cpu_percent and
  // other_cpu_percent (with `prefix`) into `out`. CPU is in % of one core; box is the whole
  // machine (/proc/stat, up to 100 x cores) and other is box minus server and hf-load, as in
  // the peers' table: rows with much "other" were measured on a busy machine.
  void Add(nlohmann::json& out, const std::string& prefix = "") const {
    const double s = secs() > 0 ? secs() : 1e-9;
    double server = 0;
    if (pid_ > 0 && server0_.ok && server1_.ok) {
      server = 100 * (server1_.cpu_seconds - server0_.cpu_seconds) / s;
      out[prefix + "server_cpu_percent"] = Round1(server);
      out[prefix + "server_rss_kib"] = server1_.rss_kib;
    }
    const double gen = 100 * (self1_ - self0_) / s;
    out[prefix + "gen_cpu_percent"] = Round1(gen);
    if (box1_.total > box0_.total) {
      const double box = 100.0 * static_cast<double>(box1_.busy - box0_.busy) /
                         static_cast<double>(box1_.total - box0_.total) *
                         static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
      out[prefix + "box_cpu_percent"] = Round1(box);
      out[prefix + "other_cpu_percent"] = Round1(std::max(0.0, box - server - gen));
    }
  }
  static double Round1(double v) { return static_cast<double>(std::llround(v * 10)) / 10; }
  static double Round2(double v) { return static_cast<double>(std::llround(v * 100)) / 100; }

 private:
  // MachineSample is the first line of /proc/stat: busy (all but idle and iowait) and total
  // jiffies.
  struct MachineSample {
    uint64_t busy = 0;
    uint64_t total = 0;
  };
  static MachineSample SampleMachine() {
    MachineSample m;
    FILE* f = std::fopen("/proc/stat", "r");
    if (f == nullptr) {
      return m;
    }
    unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) >= 4) {
      for (unsigned long long x : v) {
        m.total += x;
      }
      m.busy = m.total - v[3] - v[4];
    }
    std::fclose(f);
    return m;
  }

  int pid_;
  ProcSample server0_, server1_;
  MachineSample box0_, box1_;
  double self0_ = 0, self1_ = 0;
  uint64_t t0_ns_ = 0, t1_ns_ = 0;
};

// Launcher starts clients at most `limit` at a time: the next one starts when one settles,
// i.e. is logged in (or, with `settle_on_connect`, has its WebSocket open) or failed for good.
class Launcher {
 public:
  Launcher(Env& env, std::vector<Client*> clients, size_t limit, bool authenticate,
           bool settle_on_connect)
      : env_(env),
        clients_(std::move(clients)),
        limit_(std::max<size_t>(1, limit)),
        authenticate_(authenticate),
        settle_on_connect_(settle_on_connect),
        settled_(std::make_unique<std::atomic<bool>[]>(clients_.size())) {
    for (size_t i = 0; i < clients_.size(); ++i) {
      index_.emplace(clients_[i], i);
      settled_[i] = false;
    }
  }
  void Begin() {
    for (size_t i = 0; i < std::min(limit_, clients_.size()); ++i) {
      LaunchNext();
    }
  }
  bool settle_on_connect() const { return settle_on_connect_; }
  // Settle records that `client` settled; true the first time for a client of this launcher.
  bool Settle(Client* client, bool ok) {
    auto it = index_.find(client);
    if (it == index_.end() || settled_[it->second].exchange(true)) {
      return false;
    }
    ++(ok ? ok_ : failed_);
    LaunchNext();
    return true;
  }
  size_t size() const { return clients_.size(); }
  size_t ok() const { return ok_.load(); }
  size_t failed() const { return failed_.load(); }
  bool all_settled() const { return ok_.load() + failed_.load() >= clients_.size(); }

 private:
  void LaunchNext() {
    const size_t i = next_++;
    if (i >= clients_.size()) {
      return;
    }
    Client* c = clients_[i];
    asio::post(env_.context(c->context()), [c, auth = authenticate_] { c->Start(auth); });
  }

  Env& env_;
  const std::vector<Client*> clients_;
  std::unordered_map<const Client*, size_t> index_;  // read-only after construction
  const size_t limit_;
  const bool authenticate_;
  const bool settle_on_connect_;
  std::unique_ptr<std::atomic<bool>[]> settled_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> ok_{0};
  std::atomic<size_t> failed_{0};
};

// Outgoing is a message whose send has not been answered OK yet.
struct Outgoing {
  std::string content;
  uint32_t refusals = 0;
  bool in_flight = false;
  bool outcome_lost = false;  // sent on a connection that ended before the answer came
};

// Latencies holds each delivered message's latency in microseconds, measured to its receipt
// from when the schedule meant it to go (from_due) and, in an open loop only, from when the
// sender made it (from_sent). They differ when the sender fell behind its schedule.
struct Latencies {
  std::vector<uint32_t> from_due;
  std::vector<uint32_t> from_sent;
};

// Pair is user 2i and user 2i+1; everything of a pair runs on one context's thread.
struct Pair {
  Pair(Env& env, uint32_t i, size_t ctx)
      : index(i), context(ctx), rate_timer(env.context(ctx)), ack_timer(env.context(ctx)) {}
  const uint32_t index;
  const size_t context;
  std::unique_ptr<Client> sender;  // absent when draining
  std::unique_ptr<Client> receiver;

  // Sender side.
  uint32_t next_seq = 0;
  std::map<uint32_t, Outgoing> outgoing;
  std::unordered_set<uint32_t> resent;  // sequence numbers sent again after a lost outcome
  uint32_t given_up = 0;
  asio::steady_timer rate_timer;  // open loop: the next scheduled send
  SteadyClock::time_point rate_start;
  uint64_t rate_start_ns = 0;

  // Receiver side.
  std::vector<uint8_t> seen;  // by sequence number
  uint32_t unique = 0;
  std::unordered_set<EnvelopeId, EnvelopeIdHash> unconfirmed;  // received, ack not answered
  std::unordered_set<EnvelopeId, EnvelopeIdHash> confirmed;    // ack answered OK
  std::vector<EnvelopeId> ack_batch;
  asio::steady_timer ack_timer;
  uint64_t ack_timer_generation = 0;
  bool ack_timer_armed = false;
  uint32_t acks_in_flight = 0;
  bool done = false;              // every message delivered or given up
  bool receiver_drained = false;  // QueueEmpty seen in this phase
};

// PairWorkload runs the online, offline and drain workloads.
class PairWorkload {
 public:
  enum class Mode { kOnline, kOffline, kDrain };

  PairWorkload(Env& env, const WorkloadOptions& o, Mode mode)
      : env_(env),
        mode_(mode),
        pairs_count_(o.pairs),
        messages_(o.messages),
        window_(mode == Mode::kOffline ? std::max<uint32_t>(1, o.messages)
                                       : std::max<uint32_t>(1, o.window)),
        body_bytes_(o.body_bytes),
        rate_(mode == Mode::kOnline ? o.rate : 0),
        latency_us_(env.threads()) {
    uint32_t run = 0;
    env.rng().Fill(MutableByteSpan(reinterpret_cast<uint8_t*>(&run), sizeof run));
    run_ = run;
  }

  void CreatePairs(const std::vector<Account>& accounts, bool reconnect, Deadline reconnect_until) {
    for (uint32_t i = 0; i < pairs_count_; ++i) {
      auto p = std::make_unique<Pair>(env_, i, i % env_.threads());
      Pair* pair = p.get();
      if (mode_ != Mode::kDrain) {
        p->sender = std::make_unique<Client>(env_, p->context, accounts[2 * i], 2 * i);
        p->sender->set_reconnect(reconnect, reconnect_until);
        p->sender->set_events({
            .on_ready = [this, pair](Client& c) { OnSenderReady(*pair, c); },
            .on_envelope =
                [this](Client&, pb::Envelope&) {
                  env_.counters().Error(ErrorKind::kMisrouted, "an envelope pushed to a sender");
                },
            .on_down =
                [this](Client& c, bool final) {
                  if (final) {
                    SettleFailed(c);
                  }
                },
            .on_connected = [this](Client& c) { SettleConnected(c); },
        });
        p->seen.assign(messages_, 0);
      }
      p->receiver = std::make_unique<Client>(env_, p->context, accounts[2 * i + 1], 2 * i + 1);
      p->receiver->set_reconnect(reconnect, reconnect_until);
      p->receiver->set_events({
          .on_ready = [this, pair](Client& c) { OnReceiverReady(*pair, c); },
          .on_envelope = [this, pair](Client&, pb::Envelope& e) { Receive(*pair, e); },
          .on_down = [this, pair](Client& c, bool final) { OnReceiverDown(*pair, c, final); },
          .on_connected = [this](Client& c) { SettleConnected(c); },
      });
      if (mode_ != Mode::kDrain && messages_ == 0) {
        p->done = true;  // nothing to send: accounts only
        ++pairs_done_;
      }
      pairs_.push_back(std::move(p));
    }
  }

  // Login starts the chosen clients, at most `concurrency` logging in at once, and waits
  // until each is ready (QueueEmpty seen) or, with `authenticate` false, connected. It returns
  // the number that failed (not settled by the deadline included).
  size_t Login(bool senders, bool receivers, bool authenticate, size_t concurrency,
               Deadline deadline) {
    std::vector<Client*> clients;
    for (auto& p : pairs_) {
      if (senders && p->sender) {
        clients.push_back(p->sender.get());
      }
      if (receivers) {
        clients.push_back(p->receiver.get());
      }
    }
    auto launcher = std::make_shared<Launcher>(env_, std::move(clients), concurrency, authenticate,
                                               /*settle_on_connect=*/!authenticate);
    env_.Retain(launcher);
    {
      std::lock_guard<std::mutex> lock(launcher_mu_);
      launcher_ = launcher;
    }
    launcher->Begin();
    (void)WaitUntil(
        env_, [&] { return launcher->all_settled(); }, deadline);
    const size_t missing = launcher->size() - launcher->ok();
    if (missing > 0 && !env_.interrupted()) {
      env_.counters().Error(ErrorKind::kTimeout,
                            std::to_string(missing) + " clients did not log in", 0);
    }
    return missing;
  }

  // StartSending lets the senders go: every pair's sender fills its window.
  void StartSending() {
    sending_ = true;
    if (rate_ > 0) {
      const auto start = SteadyClock::now();
      const uint64_t start_ns = NowNs();
      ForEachPair([this, start, start_ns](Pair& p) {
        // Pairs start spread over one period, so that sends do not come in bursts.
        const auto offset = std::chrono::nanoseconds(static_cast<int64_t>(
            1e9 / rate_ * static_cast<double>(p.index) / std::max<uint32_t>(1, pairs_count_)));
        p.rate_start = start + offset;
        p.rate_start_ns = start_ns + static_cast<uint64_t>(offset.count());
        ScheduleRateSend(p);
      });
      return;
    }
    ForEachPair([this](Pair& p) { Pump(p); });
  }

  // StopReceivers closes the receivers' connections (they stay registered).
  void StopClients(bool senders, bool receivers) {
    ForEachPair([senders, receivers](Pair& p) {
      if (senders && p.sender) {
        p.rate_timer.cancel();
        p.sender->Stop();
      }
      if (receivers) {
        p.receiver->Stop();
        p.ack_batch.clear();
      }
    });
    pending_ack_ids_ = 0;
  }

  void AuthenticateReceivers() {
    ForEachPair([](Pair& p) { p.receiver->Authenticate(); });
  }

  // ResetReceiverPhase forgets which receivers drained, before they log in again.
  void ResetReceiverPhase() {
    ForEachPair([](Pair& p) { p.receiver_drained = false; });
    drained_receivers_ = 0;
  }

  // Quiesce stops new sends, acknowledges what was received and waits (bounded) for the
  // answers, then closes every connection.
  void Quiesce() {
    stopping_ = true;
    ForEachPair([this](Pair& p) { FlushAcks(p); });
    (void)WaitUntil(
        env_,
        [this] {
          return sends_in_flight_.load() == 0 && acks_in_flight_.load() == 0 &&
                 pending_ack_ids_.load() == 0;
        },
        SteadyClock::now() + kQuiesceWait, /*interruptible=*/false);
    StopClients(true, true);
    (void)WaitUntil(
        env_, [this] { return env_.live_connections().load() == 0; },
        SteadyClock::now() + kCloseWait, /*interruptible=*/false);
  }

  Latencies TakeLatencies() {
    Latencies all;
    for (size_t i = 0; i < env_.threads(); ++i) {
      // Captured by value: should the wait time out, the task still runs safely later.
      auto part = std::make_shared<Latencies>();
      if (env_.RunSync(i, [this, i, part] { *part = std::move(latency_us_[i]); })) {
        all.from_due.insert(all.from_due.end(), part->from_due.begin(), part->from_due.end());
        all.from_sent.insert(all.from_sent.end(), part->from_sent.begin(), part->from_sent.end());
      }
    }
    return all;
  }

  bool all_pairs_done() const { return pairs_done_.load() >= pairs_count_; }
  bool all_drained() const { return drained_receivers_.load() >= pairs_count_; }
  bool acks_settled() const { return pending_ack_ids_.load() == 0 && acks_in_flight_.load() == 0; }
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t drained_envelopes() const { return drained_envelopes_.load(); }
  uint64_t ok_sends() const { return ok_sends_.load(); }
  uint64_t given_up() const { return given_up_.load(); }
  uint64_t last_receive_ns() const { return last_receive_ns_.load(); }
  uint64_t first_receive_ns() const { return first_receive_ns_.load(); }
  uint64_t last_ok_ns() const { return last_ok_ns_.load(); }
  uint64_t expected() const { return static_cast<uint64_t>(pairs_count_) * messages_; }
  void ResetDelivered() {
    delivered_ = 0;
    first_receive_ns_ = 0;
  }

 private:
  // ForEachPair runs `f` on every pair, on the pair's thread. `f` is copied: should a wait
  // time out, the task still runs safely later.
  template <typename F>
  void ForEachPair(F f) {
    for (size_t ctx = 0; ctx < env_.threads(); ++ctx) {
      (void)env_.RunSync(ctx, [this, ctx, f] {
        for (auto& p : pairs_) {
          if (p->context == ctx) {
            f(*p);
          }
        }
      });
    }
  }

  std::shared_ptr<Launcher> launcher() {
    std::lock_guard<std::mutex> lock(launcher_mu_);
    return launcher_;
  }
  void SettleReady(Client& c) {
    if (auto l = launcher(); l && !l->settle_on_connect()) {
      (void)l->Settle(&c, true);
    }
  }
  void SettleConnected(Client& c) {
    if (auto l = launcher(); l && l->settle_on_connect()) {
      (void)l->Settle(&c, true);
    }
  }
  void SettleFailed(Client& c) {
    if (auto l = launcher()) {
      (void)l->Settle(&c, false);
    }
  }

  // --- Sender ------------------------------------------------------------------------------

  void OnSenderReady(Pair& p, Client& c) {
    SettleReady(c);
    // Messages whose outcome a dropped connection took with it go again.
    for (auto& [seq, o] : p.outgoing) {
      if (!o.in_flight) {
        Transmit(p, seq);
      }
    }
    Pump(p);
  }

  // ScheduleRateSend arms the timer for the pair's next open-loop send: message n is due at
  // rate_start + n / rate, however late the previous one went.
  void ScheduleRateSend(Pair& p) {
    if (stopping_ || p.next_seq >= messages_) {
      return;
    }
    const auto due = std::chrono::nanoseconds(
        static_cast<int64_t>(1e9 / rate_ * static_cast<double>(p.next_seq)));
    p.rate_timer.expires_at(p.rate_start + due);
    p.rate_timer.async_wait([this, &p, due](const boost::system::error_code& ec) {
      if (ec || stopping_) {
        return;
      }
      const uint32_t seq = p.next_seq++;
      Outgoing& o = p.outgoing[seq];
      o.content =
          MakeContent(ContentHeader{run_, p.index, seq,
                                    p.rate_start_ns + static_cast<uint64_t>(due.count()), NowNs()},
                      body_bytes_, env_.filler(p.context));
      Transmit(p, seq);  // when the sender is down, it goes once the sender is back
      ScheduleRateSend(p);
    });
  }

  void Pump(Pair& p) {
    if (!sending_ || stopping_ || !p.sender || !p.sender->ready() || rate_ > 0) {
      return;
    }
    while (p.next_seq < messages_ && p.next_seq - p.unique - p.given_up < window_) {
      const uint32_t seq = p.next_seq++;
      Outgoing& o = p.outgoing[seq];
      const uint64_t now = NowNs();
      o.content = MakeContent(ContentHeader{run_, p.index, seq, now, now}, body_bytes_,
                              env_.filler(p.context));
      Transmit(p, seq);
    }
  }

  void Transmit(Pair& p, uint32_t seq) {
    auto it = p.outgoing.find(seq);
    if (it == p.outgoing.end() || it->second.in_flight || stopping_) {
      return;
    }
    Outgoing& o = it->second;
    const Account& to = p.receiver->account();
    pb::Request r;
    auto* send = r.mutable_send();
    send->set_destination(to.account_id);
    send->set_timestamp(WallMillis());
    auto* m = send->add_messages();
    m->set_device_id(to.device_id);
    m->set_registration_id(to.registration_id);
    m->set_type(pb::CIPHERTEXT);
    m->set_content(o.content);
    if (!p.sender->Send(std::move(r), [this, &p, seq](const pb::Response* response) {
          OnSendResponse(p, seq, response);
        })) {
      return;  // not authenticated: sent when the sender is ready again
    }
    if (o.outcome_lost) {
      o.outcome_lost = false;
      p.resent.insert(seq);
      ++env_.counters().resends;
    }
    o.in_flight = true;
    ++sends_in_flight_;
  }

  void OnSendResponse(Pair& p, uint32_t seq, const pb::Response* response) {
    --sends_in_flight_;
    auto it = p.outgoing.find(seq);
    if (it == p.outgoing.end()) {
      return;
    }
    Outgoing& o = it->second;
    o.in_flight = false;
    if (response == nullptr) {
      o.outcome_lost = true;  // stored or not: sent again once the sender is back
      return;
    }
    switch (response->status()) {
      case pb::OK:
        if (!response->has_send() || response->send().envelope_ids_size() != 1 ||
            response->send().envelope_ids(0).size() != wire::kEnvelopeIdBytes) {
          env_.counters().Error(ErrorKind::kBadFrame, "a send answered without one envelope id");
        } else if (env_.acked_log().enabled()) {
          env_.acked_log().Append(HexEncode(AsBytes(response->send().envelope_ids(0))));
        }
        p.outgoing.erase(it);
        ++ok_sends_;
        StoreMax(last_ok_ns_, NowNs());
        return;
      case pb::RATE_LIMITED:
        ++env_.counters().rate_limited;
        return RetryLater(p, seq,
                          std::chrono::milliseconds(std::clamp<uint64_t>(response->retry_after_ms(),
                                                                         1, kMaxRetryAfterMs)));
      case pb::UNAVAILABLE:
      case pb::QUEUE_FULL:
        // Not stored (the server says so): the same message may go again.
        env_.counters().Error(ErrorKind::kSend, std::string(wire::StatusName(response->status())) +
                                                    ": " + response->message());
        if (++o.refusals < kMaxSendAttempts) {
          return RetryLater(p, seq, kRefusedSendBackoff);
        }
        return GiveUp(p, it);
      default:
        env_.counters().Error(ErrorKind::kSend, std::string(wire::StatusName(response->status())) +
                                                    ": " + response->message());
        return GiveUp(p, it);
    }
  }

  void RetryLater(Pair& p, uint32_t seq, std::chrono::milliseconds delay) {
    auto timer = std::make_shared<asio::steady_timer>(env_.context(p.context), delay);
    timer->async_wait([this, &p, seq, timer](const boost::system::error_code& ec) {
      if (!ec) {
        Transmit(p, seq);
      }
    });
  }

  void GiveUp(Pair& p, std::map<uint32_t, Outgoing>::iterator it) {
    p.outgoing.erase(it);
    ++p.given_up;
    ++given_up_;
    CheckDone(p);
    Pump(p);
  }

  void CheckDone(Pair& p) {
    if (!p.done && messages_ > 0 && p.unique + p.given_up >= messages_) {
      p.done = true;
      ++pairs_done_;
    }
  }

  // --- Receiver ----------------------------------------------------------------------------

  void OnReceiverReady(Pair& p, Client& c) {
    if (!p.receiver_drained) {
      p.receiver_drained = true;
      ++drained_receivers_;
    }
    SettleReady(c);
  }

  void OnReceiverDown(Pair& p, Client& c, bool final) {
    // Unacknowledged envelopes come again on the next connection; acknowledging them there
    // could race with their redelivery.
    pending_ack_ids_ -= p.ack_batch.size();
    p.ack_batch.clear();
    p.ack_timer_armed = false;
    ++p.ack_timer_generation;
    if (final) {
      SettleFailed(c);
    }
  }

  void Receive(Pair& p, pb::Envelope& e) {
    const uint64_t now = NowNs();
    if (e.id().size() != wire::kEnvelopeIdBytes) {
      env_.counters().Error(ErrorKind::kBadFrame, "an envelope id of the wrong size");
      return;
    }
    EnvelopeId id;
    std::memcpy(id.data(), e.id().data(), id.size());
    const auto header = ParseContent(AsBytes(e.content()));
    if (env_.received_log().enabled()) {
      // "ENVELOPE_ID PAIR SEQ RUN", or dashes for content that is not hf-load's.
      char tail[48];
      if (header.ok()) {
        std::snprintf(tail, sizeof tail, " %u %u %08x", header->pair, header->seq, header->run);
      } else {
        std::snprintf(tail, sizeof tail, " - - -");
      }
      env_.received_log().Append(HexEncode(AsBytes(e.id())) + tail);
    }
    if (p.confirmed.count(id) > 0) {
      env_.counters().Error(ErrorKind::kDuplicateAfterAck,
                            "envelope " + HexEncode(AsBytes(e.id())));
      QueueAck(p, id);
      return;
    }
    if (!p.unconfirmed.insert(id).second) {
      ++env_.counters().redelivered;
      QueueAck(p, id);
      return;
    }
    QueueAck(p, id);
    if (mode_ == Mode::kDrain) {
      ++drained_envelopes_;
      return;
    }
    if (!header.ok()) {
      if (header.code() == ErrorCode::kUnsupportedVersion) {
        ++env_.counters().stale_envelopes;  // left by a run of an earlier hf-load build
        return;
      }
      env_.counters().Error(ErrorKind::kBadContent, "an envelope that is not hf-load's");
      return;
    }
    if (header->run != run_) {
      ++env_.counters().stale_envelopes;  // left in the queue by an earlier run
      return;
    }
    if (header->pair != p.index || e.source_account() != p.sender->account().account_id ||
        e.source_device() != p.sender->account().device_id || e.type() != pb::CIPHERTEXT) {
      env_.counters().Error(ErrorKind::kMisrouted, "pair " + std::to_string(p.index));
      return;
    }
    if (header->seq >= messages_) {
      env_.counters().Error(ErrorKind::kBadContent, "a sequence number out of range");
      return;
    }
    if (p.seen[header->seq]) {
      if (p.resent.count(header->seq) > 0) {
        ++env_.counters().resend_duplicates;
      } else {
        env_.counters().Error(ErrorKind::kDuplicate, "pair " + std::to_string(p.index) + " seq " +
                                                         std::to_string(header->seq));
      }
      return;
    }
    p.seen[header->seq] = 1;
    ++p.unique;
    ++delivered_;
    StoreMax(last_receive_ns_, now);
    uint64_t none = 0;
    (void)first_receive_ns_.compare_exchange_strong(none, now);
    auto us_since = [now](uint64_t t) {
      return static_cast<uint32_t>(std::min<uint64_t>(now > t ? (now - t) / 1000 : 0, UINT32_MAX));
    };
    latency_us_[p.context].from_due.push_back(us_since(header->due_ns));
    if (rate_ > 0) {  // in a closed loop the two times are one
      latency_us_[p.context].from_sent.push_back(us_since(header->sent_ns));
    }
    CheckDone(p);
    Pump(p);
  }

  void QueueAck(Pair& p, const EnvelopeId& id) {
    p.ack_batch.push_back(id);
    ++pending_ack_ids_;
    if (p.ack_batch.size() >= kAckBatch) {
      return FlushAcks(p);
    }
    if (!p.ack_timer_armed) {
      p.ack_timer_armed = true;
      const uint64_t gen = ++p.ack_timer_generation;
      p.ack_timer.expires_after(kAckDelay);
      p.ack_timer.async_wait([this, &p, gen](const boost::system::error_code& ec) {
        if (ec || gen != p.ack_timer_generation) {
          return;
        }
        p.ack_timer_armed = false;
        FlushAcks(p);
      });
    }
  }

  void FlushAcks(Pair& p) {
    p.ack_timer_armed = false;
    ++p.ack_timer_generation;
    if (p.ack_batch.empty()) {
      return;
    }
    auto ids = std::make_shared<std::vector<EnvelopeId>>(std::move(p.ack_batch));
    p.ack_batch.clear();
    pending_ack_ids_ -= ids->size();
    if (!p.receiver->authenticated()) {
      return;  // the server pushes them again on the next connection
    }
    // What the log says was received is on disk before the server may delete it.
    env_.received_log().Flush();
    pb::Request r;
    for (const EnvelopeId& id : *ids) {
      r.mutable_ack()->add_envelope_ids(reinterpret_cast<const char*>(id.data()), id.size());
    }
    if (!p.receiver->Send(std::move(r), [this, &p, ids](const pb::Response* response) {
          --p.acks_in_flight;
          --acks_in_flight_;
          if (response == nullptr) {
            return;  // pushed again on the next connection
          }
          if (response->status() != pb::OK) {
            env_.counters().Error(
                ErrorKind::kAck,
                std::string(wire::StatusName(response->status())) + ": " + response->message());
            return;
          }
          for (const EnvelopeId& id : *ids) {
            p.unconfirmed.erase(id);
            p.confirmed.insert(id);
          }
        })) {
      return;
    }
    ++p.acks_in_flight;
    ++acks_in_flight_;
  }

  Env& env_;
  const Mode mode_;
  const uint32_t pairs_count_;
  const uint32_t messages_;
  const uint32_t window_;
  const size_t body_bytes_;
  const double rate_;
  uint32_t run_ = 0;
  std::vector<std::unique_ptr<Pair>> pairs_;
  std::vector<Latencies> latency_us_;  // per context, used on its thread only

  std::mutex launcher_mu_;
  std::shared_ptr<Launcher> launcher_;  // GUARDED_BY(launcher_mu_)

  std::atomic<bool> sending_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> drained_envelopes_{0};
  std::atomic<uint64_t> ok_sends_{0};
  std::atomic<uint64_t> given_up_{0};
  std::atomic<uint64_t> pairs_done_{0};
  std::atomic<uint64_t> drained_receivers_{0};
  std::atomic<int64_t> sends_in_flight_{0};
  std::atomic<int64_t> acks_in_flight_{0};
  std::atomic<int64_t> pending_ack_ids_{0};
  std::atomic<uint64_t> last_receive_ns_{0};
  std::atomic<uint64_t> first_receive_ns_{0};
  std::atomic<uint64_t> last_ok_ns_{0};
};

// Base holds the fields every result has; latency is measured by the online workload only.
nlohmann::json Base(const char* mode, const WorkloadOptions& o) {
  nlohmann::json out = {{"mode", mode}, {"pairs", o.pairs}, {"messages", o.messages}};
  out["body_bytes"] = o.body_bytes;
  out["delivered"] = 0;
  out["msgs_per_s"] = 0;
  out["p50_ms"] = 0;
  out["p99_ms"] = 0;
  return out;
}

}  // namespace

// --- online --------------------------------------------------------------------------------

nlohmann::json RunOnline(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o) {
  nlohmann::json out = Base("online", o);
  out["window"] = o.window;
  if (o.rate > 0) {
    out["rate_per_pair"] = o.rate;
    out["offered_msgs_per_s"] = std::llround(o.rate * o.pairs);
  }
  const Deadline login_deadline = SteadyClock::now() + o.timeout;
  // Open loop: the schedule itself lasts (M - 1) / R; the timeout is on top of it.
  const auto schedule = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(o.rate > 0 ? o.messages / o.rate : 0.0));
  auto w = std::make_shared<PairWorkload>(env, o, PairWorkload::Mode::kOnline);
  env.Retain(w);
  // Connections come back after a drop until the end of the measured phase.
  w->CreatePairs(accounts, /*reconnect=*/true, login_deadline + o.timeout + schedule);
  const uint64_t login_start = NowNs();
  if (w->Login(true, true, true, o.concurrency, login_deadline) > 0) {
    out["delivered"] = 0;
    out["failed_phase"] = "login";
    w->Quiesce();
    return out;
  }
  out["login_secs"] = Meter::Round2(static_cast<double>(NowNs() - login_start) / 1e9);
  Sleep(env, std::chrono::milliseconds(500));  // as the peers' generator does before measuring

  Meter meter(o.server_pid);
  meter.Start();
  w->StartSending();
  const bool complete = WaitUntil(
      env, [&] { return w->all_pairs_done(); }, SteadyClock::now() + o.timeout + schedule);
  meter.Stop(w->last_receive_ns());
  w->Quiesce();

  const uint64_t delivered = w->delivered();
  if (!complete) {
    const uint64_t missing = w->expected() - std::min(w->expected(), delivered + w->given_up());
    if (env.interrupted()) {
      out["interrupted"] = true;  // what was not delivered yet is not counted as lost
    } else {
      env.counters().Error(ErrorKind::kTimeout, "the online phase did not finish");
      env.counters().Error(ErrorKind::kLost, std::to_string(missing) + " messages not delivered",
                           missing);
    }
  }
  auto latencies = w->TakeLatencies();
  const double secs = meter.secs();
  out["delivered"] = delivered;
  out["expected"] = w->expected();
  out["given_up"] = w->given_up();
  out["secs"] = Meter::Round2(secs);
  out["msgs_per_s"] = std::llround(static_cast<double>(delivered) / (secs > 0 ? secs : 1));
  // p50<suffix>_ms, p99<suffix>_ms and max<suffix>_ms of one set of latencies.
  auto add = [&out](std::vector<uint32_t>& v, const std::string& suffix) {
    out["p50" + suffix + "_ms"] = Meter::Round2(PercentileMs(v, 0.50));
    out["p99" + suffix + "_ms"] = Meter::Round2(PercentileMs(v, 0.99));
    out["max" + suffix + "_ms"] =
        v.empty() ? 0.0 : Meter::Round2(*std::max_element(v.begin(), v.end()) / 1000.0);
  };
  add(latencies.from_due, "");
  if (o.rate > 0) {
    add(latencies.from_sent, "_sent");
  }
  meter.Add(out);
  return out;
}

// --- offline -------------------------------------------------------------------------------

nlohmann::json RunOffline(Env& env, const std::vector<Account>& accounts,
                          const WorkloadOptions& o) {
  nlohmann::json out = Base("offline", o);
  auto w = std::make_shared<PairWorkload>(env, o, PairWorkload::Mode::kOffline);
  env.Retain(w);
  // No reconnection here: a dropped connection is an error and the phase says so.
  w->CreatePairs(accounts, /*reconnect=*/false, SteadyClock::now());
  auto fail = [&](const char* phase) {
    out["failed_phase"] = phase;
    out["delivered"] = w->delivered();
    w->Quiesce();
    return out;
  };

  // The receivers' devices exist and their queues are empty; then they leave.
  if (w->Login(false, true, true, o.concurrency, SteadyClock::now() + o.timeout) > 0) {
    return fail("receiver login");
  }
  w->StopClients(false, true);
  (void)WaitUntil(
      env, [&] { return env.live_connections().load() == 0; }, SteadyClock::now() + kCloseWait,
      false);
  if (w->Login(true, false, true, o.concurrency, SteadyClock::now() + o.timeout) > 0) {
    return fail("sender login");
  }
  Sleep(env, std::chrono::milliseconds(300));

  // Store: every sender sends all its messages at once.
  Meter store(o.server_pid);
  store.Start();
  w->StartSending();
  const bool stored = WaitUntil(
      env, [&] { return w->ok_sends() + w->given_up() >= w->expected(); },
      SteadyClock::now() + o.timeout);
  store.Stop(w->last_ok_ns());
  if (!stored && !env.interrupted()) {
    env.counters().Error(ErrorKind::kTimeout, "the store phase did not finish");
  }
  out["stored"] = w->ok_sends();
  out["given_up"] = w->given_up();
  out["store_secs"] = Meter::Round2(store.secs());
  out["store_msgs_per_s"] =
      std::llround(static_cast<double>(w->ok_sends()) / (store.secs() > 0 ? store.secs() : 1));
  store.Add(out, "store_");
  w->StopClients(true, false);
  (void)WaitUntil(
      env, [&] { return env.live_connections().load() == 0; }, SteadyClock::now() + kCloseWait,
      false);
  Sleep(env, std::chrono::milliseconds(1000));
  if (env.interrupted()) {
    return fail("store");
  }

  // Drain: the receivers connect, then all authenticate at once.
  w->ResetReceiverPhase();
  w->ResetDelivered();
  if (w->Login(false, true, false, o.concurrency, SteadyClock::now() + o.timeout) > 0) {
    return fail("receiver connect");
  }
  Meter drain(o.server_pid);
  drain.Start();
  w->AuthenticateReceivers();
  const uint64_t want = w->ok_sends();
  const bool drained = WaitUntil(
      env, [&] { return w->delivered() >= want && w->all_drained(); },
      SteadyClock::now() + o.timeout);
  drain.Stop(w->last_receive_ns());
  w->Quiesce();
  if (!drained && !env.interrupted()) {
    env.counters().Error(ErrorKind::kTimeout, "the drain phase did not finish");
  }
  if (w->delivered() < want && !env.interrupted()) {
    env.counters().Error(ErrorKind::kLost,
                         std::to_string(want - w->delivered()) + " stored messages not drained",
                         want - w->delivered());
  }
  out["delivered"] = w->delivered();
  out["drain_secs"] = Meter::Round2(drain.secs());
  out["drain_msgs_per_s"] =
      std::llround(static_cast<double>(w->delivered()) / (drain.secs() > 0 ? drain.secs() : 1));
  out["msgs_per_s"] = out["drain_msgs_per_s"];
  // As the peers' generator's first_ms: from the Auths to the first envelope received.
  const uint64_t first = w->first_receive_ns();
  out["drain_first_ms"] =
      first > drain.t0_ns() ? Meter::Round2((first - drain.t0_ns()) / 1e6) : 0.0;
  drain.Add(out);
  return out;
}

// --- drain ---------------------------------------------------------------------------------

nlohmann::json RunDrain(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o) {
  nlohmann::json out = Base("drain", o);
  auto w = std::make_shared<PairWorkload>(env, o, PairWorkload::Mode::kDrain);
  env.Retain(w);
  const Deadline deadline = SteadyClock::now() + o.timeout;
  w->CreatePairs(accounts, /*reconnect=*/true, deadline);
  Meter meter(o.server_pid);
  meter.Start();
  const size_t failed = w->Login(false, true, true, o.concurrency, deadline);
  // QueueEmpty comes after the last queued envelope was pushed; then the last acks go out.
  const bool drained = WaitUntil(
      env, [&] { return w->all_drained() && w->acks_settled(); }, deadline);
  meter.Stop(NowNs());
  w->Quiesce();
  if (!drained && !env.interrupted() && failed == 0) {
    env.counters().Error(ErrorKind::kTimeout, "the drain did not finish");
  }
  out["delivered"] = w->drained_envelopes();
  out["secs"] = Meter::Round2(meter.secs());
  out["msgs_per_s"] = std::llround(static_cast<double>(w->drained_envelopes()) /
                                   (meter.secs() > 0 ? meter.secs() : 1));
  meter.Add(out);
  return out;
}

// --- idle ----------------------------------------------------------------------------------

nlohmann::json RunIdle(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o) {
  nlohmann::json out = Base("idle", o);
  out["idle_target"] = o.idle;
  struct Idle {
    std::vector<std::unique_ptr<Client>> clients;
    std::shared_ptr<Launcher> launcher;
    std::atomic<uint64_t> dropped{0};
  };
  auto idle = std::make_shared<Idle>();
  env.Retain(idle);
  std::vector<Client*> list;
  for (uint32_t i = 0; i < o.idle; ++i) {
    idle->clients.push_back(std::make_unique<Client>(env, i % env.threads(), accounts[i], i));
    list.push_back(idle->clients.back().get());
  }
  idle->launcher = std::make_shared<Launcher>(env, list, o.concurrency, true, false);
  Idle* state = idle.get();
  for (auto& c : idle->clients) {
    c->set_events({
        .on_ready = [state](Client& client) { (void)state->launcher->Settle(&client, true); },
        .on_envelope = nullptr,
        .on_down =
            [state](Client& client, bool) {
              if (!state->launcher->Settle(&client, false)) {
                ++state->dropped;  // after it was logged in
              }
            },
        .on_connected = nullptr,
    });
  }

  // Let the registration connections' memory settle out of the picture first.
  Sleep(env, std::chrono::milliseconds(500));
  const ProcSample before = SampleProcess(o.server_pid);
  Meter login(o.server_pid);
  login.Start();
  idle->launcher->Begin();
  const bool all = WaitUntil(
      env, [&] { return idle->launcher->all_settled(); }, SteadyClock::now() + o.timeout);
  login.Stop(NowNs());
  if (!all && !env.interrupted()) {
    env.counters().Error(ErrorKind::kTimeout, "not every idle connection logged in");
  }
  Sleep(env, o.idle_settle);
  const ProcSample after = SampleProcess(o.server_pid);
  const uint64_t open =
      idle->launcher->ok() - std::min<uint64_t>(idle->launcher->ok(), idle->dropped.load());
  out["idle_connections"] = open;
  out["login_failed"] = idle->launcher->failed();
  out["login_secs"] = Meter::Round2(login.secs());
  out["logins_per_s"] = std::llround(static_cast<double>(idle->launcher->ok()) /
                                     (login.secs() > 0 ? login.secs() : 1));
  login.Add(out, "login_");
  if (before.ok && after.ok) {
    out["rss_before_kib"] = before.rss_kib;
    out["rss_after_kib"] = after.rss_kib;
    out["server_rss_kib"] = after.rss_kib;
    out["kib_per_connection"] = open > 0 ? Meter::Round2((static_cast<double>(after.rss_kib) -
                                                          static_cast<double>(before.rss_kib)) /
                                                         static_cast<double>(open))
                                         : 0.0;
  }
  for (size_t ctx = 0; ctx < env.threads(); ++ctx) {
    (void)env.RunSync(ctx, [idle, ctx] {
      for (auto& c : idle->clients) {
        if (c->context() == ctx) {
          c->Stop();
        }
      }
    });
  }
  (void)WaitUntil(
      env, [&] { return env.live_connections().load() == 0; }, SteadyClock::now() + kCloseWait,
      false);
  return out;
}

}  // namespace holdfast::load
