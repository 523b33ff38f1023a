#include "holdfast/tlog/proof_file.h"

#include <algorithm>

#include "holdfast/common/encoding.h"

namespace holdfast::tlog {
namespace {

const Error kMalformedProof{ErrorCode::kMalformed, "malformed tlog-proof"};

// NextLine splits off one '\n'-terminated line; a missing newline is malformed.
Result<std::string_view> NextLine(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) {
    return kMalformedProof;
  }
  const std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return line;
}

}  // namespace

std::string FormatTlogProof(const TlogProof& proof) {
  std::string out(kTlogProofHeader);
  out += '\n';
  if (proof.extra) {
    out += "extra " + Base64Encode(*proof.extra) + "\n";
  }
  out += "index " + std::to_string(proof.index) + "\n";
  for (const Hash& h : proof.proof) {
    out += Base64Encode(h) + "\n";
  }
  out += '\n';
  out += proof.checkpoint;
  return out;
}

Result<TlogProof> ParseTlogProof(std::string_view text) {
  if (text.size() > kMaxNoteBytes) {
    return kMalformedProof;
  }
  std::string_view rest = text;
  HF_ASSIGN_OR_RETURN(std::string_view line, NextLine(rest));
  if (line != kTlogProofHeader) {
    return Error{ErrorCode::kMalformed, "not a c2sp.org/tlog-proof@v1 file"};
  }
  TlogProof proof;
  HF_ASSIGN_OR_RETURN(line, NextLine(rest));
  if (line.starts_with("extra ")) {
    auto extra = Base64Decode(line.substr(6));
    if (!extra.ok()) {
      return kMalformedProof;
    }
    proof.extra = std::move(*extra);
    HF_ASSIGN_OR_RETURN(line, NextLine(rest));
  }
  if (!line.starts_with("index ")) {
    return kMalformedProof;
  }
  auto index = ParseDecimal(line.substr(6));
  if (!index.ok()) {
    return kMalformedProof;
  }
  proof.index = *index;
  for (;;) {
    HF_ASSIGN_OR_RETURN(line, NextLine(rest));
    if (line.empty()) {
      break;
    }
    auto bytes = Base64Decode(line);
    if (!bytes.ok() || bytes->size() != kHashBytes || proof.proof.size() == kMaxProofHashes) {
      return kMalformedProof;
    }
    Hash h;
    std::copy(bytes->begin(), bytes->end(), h.begin());
    proof.proof.push_back(h);
  }
  if (rest.empty()) {
    return kMalformedProof;
  }
  proof.checkpoint = std::string(rest);
  return proof;
}

Result<OpenedCheckpoint> VerifyTlogProof(std::string_view text, ByteSpan entry,
                                         std::string_view origin, const NoteVerifier& log_key,
                                         std::span<const NoteVerifier> witnesses) {
  HF_ASSIGN_OR_RETURN(const TlogProof proof, ParseTlogProof(text));
  HF_ASSIGN_OR_RETURN(OpenedCheckpoint opened,
                      OpenCheckpoint(proof.checkpoint, origin, log_key, witnesses));
  HF_RETURN_IF_ERROR(VerifyInclusion(HashLeaf(entry), proof.index, opened.checkpoint.size,
                                     proof.proof, opened.checkpoint.root));
  return opened;
}

}  // namespace holdfast::tlog
