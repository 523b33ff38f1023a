#include "holdfast/tlog/note.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "holdfast/common/encoding.h"
#include "holdfast/common/utf8.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::tlog {
namespace {

constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, then a space
constexpr std::string_view kCosignHeader = "cosignature/v1\ntime ";
constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kMinSignatureBytes = 5;  // key ID and at least one byte

// Unicode White_Space, which Go's unicode.IsSpace tests.
bool IsUnicodeSpace(char32_t r) {
  return (r >= 0x09 && r <= 0x0D) || r == 0x20 || r == 0x85 || r == 0xA0 || r == 0x1680 ||
         (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F ||
         r == 0x3000;
}

// IsValidNoteText: valid UTF-8 with no control character other than newline.
bool IsValidNoteText(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t r = 0;
    const size_t n = DecodeUtf8(s, i, r);
    if (n == 0 || (r < 0x20 && r != '\n')) {
      return false;
    }
    i += n;
  }
  return true;
}

Result<uint32_t> ParseKeyIdHex(std::string_view hex) {
  if (hex.size() != 8) {
    return Error{ErrorCode::kInvalidKey, "malformed verifier id"};
  }
  auto bytes = HexDecode(hex);
  if (!bytes.ok()) {
    return Error{ErrorCode::kInvalidKey, "malformed verifier id"};
  }
  return ByteReader(*bytes).ReadU32Be().value();
}

std::string KeyIdHex(uint32_t id) {
  ByteWriter w;
  w.WriteU32Be(id);
  return HexEncode(w.view());
}

// KeyMaterial is a parsed "<name>+<hex id>+<base64(type || key)>".
struct KeyMaterial {
  std::string name;
  uint32_t key_id;
  Bytes key;  // type byte, then the key
};

Result<KeyMaterial> ParseKeyMaterial(std::string_view s) {
  const Error malformed{ErrorCode::kInvalidKey, "malformed verifier id"};
  const size_t p1 = s.find('+');
  if (p1 == std::string_view::npos) {
    return malformed;
  }
  const size_t p2 = s.find('+', p1 + 1);
  if (p2 == std::string_view::npos) {
    return malformed;
  }
  KeyMaterial m{std::string(s.substr(0, p1)), 0, {}};
  auto id = ParseKeyIdHex(s.substr(p1 + 1, p2 - p1 - 1));
  auto key = Base64Decode(s.substr(p2 + 1));
  if (!id.ok() || !key.ok() || key->empty() || !IsValidKeyName(m.name)) {
    return malformed;
  }
  m.key_id = *id;
  m.key = std::move(*key);
  return m;
}

Result<NoteKeyType> KeyTypeOf(uint8_t b) {
  if (b == static_cast<uint8_t>(NoteKeyType::kEd25519)) {
    return NoteKeyType::kEd25519;
  }
  if (b == static_cast<uint8_t>(NoteKeyType::kCosignatureV1)) {
    return NoteKeyType::kCosignatureV1;
  }
  return Error{ErrorCode::kInvalidKey, "unknown verifier algorithm"};
}

std::string CosignedMessage(std::string_view text, uint64_t timestamp) {
  std::string msg(kCosignHeader);
  msg += std::to_string(timestamp);
  msg += '\n';
  msg += text;
  return msg;
}

// ParseSignatureLine reads "— name base64\n" (without the newline).
Result<NoteSignature> ParseSignatureLine(std::string_view line) {
  const Error malformed{ErrorCode::kMalformed, "malformed note"};
  if (!line.starts_with(kSigPrefix)) {
    return malformed;
  }
  const std::string_view rest = line.substr(kSigPrefix.size());
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) {
    return malformed;
  }
  NoteSignature sig;
  sig.name = std::string(rest.substr(0, space));
  auto payload = Base64Decode(rest.substr(space + 1));
  if (!IsValidKeyName(sig.name) || !payload.ok() || payload->size() < kMinSignatureBytes) {
    return malformed;
  }
  ByteReader r(*payload);
  sig.key_id = r.ReadU32Be().value();
  sig.signature = ToBytes(r.Rest());
  sig.line = std::string(line) + "\n";
  return sig;
}

}  // namespace

bool IsValidKeyName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size();) {
    char32_t r = 0;
    const size_t n = DecodeUtf8(name, i, r);
    if (n == 0 || IsUnicodeSpace(r) || r == '+') {
      return false;
    }
    i += n;
  }
  return true;
}

uint32_t NoteKeyId(std::string_view name, NoteKeyType type, ByteSpan public_key) {
  crypto::Sha256Hasher h;
  const uint8_t sep_and_type[2] = {'\n', static_cast<uint8_t>(type)};
  h.Update(AsBytes(name)).Update(sep_and_type).Update(public_key);
  const auto digest = h.Finish();
  return ByteReader(digest).ReadU32Be().value();
}

