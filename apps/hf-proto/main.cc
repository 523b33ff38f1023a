// hf-proto: the Signal Protocol from the command line, for interop checks and debugging.
// JSON on stdout, standard padded base64 for bytes, state in --store DIR (SQLite). Errors
// go to stderr as "error: <name> (<code>): <message>" with exit status 2; a failed command
// leaves the store exactly as it was. Commands: init, bundle, encrypt, decrypt,
// fingerprint, group-create, group-process, group-encrypt, group-decrypt (see README).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/random.h"
#include "holdfast/signal/fingerprint.h"
#include "holdfast/signal/messenger.h"

namespace hf = holdfast;
namespace signal = holdfast::signal;
using nlohmann::json;

namespace {

constexpr int kError = 2;

int Fail(const hf::Error& e, const std::string& what) {
  std::fprintf(stderr, "%s\n", hf::ErrorLine(what, e).c_str());
  return kError;
}

std::string ReadAll(std::istream& in) {
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string B64(hf::ByteSpan b) { return hf::Base64Encode(b); }

hf::Result<hf::Bytes> FromB64(const json& j, const char* field) {
  if (!j.is_object() || !j.contains(field) || !j[field].is_string()) {
    return hf::Error{hf::ErrorCode::kMalformed, "missing JSON field"};
  }
  return hf::Base64Decode(j[field].get<std::string>());
}

hf::Result<json> ParseJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return hf::Error{hf::ErrorCode::kMalformed, "input is not JSON"};
  }
  return j;
}

hf::Result<hf::crypto::X25519PublicKey> KeyFrom(const json& j, const char* field) {
  HF_ASSIGN_OR_RETURN(const hf::Bytes b, FromB64(j, field));
  return hf::crypto::X25519PublicKey::Parse(b);
}

hf::Result<signal::PreKeyBundle> BundleFrom(const json& j) {
  signal::PreKeyBundle b;
  try {
    b.registration_id = j.at("registrationId").get<uint32_t>();
    b.device_id = j.value("deviceId", 1u);
    b.signed_pre_key_id = j.at("signedPreKeyId").get<uint32_t>();
    if (j.contains("preKeyId") && !j["preKeyId"].is_null()) {
      b.pre_key_id = j["preKeyId"].get<uint32_t>();
    }
  } catch (const json::exception&) {
    return hf::Error{hf::ErrorCode::kMalformed, "bundle fields"};
  }
  HF_ASSIGN_OR_RETURN(b.identity_key, KeyFrom(j, "identityKey"));
  HF_ASSIGN_OR_RETURN(b.signed_pre_key, KeyFrom(j, "signedPreKey"));
  HF_ASSIGN_OR_RETURN(b.signed_pre_key_signature, FromB64(j, "signedPreKeySignature"));
  if (b.pre_key_id) {
    HF_ASSIGN_OR_RETURN(b.pre_key, KeyFrom(j, "preKey"));
  }
  return b;
}

json BundleJson(const signal::PreKeyBundle& b) {
  json j{{"registrationId", b.registration_id},
         {"deviceId", b.device_id},
         {"identityKey", B64(b.identity_key.Serialize())},
         {"signedPreKeyId", b.signed_pre_key_id},
         {"signedPreKey", B64(b.signed_pre_key.Serialize())},
         {"signedPreKeySignature", B64(b.signed_pre_key_signature)}};
  if (b.pre_key_id) {
    j["preKeyId"] = *b.pre_key_id;
    j["preKey"] = B64(b.pre_key->Serialize());
  }
  return j;
}

