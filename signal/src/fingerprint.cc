#include "holdfast/signal/fingerprint.h"

#include <cstdio>

#include "holdfast/crypto/hash.h"
#include "proto/signal_wire.pb.h"

namespace holdfast::signal {
namespace {

constexpr size_t kScannableBytes = 32;

crypto::Sha512Digest IteratedHash(std::string_view id, const crypto::X25519PublicKey& key,
                                  int iterations) {
  const auto k = key.Serialize();
  Bytes first = {0x00, 0x00};
  first.insert(first.end(), k.begin(), k.end());
  first.insert(first.end(), id.begin(), id.end());
  crypto::Sha512Hasher h;
  crypto::Sha512Digest digest{};
  for (int i = 0; i < iterations; ++i) {
    if (i == 0) {
      h.Update(first);
    } else {
      h.Update(digest);
    }
    digest = h.Update(k).Finish();
  }
  return digest;
}

std::string Digits(const crypto::Sha512Digest& hash) {
  std::string out;
  for (size_t i = 0; i < 30; i += 5) {
    uint64_t chunk = 0;
    for (size_t j = 0; j < 5; ++j) {
      chunk = (chunk << 8) | hash[i + j];
    }
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%05u", static_cast<unsigned>(chunk % 100000));
    out += buf;
  }
  return out;
}

}  // namespace

SafetyNumber ComputeSafetyNumber(uint32_t scannable_version, std::string_view local_id,
                                 const crypto::X25519PublicKey& local_key,
                                 std::string_view remote_id,
                                 const crypto::X25519PublicKey& remote_key, int iterations) {
  const auto local_hash = IteratedHash(local_id, local_key, iterations);
  const auto remote_hash = IteratedHash(remote_id, remote_key, iterations);
  SafetyNumber out;
  out.local = Digits(local_hash);
  out.remote = Digits(remote_hash);
  out.displayable = out.local <= out.remote ? out.local + out.remote : out.remote + out.local;
  wire::CombinedFingerprints pb;
  pb.set_version(scannable_version);
  pb.mutable_local_fingerprint()->set_content(
      std::string(local_hash.begin(), local_hash.begin() + kScannableBytes));
  pb.mutable_remote_fingerprint()->set_content(
      std::string(remote_hash.begin(), remote_hash.begin() + kScannableBytes));
  const std::string bytes = pb.SerializeAsString();
  out.scannable = Bytes(bytes.begin(), bytes.end());
  return out;
}

}  // namespace holdfast::signal