Result<NoteVerifier> NoteVerifier::Parse(std::string_view vkey) {
  HF_ASSIGN_OR_RETURN(KeyMaterial m, ParseKeyMaterial(vkey));
  const ByteSpan key_part = ByteSpan(m.key).subspan(1);
  if (m.key_id != NoteKeyId(m.name, static_cast<NoteKeyType>(m.key[0]), key_part)) {
    return Error{ErrorCode::kInvalidKey, "invalid verifier hash"};
  }
  HF_ASSIGN_OR_RETURN(const NoteKeyType type, KeyTypeOf(m.key[0]));
  if (key_part.size() != kEd25519KeyBytes) {
    return Error{ErrorCode::kInvalidKey, "malformed verifier id"};
  }
  HF_ASSIGN_OR_RETURN(auto key, crypto::Ed25519PublicKey::FromBytes(key_part));
  return NoteVerifier(std::move(m.name), m.key_id, type, key);
}

NoteVerifier NoteVerifier::FromKey(std::string name, NoteKeyType type,
                                   const crypto::Ed25519PublicKey& key) {
  const uint32_t id = NoteKeyId(name, type, key.bytes());
  return NoteVerifier(std::move(name), id, type, key);
}

std::string NoteVerifier::ToString() const {
  Bytes material = {static_cast<uint8_t>(type_)};
  material.insert(material.end(), key_.bytes().begin(), key_.bytes().end());
  return name_ + "+" + KeyIdHex(key_id_) + "+" + Base64Encode(material);
}

Result<std::optional<uint64_t>> NoteVerifier::Verify(std::string_view text,
                                                     ByteSpan signature) const {
  if (type_ == NoteKeyType::kEd25519) {
    HF_RETURN_IF_ERROR(crypto::Ed25519Verify(key_, AsBytes(text), signature));
    return std::optional<uint64_t>();
  }
  ByteReader r(signature);
  auto timestamp = r.ReadU64Be();
  if (!timestamp.ok() || r.remaining() != crypto::kEd25519SignatureBytes ||
      *timestamp > static_cast<uint64_t>(INT64_MAX)) {
    return ErrorCode::kAuthenticationFailed;
  }
  HF_RETURN_IF_ERROR(
      crypto::Ed25519Verify(key_, AsBytes(CosignedMessage(text, *timestamp)), r.Rest()));
  return std::optional<uint64_t>(*timestamp);
}

Result<NoteSigner> NoteSigner::Parse(std::string_view skey) {
  constexpr std::string_view kPrefix = "PRIVATE+KEY+";
  if (!skey.starts_with(kPrefix)) {
    return Error{ErrorCode::kInvalidKey, "malformed signer id"};
  }
  HF_ASSIGN_OR_RETURN(KeyMaterial m, ParseKeyMaterial(skey.substr(kPrefix.size())));
  HF_ASSIGN_OR_RETURN(const NoteKeyType type, KeyTypeOf(m.key[0]));
  const ByteSpan seed = ByteSpan(m.key).subspan(1);
  auto key = crypto::Ed25519PrivateKey::FromSeed(seed);
  SecureWipe(m.key);
  if (!key.ok()) {
    return Error{ErrorCode::kInvalidKey, "malformed signer id"};
  }
  if (m.key_id != NoteKeyId(m.name, type, key->PublicKey().bytes())) {
    return Error{ErrorCode::kInvalidKey, "invalid signer hash"};
  }
  return NoteSigner(std::move(m.name), m.key_id, type, std::move(*key));
}

Result<NoteSigner> NoteSigner::Create(std::string name, NoteKeyType type,
                                      crypto::Ed25519PrivateKey key) {
  if (!IsValidKeyName(name)) {
    return Error{ErrorCode::kInvalidArgument, "invalid signer"};
  }
  const uint32_t id = NoteKeyId(name, type, key.PublicKey().bytes());
  return NoteSigner(std::move(name), id, type, std::move(key));
}

SecretBytes NoteSigner::ToString() const {
  SecretBytes material(1 + crypto::kEd25519SeedBytes);
  material.data()[0] = static_cast<uint8_t>(type_);
  std::copy(key_.Seed().begin(), key_.Seed().end(), material.data() + 1);
  std::string text =
      "PRIVATE+KEY+" + name_ + "+" + KeyIdHex(key_id_) + "+" + Base64Encode(material.span());
  SecretBytes out = SecretBytes::Copy(AsBytes(text));
  SecureWipe({reinterpret_cast<uint8_t*>(text.data()), text.size()});
  return out;
}

