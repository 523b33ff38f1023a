// Drives ByteReader with a script taken from the input: each byte picks the next read, the
// rest is read. Checks that reads never overrun and that accepted varints are canonical.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "holdfast/common/bytes.h"

using holdfast::ByteReader;
using holdfast::ByteSpan;
using holdfast::ByteWriter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(ByteSpan(data, size));
  while (!r.empty()) {
    const size_t before = r.remaining();
    const uint8_t op = *r.ReadU8();
    const ByteSpan rest = r.Rest();
    bool ok = true;
    switch (op % 10) {
      case 0:
        ok = r.ReadU16Be().ok();
        break;
      case 1:
        ok = r.ReadU32Be().ok();
        break;
      case 2:
        ok = r.ReadU64Be().ok();
        break;
      case 3:
        ok = r.ReadU64Le().ok();
        break;
      case 4: {
        auto v = r.ReadVarint();
        ok = v.ok();
        if (ok) {
          // The only accepted encoding of a value is the one the writer produces.
          ByteWriter w;
          w.WriteVarint(*v);
          const size_t used = rest.size() - r.remaining();
          if (w.size() != used || !std::equal(w.view().begin(), w.view().end(), rest.begin())) {
            std::abort();
          }
        }
        break;
      }
      case 5:
        ok = r.ReadPrefixed8().ok();
        break;
      case 6:
        ok = r.ReadPrefixed16().ok();
        break;
      case 7:
        ok = r.ReadPrefixed32().ok();
        break;
      case 8:
        ok = r.ReadBytes(op / 10).ok();
        break;
      default:
        ok = r.Skip(op / 10).ok();
        break;
    }
    // A failed read consumes nothing beyond the op byte.
    if (!ok && r.remaining() != before - 1) {
      std::abort();
    }
    if (!ok) {
      break;
    }
  }
  return 0;
}
