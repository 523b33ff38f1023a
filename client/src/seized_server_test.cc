// The seized-server test. Three clients hold a scripted conversation with known plaintexts
// through the real holdfastd: 1:1 messages both ways (the later ones sealed sender), a group
// of three, and a tail of messages nobody receives, so that their ciphertext still sits in
// the server's queue when it is seized. Then the test takes what someone who seizes the
// server gets:
//   - its memory while it runs: every readable mapping of /proc/PID/mem (the content of a
//     core dump), and a real core file from gcore when gcore is installed;
//   - every file of its data directory (holdfast.db, -wal, -shm, keys, all of it), once
//     while it runs and once after it stopped.
// It searches all of it for every plaintext and for every private key and message key the
// clients hold, as raw bytes, hex (both cases) and base64 (standard and URL-safe, at each
// byte alignment). Nothing may be found.
//
// The keys are read from the clients' own stores, opened after each round of the script, so
// each chain is seen at several links. Both ends of a chain, and every snapshot of it, must
// agree; the links between the first and last seen were used by real messages, and the
// chains that a DH ratchet step (or X3DH) made between two snapshots are recomputed from
// the earlier one, so that their first links are searched for too.
//
// The scanner has to be able to fail: it must find, in the same memory and files, what the
// server does hold (the users' phone numbers and identity public keys), and a separate test
// shows it finds a needle in every form and alignment.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "holdfast/client/local_store.h"
#include "holdfast/client/messenger.h"
#include "holdfast/common/encoding.h"
#include "holdfast/common/sqlite.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/signal/chain.h"
#include "holdfast/signal/store.h"
#include "test_server.h"

extern char** environ;

namespace holdfast::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// kLookahead: how many links past the last one seen each chain is searched for (the keys of
// the next messages, which a client can derive at any time).
constexpr uint32_t kLookahead = 8;
// kMaxMappingBytes: larger mappings (reserved address space, not memory) are skipped.
constexpr uint64_t kMaxMappingBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxCoreBytes = uint64_t{4} << 30;
constexpr uint64_t kPageBytes = 4096;
constexpr size_t kReadChunkBytes = size_t{1} << 20;
constexpr milliseconds kGcoreWait{120000};
constexpr milliseconds kStopSignalWait{5000};
// Long plaintexts are also searched for by kChunkBytes-long pieces, so that a leak of any
// 2 * kChunkBytes - 1 consecutive bytes of one is found.
constexpr size_t kChunkBytes = 32;
constexpr size_t kMinPlaintextBytes = 12;
constexpr size_t kMinKeyBytes = 16;
constexpr size_t kLongPlaintextBytes = 2048;

// ---------------------------------------------------------------------------------------
// The scanner.

// Needle is something searched for: a secret the server must never hold, or, for a
// control, something it does hold. The test process keeps these copies of the clients'
// keys in plain vectors; they live only here, and this process's memory is not scanned.
struct Needle {
  std::string kind;   // e.g. "message key (cipher)"
  std::string label;  // which one, for the report
  Bytes bytes;
  bool control = false;
};

enum class Form { kRaw, kHexLower, kHexUpper, kBase64, kBase64Url };

const char* FormName(Form f) {
  switch (f) {
    case Form::kRaw:
      return "raw";
    case Form::kHexLower:
      return "hex";
    case Form::kHexUpper:
      return "HEX";
    case Form::kBase64:
      return "base64";
    case Form::kBase64Url:
      return "base64url";
  }
  return "?";
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  return s;
}

// Base64Inner returns, for each of the three byte alignments a needle can have inside
// longer encoded data, the characters that depend on the needle's bytes alone. Base64 of
// any data containing the needle, padded or not, contains one of these three strings.
std::vector<std::string> Base64Inner(ByteSpan needle, Base64Variant unpadded) {
  std::vector<std::string> out;
  for (size_t k = 0; k < 3; ++k) {
    Bytes shifted(k, 0);
    shifted.insert(shifted.end(), needle.begin(), needle.end());
    const std::string text = Base64Encode(shifted, unpadded);
    // Character c holds bits [6c, 6c + 6); the needle's are [8k, 8(k + n)).
    const size_t first = (8 * k + 5) / 6;
    const size_t end = 8 * (k + needle.size()) / 6;
    out.push_back(text.substr(first, end - first));
  }
  return out;
}

class SecretScanner {
 public:
  // kPrefixBytes: patterns are indexed by their first 8 bytes, so none may be shorter.
  static constexpr size_t kPrefixBytes = 8;

  struct Hit {
    size_t needle;
    Form form;
    size_t offset;
    size_t length;
  };

  explicit SecretScanner(const std::vector<Needle>& needles) : filter_(kFilterWords, 0) {
    std::set<std::string> seen;
    auto add = [&](std::string text, size_t needle, Form form) {
      if (text.size() < kPrefixBytes || !seen.insert(text).second) {
        short_patterns_ += text.size() < kPrefixBytes ? 1 : 0;
        return;
      }
      uint64_t prefix;
      std::memcpy(&prefix, text.data(), kPrefixBytes);
      const uint64_t h = Hash(prefix);
      filter_[h / 64] |= uint64_t{1} << (h % 64);
      by_prefix_[prefix].push_back(static_cast<uint32_t>(patterns_.size()));
      max_pattern_bytes_ = std::max(max_pattern_bytes_, text.size());
      patterns_.push_back(Pattern{std::move(text), needle, form});
    };
    for (size_t i = 0; i < needles.size(); ++i) {
      const ByteSpan b = needles[i].bytes;
      add(std::string(b.begin(), b.end()), i, Form::kRaw);
      add(HexEncode(b), i, Form::kHexLower);
      add(Upper(HexEncode(b)), i, Form::kHexUpper);
      for (auto& s : Base64Inner(b, Base64Variant::kStandardRaw)) {
        add(std::move(s), i, Form::kBase64);
      }
      for (auto& s : Base64Inner(b, Base64Variant::kUrlSafeRaw)) {
        add(std::move(s), i, Form::kBase64Url);
      }
    }
  }

  size_t patterns() const { return patterns_.size(); }
  size_t max_pattern_bytes() const { return max_pattern_bytes_; }
  // short_patterns counts patterns dropped for being shorter than kPrefixBytes (must be 0).
  size_t short_patterns() const { return short_patterns_; }

