// XEdDSA and Ed25519 verification on attacker-chosen key, signature and message:
// input = key (32) || signature (64) || message. Must never crash; a forgery is astronomically
// unlikely, so any success on input that was not produced by the signer seeds is suspicious
// but not asserted (the seed corpus holds genuine signatures).
#include <cstddef>
#include <cstdint>

#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/xeddsa.h"

using holdfast::ByteSpan;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  if (in.size() < 32) {
    return 0;
  }
  const ByteSpan key = in.first(32);
  const ByteSpan rest = in.subspan(32);
  const ByteSpan sig = rest.first(rest.size() < 64 ? rest.size() : 64);
  const ByteSpan msg = rest.subspan(sig.size());
  if (auto x = holdfast::crypto::X25519PublicKey::FromRaw(key); x.ok()) {
    (void)holdfast::crypto::XEdDsaVerify(*x, msg, sig);
  }
  if (auto e = holdfast::crypto::Ed25519PublicKey::FromBytes(key); e.ok()) {
    (void)holdfast::crypto::Ed25519Verify(*e, msg, sig);
  }
  return 0;
}
