// The workloads hf-load runs against a server, after its accounts exist. Each returns the
// JSON fields of its result; failures are counted in Env::counters(), never thrown.
//
// online   user 2i sends to user 2i+1, `messages` each, closed loop with `window` in flight
//          per pair: the next send goes when the partner received one. Throughput is
//          delivered messages per second from the first send to the last receipt; latency is
//          send to receipt. Dropped connections are reopened with backoff and sends whose
//          outcome was lost are sent again (the receiver deduplicates by sequence number).
//          With a rate (--rate R) the loop is open instead: each pair's sender sends one
//          message every 1/R s (pairs spread evenly over the period), whatever was received,
//          and latency runs from the moment the schedule set for the send, so a generator
//          that falls behind shows as latency rather than hiding it.
// offline  receivers authenticate once (their devices exist), then leave; senders send all
//          their messages (store rate: until the last OK); receivers come back (drain rate:
//          from AuthRequest to the last envelope).
// idle     K authenticated connections, server memory per connection.
// drain    receivers (users 2i+1) authenticate and take whatever is queued.
//
// Receivers acknowledge in batches: an AckRequest goes when 64 envelope ids are waiting, or
// 5 ms after the first of them arrived, whichever is first. An envelope pushed again after
// its acknowledgement was answered OK is an error (duplicate_after_ack).
#ifndef HOLDFAST_TOOLS_HF_LOAD_WORKLOAD_H_
#define HOLDFAST_TOOLS_HF_LOAD_WORKLOAD_H_

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "client.h"
#include "env.h"

namespace holdfast::load {

struct WorkloadOptions {
  uint32_t pairs = 0;
  uint32_t messages = 0;
  uint32_t window = 16;
  double rate = 0;  // online: > 0 sends open loop at this many messages/s per pair
  size_t body_bytes = 100;
  uint32_t idle = 0;                  // connections, for RunIdle
  int server_pid = 0;                 // 0: no server samples
  std::chrono::seconds timeout{300};  // per phase
  std::chrono::milliseconds idle_settle{3000};
  size_t concurrency = 64;  // logins in progress at once
};

// RunOnline, RunOffline and RunDrain use accounts 2i (sender) and 2i+1 (receiver) for
// i < pairs; RunIdle uses the first `idle` accounts.
nlohmann::json RunOnline(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o);
nlohmann::json RunOffline(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o);
nlohmann::json RunIdle(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o);
nlohmann::json RunDrain(Env& env, const std::vector<Account>& accounts, const WorkloadOptions& o);

}  // namespace holdfast::load

#endif  // HOLDFAST_TOOLS_HF_LOAD_WORKLOAD_H_