  // Scan calls `on_hit` for every occurrence of every pattern in `haystack`.
  void Scan(ByteSpan haystack, const std::function<void(const Hit&)>& on_hit) const {
    for (size_t i = 0; i + kPrefixBytes <= haystack.size(); ++i) {
      uint64_t prefix;
      std::memcpy(&prefix, haystack.subspan(i, kPrefixBytes).data(), kPrefixBytes);
      const uint64_t h = Hash(prefix);
      if (((filter_[h / 64] >> (h % 64)) & 1) == 0) {
        continue;
      }
      const auto it = by_prefix_.find(prefix);
      if (it == by_prefix_.end()) {
        continue;
      }
      for (const uint32_t id : it->second) {
        const Pattern& p = patterns_[id];
        if (haystack.size() - i >= p.text.size() &&
            std::equal(p.text.begin(), p.text.end(), haystack.begin() + static_cast<ptrdiff_t>(i),
                       [](char a, uint8_t b) { return static_cast<uint8_t>(a) == b; })) {
          on_hit(Hit{p.needle, p.form, i, p.text.size()});
        }
      }
    }
  }

 private:
  static constexpr int kFilterBits = 22;
  static constexpr size_t kFilterWords = (size_t{1} << kFilterBits) / 64;
  static uint64_t Hash(uint64_t v) { return (v * 0x9E3779B97F4A7C15ULL) >> (64 - kFilterBits); }

  struct Pattern {
    std::string text;
    size_t needle;
    Form form;
  };
  std::vector<Pattern> patterns_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_prefix_;
  std::vector<uint64_t> filter_;  // a one-hash Bloom filter over the prefixes
  size_t short_patterns_ = 0;
  size_t max_pattern_bytes_ = 0;
};

// ---------------------------------------------------------------------------------------
// What a seizure yields.

// Haystack is one named piece of what was seized: a memory mapping, a core file, a file.
// A core file is large: it stays on disk and is read in pieces when it is searched.
struct Haystack {
  enum class Source { kMemory, kCore, kDisk };
  Source source;
  std::string name;
  Bytes bytes;
  std::string file;  // when set, the bytes are this file's
  uint64_t size = 0;
};

// ScanHaystack runs `scanner` over `h`. A file is read in pieces that overlap by one byte
// less than the longest pattern, and a hit that lay wholly within the previous piece is
// not reported twice.
constexpr size_t kPieceBytes = size_t{64} << 20;
void ScanHaystack(const SecretScanner& scanner, const Haystack& h,
                  const std::function<void(const SecretScanner::Hit&)>& on_hit,
                  size_t piece_bytes = kPieceBytes) {
  if (h.file.empty()) {
    scanner.Scan(h.bytes, on_hit);
    return;
  }
  const size_t overlap = scanner.max_pattern_bytes() - 1;
  std::ifstream in(h.file, std::ios::binary);
  Bytes buf;
  uint64_t base = 0;  // the file offset of buf[0]
  for (;;) {
    const size_t keep = std::min(overlap, buf.size());
    base += buf.size() - keep;
    buf.erase(buf.begin(), buf.end() - static_cast<ptrdiff_t>(keep));
    buf.resize(keep + piece_bytes);
    in.read(reinterpret_cast<char*>(buf.data() + keep), static_cast<std::streamsize>(piece_bytes));
    const size_t got = static_cast<size_t>(in.gcount());
    buf.resize(keep + got);
    if (got == 0) {
      return;
    }
    scanner.Scan(buf, [&](const SecretScanner::Hit& hit) {
      if (hit.offset + hit.length > keep) {
        on_hit(SecretScanner::Hit{hit.needle, hit.form, static_cast<size_t>(base + hit.offset),
                                  hit.length});
      }
    });
  }
}

bool WaitForState(pid_t pid, char state, milliseconds wait) {
  const auto deadline = steady_clock::now() + wait;
  while (steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // pid (comm) STATE ...: comm may hold spaces and parentheses, so look after the last ')'.
    const size_t close = all.rfind(')');
    if (close != std::string::npos && close + 2 < all.size() && all[close + 2] == state) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

// ReadMapping reads [begin, end) of a process's memory; pages that cannot be read stay
// zero. It returns how many bytes were read.
uint64_t ReadMapping(int mem_fd, uint64_t begin, uint64_t end, Bytes& out) {
  out.assign(end - begin, 0);
  uint64_t got = 0;
  for (uint64_t at = begin; at < end;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kReadChunkBytes, end - at));
    const ssize_t n = ::pread(mem_fd, out.data() + (at - begin), want, static_cast<off_t>(at));
    if (n > 0) {
      got += static_cast<uint64_t>(n);
      at += static_cast<uint64_t>(n);
      continue;
    }
    // A range that cannot be read as a whole: page by page, skipping the bad ones.
    const uint64_t chunk_end = at + want;
    for (; at < chunk_end; at += kPageBytes) {
      const ssize_t p =
          ::pread(mem_fd, out.data() + (at - begin), kPageBytes, static_cast<off_t>(at));
      got += p > 0 ? static_cast<uint64_t>(p) : 0;
    }
  }
  return got;
}

struct MemoryStats {
  size_t mappings = 0;
  size_t skipped = 0;  // larger than kMaxMappingBytes
  uint64_t bytes = 0;  // read
};

// CaptureMemory reads every readable mapping of process `pid` (stopped meanwhile with
// SIGSTOP, so the image is consistent, as a core dump's is): the memory a core dump holds.
bool CaptureMemory(pid_t pid, std::vector<Haystack>& out, MemoryStats& stats, std::string* error) {
  const std::string proc = "/proc/" + std::to_string(pid);
  const int fd = ::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + proc + "/mem: " + std::strerror(errno);
    return false;
  }
  ::kill(pid, SIGSTOP);
  const bool stopped = WaitForState(pid, 'T', kStopSignalWait);
  std::ifstream maps(proc + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    if (perms.empty() || perms[0] != 'r' || line.find("[vvar") != std::string::npos ||
        line.find("[vsyscall]") != std::string::npos) {
      continue;
    }
    const size_t dash = range.find('-');
    const uint64_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const uint64_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (end - begin > kMaxMappingBytes) {
      ++stats.skipped;
      continue;
    }
    std::string path;
    for (int skip = 0; skip < 3 && in; ++skip) {
      in >> path;  // offset, device, inode; then the path, if any
    }
    path.clear();
    std::getline(in >> std::ws, path);
    Haystack h{Haystack::Source::kMemory, "memory " + range + " " + perms + " " + path, {}, "", 0};
    stats.bytes += ReadMapping(fd, begin, end, h.bytes);
    ++stats.mappings;
    out.push_back(std::move(h));
  }
  ::kill(pid, SIGCONT);
  ::close(fd);
  if (!stopped) {
    *error = "the server did not stop for the capture";
    return false;
  }
  return true;
}

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

