// The client's plaintext layer from untrusted bytes: what a Signal or Sender Key message
// decrypted to (padding, then a Content protobuf), and the sender certificate inside a sealed
// envelope.
//
// Every input is unpadded and, when that succeeds, parsed as a Content: a parse must
// serialize back to bytes that parse to the same serialization, and padding the input must
// unpad to it. Then the input is a sender certificate check against a fixed server key:
//   00 || certificate           the harness signs the certificate with the server key (the
//                               fuzzer knows no signing key), so the checks after the
//                               signature are reached;
//   n || certificate || sig     n (1..255) is the length of the signature at the end.
// A certificate that passes must say what the checks promise.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "content.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/wire/frame.h"
#include "proto/holdfast_content.pb.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

namespace {

// The seed corpus was made with these keys and this clock: keep them.
constexpr uint8_t kServerSeedByte = 0x11;      // Ed25519 seed: 32 bytes of it
constexpr uint8_t kIdentityScalarByte = 0x22;  // X25519 private key: 32 bytes of it
constexpr uint32_t kServerKeyId = 7;
constexpr int64_t kNowMs = 1700000000000;
constexpr uint8_t kSignHere = 0x00;

struct World {
  crypto::Ed25519PrivateKey server =
      crypto::Ed25519PrivateKey::FromSeed(Bytes(32, kServerSeedByte)).value();
  crypto::Ed25519PublicKey server_public = server.PublicKey();
  crypto::X25519PublicKey identity =
      crypto::X25519PrivateKey::FromBytes(Bytes(32, kIdentityScalarByte)).value().PublicKey();
};

void CheckContent(ByteSpan in) {
  auto unpadded = client::Unpad(in);
  if (unpadded.ok() && unpadded->size() <= client::kMaxContentBytes) {
    client::pb::Content content;
    if (content.ParseFromArray(unpadded->data(), static_cast<int>(unpadded->size()))) {
      const std::string once = content.SerializeAsString();
      client::pb::Content again;
      if (!again.ParseFromString(once) || again.SerializeAsString() != once) {
        std::abort();
      }
    }
  }
  auto round_trip = client::Unpad(client::Pad(in).span());
  if (!round_trip.ok() || round_trip->size() != in.size() ||
      !std::equal(in.begin(), in.end(), round_trip->data())) {
    std::abort();
  }
}

void CheckCertificate(const World& world, ByteSpan certificate, ByteSpan signature) {
  auto sender = client::CheckSenderCertificate(certificate, signature, world.server_public,
                                               kServerKeyId, kNowMs, world.identity);
  if (!sender.ok()) {
    if (sender.code() != ErrorCode::kAuthenticationFailed &&
        sender.code() != ErrorCode::kMalformed) {
      std::abort();  // the documented failures only
    }
    return;
  }
  if (sender->account_id.size() != wire::kAccountIdBytes || sender->device_id == 0 ||
      sender->expires_ms < kNowMs || !(sender->identity_key == world.identity)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const World world;
  const ByteSpan in(data, size);
  CheckContent(in);
  if (in.empty()) {
    return 0;
  }
  const ByteSpan rest = in.subspan(1);
  if (in[0] == kSignHere) {
    const crypto::Ed25519Signature sig = world.server.Sign(rest);
    CheckCertificate(world, rest, sig);
    return 0;
  }
  const size_t sig_bytes = std::min<size_t>(in[0], rest.size());
  CheckCertificate(world, rest.first(rest.size() - sig_bytes), rest.last(sig_bytes));
  return 0;
}
