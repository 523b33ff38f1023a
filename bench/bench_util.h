// Shared helpers for the crypto benchmarks.
//
// Naming: every benchmark is "BM_<Operation>/<implementation>[/<size>...]". Holdfast's own code
// is always the implementation "holdfast"; any other implementation of the same operation
// (libsodium, libsignal, openssl_fresh_ctx, ...) is its peer, and bench/run.sh prints the ratio
// holdfast/peer for every pair that differs only in that one component.
#ifndef HOLDFAST_BENCH_BENCH_UTIL_H_
#define HOLDFAST_BENCH_BENCH_UTIL_H_

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "holdfast/common/bytes.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/libsignal_peer.h"

namespace holdfast::bench {

// TestBytes returns `n` reproducible pseudo-random bytes; different seeds give unrelated data.
inline Bytes TestBytes(size_t n, uint64_t seed) {
  Bytes out(n);
  DeterministicRng rng(seed);
  rng.Fill(out);
  return out;
}

// Same compares two byte strings (outside timed loops only).
inline bool Same(ByteSpan a, ByteSpan b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// MessageSizes adds the message lengths every bulk primitive is measured at.
inline void MessageSizes(benchmark::internal::Benchmark* b) {
  b->Arg(64)->Arg(1024)->Arg(16 * 1024);
}

// Size reads the benchmark's message-length argument.
inline size_t Size(const benchmark::State& state) { return static_cast<size_t>(state.range(0)); }

// SetBytes reports throughput for a benchmark that processes `Size(state)` bytes a call.
inline void SetBytes(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// Peer is the one libsignal-protocol-c context every libsignal benchmark uses. Its crypto
// provider (random, HMAC-SHA256, SHA-512, AES) is Holdfast's crypto module; see
// testing/src/libsignal_peer.cc.
inline testing::LibsignalPeer& Peer() {
  static testing::LibsignalPeer peer;
  return peer;
}

}  // namespace holdfast::bench

#define HF_BENCH_CONCAT_INNER_(a, b) a##b
#define HF_BENCH_CONCAT_(a, b) HF_BENCH_CONCAT_INNER_(a, b)

// HF_BENCH("BM_Op/impl", fn, extra args...) registers `fn(state, extra args...)` under that
// name and evaluates to the benchmark, so options chain: HF_BENCH(...)->Apply(MessageSizes);
#define HF_BENCH(name, ...)                                                         \
  [[maybe_unused]] static ::benchmark::internal::Benchmark* const HF_BENCH_CONCAT_( \
      hf_bench_, __COUNTER__) = ::benchmark::RegisterBenchmark(name, __VA_ARGS__)

#endif  // HOLDFAST_BENCH_BENCH_UTIL_H_