// RunBounded runs argv with its output discarded, waits up to `wait`, and kills it then.
// It returns the exit status, or -1.
int RunBounded(const std::vector<std::string>& args, milliseconds wait) {
  std::vector<char*> argv;
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return -1;
  }
  const auto deadline = steady_clock::now() + wait;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Bytes ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Gcore writes a real core file of `pid` with gdb's gcore, if it is installed, for the
// search (which reads it from disk). It returns why there is none: gcore is absent or
// failed; the /proc capture holds the same memory anyway.
std::string Gcore(pid_t pid, const std::string& dir, std::vector<Haystack>& out) {
#ifdef HOLDFAST_SANITIZED
  // A sanitizer's shadow memory is terabytes of reserved address space, which a core file
  // would spell out; the /proc capture reads the same live memory without it.
  (void)pid;
  (void)dir;
  (void)out;
  return "not made in a sanitizer build";
#endif
  const std::string gcore = FindOnPath("gcore");
  if (gcore.empty()) {
    return "gcore not installed";
  }
  const std::string prefix = dir + "/core";
  const std::string file = prefix + "." + std::to_string(pid);
  const int status = RunBounded({gcore, "-o", prefix, std::to_string(pid)}, kGcoreWait);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(file, ec);
  if (ec || size == 0 || size > kMaxCoreBytes) {
    std::filesystem::remove(file, ec);
    return "gcore failed (status " + std::to_string(status) + ")";
  }
  out.push_back(Haystack{Haystack::Source::kCore, "core file", {}, file, size});
  return "";
}

// CaptureFiles reads every regular file under `dir`.
uint64_t CaptureFiles(const std::string& dir, const std::string& when, std::vector<Haystack>& out,
                      size_t* files) {
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) {
      continue;
    }
    Haystack h{Haystack::Source::kDisk,
               when + " " + std::filesystem::relative(e.path(), dir).string(),
               ReadWholeFile(e.path()), "", 0};
    bytes += h.bytes.size();
    ++*files;
    out.push_back(std::move(h));
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// What the clients hold, read from their stores (layouts in docs/signal.md).

// ChainView is one link of a Double Ratchet or Sender Key chain, as a store holds it.
struct ChainView {
  Bytes id;  // names the chain: its ratchet public key, or the sender key's id and key
  Bytes key;
  uint32_t index = 0;
};

// StateView is one session state ("Stored sessions" in docs/signal.md).
struct StateView {
  Bytes remote_identity;
  Bytes root;
  Bytes ratchet_private;
  Bytes ratchet_public;
  ChainView sending;
  std::vector<ChainView> receiving;  // newest first
  std::vector<Bytes> skipped_keys;   // message keys kept for late messages
  Bytes alice_base_key;              // names the state across snapshots
};

struct KeyPair {
  Bytes private_key;
  Bytes public_key;  // 33 bytes
};

// ClientKeys is everything secret in one client's protocol store at one moment.
struct ClientKeys {
  KeyPair identity;
  std::vector<KeyPair> signed_prekeys;
  std::vector<KeyPair> prekeys;
  std::map<std::string, std::vector<StateView>> sessions;  // current state first
  std::vector<ChainView> sender_chains;
  std::vector<Bytes> sender_signing_keys;  // our own: the XEdDSA scalar
  std::vector<Bytes> sender_skipped_seeds;
};

Bytes Take(ByteReader& r, size_t n) {
  auto b = r.ReadBytes(n);
  EXPECT_TRUE(b.ok()) << "stored record too short";
  return b.ok() ? ToBytes(*b) : Bytes(n, 0);
}
uint32_t TakeU32(ByteReader& r) {
  auto v = r.ReadU32Be();
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : 0;
}
uint16_t TakeU16(ByteReader& r) {
  auto v = r.ReadU16Be();
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : 0;
}
uint8_t TakeU8(ByteReader& r) {
  auto v = r.ReadU8();
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : 0;
}

constexpr size_t kPublicBytes = crypto::kSignalPublicKeyBytes;

StateView ParseState(ByteReader& r) {
  StateView s;
  (void)Take(r, kPublicBytes);  // local identity
  s.remote_identity = Take(r, kPublicBytes);
  (void)TakeU32(r);
  (void)TakeU32(r);
  s.root = Take(r, signal::kKeyBytes);
  s.ratchet_private = Take(r, crypto::kX25519KeyBytes);
  s.ratchet_public = Take(r, kPublicBytes);
  s.sending.id = s.ratchet_public;
  s.sending.key = Take(r, signal::kKeyBytes);
  s.sending.index = TakeU32(r);
  (void)TakeU32(r);  // previous counter
  const uint8_t receivers = TakeU8(r);
  for (uint8_t i = 0; i < receivers; ++i) {
    ChainView c;
    c.id = Take(r, kPublicBytes);
    c.key = Take(r, signal::kKeyBytes);
    c.index = TakeU32(r);
    const uint16_t skipped = TakeU16(r);
    for (uint16_t k = 0; k < skipped; ++k) {
      (void)TakeU32(r);
      s.skipped_keys.push_back(Take(r, signal::kKeyBytes));
      s.skipped_keys.push_back(Take(r, signal::kKeyBytes));
      s.skipped_keys.push_back(Take(r, signal::kIvBytes));
    }
    s.receiving.push_back(std::move(c));
  }
  if (TakeU8(r) == 1) {  // pending prekey
    if (TakeU8(r) == 1) {
      (void)TakeU32(r);
    }
    (void)TakeU32(r);
    (void)Take(r, kPublicBytes);
  }
  s.alice_base_key = Take(r, kPublicBytes);
  // A ratchet key alone does not name a chain: Bob's signed prekey starts the first chain of
  // every session made with it. With the session's base key it does, at both ends.
  s.sending.id.insert(s.sending.id.begin(), s.alice_base_key.begin(), s.alice_base_key.end());
  for (ChainView& c : s.receiving) {
    c.id.insert(c.id.begin(), s.alice_base_key.begin(), s.alice_base_key.end());
  }
  return s;
}

std::vector<StateView> ParseSession(ByteSpan bytes) {
  std::vector<StateView> states;
  ByteReader r(bytes);
  EXPECT_EQ(TakeU8(r), 1) << "session format version";
  if (TakeU8(r) == 1) {
    states.push_back(ParseState(r));
  }
  const uint16_t archived = TakeU16(r);
  for (uint16_t i = 0; i < archived; ++i) {
    states.push_back(ParseState(r));
  }
  EXPECT_TRUE(r.empty()) << "session has trailing bytes";
  return states;
}

