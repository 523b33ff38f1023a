// Signed notes and checkpoints: the published examples of golang.org/x/mod/sumdb/note and the
// C2SP specs (tlog/testdata/signed_note_examples.txt), replayed case by case, plus round trips.
#include "holdfast/tlog/note.h"

#include <gtest/gtest.h>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"
#include "holdfast/tlog/checkpoint.h"

namespace holdfast::tlog {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

constexpr char kExamples[] = "tlog/testdata/signed_note_examples.txt";

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }

std::string Names(const std::vector<NoteSignature>& sigs) {
  std::string out;
  for (const auto& s : sigs) {
    if (!out.empty()) {
      out += ",";
    }
    char id[9];
    std::snprintf(id, sizeof(id), "%08x", s.key_id);
    out += s.name + "+" + id;
  }
  return out;
}

ErrorCode CodeForReason(const std::string& reason) {
  if (reason == "malformed note") {
    return ErrorCode::kMalformed;
  }
  if (reason.starts_with("ambiguous key")) {
    return ErrorCode::kInvalidArgument;
  }
  if (reason == "invalid signer") {
    return ErrorCode::kInvalidArgument;
  }
  if (reason == "note has no verifiable signatures" || reason.starts_with("invalid signature")) {
    return ErrorCode::kAuthenticationFailed;
  }
  return ErrorCode::kInvalidKey;  // verifier and signer key errors
}

std::vector<NoteVerifier> Verifiers(const KatBlock& t) {
  std::vector<NoteVerifier> out;
  for (const std::string& quoted : t.TextAll("VerifierKey")) {
    auto v = NoteVerifier::Parse(quoted.substr(1, quoted.size() - 2));
    if (v.ok()) {
      out.push_back(*v);
    }
  }
  return out;
}

void CheckKeys(const KatBlock& t) {
  for (const std::string& quoted : t.TextAll("VerifierKey")) {
    const std::string vkey = quoted.substr(1, quoted.size() - 2);
    auto v = NoteVerifier::Parse(vkey);
    if (t.Unquoted("Valid") == "no" && !t.Has("NoteHex")) {
      ASSERT_FALSE(v.ok()) << vkey;
      EXPECT_EQ(v.code(), ErrorCode::kInvalidKey);
      continue;
    }
    ASSERT_TRUE(v.ok()) << vkey;
    EXPECT_EQ(v->ToString(), vkey);
    if (t.Has("KeyID") && v->name() == t.Unquoted("KeyName")) {
      ByteWriter id;
      id.WriteU32Be(v->key_id());
      EXPECT_EQ(HexEncode(id.view()), HexEncode(t.GetBytes("KeyID")));
    }
  }
  if (t.Has("SignerKey") && !t.Has("Text")) {
    auto s = NoteSigner::Parse(t.Unquoted("SignerKey"));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(Str(ToBytes(s->ToString().span())), t.Unquoted("SignerKey"));
    if (t.Has("VerifierKey")) {
      EXPECT_EQ(s->Verifier().ToString(), t.Unquoted("VerifierKey"));
    }
  }
}

void CheckOpen(const KatBlock& t) {
  const std::string msg = Str(t.GetBytes("NoteHex"));
  const auto verifiers = Verifiers(t);
  if (t.Has("Wellformed")) {
    EXPECT_EQ(ParseNote(msg).ok(), t.Unquoted("Wellformed") == "yes");
  }
  auto opened = OpenNote(msg, verifiers);
  if (t.Unquoted("Valid") == "yes") {
    ASSERT_TRUE(opened.ok()) << ErrorName(opened.code()) << " " << opened.error().detail;
    if (t.Has("Text")) {
      EXPECT_EQ(opened->text, Str(t.GetBytes("Text")));
    }
    if (t.Has("Verified")) {
      EXPECT_EQ(Names(opened->verified), t.Unquoted("Verified"));
      EXPECT_EQ(Names(opened->unverified), t.Unquoted("Unverified"));
    }
    return;
  }
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.code(), CodeForReason(t.Unquoted("Reason"))) << t.Unquoted("Reason");
  if (t.Has("Unverified") && opened.code() == ErrorCode::kAuthenticationFailed) {
    // Nothing verified: every signature was by an unknown key.
    auto parsed = ParseNote(msg);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(Names(parsed->signatures), t.Unquoted("Unverified"));
  }
}

