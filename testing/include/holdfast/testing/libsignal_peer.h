// LibsignalPeer: libsignal-protocol-c (the Debian package) as an interop peer for tests and
// benchmarks. Never linked into a shipped binary.
//
// libsignal-protocol-c takes its primitives through crypto provider hooks; the peer's provider
// is OpenSSL used directly, as the library's own OpenSSL test provider does, so it shares no
// code with Holdfast's crypto module (testing/src/libsignal_peer.cc).
#ifndef HOLDFAST_TESTING_LIBSIGNAL_PEER_H_
#define HOLDFAST_TESTING_LIBSIGNAL_PEER_H_

#include <array>
#include <cstdint>

#include "holdfast/common/bytes.h"

struct signal_context;

namespace holdfast::testing {

struct PeerKeyPair {
  std::array<uint8_t, 32> private_key;  // clamped scalar, libsignal's stored form
  std::array<uint8_t, 32> public_key;   // u-coordinate
};

class LibsignalPeer {
 public:
  LibsignalPeer();
  ~LibsignalPeer();
  LibsignalPeer(const LibsignalPeer&) = delete;
  LibsignalPeer& operator=(const LibsignalPeer&) = delete;

  signal_context* context() const { return ctx_; }

  // GenerateKeyPair runs libsignal's curve_generate_key_pair.
  PeerKeyPair GenerateKeyPair();
  // PublicKeyFor derives the public key for a private key with libsignal.
  std::array<uint8_t, 32> PublicKeyFor(const std::array<uint8_t, 32>& private_key);
  // Sign runs curve_calculate_signature; Verify runs curve_verify_signature.
  Bytes Sign(const std::array<uint8_t, 32>& private_key, ByteSpan message);
  bool Verify(const std::array<uint8_t, 32>& public_key, ByteSpan message, ByteSpan signature);

 private:
  signal_context* ctx_ = nullptr;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTING_LIBSIGNAL_PEER_H_
