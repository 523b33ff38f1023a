// AuditLog: what the public's auditor checks about a published log.
//
// It fetches the checkpoint and verifies its signature and origin, fetches every entry
// bundle and hash tile for that size, checks that each tile agrees with the entries beneath
// it, recomputes the root from the entries and compares it with the checkpoint, and, given
// the checkpoint it saw last time, refuses a smaller size (rollback) or a different history
// (fork). It never repairs anything.
#ifndef HOLDFAST_TLOG_AUDIT_H_
#define HOLDFAST_TLOG_AUDIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/fetch.h"
#include "holdfast/tlog/note.h"

namespace holdfast::tlog {

struct AuditReport {
  // Empty when everything verified; otherwise what failed, naming the object.
  std::string failure;
  bool ok() const { return failure.empty(); }

  Checkpoint checkpoint;        // the verified checkpoint (when ok)
  std::string checkpoint_note;  // its signed-note bytes, to keep as the next state
  uint64_t entries_checked = 0;
  uint64_t tiles_checked = 0;
};

// AuditLog audits the log behind `fetcher`. `previous_note` is the signed checkpoint kept
// from the last audit, or empty on the first.
AuditReport AuditLog(TileFetcher& fetcher, std::string_view origin, const NoteVerifier& log_key,
                     std::string_view previous_note);

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_AUDIT_H_