void CheckSign(const KatBlock& t) {
  std::vector<NoteSignature> existing;
  if (t.Has("ExistingSig")) {
    // "<name> <hex key ID> <base64>", as the Go test builds it.
    const std::string e = t.Unquoted("ExistingSig");
    const size_t s1 = e.find(' '), s2 = e.find(' ', s1 + 1);
    NoteSignature sig;
    sig.name = e.substr(0, s1);
    sig.key_id = ByteReader(*HexDecode(e.substr(s1 + 1, s2 - s1 - 1))).ReadU32Be().value();
    sig.line = "\xE2\x80\x94 " + sig.name + " " + e.substr(s2 + 1) + "\n";
    existing.push_back(sig);
  }
  const std::string text = Str(t.GetBytes("Text"));
  const bool valid = t.Unquoted("Valid") == "yes";
  if (t.Has("SignerName")) {
    auto key = crypto::Ed25519PrivateKey::FromSeed(Bytes(32, 1));
    auto signer =
        NoteSigner::Create(t.Unquoted("SignerName"), NoteKeyType::kEd25519, std::move(*key));
    EXPECT_EQ(signer.ok(), valid);
    if (!valid) {
      EXPECT_EQ(signer.code(), CodeForReason(t.Unquoted("Reason")));
    }
    return;
  }
  std::vector<const NoteSigner*> signers;
  std::optional<NoteSigner> signer;
  if (t.Has("SignerKey")) {
    auto parsed = NoteSigner::Parse(t.Unquoted("SignerKey"));
    ASSERT_TRUE(parsed.ok());
    signer.emplace(std::move(*parsed));
    signers.push_back(&*signer);
  }
  auto signed_note = SignNote(text, signers, existing);
  ASSERT_EQ(signed_note.ok(), valid);
  if (valid) {
    EXPECT_EQ(HexEncode(AsBytes(*signed_note)), HexEncode(t.GetBytes("NoteHex")));
  } else {
    EXPECT_EQ(signed_note.code(), CodeForReason(t.Unquoted("Reason")));
  }
}

TEST(SignedNote, PublishedExamples) {
  size_t open = 0, sign = 0, keys = 0;
  ForEachKat(kExamples, [&](const KatBlock& t) {
    if (!t.Has("Test")) {
      return;
    }
    const std::string name = t.Unquoted("Test");
    SCOPED_TRACE(name);
    if (name.starts_with("c2sp/tlog-proof")) {
      return;  // read by the tlog-proof tests
    }
    if (name.starts_with("go-note/TestSign/")) {
      CheckSign(t);
      ++sign;
    } else if (t.Has("NoteHex")) {
      CheckOpen(t);
      ++open;
    } else if (name != "go-note/TestNewVerifier/manglings") {
      CheckKeys(t);
      ++keys;
    }
    if (t.Has("Origin")) {
      auto c = Checkpoint::Parse(Str(t.GetBytes("Text")));
      ASSERT_TRUE(c.ok());
      EXPECT_EQ(c->origin, t.Unquoted("Origin"));
      EXPECT_EQ(std::to_string(c->size), t.Unquoted("TreeSize"));
      EXPECT_EQ(HexEncode(c->root), HexEncode(t.GetBytes("RootHash")));
    }
    if (t.Has("CosigTimestamp")) {
      auto note = ParseNote(Str(t.GetBytes("NoteHex")));
      ASSERT_TRUE(note.ok());
      const auto& cosig = note->signatures.back();
      EXPECT_EQ(ByteReader(cosig.signature).ReadU64Be().value(),
                std::stoull(t.Unquoted("CosigTimestamp")));
      EXPECT_EQ(HexEncode(ByteSpan(cosig.signature).subspan(8)),
                HexEncode(t.GetBytes("CosigSignature")));
    }
  });
  EXPECT_GE(open, 15u);
  EXPECT_GE(sign, 5u);
  EXPECT_GE(keys, 3u);
}

