#include "holdfast/server/server_metrics.h"

namespace holdfast::server {

Metrics::Metrics()
    : connections(registry_.GetGauge("holdfast_connections", "Open WebSocket connections.")),
      authenticated(registry_.GetGauge("holdfast_connections_authenticated",
                                       "Open WebSocket connections signed in as a device.")),
      connections_refused(registry_.GetCounter("holdfast_connections_refused_total",
                                               "Connections refused by the per-IP rate limit.")),
      envelopes_in(registry_.GetCounter("holdfast_envelopes_in_total",
                                        "Envelopes stored durably for a recipient device.")),
      envelopes_out(registry_.GetCounter("holdfast_envelopes_out_total",
                                         "Envelopes acknowledged by their recipient and deleted.")),
      envelopes_expired(registry_.GetCounter("holdfast_envelopes_expired_total",
                                             "Envelopes purged undelivered at their TTL.")),
      queue_depth(registry_.GetGauge("holdfast_queue_depth", "Envelopes stored, all queues.")),
      requests(registry_.GetCounter("holdfast_requests_total", "Requests received.")),
      request_errors(registry_.GetCounter("holdfast_request_errors_total",
                                          "Requests answered with a status other than ok.")),
      rate_limited(registry_.GetCounter("holdfast_rate_limited_total",
                                        "Requests refused by a rate limit.")),
      bad_frames(registry_.GetCounter("holdfast_bad_frames_total",
                                      "Frames that were malformed, oversized or of an unknown "
                                      "protocol version.")),
      request_seconds(registry_.GetHistogram("holdfast_request_seconds",
                                             "Time from a storage-backed request to its answer.",
                                             DefaultLatencyBounds())),
      commit_seconds(registry_.GetHistogram("holdfast_commit_seconds",
                                            "Time to run and commit one database batch.",
                                            DefaultLatencyBounds())),
      commit_batches(registry_.GetCounter("holdfast_commit_batches_total",
                                          "Database batches committed (group commit).")),
      commit_items(registry_.GetCounter("holdfast_commit_items_total",
                                        "Storage operations committed in those batches.")),
      ip_records_purged(registry_.GetCounter("holdfast_ip_records_purged_total",
                                             "IP records deleted at the end of their retention.")) {}

std::string Metrics::Text() const { return registry_.Render(); }

}  // namespace holdfast::server