void WriteRaw(hf::ByteSpan b) {
  std::fwrite(b.data(), 1, b.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hf-proto: the Signal Protocol from the command line"};
  app.require_subcommand(1);
  std::string dir, peer, bundle_file, local_id, remote_id, group, self, sender;
  uint32_t registration_id = 0, prekeys = signal::kPreKeyBatch, version = 2;

  auto store_opt = [&](CLI::App* c) {
    c->add_option("--store", dir, "state directory")->required();
  };
  auto* init = app.add_subcommand("init", "create an identity, signed prekey and prekeys");
  store_opt(init);
  init->add_option("--registration-id", registration_id);
  init->add_option("--prekeys", prekeys);
  auto* bundle = app.add_subcommand("bundle", "print a prekey bundle");
  store_opt(bundle);
  auto* encrypt = app.add_subcommand("encrypt", "encrypt stdin for a peer");
  store_opt(encrypt);
  encrypt->add_option("--peer", peer)->required();
  encrypt->add_option("--bundle", bundle_file, "start a new session from this bundle (JSON)");
  auto* decrypt = app.add_subcommand("decrypt", "decrypt a message (JSON on stdin)");
  store_opt(decrypt);
  decrypt->add_option("--peer", peer)->required();
  auto* fingerprint = app.add_subcommand("fingerprint", "print the safety number");
  store_opt(fingerprint);
  fingerprint->add_option("--peer", peer)->required();
  fingerprint->add_option("--local-id", local_id)->required();
  fingerprint->add_option("--remote-id", remote_id)->required();
  fingerprint->add_option("--version", version)->check(CLI::IsMember({1, 2}));
  auto* gcreate = app.add_subcommand("group-create", "make our sender key for a group");
  auto* gprocess = app.add_subcommand("group-process", "learn a member's sender key");
  auto* gencrypt = app.add_subcommand("group-encrypt", "encrypt stdin for a group");
  auto* gdecrypt = app.add_subcommand("group-decrypt", "decrypt a group message");
  for (auto* c : {gcreate, gprocess, gencrypt, gdecrypt}) {
    store_opt(c);
    c->add_option("--group", group)->required();
    c->add_option("--self", self);
  }
  gprocess->add_option("--sender", sender)->required();
  gdecrypt->add_option("--sender", sender)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kError;
  }
  if ((*gcreate || *gencrypt) && self.empty()) {
    return Fail(hf::Error{hf::ErrorCode::kInvalidArgument}, "--self is required");
  }

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto store =
      signal::OpenSqliteProtocolStore((std::filesystem::path(dir) / "protocol.db").string());
  if (!store.ok()) {
    return Fail(store.error(), "--store");
  }
  signal::ProtocolStore& s = **store;
  hf::crypto::SystemRng rng;

  if (*init) {
    if (registration_id == 0) {
      registration_id = 1 + static_cast<uint32_t>(rng.Uniform(16380));
    }
    auto r = signal::InitLocal(s, rng, registration_id, prekeys);
    if (!r.ok()) {
      return Fail(r.error(), "init");
    }
    const auto local = s.GetLocalIdentity();
    std::cout << json{{"registrationId", registration_id},
                      {"identityKey", B64(local->identity.public_key.Serialize())}}
                     .dump()
              << "\n";
    return 0;
  }
  if (*bundle) {
    auto b = signal::NextBundle(s, rng);
    if (!b.ok()) {
      return Fail(b.error(), "bundle");
    }
    std::cout << BundleJson(*b).dump() << "\n";
    return 0;
  }
  if (*encrypt) {
    const std::string plaintext = ReadAll(std::cin);
    if (auto b = s.Begin(); !b.ok()) {
      return Fail(b.error(), "store");
    }
    if (!bundle_file.empty()) {
      std::ifstream f(bundle_file);
      auto j = ParseJson(ReadAll(f));
      auto b = j.ok() ? BundleFrom(*j) : hf::Result<signal::PreKeyBundle>(j.error());
      auto started = b.ok() ? signal::StartSession(s, peer, *b, rng) : hf::Result<void>(b.error());
      if (!started.ok()) {
        s.Rollback();
        return Fail(started.error(), "--bundle");
      }
    }
    auto c = signal::EncryptTo(s, peer, hf::AsBytes(plaintext));
    if (!c.ok()) {
      s.Rollback();
      return Fail(c.error(), "encrypt");
    }
    if (auto done = s.Commit(); !done.ok()) {
      return Fail(done.error(), "store");
    }
    std::cout << json{{"type", c->type == signal::MessageType::kPreKey ? "prekey" : "message"},
                      {"body", B64(c->body)}}
                     .dump()
              << "\n";
    return 0;
  }
  if (*decrypt) {
    auto j = ParseJson(ReadAll(std::cin));
    if (!j.ok()) {
      return Fail(j.error(), "stdin");
    }
    auto body = FromB64(*j, "body");
    const std::string type = j->value("type", "");
    if (!body.ok() || (type != "prekey" && type != "message")) {
      return Fail(hf::Error{hf::ErrorCode::kMalformed, "need {type, body}"}, "stdin");
    }
    const signal::Ciphertext c{
        type == "prekey" ? signal::MessageType::kPreKey : signal::MessageType::kMessage, *body};
    auto plaintext = signal::DecryptFrom(s, peer, c, rng);
    if (!plaintext.ok()) {
      return Fail(plaintext.error(), "decrypt");
    }
    WriteRaw(plaintext->span());
    return 0;
  }
  if (*fingerprint) {
    auto local = s.GetLocalIdentity();
    auto remote = s.GetRemoteIdentity(peer);
    if (!local.ok()) {
      return Fail(local.error(), "no identity");
    }
    if (!remote.ok() || !*remote) {
      return Fail(hf::Error{hf::ErrorCode::kNotFound, "no identity recorded for this peer"},
                  "--peer");
    }
    const auto n = signal::ComputeSafetyNumber(version, local_id, local->identity.public_key,
                                               remote_id, **remote);
    std::cout << json{{"displayable", n.displayable}, {"scannable", B64(n.scannable)}}.dump()
              << "\n";
    return 0;
  }
  if (*gcreate) {
    auto d = signal::GroupCreate(s, group, self, rng);
    if (!d.ok()) {
      return Fail(d.error(), "group-create");
    }
    std::cout << json{{"distribution", B64(*d)}}.dump() << "\n";
    return 0;
  }
  if (*gprocess) {
    auto j = ParseJson(ReadAll(std::cin));
    auto d = j.ok() ? FromB64(*j, "distribution") : hf::Result<hf::Bytes>(j.error());
    auto r = d.ok() ? signal::GroupProcess(s, group, sender, *d) : hf::Result<void>(d.error());
    if (!r.ok()) {
      return Fail(r.error(), "group-process");
    }
    std::cout << json{{"ok", true}}.dump() << "\n";
    return 0;
  }
  if (*gencrypt) {
    const std::string plaintext = ReadAll(std::cin);
    auto m = signal::GroupEncrypt(s, group, self, hf::AsBytes(plaintext), rng);
    if (!m.ok()) {
      return Fail(m.error(), "group-encrypt");
    }
    std::cout << json{{"body", B64(*m)}}.dump() << "\n";
    return 0;
  }
  auto j = ParseJson(ReadAll(std::cin));
  auto body = j.ok() ? FromB64(*j, "body") : hf::Result<hf::Bytes>(j.error());
  auto plaintext = body.ok() ? signal::GroupDecrypt(s, group, sender, *body)
                             : hf::Result<hf::SecretBytes>(body.error());
  if (!plaintext.ok()) {
    return Fail(plaintext.error(), "group-decrypt");
  }
  WriteRaw(plaintext->span());
  return 0;
}