TEST(SignedNote, EveryManglingOfAKeyIsRefused) {
  const std::string vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  const std::string skey =
      "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
  ASSERT_TRUE(NoteVerifier::Parse(vkey).ok());
  ASSERT_TRUE(NoteSigner::Parse(skey).ok());
  for (size_t i = 0; i < vkey.size(); ++i) {
    for (size_t j = i + 1; j <= vkey.size(); ++j) {
      if (i == 0 && j == vkey.size()) {
        continue;
      }
      EXPECT_FALSE(NoteVerifier::Parse(vkey.substr(i, j - i)).ok()) << vkey.substr(i, j - i);
    }
    std::string m = vkey;
    ++m[i];
    EXPECT_FALSE(NoteVerifier::Parse(m).ok()) << m;
  }
  for (size_t i = 0; i < skey.size(); ++i) {
    EXPECT_FALSE(NoteSigner::Parse(skey.substr(0, i)).ok());
    std::string m = skey;
    ++m[i];
    EXPECT_FALSE(NoteSigner::Parse(m).ok()) << m;
  }
}

NoteSigner MakeSigner(const std::string& name, NoteKeyType type, uint64_t seed) {
  DeterministicRng rng(seed);
  return std::move(
      NoteSigner::Create(name, type, crypto::Ed25519PrivateKey::Generate(rng)).value());
}

TEST(SignedNote, SignOpenRoundTripWithCosignatures) {
  const NoteSigner log = MakeSigner("log.example/holdfast", NoteKeyType::kEd25519, 1);
  const NoteSigner witness = MakeSigner("witness.example/w1", NoteKeyType::kCosignatureV1, 2);
  const NoteSigner stranger = MakeSigner("stranger.example", NoteKeyType::kEd25519, 3);
  const std::string text = "log.example/holdfast\n5\n" + Base64Encode(EmptyRoot()) + "\n";
  const NoteSigner* signers[] = {&log, &witness, &stranger};
  auto msg = SignNote(text, signers, {}, 1'700'000'000);
  ASSERT_TRUE(msg.ok());
  const NoteVerifier trusted[] = {log.Verifier(), witness.Verifier()};
  auto opened = OpenNote(*msg, trusted);
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ(opened->verified.size(), 2u);
  EXPECT_FALSE(opened->verified[0].timestamp.has_value());
  EXPECT_EQ(opened->verified[1].timestamp, 1'700'000'000u);
  ASSERT_EQ(opened->unverified.size(), 1u);
  EXPECT_EQ(opened->unverified[0].name, "stranger.example");

  // The verifier key string round-trips, including the cosignature type.
  EXPECT_EQ(NoteVerifier::Parse(witness.Verifier().ToString())->type(),
            NoteKeyType::kCosignatureV1);
  auto reparsed = NoteSigner::Parse(Str(ToBytes(witness.ToString().span())));
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->key_id(), witness.key_id());

  // Changing any byte of the text breaks every trusted signature.
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = *msg;
    bad[i] = bad[i] == 'x' ? 'y' : 'x';
    EXPECT_FALSE(OpenNote(bad, trusted).ok()) << i;
  }
}

TEST(Checkpoint, RoundTripAndOpen) {
  const NoteSigner log = MakeSigner("holdfast.example/log", NoteKeyType::kEd25519, 4);
  Checkpoint c{"holdfast.example/log", 42, HashLeaf(AsBytes("x")), {"ext one"}};
  auto msg = SignCheckpoint(c, log);
  ASSERT_TRUE(msg.ok());
  auto opened = OpenCheckpoint(*msg, "holdfast.example/log", log.Verifier());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->checkpoint.size, 42u);
  EXPECT_EQ(opened->checkpoint.root, c.root);
  EXPECT_EQ(opened->checkpoint.extensions, c.extensions);
  EXPECT_EQ(OpenCheckpoint(*msg, "other.example/log", log.Verifier()).code(),
            ErrorCode::kAuthenticationFailed);
  const NoteSigner other = MakeSigner("holdfast.example/log", NoteKeyType::kEd25519, 5);
  EXPECT_EQ(OpenCheckpoint(*msg, "holdfast.example/log", other.Verifier()).code(),
            ErrorCode::kAuthenticationFailed);
}

