// Safety numbers: libsignal's numeric fingerprints, displayable (60 digits) and scannable.
//
//   hash_0     = 0x0000 || identity_key[33] || stable_identifier
//   hash_{i+1} = SHA-512(hash_i || identity_key[33])           for i < iterations (5200)
//   digits     = 6 groups of 5 bytes of hash, each as a big-endian integer mod 100000
//   displayable = the two 30-digit halves, smaller first
//   scannable  = protobuf CombinedFingerprints { version, local: first 32 bytes of the local
//                hash, remote: the same for the remote }
#ifndef HOLDFAST_SIGNAL_FINGERPRINT_H_
#define HOLDFAST_SIGNAL_FINGERPRINT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::signal {

inline constexpr int kFingerprintIterations = 5200;

struct SafetyNumber {
  std::string displayable;  // 60 digits
  std::string local;        // our 30 digits
  std::string remote;       // theirs
  Bytes scannable;          // for a QR code
};

// ComputeSafetyNumber derives the safety number two users compare. `scannable_version` is
// written into the scannable form (1 or 2).
SafetyNumber ComputeSafetyNumber(uint32_t scannable_version, std::string_view local_id,
                                 const crypto::X25519PublicKey& local_key,
                                 std::string_view remote_id,
                                 const crypto::X25519PublicKey& remote_key,
                                 int iterations = kFingerprintIterations);

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_FINGERPRINT_H_
