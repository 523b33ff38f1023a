// hf-load's envelope content (tools/hf-load/content.h) from untrusted bytes: the server pushes
// whatever a device sent. Parsing never reads past the input, and an accepted header made
// again gives the same first kContentHeaderBytes bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "content.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto header = load::ParseContent(ByteSpan(data, size));
  if (!header.ok()) {
    return 0;
  }
  if (size < load::kContentHeaderBytes) {
    std::abort();
  }
  DeterministicRng rng(1);
  const std::string again = load::MakeContent(*header, 0, rng);
  if (again.size() != load::kContentHeaderBytes ||
      std::memcmp(again.data(), data, load::kContentHeaderBytes) != 0) {
    std::abort();
  }
  return 0;
}
