// C2SP tlog-proof (c2sp.org/tlog-proof@v1): a self-contained proof that one entry is in a log,
// which a user can hand to anyone who trusts the log's key.
//
//   c2sp.org/tlog-proof@v1\n
//   [extra <base64>\n]            unauthenticated, never trusted
//   index <decimal>\n
//   <base64 hash>\n ...           the RFC 9162 audit path, leaf's sibling first
//   \n
//   <signed checkpoint note, verbatim>
#ifndef HOLDFAST_TLOG_PROOF_FILE_H_
#define HOLDFAST_TLOG_PROOF_FILE_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/merkle.h"

namespace holdfast::tlog {

inline constexpr std::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";
// Audit paths are at most 63 hashes for any 64-bit tree size.
inline constexpr size_t kMaxProofHashes = 64;

struct TlogProof {
  std::optional<Bytes> extra;
  uint64_t index = 0;
  std::vector<Hash> proof;
  std::string checkpoint;  // the signed note, as the log published it
};

std::string FormatTlogProof(const TlogProof& proof);
// ParseTlogProof checks the grammar; every violation is kMalformed.
Result<TlogProof> ParseTlogProof(std::string_view text);

// VerifyTlogProof opens the embedded checkpoint with the log's key (and origin), then checks
// that `entry` is leaf `index` of that tree. Failures are kMalformed (grammar),
// kAuthenticationFailed (checkpoint) or kInvalidProof (inclusion).
Result<OpenedCheckpoint> VerifyTlogProof(std::string_view text, ByteSpan entry,
                                         std::string_view origin, const NoteVerifier& log_key,
                                         std::span<const NoteVerifier> witnesses = {});

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_PROOF_FILE_H_
