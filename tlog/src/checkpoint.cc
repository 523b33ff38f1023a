#include "holdfast/tlog/checkpoint.h"

#include <algorithm>

#include "holdfast/common/encoding.h"

namespace holdfast::tlog {
std::string Checkpoint::ToText() const {
  std::string out = origin + "\n" + std::to_string(size) + "\n" + Base64Encode(root) + "\n";
  for (const auto& ext : extensions) {
    out += ext + "\n";
  }
  return out;
}

Result<Checkpoint> Checkpoint::Parse(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return Error{ErrorCode::kMalformed, "checkpoint must end in a newline"};
  }
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) {
    return Error{ErrorCode::kMalformed, "checkpoint needs origin, size and root"};
  }
  Checkpoint c;
  if (lines[0].empty()) {
    return Error{ErrorCode::kMalformed, "empty origin"};
  }
  c.origin = std::string(lines[0]);
  auto size = ParseDecimal(lines[1]);
  if (!size.ok()) {
    return Error{ErrorCode::kMalformed, "checkpoint size"};
  }
  c.size = *size;
  auto root = Base64Decode(lines[2]);
  if (!root.ok() || root->size() != kHashBytes) {
    return Error{ErrorCode::kMalformed, "checkpoint root"};
  }
  std::copy(root->begin(), root->end(), c.root.begin());
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return Error{ErrorCode::kMalformed, "empty extension line"};
    }
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

Result<std::string> SignCheckpoint(const Checkpoint& checkpoint, const NoteSigner& log_key) {
  if (!IsValidKeyName(checkpoint.origin)) {
    return Error{ErrorCode::kInvalidArgument, "origin must be a valid key name"};
  }
  const NoteSigner* signers[] = {&log_key};
  return SignNote(checkpoint.ToText(), signers);
}

Result<OpenedCheckpoint> OpenCheckpoint(std::string_view message, std::string_view origin,
                                        const NoteVerifier& log_key,
                                        std::span<const NoteVerifier> witnesses) {
  std::vector<NoteVerifier> trusted;
  trusted.reserve(witnesses.size() + 1);
  trusted.push_back(log_key);
  trusted.insert(trusted.end(), witnesses.begin(), witnesses.end());
  HF_ASSIGN_OR_RETURN(VerifiedNote note, OpenNote(message, trusted));
  const bool log_signed =
      std::any_of(note.verified.begin(), note.verified.end(), [&](const NoteSignature& s) {
        return s.name == log_key.name() && s.key_id == log_key.key_id();
      });
  if (!log_signed) {
    return Error{ErrorCode::kAuthenticationFailed, "no signature by the log's key"};
  }
  HF_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::Parse(note.text));
  if (checkpoint.origin != origin) {
    return Error{ErrorCode::kAuthenticationFailed, "origin mismatch"};
  }
  return OpenedCheckpoint{std::move(checkpoint), std::move(note)};
}

}  // namespace holdfast::tlog