void ParseSenderKey(ByteSpan bytes, ClientKeys& out) {
  ByteReader r(bytes);
  const uint8_t version = TakeU8(r);
  EXPECT_TRUE(version == 1 || version == 2) << "sender key format version";
  const uint8_t n = TakeU8(r);
  for (uint8_t i = 0; i < n; ++i) {
    ChainView c;
    const Bytes id = Take(r, 4);
    c.index = TakeU32(r);
    c.key = Take(r, signal::kKeyBytes);
    const Bytes signing_public = Take(r, kPublicBytes);
    c.id = id;
    c.id.insert(c.id.end(), signing_public.begin(), signing_public.end());
    if (TakeU8(r) == 1) {
      // Version 1 kept the X25519 private key, version 2 the XEdDSA form a || A.
      out.sender_signing_keys.push_back(Take(r, 32));
      if (version == 2) {
        (void)Take(r, 32);
      }
    }
    const uint16_t skipped = TakeU16(r);
    for (uint16_t k = 0; k < skipped; ++k) {
      (void)TakeU32(r);
      out.sender_skipped_seeds.push_back(Take(r, signal::kKeyBytes));
    }
    out.sender_chains.push_back(std::move(c));
  }
  EXPECT_TRUE(r.empty()) << "sender key has trailing bytes";
}

KeyPair PairOf(const crypto::X25519KeyPair& k) {
  const auto pub = k.public_key.Serialize();
  return KeyPair{ToBytes(k.private_key.Serialize()), Bytes(pub.begin(), pub.end())};
}

// ReadClientKeys opens a client's store (its Messenger must be closed) and reads its keys.
ClientKeys ReadClientKeys(const std::string& db) {
  ClientKeys keys;
  auto store = LocalStore::Open(
      db, StoreSecret{StoreSecret::Kind::kPassphrase, SecretBytes::Copy(AsBytes("pw"))});
  EXPECT_TRUE(store.ok()) << db;
  if (!store.ok()) {
    return keys;
  }
  auto proto = signal::NewProtocolStore(**store);
  auto identity = proto->GetLocalIdentity();
  EXPECT_TRUE(identity.ok());
  if (identity.ok()) {
    keys.identity = PairOf(identity->identity);
  }
  // The protocol store keeps its records in these tables (signal/src/store.cc).
  auto spk_ids = (*store)->Keys("signed_prekey");
  EXPECT_TRUE(spk_ids.ok());
  for (const auto& id : spk_ids.ok() ? *spk_ids : std::vector<std::string>{}) {
    auto spk = proto->LoadSignedPreKey(static_cast<uint32_t>(std::stoul(id)));
    EXPECT_TRUE(spk.ok() && spk->has_value());
    if (spk.ok() && spk->has_value()) {
      keys.signed_prekeys.push_back(PairOf((*spk)->key));
    }
  }
  auto latest = proto->LatestSignedPreKey();
  EXPECT_TRUE(latest.ok());
  auto pk_ids = proto->PreKeyIds();
  EXPECT_TRUE(pk_ids.ok());
  for (const uint32_t id : pk_ids.ok() ? *pk_ids : std::vector<uint32_t>{}) {
    auto pk = proto->LoadPreKey(id);
    EXPECT_TRUE(pk.ok() && pk->has_value());
    if (pk.ok() && pk->has_value()) {
      keys.prekeys.push_back(PairOf(**pk));
    }
  }
  auto names = (*store)->Keys("session");
  EXPECT_TRUE(names.ok());
  for (const auto& name : names.ok() ? *names : std::vector<std::string>{}) {
    auto session = proto->LoadSession(name);
    EXPECT_TRUE(session.ok() && session->has_value());
    if (session.ok() && session->has_value()) {
      keys.sessions[name] = ParseSession((*session)->span());
    }
  }
  auto senders = (*store)->Keys("sender_key");
  EXPECT_TRUE(senders.ok());
  for (const auto& k : senders.ok() ? *senders : std::vector<std::string>{}) {
    const size_t nl = k.find('\n');  // group "\n" sender
    auto sk = proto->LoadSenderKey(k.substr(0, nl), k.substr(nl + 1));
    EXPECT_TRUE(sk.ok() && sk->has_value());
    if (sk.ok() && sk->has_value()) {
      ParseSenderKey((*sk)->span(), keys);
    }
  }
  return keys;
}

// ---------------------------------------------------------------------------------------
// Chains: every link seen, both ends and every snapshot, and the keys derived from them.

struct ChainSightings {
  bool sender_key = false;
  std::map<uint32_t, Bytes> links;  // index -> chain key
  bool consistent = true;           // no two sightings of one link disagree
};

class Chains {
 public:
  void See(const ChainView& c, bool sender_key) {
    ChainSightings& s = chains_[c.id];
    s.sender_key = sender_key;
    auto [it, added] = s.links.emplace(c.index, c.key);
    if (!added && it->second != c.key) {
      s.consistent = false;
    }
  }
  const std::map<Bytes, ChainSightings>& all() const { return chains_; }

 private:
  std::map<Bytes, ChainSightings> chains_;
};

Bytes SenderKeyStep(const Bytes& chain, uint8_t seed) {
  return ToBytes(crypto::HmacSha256(chain, ByteSpan(&seed, 1)).span());
}

// StepTo moves a Double Ratchet chain key from link `from` to link `to`.
Bytes StepTo(const Bytes& key, uint32_t from, uint32_t to) {
  signal::ChainKey c{std::move(Secret<32>::FromSpan(key).value()), from};
  while (c.index < to) {
    c = c.Next();
  }
  return ToBytes(c.key.span());
}

