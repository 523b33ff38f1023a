#include "holdfast/tlog/proof_file.h"

#include <gtest/gtest.h>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"
#include "holdfast/tlog/log.h"

namespace holdfast::tlog {
namespace {

NoteSigner Signer(const std::string& name, uint64_t seed) {
  DeterministicRng rng(seed);
  return std::move(
      NoteSigner::Create(name, NoteKeyType::kEd25519, crypto::Ed25519PrivateKey::Generate(rng))
          .value());
}

struct Fixture {
  NoteSigner signer = Signer("proof.test/log", 1);
  std::unique_ptr<Log> log;
  std::vector<Bytes> entries;

  Fixture() {
    log = std::move(Log::Open(NewMemoryLogStorage(), LogOptions{"proof.test/log"}).value());
    DeterministicRng rng(2);
    for (int i = 0; i < 300; ++i) {
      Bytes e(1 + rng.Uniform(50));
      rng.Fill(e);
      entries.push_back(e);
    }
    std::vector<ByteSpan> spans(entries.begin(), entries.end());
    EXPECT_TRUE(log->Append(spans, &signer).ok());
  }

  std::string ProofFor(uint64_t index, std::optional<Bytes> extra = std::nullopt) const {
    return FormatTlogProof(TlogProof{std::move(extra), index, *log->Inclusion(index, log->size()),
                                     *log->LatestCheckpoint()});
  }
};

TEST(TlogProof, EveryEntryProvesAndOnlyItself) {
  const Fixture f;
  const NoteVerifier key = f.signer.Verifier();
  for (uint64_t i = 0; i < f.entries.size(); i += 7) {
    const std::string proof =
        f.ProofFor(i, i % 2 ? std::optional<Bytes>(Bytes{1, 2, 3}) : std::nullopt);
    auto opened = VerifyTlogProof(proof, f.entries[i], "proof.test/log", key);
    ASSERT_TRUE(opened.ok()) << i;
    EXPECT_EQ(opened->checkpoint.size, 300u);
    EXPECT_EQ(VerifyTlogProof(proof, f.entries[(i + 1) % 300], "proof.test/log", key).code(),
              ErrorCode::kInvalidProof);
    auto parsed = ParseTlogProof(proof);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(FormatTlogProof(*parsed), proof);
  }
  const NoteSigner other = Signer("proof.test/log", 3);
  EXPECT_EQ(VerifyTlogProof(f.ProofFor(5), f.entries[5], "proof.test/log", other.Verifier()).code(),
            ErrorCode::kAuthenticationFailed);
}

TEST(TlogProof, MalformedFilesAreRefused) {
  const Fixture f;
  const std::string good = f.ProofFor(9);
  const std::string header(kTlogProofHeader);
  const std::string h = Base64Encode(HashLeaf(Bytes{}));
  for (const std::string& bad : std::vector<std::string>{
           "", header, header + "\n",
           "c2sp.org/tlog-proof@v2\nindex 1\n\n" + *f.log->LatestCheckpoint(),
           header + "\nindex 01\n\nx", header + "\nindex -1\n\nx",
           header + "\nindex 1\n" + h + "\n", header + "\nindex 1\n" + h.substr(4) + "\n\nx",
           header + "\nextra !!\nindex 1\n\nx", header + "\nindex 18446744073709551616\n\nx",
           header + "\nindex 1\n\n"}) {
    EXPECT_EQ(ParseTlogProof(bad).code(), ErrorCode::kMalformed) << bad;
  }
  std::string too_many = header + "\nindex 1\n";
  for (size_t i = 0; i <= kMaxProofHashes; ++i) {
    too_many += h + "\n";
  }
  EXPECT_EQ(ParseTlogProof(too_many + "\nx").code(), ErrorCode::kMalformed);
  EXPECT_TRUE(ParseTlogProof(good).ok());
}

TEST(TlogProof, SpecExampleParses) {
  bool seen = false;
  testing::ForEachKat("tlog/testdata/signed_note_examples.txt", [&](const testing::KatBlock& t) {
    if (!t.Has("ProofHex")) {
      return;
    }
    seen = true;
    const Bytes text = t.GetBytes("ProofHex");
    auto proof = ParseTlogProof(std::string(text.begin(), text.end()));
    ASSERT_TRUE(proof.ok());
    EXPECT_EQ(std::to_string(proof->index), t.Unquoted("Index"));
    EXPECT_EQ(HexEncode(*proof->extra), HexEncode(t.GetBytes("Extra")));
    Bytes hashes;
    for (const Hash& x : proof->proof) {
      hashes.insert(hashes.end(), x.begin(), x.end());
    }
    EXPECT_EQ(HexEncode(hashes), HexEncode(t.GetBytes("ProofHashes")));
    // Its signatures are elided ("[...]") in the spec, so the note itself is malformed.
    EXPECT_EQ(ParseNote(proof->checkpoint).code(), ErrorCode::kMalformed);
    const Bytes cp = t.GetBytes("CheckpointText");
    EXPECT_TRUE(proof->checkpoint.starts_with(std::string(cp.begin(), cp.end())));
  });
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace holdfast::tlog