TEST(Checkpoint, CarriesSeveralWitnessCosignatures) {
  const NoteSigner log = MakeSigner("holdfast.example/log", NoteKeyType::kEd25519, 6);
  const NoteSigner w1 = MakeSigner("witness.one/w", NoteKeyType::kCosignatureV1, 7);
  const NoteSigner w2 = MakeSigner("witness.two/w", NoteKeyType::kCosignatureV1, 8);
  const Checkpoint c{"holdfast.example/log", 7, HashLeaf(AsBytes("y")), {}};
  const std::string signed_by_log = *SignCheckpoint(c, log);
  // Witnesses add their cosignatures to the log's note, keeping the log's signature.
  auto parsed = ParseNote(signed_by_log);
  ASSERT_TRUE(parsed.ok());
  const NoteSigner* witnesses[] = {&w1, &w2};
  auto cosigned = SignNote(parsed->text, witnesses, parsed->signatures, 1'800'000'000);
  ASSERT_TRUE(cosigned.ok());

  const NoteVerifier both[] = {w1.Verifier(), w2.Verifier()};
  auto opened = OpenCheckpoint(*cosigned, c.origin, log.Verifier(), both);
  ASSERT_TRUE(opened.ok());
  ASSERT_EQ(opened->note.verified.size(), 3u);
  EXPECT_EQ(opened->note.verified[1].timestamp, 1'800'000'000u);
  EXPECT_EQ(opened->note.verified[2].timestamp, 1'800'000'000u);
  // Trusting one witness leaves the other's cosignature unverified but harmless.
  const NoteVerifier one[] = {w1.Verifier()};
  opened = OpenCheckpoint(*cosigned, c.origin, log.Verifier(), one);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->note.verified.size(), 2u);
  EXPECT_EQ(opened->note.unverified.size(), 1u);
  // A cosignature over a different timestamp than it claims fails for a trusted witness.
  std::string forged = *cosigned;
  const size_t last = forged.rfind("\xE2\x80\x94 witness.two/w ");
  ASSERT_NE(last, std::string::npos);
  auto sig = ParseNote(forged)->signatures.back();
  ByteWriter w;
  w.WriteU32Be(sig.key_id);
  w.WriteU64Be(1'800'000'001);
  w.WriteBytes(ByteSpan(sig.signature).subspan(8));
  forged = forged.substr(0, last) + "\xE2\x80\x94 witness.two/w " + Base64Encode(w.view()) + "\n";
  EXPECT_EQ(OpenCheckpoint(forged, c.origin, log.Verifier(), both).code(),
            ErrorCode::kAuthenticationFailed);
  // Without the log's own signature, witnesses alone are not enough.
  const NoteSigner* only_witnesses[] = {&w1};
  auto witness_only = SignNote(parsed->text, only_witnesses, {}, 5);
  EXPECT_EQ(OpenCheckpoint(*witness_only, c.origin, log.Verifier(), both).code(),
            ErrorCode::kAuthenticationFailed);
}

TEST(Checkpoint, ParseRefusesMalformedText) {
  const std::string root = Base64Encode(EmptyRoot());
  for (const std::string& bad : std::vector<std::string>{
           "", "o\n1\n", "o\n1\n" + root, "\n1\n" + root + "\n", "o\n01\n" + root + "\n",
           "o\n+1\n" + root + "\n", "o\n-1\n" + root + "\n",
           "o\n18446744073709551616\n" + root + "\n", "o\n1\n" + Base64Encode(Bytes(31)) + "\n",
           "o\n1\n" + root + "\n\n", "o\n1 \n" + root + "\n", "o\n1\nnot base64\n"}) {
    EXPECT_EQ(Checkpoint::Parse(bad).code(), ErrorCode::kMalformed) << bad;
  }
  auto max = Checkpoint::Parse("o\n18446744073709551615\n" + root + "\n");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->size, UINT64_MAX);
  EXPECT_TRUE(Checkpoint::Parse("o\n0\n" + root + "\n").ok());
}

}  // namespace
}  // namespace holdfast::tlog
