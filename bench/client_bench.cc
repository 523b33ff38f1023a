// client_bench: what encryption at rest costs the client. One message from Alice to Bob
// through the Signal Protocol with both parties' state in a store on disk: Holdfast's
// client store (client::LocalStore, every record sealed with XChaCha20-Poly1305 under
// HMAC-named rows) against the same records in a plain SQLite store (the peer,
// signal::OpenSqliteProtocolStore). Both commit each step in SQLite's WAL with
// synchronous=FULL, as the client does, so the ratio is the whole price of the sealing.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "bench_util.h"
#include "holdfast/client/local_store.h"
#include "holdfast/crypto/random.h"
#include "holdfast/signal/messenger.h"

namespace holdfast::bench {
namespace {

constexpr crypto::Argon2idParams kBenchKdf{1, 64 * 1024};  // opening is not what is measured

// Party is one side's protocol state in a store file under a scratch directory.
struct Party {
  std::unique_ptr<client::LocalStore> sealed;    // only for the holdfast variant
  std::unique_ptr<signal::ProtocolStore> store;
};

std::string ScratchDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "client_bench.XXXXXX").string();
  return ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

bool OpenParty(bool holdfast, const std::string& path, Party& p) {
  if (holdfast) {
    client::StoreSecret secret;
    secret.bytes = SecretBytes::Copy(AsBytes("bench passphrase"));
    auto s = client::LocalStore::Create(path, secret, kBenchKdf);
    if (!s.ok()) {
      return false;
    }
    p.sealed = std::move(s).value();
    p.store = signal::NewProtocolStore(*p.sealed);
    return true;
  }
  auto s = signal::OpenSqliteProtocolStore(path);
  if (!s.ok()) {
    return false;
  }
  p.store = std::move(s).value();
  return true;
}

// BM_StoredMessage: Alice encrypts 100 bytes for Bob and Bob decrypts them, each step
// committed to its store; every message turns the DH ratchet (they alternate).
void StoredMessage(benchmark::State& state, bool holdfast) {
  const std::string dir = ScratchDir();
  crypto::SystemRng rng;
  Party alice, bob;
  if (dir.empty() || !OpenParty(holdfast, dir + "/alice.db", alice) ||
      !OpenParty(holdfast, dir + "/bob.db", bob) ||
      !signal::InitLocal(*alice.store, rng, 1, 10).ok() ||
      !signal::InitLocal(*bob.store, rng, 2, 10).ok()) {
    state.SkipWithError("cannot set up the stores");
    return;
  }
  auto bundle = signal::NextBundle(*bob.store, rng);
  if (!bundle.ok() || !signal::StartSession(*alice.store, "bob", *bundle, rng).ok()) {
    state.SkipWithError("cannot start the session");
    return;
  }
  const Bytes text = TestBytes(100, 7);
  Party* from = &alice;
  Party* to = &bob;
  const char* from_name = "alice";
  const char* to_name = "bob";
  for (auto _ : state) {
    auto sent = signal::EncryptTo(*from->store, to_name, text);
    if (!sent.ok()) {
      state.SkipWithError("encrypt failed");
      break;
    }
    auto got = signal::DecryptFrom(*to->store, from_name, *sent, rng);
    if (!got.ok() || !Same(got->span(), text)) {
      state.SkipWithError("decrypt failed");
      break;
    }
    std::swap(from, to);
    std::swap(from_name, to_name);
  }
  alice = {};
  bob = {};
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void BM_StoredMessage_holdfast(benchmark::State& state) { StoredMessage(state, true); }
void BM_StoredMessage_sqlite(benchmark::State& state) { StoredMessage(state, false); }
BENCHMARK(BM_StoredMessage_holdfast)->Name("BM_StoredMessage/holdfast")->UseRealTime();
BENCHMARK(BM_StoredMessage_sqlite)->Name("BM_StoredMessage/sqlite_plain")->UseRealTime();

}  // namespace
}  // namespace holdfast::bench
