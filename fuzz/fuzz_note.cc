// Signed notes, checkpoints and verifier keys from untrusted bytes. Accepted checkpoints must
// render back to the same text and keys must round-trip; OpenNote with a fixed trusted key must
// never accept a note the fuzzer made (it cannot sign).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/note.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const tlog::NoteVerifier kKey =
      tlog::NoteVerifier::Parse(
          "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
          .value();
  (void)tlog::ParseNote(text);
  const tlog::NoteVerifier keys[] = {kKey};
  auto opened = tlog::OpenNote(text, keys);
  // The only genuine PeterNeumann notes are the seeds; the fuzzer cannot make new ones, but it
  // may replay a seed unchanged or add unknown signatures to it.
  if (opened.ok() && opened->text.find("If you think cryptography") != 0) {
    std::abort();
  }
  auto checkpoint = tlog::Checkpoint::Parse(text);
  if (checkpoint.ok() && checkpoint->ToText() != text) {
    std::abort();
  }
  // Keys may spell their ID in upper-case hex (as Go accepts); the rendered form must parse
  // back to the same key.
  auto key = tlog::NoteVerifier::Parse(text);
  if (key.ok()) {
    auto again = tlog::NoteVerifier::Parse(key->ToString());
    if (!again.ok() || again->ToString() != key->ToString() || again->key_id() != key->key_id()) {
      std::abort();
    }
  }
  (void)tlog::NoteSigner::Parse(text);
  return 0;
}
