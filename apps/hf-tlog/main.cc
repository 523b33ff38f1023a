// hf-tlog: operate a transparency log by hand (development and tests). The server and the
// admin tool will own these steps; the formats are the same.
//
//   hf-tlog keygen --origin NAME --out SKEYFILE        prints the verifier key
//   hf-tlog append --db FILE --key SKEYFILE < LINES   one entry per line; signs a checkpoint
//   hf-tlog publish --db FILE --dir DIR               writes checkpoint, tiles and bundles
//   hf-tlog proof --db FILE --index N                 prints a c2sp.org/tlog-proof
//   hf-tlog info --db FILE                            size and root
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/random.h"
#include "holdfast/tlog/log.h"
#include "holdfast/tlog/proof_file.h"
#include "holdfast/tlog/publish.h"

namespace tlog = holdfast::tlog;

namespace {

constexpr int kError = 2;

int Fail(const std::string& what, const holdfast::Error& e) {
  std::fprintf(stderr, "%s\n", holdfast::ErrorLine(what, e).c_str());
  return kError;
}

holdfast::Result<std::unique_ptr<tlog::Log>> OpenLog(const std::string& db,
                                                     const std::string& origin) {
  HF_ASSIGN_OR_RETURN(auto storage, tlog::OpenSqliteLogStorage(db));
  return tlog::Log::Open(std::move(storage), tlog::LogOptions{origin});
}

holdfast::Result<tlog::NoteSigner> ReadSigner(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  auto signer = tlog::NoteSigner::Parse(text);
  holdfast::SecureWipe({reinterpret_cast<uint8_t*>(text.data()), text.size()});
  return signer;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hf-tlog: append to, publish and prove entries of a transparency log"};
  app.require_subcommand(1);
  std::string origin, out, db, key_file, dir;
  uint64_t index = 0;

  auto* keygen = app.add_subcommand("keygen", "make a log signing key");
  keygen->add_option("--origin", origin, "log origin, also the key name")->required();
  keygen->add_option("--out", out, "file for the private key (mode 0600)")->required();
  auto* append = app.add_subcommand("append", "append stdin's lines as entries, sign a checkpoint");
  append->add_option("--db", db)->required();
  append->add_option("--key", key_file, "private key file from keygen")->required();
  auto* publish = app.add_subcommand("publish", "write the log as static C2SP tiles");
  publish->add_option("--db", db)->required();
  publish->add_option("--dir", dir)->required();
  auto* proof = app.add_subcommand("proof", "print a tlog-proof for one entry");
  proof->add_option("--db", db)->required();
  proof->add_option("--index", index)->required();
  auto* info = app.add_subcommand("info", "print size and root");
  info->add_option("--db", db)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kError;
  }

  if (*keygen) {
    holdfast::crypto::SystemRng rng;
    auto signer = tlog::NoteSigner::Create(origin, tlog::NoteKeyType::kEd25519,
                                           holdfast::crypto::Ed25519PrivateKey::Generate(rng));
    if (!signer.ok()) {
      return Fail("--origin", signer.error());
    }
    const holdfast::SecretBytes skey = signer->ToString();
    const mode_t old = umask(077);
    std::ofstream f(out, std::ios::trunc);
    umask(old);
    f.write(reinterpret_cast<const char*>(skey.data()), static_cast<std::streamsize>(skey.size()));
    f << "\n";
    if (!f.flush()) {
      return Fail("--out", holdfast::Error{holdfast::ErrorCode::kStorageFailure});
    }
    std::cout << signer->Verifier().ToString() << "\n";
    return 0;
  }
  if (*append) {
    auto signer = ReadSigner(key_file);
    if (!signer.ok()) {
      return Fail("--key", signer.error());
    }
    auto log = OpenLog(db, signer->name());
    if (!log.ok()) {
      return Fail("--db", log.error());
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(std::cin, line);) {
      lines.push_back(line);
    }
    std::vector<holdfast::ByteSpan> entries;
    for (const auto& l : lines) {
      entries.push_back(holdfast::AsBytes(l));
    }
    auto first = (*log)->Append(entries, &*signer);
    if (!first.ok()) {
      return Fail("append", first.error());
    }
    std::cout << "appended " << entries.size() << " entries at " << *first << "; size "
              << (*log)->size() << "\n";
    return 0;
  }
  auto log = OpenLog(db, "");
  if (!log.ok()) {
    return Fail("--db", log.error());
  }
  if (*publish) {
    auto size = tlog::PublishTiles(**log, dir);
    if (!size.ok()) {
      return Fail("publish", size.error());
    }
    std::cout << "published size " << *size << " to " << dir << "\n";
    return 0;
  }
  if (*proof) {
    auto note = (*log)->LatestCheckpoint();
    if (!note.ok()) {
      return Fail("no checkpoint", note.error());
    }
    auto parsed = tlog::ParseNote(*note);
    auto cp = parsed.ok() ? tlog::Checkpoint::Parse(parsed->text)
                          : holdfast::Result<tlog::Checkpoint>(parsed.error());
    if (!cp.ok()) {
      return Fail("checkpoint", cp.error());
    }
    auto path = (*log)->Inclusion(index, cp->size);
    if (!path.ok()) {
      return Fail("--index", path.error());
    }
    std::cout << tlog::FormatTlogProof(tlog::TlogProof{std::nullopt, index, *path, *note});
    return 0;
  }
  std::cout << "size " << (*log)->size() << " root " << holdfast::Base64Encode((*log)->root())
            << "\n";
  return 0;
}
