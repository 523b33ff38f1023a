// Registry: the lawful-disclosure office's durable state in the server's data directory,
// and its transparency log.
//
// DIR/legal/ holds:
//   legal.db          authorities, policy versions, orders and their decisions, pending
//                     notices (SQLite, WAL)
//   transparency.db   the transparency log (tlog: RFC 9162 tiles, signed checkpoints)
//   log.key, log.vkey the log's checkpoint key (C2SP signed-note form; .key is 0600)
//   operator.key      the operator's Ed25519 key that signs packages and receipts (0600)
//   operator.pub      its public half, base64
//
// Every change to the authorities or the policy, and every decision, is appended to the
// log. Changes take an exclusive lock on DIR/legal/lock and reload the log inside it, so
// holdfast-admin and a running holdfastd can both use one directory.
#ifndef HOLDFAST_LEGAL_REGISTRY_H_
#define HOLDFAST_LEGAL_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/clock.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/legal/authority.h"
#include "holdfast/legal/disclosure.h"
#include "holdfast/legal/policy.h"
#include "holdfast/legal/report.h"
#include "holdfast/tlog/log.h"
#include "holdfast/tlog/note.h"

namespace holdfast::legal {

// kLogOrigin names the transparency log (its checkpoints' first line).
inline constexpr std::string_view kLogOrigin = "holdfast/transparency";

// OrderRecord is one submission as the operator's order list keeps it.
struct OrderRecord {
  int64_t seq = 0;
  std::string authority_id;  // empty when unreadable
  std::string order_id;      // empty when unreadable
  Decision decision;
  uint64_t log_index = 0;
  std::string receipt;  // the signed acknowledgment of receipt (JSON)
};

// DueNotice is an in-app notice to one affected account whose gag period has ended.
struct DueNotice {
  int64_t id = 0;
  Bytes account_id;
  // The notice, as JSON (documented in docs/lawful-disclosure.md): what was disclosed, when,
  // on whose order, the decision's log entry with a c2sp.org/tlog-proof of it, and the salt
  // that opens this account's commitment in it.
  std::string content;
};

struct SubmitResult {
  OrderRecord record;
  bool replayed = false;                // the order was decided before; nothing was written
  std::optional<Bytes> sealed_package;  // when something was disclosed
};

class Registry {
 public:
  // Open creates DIR/legal/ and its keys on first use.
  static Result<std::unique_ptr<Registry>> Open(const std::string& data_dir, const Clock& clock,
                                                Rng& rng);
  ~Registry();

  // AddAuthority registers `a` and logs it; an existing id is kAlreadyExists. Returns the
  // log index of the entry.
  Result<uint64_t> AddAuthority(const Authority& a);
  // RevokeAuthority revokes from now on; unknown is kNotFound, already revoked
  // kAlreadyExists.
  Result<uint64_t> RevokeAuthority(std::string_view id);
  Result<std::vector<Authority>> Authorities();
  Result<std::optional<Authority>> FindAuthority(std::string_view id);

  // SetPolicy logs a new policy version; its version must exceed the current one
  // (kInvalidArgument otherwise).
  Result<uint64_t> SetPolicy(const Policy& p);
  // CurrentPolicy is the newest version in effect at `at_ms`; kNotFound before any.
  Result<Policy> CurrentPolicy(int64_t at_ms);

  // SubmitOrder decides an order under the current policy, appends the decision to the log,
  // records it, keeps the notices for the affected users and returns the sealed package.
  // The same order id from the same authority (or, for an unreadable order, the same bytes)
  // a second time returns the first decision with replayed set, and writes nothing.
  Result<SubmitResult> SubmitOrder(std::string_view bytes, PersonalData& data);
  Result<std::vector<OrderRecord>> Orders();

  // DueNotices returns the notices due at `now_ms` that were not delivered yet (at most
  // `limit`), each with a fresh inclusion proof against the latest checkpoint.
  Result<std::vector<DueNotice>> DueNotices(int64_t now_ms, size_t limit);
  // MarkNoticeDelivered records that the notice is in the user's queues; the salt is then
  // dropped: only the user keeps it.
  Result<void> MarkNoticeDelivered(int64_t id, int64_t at_ms);

  // LogEntries returns every entry of the log, in order.
  Result<std::vector<Bytes>> LogEntries();
  // LatestCheckpoint is the log's newest signed checkpoint (a C2SP signed note); kNotFound
  // while the log is empty.
  Result<std::string> LatestCheckpoint();
  // ComputeReport computes the report over [from, to) from the entries of the latest signed
  // checkpoint, and names that checkpoint (ReportToJson gives the published form).
  Result<legal::Report> ComputeReport(int64_t from_ms, int64_t to_ms);
  // PublishTiles writes the log's C2SP tiles, entry bundles and checkpoint under `out_dir`.
  Result<uint64_t> PublishTiles(const std::string& out_dir);
  tlog::NoteVerifier LogVerifier() const;
  crypto::Ed25519PublicKey OperatorKey() const;
  const std::string& dir() const { return dir_; }

 private:
  class Impl;
  Registry(std::string dir, std::unique_ptr<Impl> impl);
  // FinishPending completes an order whose submission stopped between its row and its log
  // index (a crash): appends its entry unless the log already ends with it.
  Result<void> FinishPending();
  Result<void> SetLogIndex(int64_t seq, uint64_t index);
  std::string dir_;
  std::unique_ptr<Impl> impl_;
};

// AuthorityLogEntry and PolicyLogEntry are the log's JSON forms of registry changes.
nlohmann::json AuthorityLogEntry(std::string_view action, const Authority& a, int64_t at_ms);
nlohmann::json PolicyLogEntry(const Policy& p, int64_t at_ms);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_REGISTRY_H_
