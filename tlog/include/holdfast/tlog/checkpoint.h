// C2SP checkpoints (c2sp.org/tlog-checkpoint): the signed statement of a log's size and root.
//
// The note text is "<origin>\n<size>\n<base64 root>\n" followed by optional non-empty
// extension lines. The log signs it as a signed note; witnesses may add cosignatures.
#ifndef HOLDFAST_TLOG_CHECKPOINT_H_
#define HOLDFAST_TLOG_CHECKPOINT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/result.h"
#include "holdfast/tlog/merkle.h"
#include "holdfast/tlog/note.h"

namespace holdfast::tlog {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;

  // ToText renders the note text (ending in '\n'). The origin must be a valid key name
  // (checked by Parse, and by SignCheckpoint before signing).
  std::string ToText() const;
  // Parse reads a checkpoint text. A missing line, an empty origin or extension line, a
  // size with a sign, leading zeros or beyond 2^64-1, or a root that is not the canonical
  // base64 of 32 bytes is kMalformed.
  static Result<Checkpoint> Parse(std::string_view text);
};

// SignCheckpoint makes the signed note for `checkpoint`, signed by the log's key.
Result<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& log_key);

// OpenedCheckpoint is a verified checkpoint with the note it came from.
struct OpenedCheckpoint {
  Checkpoint checkpoint;
  VerifiedNote note;
};

// OpenCheckpoint verifies a signed checkpoint: the log's key must have signed it (other
// trusted `witnesses` may have cosigned; unknown signatures are ignored) and its origin must
// be `origin`. A wrong origin is kAuthenticationFailed with detail "origin mismatch".
Result<OpenedCheckpoint> OpenCheckpoint(std::string_view message, std::string_view origin,
                                        const NoteVerifier& log_key,
                                        std::span<const NoteVerifier> witnesses = {});

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_CHECKPOINT_H_
