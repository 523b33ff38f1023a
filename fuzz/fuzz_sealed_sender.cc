// Sealed sender envelopes from untrusted bytes, opened by a fixed recipient. Whatever opens
// must have been sealed by the one sender whose messages are in the seed corpus: the fuzzer
// knows no private key, so it cannot make a MAC under any other identity. Inputs that start
// with 0x00 instead seal their remaining bytes (as certificate and content) and check that
// they open to the same thing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/signal/sealed_sender.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

namespace {

// The seed corpus was sealed from `sender` to `recipient`: keep these seeds and this order.
struct World {
  DeterministicRng rng{11};
  crypto::X25519KeyPair recipient = crypto::X25519KeyPair::Generate(rng);
  crypto::X25519KeyPair sender = crypto::X25519KeyPair::Generate(rng);
};

void RoundTrip(World& world, ByteSpan in) {
  const size_t split = in.size() / 2;
  const signal::SealedContent content{signal::SealedContentType::kSenderKey,
                                      ToBytes(in.first(split)), ToBytes(in.subspan(split))};
  auto sealed = signal::SealSender(world.sender, world.recipient.public_key, content, world.rng);
  if (!sealed.ok()) {
    std::abort();
  }
  auto opened = signal::UnsealSender(world.recipient, *sealed);
  if (!opened.ok() || opened->sender_identity != world.sender.public_key ||
      opened->content.type != content.type ||
      opened->content.sender_certificate != content.sender_certificate ||
      opened->content.content != content.content) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const ByteSpan in(data, size);
  if (!in.empty() && in[0] == 0x00) {
    RoundTrip(world, in.subspan(1));
    return 0;
  }
  auto opened = signal::UnsealSender(world.recipient, in);
  if (opened.ok() && opened->sender_identity != world.sender.public_key) {
    std::abort();  // a forgery
  }
  return 0;
}
