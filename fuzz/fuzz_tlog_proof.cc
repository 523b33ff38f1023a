// tlog-proof files and entry bundles from untrusted bytes. Accepted proofs must format back
// to the same text, and accepted bundles must serialize back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "holdfast/tlog/log.h"
#include "holdfast/tlog/proof_file.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto proof = tlog::ParseTlogProof(text);
  if (proof.ok()) {
    // Base64 is canonical and numbers have no leading zeros, so formatting is exact.
    if (tlog::FormatTlogProof(*proof) != text) {
      std::abort();
    }
  }
  auto bundle = tlog::ParseBundle(ByteSpan(data, size));
  if (bundle.ok()) {
    const Bytes again = tlog::SerializeBundle(*bundle);
    if (!std::equal(again.begin(), again.end(), data, data + size)) {
      std::abort();
    }
  }
  return 0;
}
