// Strict I-JSON parsing and RFC 8785 canonicalization from untrusted bytes. Whatever parses
// must canonicalize; the canonical text must parse strictly again and canonicalize to the same
// bytes (idempotence), and IsCanonical must agree with that comparison.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "holdfast/legal/jcs.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = legal::ParseStrictJson(text);
  const bool canonical_input = legal::IsCanonical(text);
  if (!parsed.ok()) {
    if (canonical_input) {
      std::abort();
    }
    return 0;
  }
  auto canonical = legal::Canonicalize(*parsed);
  if (!canonical.ok()) {
    std::abort();
  }
  // Canonical text can be longer than its input ("1e20" becomes 21 digits), so the size
  // limit is lifted to its own length.
  auto reparsed = legal::ParseStrictJson(*canonical, canonical->size());
  if (!reparsed.ok()) {
    std::abort();
  }
  auto again = legal::Canonicalize(*reparsed);
  if (!again.ok() || *again != *canonical) {
    std::abort();
  }
  if (canonical_input != (text == *canonical)) {
    std::abort();
  }
  return 0;
}
