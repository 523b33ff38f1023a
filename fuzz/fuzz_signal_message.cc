// Signal Protocol messages and stored sessions from untrusted bytes: both parsers, the
// session codec, and decryption by an
// established session (a forged message must never decrypt, and must leave the session
// able to read the next genuine message).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/signal/session.h"
#include "holdfast/signal/wire.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

namespace {

struct Keys final : signal::PreKeySource {
  crypto::X25519KeyPair spk;
  explicit Keys(Rng& rng) : spk(crypto::X25519KeyPair::Generate(rng)) {}
  const crypto::X25519KeyPair* SignedPreKey(uint32_t id) const override {
    return id == 1 ? &spk : nullptr;
  }
  const crypto::X25519KeyPair* OneTimePreKey(uint32_t) const override { return nullptr; }
};

struct World {
  DeterministicRng rng{1};
  crypto::X25519KeyPair alice_id = crypto::X25519KeyPair::Generate(rng);
  crypto::X25519KeyPair bob_id = crypto::X25519KeyPair::Generate(rng);
  Keys bob_keys{rng};
  signal::Session alice, bob;

  World() {
    signal::PreKeyBundle b;
    b.registration_id = 2;
    b.signed_pre_key_id = 1;
    b.signed_pre_key = bob_keys.spk.public_key;
    b.signed_pre_key_signature =
        ToBytes(*crypto::XEdDsaSign(bob_id.private_key, b.signed_pre_key.Serialize(), rng));
    b.identity_key = bob_id.public_key;
    if (!alice.ProcessBundle(alice_id, 1, b, rng).ok()) {
      std::abort();
    }
    auto first = alice.Encrypt(AsBytes("hello"));
    if (!first.ok() || !bob.DecryptPreKey(bob_id, 2, bob_keys, first->body, rng).ok()) {
      std::abort();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const ByteSpan in(data, size);
  (void)signal::ParseSignalMessage(in);
  (void)signal::ParsePreKeySignalMessage(in);
  if (world.bob.Decrypt(in, world.rng).ok()) {
    std::abort();  // a forgery (Alice's genuine messages are not in the corpus's reach)
  }
  (void)world.bob.DecryptPreKey(world.bob_id, 2, world.bob_keys, in, world.rng);
  // Stored sessions: anything accepted must serialize back to the same bytes.
  auto stored = signal::Session::Deserialize(in);
  if (stored.ok() && !ConstantTimeEquals(stored->Serialize().span(), in)) {
    std::abort();
  }
  return 0;
}
