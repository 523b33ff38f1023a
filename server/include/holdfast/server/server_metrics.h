// Metrics: holdfastd's Prometheus metrics, named once here (docs/server.md lists them).
#ifndef HOLDFAST_SERVER_SERVER_METRICS_H_
#define HOLDFAST_SERVER_SERVER_METRICS_H_

#include <cstdint>
#include <string>

#include "holdfast/server/metrics.h"

namespace holdfast::server {

class Metrics {
 private:
  MetricsRegistry registry_;  // first: the references below point into it

 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Text renders every metric in Prometheus' text format.
  std::string Text() const;

  Gauge& connections;            // open WebSocket connections
  Gauge& authenticated;          // of which authenticated
  Counter& connections_refused;   // by the per-IP connection limit
  Counter& envelopes_in;         // stored for a recipient device
  Counter& envelopes_out;        // acknowledged by their recipient and deleted
  Counter& envelopes_expired;    // purged at their TTL
  Gauge& queue_depth;            // envelopes stored, all queues
  Counter& requests;
  Counter& request_errors;       // answered with a status other than OK
  Counter& rate_limited;
  Counter& bad_frames;           // malformed, oversized or of an unknown version
  Histogram& request_seconds;    // request received to response queued
  Histogram& commit_seconds;     // one database batch
  Counter& commit_batches;
  Counter& commit_items;
  Counter& ip_records_purged;
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_SERVER_METRICS_H_