NoteVerifier NoteSigner::Verifier() const {
  return NoteVerifier::FromKey(name_, type_, key_.PublicKey());
}

std::string NoteSigner::SignatureLine(std::string_view text, uint64_t timestamp) const {
  ByteWriter payload;
  payload.WriteU32Be(key_id_);
  if (type_ == NoteKeyType::kCosignatureV1) {
    payload.WriteU64Be(timestamp);
    payload.WriteBytes(key_.Sign(AsBytes(CosignedMessage(text, timestamp))));
  } else {
    payload.WriteBytes(key_.Sign(AsBytes(text)));
  }
  return std::string(kSigPrefix) + name_ + " " + Base64Encode(payload.view()) + "\n";
}

Result<Note> ParseNote(std::string_view message) {
  const Error malformed{ErrorCode::kMalformed, "malformed note"};
  if (message.size() > kMaxNoteBytes || !IsValidNoteText(message)) {
    return malformed;
  }
  const size_t split = message.rfind("\n\n");
  if (split == std::string_view::npos) {
    return malformed;
  }
  Note note;
  note.text = std::string(message.substr(0, split + 1));
  std::string_view sigs = message.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') {
    return malformed;
  }
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');
    HF_ASSIGN_OR_RETURN(NoteSignature sig, ParseSignatureLine(sigs.substr(0, nl)));
    note.signatures.push_back(std::move(sig));
    if (note.signatures.size() > kMaxNoteSignatures) {
      return malformed;
    }
    sigs.remove_prefix(nl + 1);
  }
  return note;
}

Result<VerifiedNote> OpenNote(std::string_view message, std::span<const NoteVerifier> verifiers) {
  HF_ASSIGN_OR_RETURN(Note note, ParseNote(message));
  VerifiedNote out{std::move(note.text), {}, {}};
  for (NoteSignature& sig : note.signatures) {
    const NoteVerifier* match = nullptr;
    for (const NoteVerifier& v : verifiers) {
      if (v.name() == sig.name && v.key_id() == sig.key_id) {
        if (match != nullptr) {
          return Error{ErrorCode::kInvalidArgument, "ambiguous key"};
        }
        match = &v;
      }
    }
    if (match == nullptr) {
      const bool seen = std::any_of(out.unverified.begin(), out.unverified.end(),
                                    [&](const NoteSignature& u) { return u.line == sig.line; });
      if (!seen) {
        out.unverified.push_back(std::move(sig));
      }
      continue;
    }
    // A key counts once; later lines for it are not looked at.
    const bool done = std::any_of(
        out.verified.begin(), out.verified.end(),
        [&](const NoteSignature& s) { return s.name == sig.name && s.key_id == sig.key_id; });
    if (done) {
      continue;
    }
    auto timestamp = match->Verify(out.text, sig.signature);
    if (!timestamp.ok()) {
      return Error{ErrorCode::kAuthenticationFailed, "invalid signature for a trusted key"};
    }
    sig.timestamp = *timestamp;
    out.verified.push_back(std::move(sig));
  }
  if (out.verified.empty()) {
    return Error{ErrorCode::kAuthenticationFailed, "note has no verifiable signatures"};
  }
  return out;
}

Result<std::string> SignNote(std::string_view text, std::span<const NoteSigner* const> signers,
                             std::span<const NoteSignature> existing, uint64_t timestamp) {
  const Error malformed{ErrorCode::kMalformed, "malformed note"};
  if (text.empty() || text.back() != '\n' || !IsValidNoteText(text)) {
    return malformed;
  }
  std::string out(text);
  out += '\n';
  for (const NoteSignature& sig : existing) {
    const bool replaced = std::any_of(signers.begin(), signers.end(), [&](const NoteSigner* s) {
      return s->name() == sig.name && s->key_id() == sig.key_id;
    });
    if (replaced) {
      continue;
    }
    // Re-check what we copy: a valid name and a payload whose key ID matches.
    if (sig.line.empty() || sig.line.back() != '\n') {
      return malformed;
    }
    auto parsed = ParseSignatureLine(std::string_view(sig.line).substr(0, sig.line.size() - 1));
    if (!parsed.ok() || parsed->key_id != sig.key_id || parsed->name != sig.name) {
      return malformed;
    }
    out += sig.line;
  }
  for (const NoteSigner* s : signers) {
    out += s->SignatureLine(text, timestamp);
  }
  if (existing.size() + signers.size() > kMaxNoteSignatures) {
    return malformed;
  }
  return out;
}

}  // namespace holdfast::tlog