// Recompute finds the chains one DH ratchet step made from a state whose root key is `root`
// and whose ratchet private key is `ours`, as a later view of the state holds them: the new
// receiving chain from RootStep(root, theirs, ours), the new sending chain from the next root
// step with the later ratchet key. Each is kept only if it leads to the link the later view
// holds.
size_t Recompute(const Bytes& root, const Bytes& ours, const std::set<Bytes>& known_receivers,
                 const StateView& later, Chains& chains) {
  size_t found = 0;
  auto root_key = Secret<32>::FromSpan(root);
  auto our_key = crypto::X25519PrivateKey::FromBytes(ours);
  auto later_key = crypto::X25519PrivateKey::FromBytes(later.ratchet_private);
  if (!root_key.ok() || !our_key.ok() || !later_key.ok()) {
    return 0;
  }
  for (const ChainView& r : later.receiving) {
    if (known_receivers.count(r.id) != 0) {
      continue;
    }
    auto theirs = crypto::X25519PublicKey::Parse(ByteSpan(r.id).last(kPublicBytes));
    if (!theirs.ok()) {
      continue;
    }
    auto receiving = signal::RootStep(*root_key, *theirs, *our_key);
    if (!receiving.ok()) {
      continue;
    }
    const Bytes first = ToBytes(receiving->chain.key.span());
    if (StepTo(first, 0, r.index) != r.key) {
      continue;
    }
    chains.See(ChainView{r.id, first, 0}, false);
    ++found;
    auto sending = signal::RootStep(receiving->root, *theirs, *later_key);
    if (sending.ok()) {
      const Bytes send_first = ToBytes(sending->chain.key.span());
      if (StepTo(send_first, 0, later.sending.index) == later.sending.key) {
        chains.See(ChainView{later.sending.id, send_first, 0}, false);
        ++found;
      }
    }
  }
  return found;
}

