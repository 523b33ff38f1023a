// Hex and base64 decoders: must never crash, and anything they accept must re-encode to the
// same text (one accepted text per byte string), for every base64 variant.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "holdfast/common/encoding.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto v : {Base64Variant::kStandard, Base64Variant::kStandardRaw, Base64Variant::kUrlSafe,
                 Base64Variant::kUrlSafeRaw}) {
    auto decoded = Base64Decode(text, v);
    if (decoded.ok() && Base64Encode(*decoded, v) != text) {
      std::abort();
    }
  }
  auto hex = HexDecode(text);
  if (hex.ok()) {
    auto again = HexDecode(HexEncode(*hex));
    if (!again.ok() || *again != *hex || HexEncode(*hex).size() != text.size()) {
      std::abort();
    }
  }
  // Round trip of the raw bytes through every encoder.
  const ByteSpan bytes(data, size);
  for (auto v : {Base64Variant::kStandard, Base64Variant::kUrlSafeRaw}) {
    auto back = Base64Decode(Base64Encode(bytes, v), v);
    if (!back.ok() || !std::equal(back->begin(), back->end(), bytes.begin(), bytes.end())) {
      std::abort();
    }
  }
  return 0;
}
