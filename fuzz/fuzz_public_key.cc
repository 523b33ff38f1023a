// Public key parsers: X25519 in Signal's 33-byte form and raw Ed25519. Accepted keys must
// serialize back to the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/x25519.h"

using holdfast::ByteSpan;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  auto key = holdfast::crypto::X25519PublicKey::Parse(in);
  if (key.ok()) {
    const auto out = key->Serialize();
    if (!std::equal(out.begin(), out.end(), in.begin(), in.end())) {
      std::abort();
    }
  }
  auto ed = holdfast::crypto::Ed25519PublicKey::FromBytes(in);
  if (ed.ok() && !std::equal(ed->bytes().begin(), ed->bytes().end(), in.begin(), in.end())) {
    std::abort();
  }
  return 0;
}