// RecomputeX3dh finds the first chains of a session the client accepted (as Bob) between
// two snapshots: it redoes X3DH with each signed and one-time prekey it held before, then the
// DH ratchet step of the first message.
size_t RecomputeX3dh(const ClientKeys& before, const StateView& later, Chains& chains) {
  auto identity = crypto::X25519PrivateKey::FromBytes(before.identity.private_key);
  auto their_identity = crypto::X25519PublicKey::Parse(later.remote_identity);
  auto base = crypto::X25519PublicKey::Parse(later.alice_base_key);
  if (!identity.ok() || !their_identity.ok() || !base.ok()) {
    return 0;
  }
  for (const KeyPair& spk : before.signed_prekeys) {
    auto spk_private = crypto::X25519PrivateKey::FromBytes(spk.private_key);
    auto dh1 = crypto::X25519Agree(*spk_private, *their_identity);
    auto dh2 = crypto::X25519Agree(*identity, *base);
    auto dh3 = crypto::X25519Agree(*spk_private, *base);
    if (!dh1.ok() || !dh2.ok() || !dh3.ok()) {
      continue;
    }
    std::vector<const KeyPair*> one_time{nullptr};
    for (const KeyPair& pk : before.prekeys) {
      one_time.push_back(&pk);
    }
    for (const KeyPair* pk : one_time) {
      Bytes agreements(32, 0xFF);
      for (const auto* dh : {&*dh1, &*dh2, &*dh3}) {
        agreements.insert(agreements.end(), dh->span().begin(), dh->span().end());
      }
      if (pk != nullptr) {
        auto dh4 =
            crypto::X25519Agree(*crypto::X25519PrivateKey::FromBytes(pk->private_key), *base);
        if (!dh4.ok()) {
          continue;
        }
        agreements.insert(agreements.end(), dh4->span().begin(), dh4->span().end());
      }
      const signal::RootAndChain initial = signal::DeriveInitialKeys(agreements);
      const size_t found =
          Recompute(ToBytes(initial.root.span()), spk.private_key, {}, later, chains);
      if (found > 0) {
        return found;
      }
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// The test.

class SeizedServerTest : public ServerTest {
 protected:
  const std::vector<std::string> kHomes{"alice", "bob", "carol"};
  const std::map<std::string, std::string> kPhones{
      {"alice", "+14155550101"}, {"bob", "+14155550102"}, {"carol", "+14155550103"}};

  // Long makes a 2 KB plaintext of letters that no other plaintext shares (a fixed
  // generator: the test is repeatable).
  static std::string Long(uint32_t seed) {
    std::string s = "long plaintext " + std::to_string(seed) + ": ";
    uint32_t x = seed * 2654435761u + 1;
    while (s.size() < kLongPlaintextBytes) {
      x = x * 1664525u + 1013904223u;
      s.push_back(static_cast<char>('a' + (x >> 24) % 26));
    }
    return s;
  }

  // Send sends a 1:1 text and remembers it as a plaintext to search for.
  void Send(const std::string& from, const std::string& to, const std::string& text) {
    auto r = User(from).SendText(kPhones.at(to), text);
    ASSERT_TRUE(r.ok()) << from << " -> " << to << ": " << PersonError(r.error());
    plaintexts_.push_back(text);
  }
  void SendGroup(const std::string& from, const std::string& text) {
    auto r = User(from).SendGroupText(group_, text);
    ASSERT_TRUE(r.ok()) << from << " -> group: " << PersonError(r.error());
    plaintexts_.push_back(text);
  }
  // Last is the last `n` plaintexts sent.
  std::vector<std::string> Last(size_t n) const {
    return std::vector<std::string>(plaintexts_.end() - static_cast<ptrdiff_t>(n),
                                    plaintexts_.end());
  }
  // Expect has `home` receive, and checks the texts that arrived.
  void Expect(const std::string& home, const std::vector<std::string>& texts) {
    EXPECT_EQ(Texts(Receive(User(home))), texts) << "at " << home;
  }

  // Snapshot closes every device and reads every client's keys.
  void Snapshot() {
    users_.clear();
    std::map<std::string, ClientKeys> snap;
    for (const auto& home : kHomes) {
      snap[home] = ReadClientKeys(dir_ + "/" + home + "/holdfast.db");
    }
    snapshots_.push_back(std::move(snap));
  }

  std::string group_;
  std::vector<std::string> plaintexts_;
  std::vector<std::map<std::string, ClientKeys>> snapshots_;
};

// Needles collects the needles, each distinct byte string once, counting them by kind.
class Needles {
 public:
  void Add(const std::string& kind, const std::string& label, ByteSpan bytes,
           bool control = false) {
    Bytes b = ToBytes(bytes);
    if (!seen_.insert(b).second) {
      return;
    }
    ++counts_[kind];
    all_.push_back(Needle{kind, label, std::move(b), control});
  }
  const std::vector<Needle>& all() const { return all_; }
  const std::map<std::string, size_t>& counts() const { return counts_; }

 private:
  std::set<Bytes> seen_;
  std::vector<Needle> all_;
  std::map<std::string, size_t> counts_;
};

TEST_F(SeizedServerTest, HoldsNoPlaintextAndNoClientKey) {
  const auto started = steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(StartServer());
  for (const auto& home : kHomes) {
    Register(home, kPhones.at(home));
  }
  ASSERT_NO_FATAL_FAILURE(Snapshot());

  // 1:1, in rounds: one side sends, the other receives (and answers with delivery receipts),
  // then a snapshot. Alice's first message to Bob goes signed in; the rest are sealed.
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "Meet me by the old mill at seven, bring the map"));
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "The ledger is hidden under the third floorboard"));
  Expect("bob", Last(2));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_NO_FATAL_FAILURE(Send("bob", "alice", "Understood; the courier leaves on Thursday night"));
  ASSERT_NO_FATAL_FAILURE(Send("bob", "alice", Long(1)));
  Expect("alice", Last(2));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "Account number 4471-0093-2210 for the transfer"));
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "Burn this note after you read it, please"));
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "Passphrase for the archive: violet-heron-1912"));
  Expect("bob", Last(3));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_NO_FATAL_FAILURE(Send("carol", "alice", "Carol here: my lawyer says to wait a week"));
  Expect("alice", Last(1));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_NO_FATAL_FAILURE(Send("alice", "carol", "Tell the lawyer the documents are in Lisbon"));
  ASSERT_NO_FATAL_FAILURE(Send("alice", "carol", "Source's real name is Margarethe Vollmer"));
  Expect("carol", Last(2));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  // Carol and Bob talk before the group: a member first heard from through a group cannot
  // be answered yet (the client records no identity key for a contact that a group's member
  // list introduced, and then refuses to seal to it).
  ASSERT_NO_FATAL_FAILURE(Send("carol", "bob", "Carol to Bob: the storage unit key is with Ines"));
  Expect("bob", Last(1));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_NO_FATAL_FAILURE(Send("bob", "carol", "Bob to Carol: collect it after the hearing ends"));
  Expect("carol", Last(1));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  // The receipts of the last rounds reach their senders.
  for (const auto& home : kHomes) {
    EXPECT_TRUE(Texts(Receive(User(home))).empty());
  }
  ASSERT_NO_FATAL_FAILURE(Snapshot());

  // A group of three. Each member sends with a sender key the snapshots see at its first
  // link: Alice's is made with the group. A client makes a new key on its next send after
  // any group update it received, so Bob and Carol each make theirs by re-announcing the
  // member list (AddMembers of a member already in) right before they send.
  const std::string group_name = "Editorial board: the Vollmer files";
  plaintexts_.push_back(group_name);
  auto group = User("alice").CreateGroup(group_name, {kPhones.at("bob"), kPhones.at("carol")});
  ASSERT_TRUE(group.ok()) << PersonError(group.error());
  group_ = *group;
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_NO_FATAL_FAILURE(SendGroup("alice", "Group: the printer wants the proofs by Monday"));
  ASSERT_NO_FATAL_FAILURE(SendGroup("alice", "Group: do not mention the Rotterdam meeting"));
  Expect("bob", Last(2));
  Expect("carol", Last(2));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  for (const auto& [home, other] :
       std::vector<std::pair<std::string, std::string>>{{"bob", "carol"}, {"carol", "bob"}}) {
    auto announced = User(home).AddMembers(group_, {kPhones.at(other)});
    ASSERT_TRUE(announced.ok()) << home << ": " << PersonError(announced.error());
    ASSERT_NO_FATAL_FAILURE(Snapshot());
    if (home == "bob") {
      ASSERT_NO_FATAL_FAILURE(SendGroup("bob", "Bob to all: photographs are on the blue drive"));
      ASSERT_NO_FATAL_FAILURE(SendGroup("bob", Long(2)));
      Expect("alice", Last(2));
      Expect("carol", Last(2));
    } else {
      ASSERT_NO_FATAL_FAILURE(SendGroup("carol", "Carol to all: second witness agreed to talk"));
      Expect("alice", Last(1));
      Expect("bob", Last(1));
    }
    ASSERT_NO_FATAL_FAILURE(Snapshot());
  }
  for (const auto& home : kHomes) {
    EXPECT_TRUE(Texts(Receive(User(home))).empty());
  }
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  const size_t delivered = plaintexts_.size();

  // The tail nobody receives: when the server is seized, these wait in its queue. (Carol
  // received no group update since her last group message, so she keeps her sender key.)
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "Undelivered: the safe house moved to Gdansk"));
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", Long(3)));
  ASSERT_NO_FATAL_FAILURE(Send("alice", "bob", "Undelivered: new contact is the harbour pilot"));
  ASSERT_NO_FATAL_FAILURE(Send("bob", "carol", "Undelivered: the witness wants protection first"));
  ASSERT_NO_FATAL_FAILURE(Send("carol", "alice", "Undelivered: Carol lost the second notebook"));
  ASSERT_NO_FATAL_FAILURE(SendGroup("carol", "Undelivered group: publication date is the 14th"));
  ASSERT_NO_FATAL_FAILURE(SendGroup("carol", "Undelivered group: legal review found no issue"));
  const size_t undelivered = plaintexts_.size() - delivered;

  // The seizure. First the running server's memory, with the clients still connected.
  const pid_t pid = server_.pid();
  std::vector<Haystack> seized;
  MemoryStats memory;
  std::string error;
  ASSERT_TRUE(CaptureMemory(pid, seized, memory, &error)) << error;
  const std::string gcore_note = Gcore(pid, dir_, seized);
  size_t files = 0;
  uint64_t disk_bytes = CaptureFiles(dir_ + "/server", "live", seized, &files);
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_EQ(server_.Stop(kStartWait), 0);
  disk_bytes += CaptureFiles(dir_ + "/server", "stopped", seized, &files);
  // The tail's ciphertext really was in the queue (read after the capture: opening the
  // database may change its files).
  int64_t queued = -1;
  {
    auto db = SqliteDb::Open(dir_ + "/server/holdfast.db");
    ASSERT_TRUE(db.ok());
    auto count = db->Prepare("SELECT count(*) FROM envelopes");
    ASSERT_TRUE(count.ok());
    ASSERT_TRUE(count->Step().ok());
    queued = count->ColumnInt64(0);
  }
  uint64_t core_bytes = 0;
  for (const auto& h : seized) {
    core_bytes += h.source == Haystack::Source::kCore ? h.size : 0;
  }

  // The chains: every link seen, and the first links of chains made between snapshots.
  Chains chains;
  size_t recomputed = 0;
  for (size_t n = 0; n < snapshots_.size(); ++n) {
    for (const auto& [home, keys] : snapshots_[n]) {
      for (const auto& [name, states] : keys.sessions) {
        for (const StateView& s : states) {
          chains.See(s.sending, false);
          for (const ChainView& r : s.receiving) {
            chains.See(r, false);
          }
        }
      }
      for (const ChainView& c : keys.sender_chains) {
        chains.See(c, true);
      }
      if (n == 0) {
        continue;
      }
      const ClientKeys& before = snapshots_[n - 1].at(home);
      for (const auto& [name, states] : keys.sessions) {
        const auto earlier = before.sessions.find(name);
        for (const StateView& s : states) {
          const StateView* prior = nullptr;
          if (earlier != before.sessions.end()) {
            for (const StateView& e : earlier->second) {
              prior = e.alice_base_key == s.alice_base_key ? &e : prior;
            }
          }
          if (prior == nullptr) {
            recomputed += RecomputeX3dh(before, s, chains);
            continue;
          }
          std::set<Bytes> known;
          for (const ChainView& r : prior->receiving) {
            known.insert(r.id);
          }
          recomputed += Recompute(prior->root, prior->ratchet_private, known, s, chains);
        }
      }
    }
  }

  // The needles.
  Needles needles;
  for (size_t i = 0; i < plaintexts_.size(); ++i) {
    const std::string& p = plaintexts_[i];
    ASSERT_GE(p.size(), kMinPlaintextBytes);
    const std::string label = "#" + std::to_string(i) + (i >= delivered ? " (undelivered)" : "");
    needles.Add("plaintext", label, AsBytes(p));
    if (p.size() >= 2 * kChunkBytes) {
      for (size_t at = 0; at + kChunkBytes <= p.size(); at += kChunkBytes) {
        needles.Add("plaintext piece", label + " at " + std::to_string(at),
                    AsBytes(p).subspan(at, kChunkBytes));
      }
    }
  }
  for (size_t n = 0; n < snapshots_.size(); ++n) {
    for (const auto& [home, keys] : snapshots_[n]) {
      const std::string who = home + " snapshot " + std::to_string(n);
      needles.Add("identity private key", who, keys.identity.private_key);
      for (const KeyPair& k : keys.signed_prekeys) {
        needles.Add("signed prekey private key", who, k.private_key);
      }
      for (const KeyPair& k : keys.prekeys) {
        needles.Add("one-time prekey private key", who, k.private_key);
      }
      for (const auto& [name, states] : keys.sessions) {
        for (const StateView& s : states) {
          needles.Add("root key", who + " " + name, s.root);
          needles.Add("ratchet private key", who + " " + name, s.ratchet_private);
          for (const Bytes& k : s.skipped_keys) {
            needles.Add("skipped message key", who + " " + name, k);
          }
        }
      }
      for (const Bytes& k : keys.sender_signing_keys) {
        needles.Add("sender key signing private key", who, k);
      }
      for (const Bytes& k : keys.sender_skipped_seeds) {
        needles.Add("sender key skipped seed", who, k);
      }
    }
  }
  size_t chains_total = 0, chains_from_first = 0, inconsistent = 0;
  uint64_t used_message_keys = 0;
  for (const auto& [id, c] : chains.all()) {
    ++chains_total;
    inconsistent += c.consistent ? 0 : 1;
    const auto& [first_index, first_key] = *c.links.begin();
    const uint32_t last_index = c.links.rbegin()->first;
    chains_from_first += first_index == 0 ? 1 : 0;
    used_message_keys += last_index - first_index;
    const std::string label = HexEncode(ByteSpan(id).first(8)) + "...";
    Bytes key = first_key;
    for (uint32_t i = first_index; i < last_index + kLookahead; ++i) {
      if (auto seen = c.links.find(i); seen != c.links.end() && seen->second != key) {
        ++inconsistent;  // a later sighting is not where the chain leads
      }
      const std::string at = label + " link " + std::to_string(i);
      if (c.sender_key) {
        needles.Add("sender key chain key", at, key);
        const Bytes seed = SenderKeyStep(key, 0x01);
        needles.Add("sender key message seed", at, seed);
        Bytes derived(48);
        ASSERT_TRUE(crypto::HkdfSha256(seed, {}, AsBytes("WhisperGroup"), derived).ok());
        needles.Add("sender key message key (iv)", at, ByteSpan(derived).first(16));
        needles.Add("sender key message key (cipher)", at, ByteSpan(derived).subspan(16, 32));
        key = SenderKeyStep(key, 0x02);
      } else {
        needles.Add("chain key", at, key);
        signal::ChainKey link{std::move(Secret<32>::FromSpan(key).value()), i};
        const signal::MessageKeys mk = link.Keys();
        needles.Add("message key (cipher)", at, mk.cipher_key.span());
        needles.Add("message key (mac)", at, mk.mac_key.span());
        needles.Add("message key (iv)", at, mk.iv.span());
        key = ToBytes(link.Next().key.span());
      }
    }
  }
  for (const auto& home : kHomes) {
    needles.Add("control: phone number", home, AsBytes(kPhones.at(home)), true);
    const Bytes& pub = snapshots_.back().at(home).identity.public_key;
    needles.Add("control: identity public key", home, ByteSpan(pub).subspan(1), true);
  }
  for (const Needle& n : needles.all()) {
    ASSERT_GE(n.bytes.size(),
              n.kind.starts_with("plaintext") || n.control ? kMinPlaintextBytes : kMinKeyBytes)
        << n.kind;
  }

  // The search.
  const SecretScanner scanner(needles.all());
  ASSERT_EQ(scanner.short_patterns(), 0u);
  struct Finding {
    size_t needle;
    Form form;
    const Haystack* where;
    size_t offset;
  };
  std::vector<Finding> findings;
  size_t finding_count = 0;
  std::map<std::pair<size_t, Haystack::Source>, size_t> control_hits;
  const auto scan_started = steady_clock::now();
  for (const Haystack& h : seized) {
    ScanHaystack(scanner, h, [&](const SecretScanner::Hit& hit) {
      const Needle& n = needles.all()[hit.needle];
      if (n.control) {
        if (hit.form == Form::kRaw) {
          ++control_hits[{hit.needle, h.source}];
        }
        return;
      }
      ++finding_count;
      if (findings.size() < 50) {
        findings.push_back(Finding{hit.needle, hit.form, &h, hit.offset});
      }
    });
  }
  const double scan_s = std::chrono::duration<double>(steady_clock::now() - scan_started).count();
  for (const Haystack& h : seized) {
    if (!h.file.empty()) {
      std::error_code ec;
      std::filesystem::remove(h.file, ec);
    }
  }

  // The report.
  std::printf(
      "seized-server: %zu plaintexts (%zu undelivered at the seizure, %lld envelopes queued), "
      "%zu snapshots\n",
      plaintexts_.size(), undelivered, static_cast<long long>(queued), snapshots_.size());
  std::printf("seized-server: %zu needles, %zu patterns:\n", needles.all().size(),
              scanner.patterns());
  for (const auto& [kind, count] : needles.counts()) {
    std::printf("  %-34s %zu\n", kind.c_str(), count);
  }
  std::printf(
      "seized-server: %zu chains (%zu seen from their first link, %zu first links recomputed), "
      "%llu message keys proven used\n",
      chains_total, chains_from_first, recomputed,
      static_cast<unsigned long long>(used_message_keys));
  std::printf(
      "seized-server: memory %zu mappings, %llu bytes (%zu skipped); core file %llu bytes%s%s; "
      "disk %zu files, %llu bytes; search %.2f s; test %.1f s\n",
      memory.mappings, static_cast<unsigned long long>(memory.bytes), memory.skipped,
      static_cast<unsigned long long>(core_bytes), gcore_note.empty() ? "" : ": ",
      gcore_note.c_str(), files, static_cast<unsigned long long>(disk_bytes), scan_s,
      std::chrono::duration<double>(steady_clock::now() - started).count());

  // The scanner sees the memory and the files: what the server does hold is found.
  for (size_t i = 0; i < needles.all().size(); ++i) {
    const Needle& n = needles.all()[i];
    if (!n.control) {
      continue;
    }
    EXPECT_GT((control_hits[{i, Haystack::Source::kMemory}]), 0u)
        << n.kind << " of " << n.label << " not found in the server's memory";
    EXPECT_GT((control_hits[{i, Haystack::Source::kDisk}]), 0u)
        << n.kind << " of " << n.label << " not found in the server's files";
    if (core_bytes > 0) {
      EXPECT_GT((control_hits[{i, Haystack::Source::kCore}]), 0u)
          << n.kind << " of " << n.label << " not found in the core file";
    }
  }
  // The keys searched for are the ones the messages used, all of them.
  EXPECT_GE(queued, static_cast<int64_t>(undelivered)) << "the tail is not in the queue";
  EXPECT_EQ(inconsistent, 0u) << "the chains read from the stores do not agree";
  EXPECT_EQ(chains_from_first, chains_total)
      << "some chain's first links are not searched for: a round of the script now makes two "
         "ratchet steps between snapshots, or a sender key is used before a snapshot sees it";
  EXPECT_GE(used_message_keys, plaintexts_.size());
  EXPECT_GE(needles.all().size() - 2 * kHomes.size(), 50u);
  EXPECT_GT(memory.bytes, 0u);

  // And nothing secret is found.
  std::ostringstream report;
  for (const Finding& f : findings) {
    const Needle& n = needles.all()[f.needle];
    report << "\n  " << n.kind << " [" << n.label << "] as " << FormName(f.form) << " in "
           << f.where->name << " at offset " << f.offset;
  }
  EXPECT_EQ(finding_count, 0u) << "the seized server holds client secrets:" << report.str();
}

