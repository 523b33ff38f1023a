// Sender Keys from untrusted bytes: distribution messages, group messages decrypted by a
// member that knows the sender (a forgery must never decrypt, and must leave the member able
// to read the sender's next genuine message), and stored sender-key records of every format
// version.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "holdfast/common/rng.h"
#include "holdfast/signal/group.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

namespace {

struct World {
  DeterministicRng rng{7};
  signal::SenderKey sender = signal::SenderKey::CreateOwn(rng);
  signal::SenderKey member;

  World() {
    auto dist = sender.DistributionMessage();
    if (!dist.ok() || !member.ProcessDistribution(*dist).ok()) {
      std::abort();
    }
  }

  // The member still reads the sender after whatever the fuzzer fed it.
  void CheckStillWorks() {
    static const uint8_t kText[] = {'h', 'i'};
    auto message = sender.Encrypt(ByteSpan(kText, sizeof(kText)), rng);
    auto plaintext = message.ok() ? member.Decrypt(*message) : Result<SecretBytes>(message.error());
    if (!plaintext.ok() || plaintext->size() != sizeof(kText)) {
      std::abort();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const ByteSpan in(data, size);
  if (world.member.Decrypt(in).ok()) {
    std::abort();  // a forgery: the fuzzer cannot sign with the sender's key
  }
  signal::SenderKey fresh;
  (void)fresh.ProcessDistribution(in);
  if (fresh.DistributionMessage().ok()) {
    std::abort();  // a learned key can never send
  }
  // Stored records: anything accepted serializes (in the current format, which may differ
  // from an older input's) to bytes that read back to the same record.
  auto stored = signal::SenderKey::Deserialize(in);
  if (stored.ok()) {
    const SecretBytes once = stored->Serialize();
    auto again = signal::SenderKey::Deserialize(once.span());
    if (!again.ok() || !ConstantTimeEquals(again->Serialize().span(), once.span())) {
      std::abort();
    }
  }
  static unsigned calls = 0;
  if (++calls % 64 == 0) {
    world.CheckStillWorks();
  }
  return 0;
}
