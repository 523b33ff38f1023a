// Best effort, but it must not find one: after a conversation, no message key that was used
// is left anywhere in this process's memory. The keys are recomputed from a session snapshot
// taken before each message and kept only XOR-masked, so the scan cannot find the test's
// own copy; then every readable mapping of /proc/self/mem is searched for them.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "holdfast/common/rng.h"
#include "holdfast/signal/chain.h"
#include "holdfast/signal/session.h"
#include "test_party.h"

namespace holdfast::signal {
namespace {

constexpr uint8_t kMask = 0xA5;

struct MaskedKey {
  std::array<uint8_t, 32> masked;
};

// The receiving chain key Bob will use next is the newest receiving chain in his serialized
// session (docs/signal.md "Stored sessions").
ChainKey NewestReceivingChain(const Session& s) {
  const SecretBytes bytes = s.Serialize();
  ByteReader r(bytes.span());
  (void)r.Skip(1 + 1 + 33 + 33 + 4 + 4 + 32 + 32 + 33 + 32 + 4 + 4);
  const uint8_t n = r.ReadU8().value();
  EXPECT_GT(n, 0);
  (void)r.Skip(33);
  const ByteSpan key = r.ReadBytes(32).value();
  const uint32_t index = r.ReadU32Be().value();
  return ChainKey{std::move(Secret<32>::FromSpan(key).value()), index};
}

size_t CountInMemory(const std::vector<MaskedKey>& keys) {
  std::ifstream maps("/proc/self/maps");
  std::ifstream mem("/proc/self/mem", std::ios::binary);
  size_t found = 0;
  std::string line;
  std::vector<uint8_t> buf;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    if (perms.size() < 1 || perms[0] != 'r' || line.find("[vvar]") != std::string::npos ||
        line.find("[vsyscall]") != std::string::npos) {
      continue;
    }
    const size_t dash = range.find('-');
    const uint64_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
    const uint64_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (end - begin > (uint64_t{1} << 30)) {
      continue;
    }
    buf.resize(end - begin);
    mem.clear();
    mem.seekg(static_cast<std::streamoff>(begin));
    mem.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    const size_t got = static_cast<size_t>(mem.gcount());
    for (const MaskedKey& k : keys) {
      const uint8_t first = static_cast<uint8_t>(k.masked[0] ^ kMask);
      for (size_t i = 0; i + 32 <= got; ++i) {
        if (buf[i] != first) {
          continue;
        }
        size_t j = 1;
        while (j < 32 && buf[i + j] == static_cast<uint8_t>(k.masked[j] ^ kMask)) {
          ++j;
        }
        found += j == 32 ? 1 : 0;
      }
    }
  }
  return found;
}

TEST(MemoryScan, UsedMessageKeysAreNotLeftInMemory) {
  std::vector<MaskedKey> used;
  {
    DeterministicRng rng(21);
    Party alice(rng, 1), bob(rng, 2);
    ASSERT_TRUE(alice.session.ProcessBundle(alice.identity, 1, bob.Bundle(rng, 100), rng).ok());
    ASSERT_TRUE(bob.Receive(*alice.session.Encrypt(AsBytes("hello")), rng).ok());
    for (int i = 0; i < 40; ++i) {
      if (i % 10 == 5) {  // change direction now and then: new chains
        ASSERT_TRUE(alice.Receive(*bob.session.Encrypt(AsBytes("turn")), rng).ok());
      }
      const Ciphertext c = *alice.session.Encrypt(AsBytes("message"));
      {
        const MessageKeys keys = NewestReceivingChain(bob.session).Keys();
        MaskedKey cipher, mac;
        for (size_t j = 0; j < 32; ++j) {
          cipher.masked[j] = static_cast<uint8_t>(keys.cipher_key.data()[j] ^ kMask);
          mac.masked[j] = static_cast<uint8_t>(keys.mac_key.data()[j] ^ kMask);
        }
        used.push_back(cipher);
        used.push_back(mac);
      }
      ASSERT_TRUE(bob.Receive(c, rng).ok()) << i;
    }
  }
  // Sanity check of the scanner: a live key is found.
  {
    Secret<32> live;
    DeterministicRng(5).Fill(live.mutable_span());
    MaskedKey m;
    for (size_t j = 0; j < 32; ++j) {
      m.masked[j] = static_cast<uint8_t>(live.data()[j] ^ kMask);
    }
    ASSERT_GE(CountInMemory({m}), 1u) << "the scanner cannot see this process's memory";
  }
  EXPECT_EQ(CountInMemory(used), 0u) << "a used message key is still in memory";
}

}  // namespace
}  // namespace holdfast::signal
