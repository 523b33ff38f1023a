// hf-crypto: command-line access to Holdfast's crypto layer, and the demo that `make run`
// shows until the server and client exist.
//
//   hf-crypto keygen [--type x25519|ed25519]           {"type","private","public"}
//   hf-crypto sign --private B64 [--type ...] < MESSAGE {"signature"}
//   hf-crypto verify --public B64 --signature B64 [--type ...] < MESSAGE  {"valid":true}
//   hf-crypto demo                                       a walk through the primitives
//
// Keys and signatures are standard base64. X25519 public keys use Signal's 33-byte form.
// Exit status: 0 success, 1 a signature did not verify, 2 bad input (with
// "error: <name> (<code>): <message>" on stderr).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"

namespace hf = holdfast;
namespace crypto = holdfast::crypto;
using nlohmann::json;

namespace {

constexpr int kExitInvalid = 1;
constexpr int kExitError = 2;

int Fail(const hf::Error& e, const char* what) {
  std::fprintf(stderr, "%s\n", hf::ErrorLine(what, e).c_str());
  return kExitError;
}

hf::Bytes ReadStdin() {
  std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return hf::ToBytes(hf::AsBytes(s));
}

std::string B64(hf::ByteSpan b) { return hf::Base64Encode(b); }

int Keygen(const std::string& type) {
  crypto::SystemRng rng;
  json out{{"type", type}};
  if (type == "x25519") {
    auto pair = crypto::X25519KeyPair::Generate(rng);
    out["private"] = B64(pair.private_key.Serialize());
    out["public"] = B64(pair.public_key.Serialize());
  } else {
    auto key = crypto::Ed25519PrivateKey::Generate(rng);
    out["private"] = B64(key.Seed());
    out["public"] = B64(key.PublicKey().bytes());
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int Sign(const std::string& type, const std::string& private_b64) {
  auto raw = hf::Base64Decode(private_b64);
  if (!raw.ok()) {
    return Fail(raw.error(), "--private");
  }
  const hf::SecretBytes secret = hf::SecretBytes::Copy(*raw);
  hf::SecureWipe(*raw);
  const hf::Bytes message = ReadStdin();
  crypto::SystemRng rng;
  json out;
  if (type == "x25519") {
    auto key = crypto::X25519PrivateKey::FromBytes(secret.span());
    if (!key.ok()) {
      return Fail(key.error(), "--private");
    }
    auto sig = crypto::XEdDsaSign(*key, message, rng);
    if (!sig.ok()) {
      return Fail(sig.error(), "sign");
    }
    out["signature"] = B64(*sig);
  } else {
    auto key = crypto::Ed25519PrivateKey::FromSeed(secret.span());
    if (!key.ok()) {
      return Fail(key.error(), "--private");
    }
    out["signature"] = B64(key->Sign(message));
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int Verify(const std::string& type, const std::string& public_b64, const std::string& sig_b64) {
  auto raw = hf::Base64Decode(public_b64);
  if (!raw.ok()) {
    return Fail(raw.error(), "--public");
  }
  auto sig = hf::Base64Decode(sig_b64);
  if (!sig.ok()) {
    return Fail(sig.error(), "--signature");
  }
  const hf::Bytes message = ReadStdin();
  hf::Result<void> verdict = hf::Ok();
  if (type == "x25519") {
    auto key = crypto::X25519PublicKey::Parse(*raw);
    if (!key.ok()) {
      return Fail(key.error(), "--public");
    }
    verdict = crypto::XEdDsaVerify(*key, message, *sig);
  } else {
    auto key = crypto::Ed25519PublicKey::FromBytes(*raw);
    if (!key.ok()) {
      return Fail(key.error(), "--public");
    }
    verdict = crypto::Ed25519Verify(*key, message, *sig);
  }
  std::cout << json{{"valid", verdict.ok()}}.dump() << "\n";
  return verdict.ok() ? 0 : kExitInvalid;
}

// Demo shows the building blocks that the Signal Protocol module will combine: identity keys
// with XEdDSA-signed prekeys, X25519 agreement, HKDF, and authenticated encryption, including
// what happens to a forged signature and a tampered ciphertext.
int Demo() {
  crypto::SystemRng rng;
  auto step = [](const char* what, const std::string& detail) {
    std::cout << "  " << what << (detail.empty() ? "" : ": ") << detail << "\n";
  };
  std::cout << "Holdfast crypto layer demo (libsodium + OpenSSL 3)\n\n";

  std::cout << "1. Bob publishes an identity key and a signed prekey\n";
  const auto bob_identity = crypto::X25519KeyPair::Generate(rng);
  const auto bob_prekey = crypto::X25519KeyPair::Generate(rng);
  const auto prekey_bytes = bob_prekey.public_key.Serialize();
  auto prekey_sig = crypto::XEdDsaSign(bob_identity.private_key, prekey_bytes, rng);
  if (!prekey_sig.ok()) {
    return Fail(prekey_sig.error(), "sign prekey");
  }
  step("identity key", B64(bob_identity.public_key.Serialize()));
  step("signed prekey", B64(prekey_bytes));
  step("XEdDSA signature", B64(*prekey_sig));

  std::cout << "\n2. Alice checks the prekey signature before trusting it\n";
  const auto good = crypto::XEdDsaVerify(bob_identity.public_key, prekey_bytes, *prekey_sig);
  step("genuine signature", good.ok() ? "valid" : "INVALID");
  auto forged = *prekey_sig;
  forged[10] ^= 0x01;
  const auto bad = crypto::XEdDsaVerify(bob_identity.public_key, prekey_bytes, forged);
  step("one bit flipped", bad.ok() ? "ACCEPTED (bug!)" : std::string(hf::ErrorName(bad.code())));
  if (!good.ok() || bad.ok()) {
    return kExitInvalid;
  }

  std::cout << "\n3. Both sides agree on a secret with X25519 and derive keys with HKDF\n";
  const auto alice_ephemeral = crypto::X25519KeyPair::Generate(rng);
  auto alice_shared = crypto::X25519Agree(alice_ephemeral.private_key, bob_prekey.public_key);
  auto bob_shared = crypto::X25519Agree(bob_prekey.private_key, alice_ephemeral.public_key);
  if (!alice_shared.ok() || !bob_shared.ok()) {
    return Fail(hf::Error{hf::ErrorCode::kWeakKey}, "agree");
  }
  step("shared secrets equal", alice_shared->Equals(*bob_shared) ? "yes" : "NO");
  hf::Secret<crypto::kAeadKeyBytes> alice_key, bob_key;
  const auto info = hf::AsBytes("Holdfast demo");
  if (!crypto::HkdfSha256(alice_shared->span(), {}, info, alice_key.mutable_span()).ok() ||
      !crypto::HkdfSha256(bob_shared->span(), {}, info, bob_key.mutable_span()).ok()) {
    return Fail(hf::Error{hf::ErrorCode::kCryptoFailure}, "hkdf");
  }

  std::cout << "\n4. Alice encrypts; Bob decrypts; a tampered copy is refused\n";
  hf::Bytes nonce(crypto::AeadNonceBytes(crypto::AeadAlgorithm::kXChaCha20Poly1305));
  rng.Fill(nonce);
  const auto text = hf::AsBytes("Meet at the harbour at noon.");
  auto sealed = crypto::AeadSeal(crypto::AeadAlgorithm::kXChaCha20Poly1305, alice_key.span(), nonce,
                                 {}, text);
  if (!sealed.ok()) {
    return Fail(sealed.error(), "seal");
  }
  step("ciphertext", B64(*sealed));
  auto opened = crypto::AeadOpen(crypto::AeadAlgorithm::kXChaCha20Poly1305, bob_key.span(), nonce,
                                 {}, *sealed);
  if (!opened.ok()) {
    return Fail(opened.error(), "open");
  }
  step("Bob reads", std::string(opened->span().begin(), opened->span().end()));
  (*sealed)[0] ^= 0x80;
  auto tampered = crypto::AeadOpen(crypto::AeadAlgorithm::kXChaCha20Poly1305, bob_key.span(), nonce,
                                   {}, *sealed);
  step("tampered copy",
       tampered.ok() ? "ACCEPTED (bug!)" : std::string(hf::ErrorName(tampered.code())));
  if (tampered.ok()) {
    return kExitInvalid;
  }
  std::cout << "\nAll checks passed.\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Holdfast crypto tool: keys, XEdDSA/Ed25519 signatures, and a demo"};
  app.require_subcommand(1);
  std::string type = "x25519", private_b64, public_b64, sig_b64;
  const auto types = CLI::IsMember({"x25519", "ed25519"});

  auto* keygen = app.add_subcommand("keygen", "generate a key pair");
  keygen->add_option("--type", type, "x25519 (XEdDSA) or ed25519")->check(types);
  auto* sign = app.add_subcommand("sign", "sign stdin");
  sign->add_option("--type", type)->check(types);
  sign->add_option("--private", private_b64, "private key, base64")->required();
  auto* verify = app.add_subcommand("verify", "verify a signature over stdin");
  verify->add_option("--type", type)->check(types);
  verify->add_option("--public", public_b64, "public key, base64")->required();
  verify->add_option("--signature", sig_b64, "signature, base64")->required();
  auto* demo = app.add_subcommand("demo", "walk through the crypto layer");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitError;
  }
  if (*keygen) {
    return Keygen(type);
  }
  if (*sign) {
    return Sign(type, private_b64);
  }
  if (*verify) {
    return Verify(type, public_b64, sig_b64);
  }
  if (*demo) {
    return Demo();
  }
  return kExitError;
}
