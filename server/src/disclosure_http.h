// DisclosureHttp: holdfastd's public face for lawful disclosure, on its HTTP port:
//
//   GET  /tlog/checkpoint, /tlog/tile/...     the transparency log, as C2SP static tiles
//                                             (published from DIR/legal/ into DIR/legal/www)
//   GET  /transparency[?from=DATE&to=DATE]    the report page (default: this UTC year)
//   GET  /transparency/report-FROM-TO.json    the report, computed from the log on request;
//        (also under /tlog/transparency/, where holdfast-audit looks for it)
//   POST /orders                              an authority submits a signed order
//
// Orders over HTTP are decided and logged only when they are signed by a registered
// authority's key: anonymous junk gets a 4xx answer with its reason and is not written to
// the public log (the operator's own `holdfast-admin orders submit` logs everything). The
// work runs on one thread of its own, never on an I/O thread.
#ifndef HOLDFAST_SERVER_SRC_DISCLOSURE_HTTP_H_
#define HOLDFAST_SERVER_SRC_DISCLOSURE_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "holdfast/common/clock.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/server/database.h"
#include "holdfast/server/server.h"
#include "holdfast/server/service.h"

namespace holdfast::server {

class DisclosureHttp {
 public:
  static Result<std::unique_ptr<DisclosureHttp>> Open(const std::string& data_dir,
                                                      const Clock& clock, Rng& rng, Database& db);
  ~DisclosureHttp();

  // Route implements ServerOptions::routes.
  bool Route(HttpCall call, std::function<void(HttpReply)> reply);
  // DeliverDueNotices hands every notice due now to `service` (one SERVER_NOTICE envelope
  // per device of the affected account), marks each delivered after its commit, and then
  // calls `done` (on the worker thread).
  void DeliverDueNotices(Service& service, std::function<void()> done);
  // Stop answers what is queued, then refuses new work (503). Call it before the server
  // stops, so that every reply still has a live connection to go to. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit DisclosureHttp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_SRC_DISCLOSURE_HTTP_H_