// The scanner finds a needle in every form it searches, whatever its alignment in the
// encoded text and whatever surrounds it.
TEST(SecretScanner, FindsANeedleInEveryFormAndAlignment) {
  Bytes key(32);
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(0xF0 ^ (i * 37));
  }
  // 24 one bits: at every alignment the base64 holds a '/' (or '_'), so the standard and
  // URL-safe patterns differ.
  std::fill_n(key.begin() + 10, 3, 0xFF);
  const std::vector<Needle> needles{{"key", "k", key, false},
                                    {"text", "t", ToBytes(AsBytes("a secret to keep")), false}};
  const SecretScanner scanner(needles);
  ASSERT_EQ(scanner.short_patterns(), 0u);
  auto found = [&](const std::string& hay, Form form) {
    bool hit = false;
    scanner.Scan(AsBytes(hay), [&](const SecretScanner::Hit& h) {
      hit = hit || (h.needle == 0 && h.form == form);
    });
    return hit;
  };
  for (size_t before = 0; before < 3; ++before) {
    for (size_t after = 0; after < 3; ++after) {
      Bytes data(before, 0x5A);
      data.insert(data.end(), key.begin(), key.end());
      data.insert(data.end(), after, 0xC3);
      const std::string context = " with " + std::to_string(before) + "+" + std::to_string(after);
      EXPECT_TRUE(found("xx" + std::string(data.begin(), data.end()) + "yy", Form::kRaw))
          << context;
      EXPECT_TRUE(found("{" + HexEncode(data) + "}", Form::kHexLower)) << context;
      EXPECT_TRUE(found("{" + Upper(HexEncode(data)) + "}", Form::kHexUpper)) << context;
      for (auto v : {Base64Variant::kStandard, Base64Variant::kStandardRaw}) {
        EXPECT_TRUE(found("\"" + Base64Encode(data, v) + "\"", Form::kBase64)) << context;
      }
      for (auto v : {Base64Variant::kUrlSafe, Base64Variant::kUrlSafeRaw}) {
        EXPECT_TRUE(found("\"" + Base64Encode(data, v) + "\"", Form::kBase64Url)) << context;
      }
    }
  }
  Bytes other = key;
  other[31] ^= 1;
  EXPECT_FALSE(found(std::string(other.begin(), other.end()), Form::kRaw));

  // A file read in pieces: every occurrence is found once, wherever the pieces split it.
  const std::string path = ::testing::TempDir() + "/scanner_pieces";
  std::string text(300, '.');
  text.replace(3, key.size(), std::string(key.begin(), key.end()));
  text.replace(150, key.size(), std::string(key.begin(), key.end()));
  text.replace(300 - key.size(), key.size(), std::string(key.begin(), key.end()));
  std::ofstream(path, std::ios::binary) << text;
  for (const size_t piece : {size_t{1}, size_t{5}, size_t{31}, size_t{64}, size_t{1000}}) {
    std::vector<size_t> offsets;
    ScanHaystack(
        scanner, Haystack{Haystack::Source::kCore, "pieces", {}, path, text.size()},
        [&](const SecretScanner::Hit& h) {
          if (h.needle == 0 && h.form == Form::kRaw) {
            offsets.push_back(h.offset);
          }
        },
        piece);
    EXPECT_EQ(offsets, (std::vector<size_t>{3, 150, 300 - key.size()})) << "pieces of " << piece;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace holdfast::client
