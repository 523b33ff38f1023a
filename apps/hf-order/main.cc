// hf-order: what an authority runs on its side. It makes the authority's keys, signs an
// order in the canonical form Holdfast verifies, and opens the sealed package it receives.
//
//   hf-order keygen --out PREFIX           writes PREFIX.sign.key and PREFIX.box.key (0600,
//                                          never over existing files)
//                                          and prints {"sign_key","box_key"} (public, base64)
//   hf-order sign --key PREFIX.sign.key ORDER.json
//                                          prints {"order":{...},"signature":"..."}
//   hf-order open --box-key PREFIX.box.key --operator-key B64 PACKAGE
//                                          verifies and prints the package
//
// Errors go to stderr with a stable code and exit status 2.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "holdfast/common/encoding.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/legal/disclosure.h"
#include "holdfast/legal/jcs.h"
#include "holdfast/legal/order.h"

namespace crypto = holdfast::crypto;
namespace legal = holdfast::legal;

namespace {

constexpr int kError = 2;

int Fail(const std::string& what, const holdfast::Error& e) {
  std::fprintf(stderr, "%s\n", holdfast::ErrorLine(what, e).c_str());
  return kError;
}

holdfast::Result<std::string> ReadText(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return holdfast::Error{holdfast::ErrorCode::kNotFound, "cannot open the file"};
  }
  std::string text(limit + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > limit) {
    return holdfast::Error{holdfast::ErrorCode::kOversized, "file"};
  }
  return text;
}

// ReadKey reads a base64 private key file into wiping memory.
holdfast::Result<holdfast::SecretBytes> ReadKey(const std::string& path) {
  auto text = ReadText(path, 256);
  if (!text.ok()) {
    return text.error();
  }
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) {
    text->pop_back();
  }
  auto bytes = holdfast::Base64Decode(*text);
  holdfast::SecureWipe({reinterpret_cast<uint8_t*>(text->data()), text->size()});
  if (!bytes.ok()) {
    return bytes.error();
  }
  holdfast::SecretBytes out(bytes->size());
  std::copy(bytes->begin(), bytes->end(), out.data());
  holdfast::SecureWipe(*bytes);
  return out;
}

// WriteKey writes a new private key file (0600). It never replaces an existing one: that
// key may be the one the operator has registered.
bool WriteKey(const std::string& path, holdfast::ByteSpan key) {
  std::string text = holdfast::Base64Encode(key) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  if (ok) {
    ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
         ::fsync(fd) == 0;
    ::close(fd);
  }
  holdfast::SecureWipe({reinterpret_cast<uint8_t*>(text.data()), text.size()});
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hf-order: an authority's keys, signed orders and sealed packages"};
  app.require_subcommand(1);
  auto* keygen = app.add_subcommand("keygen", "make an authority's signing and box keys");
  std::string prefix;
  keygen->add_option("--out", prefix, "file prefix")->required();
  auto* sign = app.add_subcommand("sign", "sign an order object (JSON)");
  std::string key_file, order_file;
  sign->add_option("--key", key_file, "PREFIX.sign.key")->required();
  sign->add_option("order", order_file)->required();
  auto* open = app.add_subcommand("open", "open and verify a sealed package");
  std::string box_file, operator_b64, package_file;
  open->add_option("--box-key", box_file, "PREFIX.box.key")->required();
  open->add_option("--operator-key", operator_b64, "the operator's public key (operator.pub)")
      ->required();
  open->add_option("package", package_file)->required();
  CLI11_PARSE(app, argc, argv);

  if (keygen->parsed()) {
    crypto::SystemRng rng;
    auto s = crypto::Ed25519PrivateKey::Generate(rng);
    auto b = crypto::X25519PrivateKey::Generate(rng);
    if (!WriteKey(prefix + ".sign.key", s.Seed()) ||
        !WriteKey(prefix + ".box.key", b.Serialize())) {
      return Fail(prefix, {holdfast::ErrorCode::kStorageFailure,
                           "cannot create the key files (they must not exist yet)"});
    }
    std::cout << nlohmann::json{{"sign_key", holdfast::Base64Encode(s.PublicKey().bytes())},
                                {"box_key", holdfast::Base64Encode(b.PublicKey().raw())}}
                     .dump()
              << "\n";
    return 0;
  }
  if (sign->parsed()) {
    auto seed = ReadKey(key_file);
    if (!seed.ok()) {
      return Fail(key_file, seed.error());
    }
    auto key = crypto::Ed25519PrivateKey::FromSeed(seed->span());
    if (!key.ok()) {
      return Fail(key_file, key.error());
    }
    auto text = ReadText(order_file, legal::kMaxOrderBytes);
    if (!text.ok()) {
      return Fail(order_file, text.error());
    }
    auto order = legal::ParseStrictJson(*text);
    if (!order.ok()) {
      return Fail(order_file, order.error());
    }
    auto canonical = legal::Canonicalize(*order);
    if (!canonical.ok()) {
      return Fail(order_file, canonical.error());
    }
    const auto sig = key->Sign(holdfast::AsBytes(*canonical));
    std::cout << "{\"order\":" << *canonical << ",\"signature\":\"" << holdfast::Base64Encode(sig)
              << "\"}\n";
    return 0;
  }
  auto scalar = ReadKey(box_file);
  if (!scalar.ok()) {
    return Fail(box_file, scalar.error());
  }
  auto box = crypto::X25519PrivateKey::FromBytes(scalar->span());
  auto op_bytes = holdfast::Base64Decode(operator_b64);
  if (!box.ok() || !op_bytes.ok()) {
    return Fail("keys", {holdfast::ErrorCode::kInvalidKey, "box key or operator key"});
  }
  auto op = crypto::Ed25519PublicKey::FromBytes(*op_bytes);
  if (!op.ok()) {
    return Fail("--operator-key", op.error());
  }
  auto sealed = ReadText(package_file, 64u << 20);
  if (!sealed.ok()) {
    return Fail(package_file, sealed.error());
  }
  auto package = legal::OpenPackage(holdfast::AsBytes(*sealed), *box, *op);
  if (!package.ok()) {
    return Fail(package_file, package.error());
  }
  std::cout << package->dump(2) << "\n";
  return 0;
}
