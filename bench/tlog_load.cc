// tlog_load: the transparency log's load driver. Builds a log of N leaves in SQLite storage
// and measures what the tlog issue asks for: append throughput against the SHA-256 floor
// (HashLeaf + one HashChildren per leaf, timed in the same run), inclusion and consistency
// proof generation from the full tree, proof verification, bytes on disk per leaf, open
// time, and peak RSS after building and after proving.
//
// A plain main() rather than Google Benchmark: building a 10M-leaf log is a one-off setup
// that every later measurement shares. Rates are medians over --reps repetitions.
//
//   tlog_load [--leaves N] [--batch B] [--entry-bytes E] [--proofs P] [--reps R]
//             [--dir DIR] [--keep] [--reuse] [--floor-sample S] [--verify-sample V]
//             [--seed X] [--batch-times FILE] [--only PHASES]
//
// Output: a table for people, then one line per metric, "RESULT tlog <metric> <value>
// <unit>". Progress goes to stderr.
#include <openssl/evp.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/error.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/log.h"
#include "holdfast/tlog/merkle.h"
#include "holdfast/tlog/note.h"
#include "holdfast/tlog/storage.h"

namespace holdfast::tlog {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr char kOrigin[] = "holdfast.bench/tlog";
constexpr char kDbName[] = "log.db";

struct Options {
  uint64_t leaves = 1000000;
  uint64_t batch = 1024;
  uint64_t entry_bytes = 64;
  uint64_t proofs = 200000;
  uint64_t reps = 5;
  uint64_t floor_sample = 1000000;  // leaves hashed per floor repetition
  uint64_t verify_sample = 10000;   // proofs kept for the verification rates
  uint64_t seed = 1;
  std::string dir;
  std::string batch_times;  // if set, a CSV of every batch's Append time
  std::string only;         // comma-separated phases to run; empty: all
  bool keep = false;
  bool reuse = false;
};

// ---- process-wide cleanup ------------------------------------------------------------------

// What to delete at exit: the whole directory when we made it, else only our database files.
struct Cleanup {
  std::string dir;
  bool remove_dir = false;
  bool active = false;
} g_cleanup;

void RunCleanup() {
  if (!g_cleanup.active) {
    return;
  }
  g_cleanup.active = false;
  std::error_code ec;
  if (g_cleanup.remove_dir) {
    fs::remove_all(g_cleanup.dir, ec);
  } else {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(fs::path(g_cleanup.dir) / (std::string(kDbName) + suffix), ec);
    }
  }
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "tlog_load: %s\n", what.c_str());
  RunCleanup();
  std::exit(1);
}

[[noreturn]] void DieError(const std::string& what, const Error& e) {
  Die(what + ": " + std::string(ErrorName(e.code)) +
      (e.detail ? std::string(" (") + e.detail + ")" : ""));
}

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) {
    DieError(what, r.error());
  }
  return std::move(r).value();
}

// ---- flags ---------------------------------------------------------------------------------

[[noreturn]] void Usage(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: tlog_load [--leaves N] [--batch B] [--entry-bytes E] [--proofs P]\n"
               "                 [--reps R] [--dir DIR] [--keep] [--reuse]\n"
               "                 [--floor-sample S] [--verify-sample V] [--seed X]\n"
               "                 [--batch-times FILE] [--only PHASES]\n"
               "  --leaves N         leaves in the log (default 1000000; 1M, 10M accepted)\n"
               "  --batch B          entries per Append, one transaction each (default 1024)\n"
               "  --entry-bytes E    bytes per entry (default 64)\n"
               "  --proofs P         inclusion / consistency proofs per measurement, split\n"
               "                     over the repetitions (default 200000)\n"
               "  --reps R           repetitions; rates are their median (default 5)\n"
               "  --dir DIR          where log.db goes (default: a fresh /tmp/tlog-load-XXXXXX)\n"
               "  --keep             keep the database at exit\n"
               "  --reuse            DIR already holds a log of N leaves made by tlog_load with\n"
               "                     the same --entry-bytes and --seed: skip building it\n"
               "  --floor-sample S   leaves hashed per SHA-256 floor repetition (default 1M)\n"
               "  --verify-sample V  proofs kept for the verification rates (default 10000)\n"
               "  --seed X           entry and index seed (default 1)\n"
               "  --batch-times F    write every batch's first leaf and Append time to CSV F\n"
               "  --only LIST        run only these phases (comma-separated; the log is always\n"
               "                     built unless --reuse): floor, open, inclusion, nocache,\n"
               "                     consistency, verify, memory. For profiling one phase.\n");
  std::exit(status);
}

uint64_t ParseCount(std::string_view flag, std::string_view v) {
  // Accept plain digits with an optional k/K/M/G suffix (10M = 10,000,000).
  uint64_t mult = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 'k':
      case 'K':
        mult = 1000;
        break;
      case 'm':
      case 'M':
        mult = 1000000;
        break;
      case 'g':
      case 'G':
        mult = 1000000000;
        break;
      default:
        break;
    }
    if (mult != 1) {
      v.remove_suffix(1);
    }
  }
  if (v.empty() || v.size() > 12 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::fprintf(stderr, "tlog_load: %.*s wants a number\n", static_cast<int>(flag.size()),
                 flag.data());
    Usage(2);
  }
  return std::stoull(std::string(v)) * mult;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto next = [&]() -> std::string_view {
      if (has_value) {
        return value;
      }
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tlog_load: %s needs a value\n", argv[i]);
        Usage(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      Usage(0);
    } else if (arg == "--leaves") {
      o.leaves = ParseCount(arg, next());
    } else if (arg == "--batch") {
      o.batch = ParseCount(arg, next());
    } else if (arg == "--entry-bytes") {
      o.entry_bytes = ParseCount(arg, next());
    } else if (arg == "--proofs") {
      o.proofs = ParseCount(arg, next());
    } else if (arg == "--reps") {
      o.reps = ParseCount(arg, next());
    } else if (arg == "--floor-sample") {
      o.floor_sample = ParseCount(arg, next());
    } else if (arg == "--verify-sample") {
      o.verify_sample = ParseCount(arg, next());
    } else if (arg == "--seed") {
      o.seed = ParseCount(arg, next());
    } else if (arg == "--dir") {
      o.dir = std::string(next());
    } else if (arg == "--only") {
      o.only = std::string(next());
    } else if (arg == "--batch-times") {
      o.batch_times = std::string(next());
    } else if (arg == "--keep") {
      o.keep = true;
    } else if (arg == "--reuse") {
      o.reuse = true;
    } else {
      std::fprintf(stderr, "tlog_load: unknown flag %s\n", argv[i]);
      Usage(2);
    }
  }
  if (o.leaves < 2 || o.batch == 0 || o.reps == 0 || o.proofs < o.reps || o.floor_sample == 0 ||
      o.entry_bytes > kMaxEntryBytes) {
    std::fprintf(stderr,
                 "tlog_load: need --leaves >= 2, --batch >= 1, --reps >= 1, --proofs >= --reps, "
                 "--floor-sample >= 1, --entry-bytes <= %zu\n",
                 kMaxEntryBytes);
    Usage(2);
  }
  if (o.reuse && o.dir.empty()) {
    std::fprintf(stderr, "tlog_load: --reuse needs --dir\n");
    Usage(2);
  }
  return o;
}

// Want says whether phase `name` runs (--only).
bool Want(const Options& o, std::string_view name) {
  if (o.only.empty()) {
    return true;
  }
  std::string_view list = o.only;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (list.substr(0, comma) == name) {
      return true;
    }
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return false;
}

// ---- measurement helpers -------------------------------------------------------------------

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Percentile by nearest rank, p in [0, 100].
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

// ProcStatusKib reads a "VmXxx:  123 kB" line of /proc/self/status.
uint64_t ProcStatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::strtoull(line.c_str() + n + 1, nullptr, 10);
    }
  }
  return 0;
}

uint64_t FileBytes(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

// A sink the optimizer cannot see through.
volatile uint64_t g_sink = 0;
void Consume(const Hash& h) { g_sink = g_sink + h[0] + h[31]; }

// ---- the workload --------------------------------------------------------------------------

// Entries: one pre-generated batch of pseudo-random entries, with the leaf's index written
// over the first (up to) 8 bytes, so entry i is slot i % B with i stamped in and every leaf
// differs. MakeEntry rebuilds any entry for verification.
class Entries {
 public:
  Entries(uint64_t batch, uint64_t entry_bytes, uint64_t seed)
      : batch_(batch), bytes_(entry_bytes), buf_(batch * entry_bytes) {
    DeterministicRng rng(seed);
    rng.Fill(buf_);
    spans_.reserve(batch);
    for (uint64_t j = 0; j < batch; ++j) {
      spans_.emplace_back(buf_.data() + j * bytes_, bytes_);
    }
    ordered_.resize(batch);
  }

  // Stamp prepares entries [first, first + n) in the batch buffer (n <= batch) and returns
  // them in order.
  std::span<const ByteSpan> Stamp(uint64_t first, uint64_t n) {
    for (uint64_t j = 0; j < n; ++j) {
      const uint64_t slot = (first + j) % batch_;
      StampInto(buf_.data() + slot * bytes_, first + j);
      ordered_[j] = spans_[slot];
    }
    return std::span<const ByteSpan>(ordered_.data(), n);
  }

  // Base gives the unstamped batch as spans (for the floor).
  std::span<const ByteSpan> Spans() const { return spans_; }

  Bytes MakeEntry(uint64_t index) const {
    const uint64_t j = index % batch_;
    Bytes e(buf_.begin() + static_cast<ptrdiff_t>(j * bytes_),
            buf_.begin() + static_cast<ptrdiff_t>((j + 1) * bytes_));
    StampInto(e.data(), index);
    return e;
  }

 private:
  void StampInto(uint8_t* p, uint64_t index) const {
    for (uint64_t k = 0; k < std::min<uint64_t>(8, bytes_); ++k) {
      p[k] = static_cast<uint8_t>(index >> (8 * k));
    }
  }

  uint64_t batch_, bytes_;
  Bytes buf_;
  std::vector<ByteSpan> spans_;    // slot j
  std::vector<ByteSpan> ordered_;  // the last Stamp's entries, in order
};

struct Metric {
  std::string section, label, name;
  double value;
  std::string unit;
  std::string note;
};

class Report {
 public:
  void Add(std::string section, std::string label, std::string name, double value, std::string unit,
           std::string note = "") {
    metrics_.push_back({std::move(section), std::move(label), std::move(name), value,
                        std::move(unit), std::move(note)});
  }
  // Section fixes where a section prints before any of its metrics are added.
  void Section(std::string section) { order_.push_back(std::move(section)); }
  void Note(std::string line) { notes_.push_back(std::move(line)); }

  void Print(const Options& o) const {
    std::printf("\ntlog_load: %" PRIu64 " leaves of %" PRIu64 " bytes, batches of %" PRIu64
                ", %" PRIu64 " proofs, median of %" PRIu64 " reps\n",
                o.leaves, o.entry_bytes, o.batch, o.proofs, o.reps);
    size_t lw = 0;
    for (const auto& m : metrics_) {
      lw = std::max(lw, m.label.size());
    }
    // Sections in order of first appearance, each with all of its metrics.
    std::vector<std::string> sections = order_;
    for (const auto& m : metrics_) {
      if (std::find(sections.begin(), sections.end(), m.section) == sections.end()) {
        sections.push_back(m.section);
      }
    }
    for (const auto& section : sections) {
      std::printf("\n%s\n", section.c_str());
      for (const auto& m : metrics_) {
        if (m.section == section) {
          std::printf("  %-*s %14s %-9s %s\n", static_cast<int>(lw), m.label.c_str(),
                      Format(m.value).c_str(), m.unit.c_str(), m.note.c_str());
        }
      }
    }
    if (!notes_.empty()) {
      std::printf("\n");
      for (const auto& n : notes_) {
        std::printf("%s\n", n.c_str());
      }
    }
    std::printf("\n");
    for (const auto& m : metrics_) {
      std::printf("RESULT tlog %s %s %s\n", m.name.c_str(), Format(m.value).c_str(),
                  m.unit.c_str());
    }
    std::fflush(stdout);
  }

 private:
  static std::string Format(double v) {
    char buf[64];
    if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15) {
      std::snprintf(buf, sizeof(buf), "%" PRId64, static_cast<int64_t>(v));
    } else if (std::abs(v) >= 100) {
      std::snprintf(buf, sizeof(buf), "%.0f", v);
    } else {
      std::snprintf(buf, sizeof(buf), "%.3g", v);
    }
    return buf;
  }

  std::vector<Metric> metrics_;
  std::vector<std::string> order_;
  std::vector<std::string> notes_;
};

// Progress lines go to stderr (unbuffered), so a long run shows where it is.
#define Progress(...) std::fprintf(stderr, __VA_ARGS__)

std::unique_ptr<Log> OpenLog(const std::string& path, size_t cache_tiles) {
  auto storage = Check(OpenSqliteLogStorage(path), "open storage");
  LogOptions opts;
  opts.origin = kOrigin;
  opts.tile_cache_tiles = cache_tiles;
  return Check(Log::Open(std::move(storage), std::move(opts)), "open log");
}

// FloorNsPerLeaf times HashLeaf(entry) + one HashChildren per leaf over the batch buffer.
double FloorNsPerLeaf(const Entries& entries, uint64_t sample) {
  const auto spans = entries.Spans();
  Hash acc{};
  const auto t0 = Clock::now();
  for (uint64_t i = 0, j = 0; i < sample; ++i) {
    const Hash leaf = HashLeaf(spans[j]);
    acc = HashChildren(acc, leaf);
    if (++j == spans.size()) {
      j = 0;
    }
  }
  const auto t1 = Clock::now();
  Consume(acc);
  return Seconds(t1 - t0) * 1e9 / static_cast<double>(sample);
}

// HashLeafNsPerLeaf and HashChildrenNsPerLeaf time the floor's two halves apart.
double HashLeafNsPerLeaf(const Entries& entries, uint64_t sample) {
  const auto spans = entries.Spans();
  uint64_t sink = 0;
  const auto t0 = Clock::now();
  for (uint64_t i = 0, j = 0; i < sample; ++i) {
    sink += HashLeaf(spans[j])[0];
    if (++j == spans.size()) {
      j = 0;
    }
  }
  const auto t1 = Clock::now();
  g_sink = g_sink + sink;
  return Seconds(t1 - t0) * 1e9 / static_cast<double>(sample);
}

double HashChildrenNsPerLeaf(uint64_t sample) {
  Hash acc{}, other{};
  other[0] = 1;
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < sample; ++i) {
    acc = HashChildren(acc, other);
  }
  const auto t1 = Clock::now();
  Consume(acc);
  return Seconds(t1 - t0) * 1e9 / static_cast<double>(sample);
}

// OpensslFloorNsPerLeaf is the same two SHA-256 per leaf straight on OpenSSL with one
// EVP_MD_CTX reused for every digest: what SHA-256 itself costs on this machine, without
// the per-call overhead of the crypto module's API.
double OpensslFloorNsPerLeaf(const Entries& entries, uint64_t sample) {
  const auto spans = entries.Spans();
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (md == nullptr || ctx == nullptr) {
    Die("OpenSSL SHA-256");
  }
  const uint8_t leaf_prefix = 0, node_prefix = 1;
  Hash acc{}, leaf{};
  bool ok = true;
  const auto t0 = Clock::now();
  for (uint64_t i = 0, j = 0; i < sample; ++i) {
    ok &= EVP_DigestInit_ex2(ctx, md, nullptr) == 1 &&
          EVP_DigestUpdate(ctx, &leaf_prefix, 1) == 1 &&
          EVP_DigestUpdate(ctx, spans[j].data(), spans[j].size()) == 1 &&
          EVP_DigestFinal_ex(ctx, leaf.data(), nullptr) == 1;
    ok &= EVP_DigestInit_ex2(ctx, md, nullptr) == 1 &&
          EVP_DigestUpdate(ctx, &node_prefix, 1) == 1 &&
          EVP_DigestUpdate(ctx, acc.data(), acc.size()) == 1 &&
          EVP_DigestUpdate(ctx, leaf.data(), leaf.size()) == 1 &&
          EVP_DigestFinal_ex(ctx, acc.data(), nullptr) == 1;
    if (++j == spans.size()) {
      j = 0;
    }
  }
  const auto t1 = Clock::now();
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  if (!ok) {
    Die("OpenSSL SHA-256 failed");
  }
  Consume(acc);
  return Seconds(t1 - t0) * 1e9 / static_cast<double>(sample);
}

// RandomIndices returns n values uniform in [lo, hi).
std::vector<uint64_t> RandomIndices(DeterministicRng& rng, uint64_t n, uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> v(n);
  for (auto& x : v) {
    x = lo + rng.Uniform(hi - lo);
  }
  return v;
}

// InclusionRate times `log.Inclusion(i, size)` for each index; proofs per second.
double InclusionRate(const Log& log, std::span<const uint64_t> indices, uint64_t size) {
  uint64_t hashes = 0;
  const auto t0 = Clock::now();
  for (const uint64_t i : indices) {
    auto proof = log.Inclusion(i, size);
    if (!proof.ok()) {
      DieError("inclusion proof", proof.error());
    }
    hashes += proof->size();
  }
  const auto t1 = Clock::now();
  g_sink = g_sink + hashes;
  return static_cast<double>(indices.size()) / Seconds(t1 - t0);
}

struct InclusionRun {
  double fresh = 0;   // first repetition after opening (empty tile cache)
  double median = 0;  // median of the timed repetitions after a warm-up
  double min = 0, max = 0;
};

// MeasureInclusion opens the log with `cache_tiles`, times one repetition from an empty
// cache, one more untimed warm-up, then `reps` timed repetitions of `per_rep` proofs each.
InclusionRun MeasureInclusion(const std::string& path, size_t cache_tiles, uint64_t size,
                              uint64_t per_rep, uint64_t reps, uint64_t seed, const char* what) {
  auto log = OpenLog(path, cache_tiles);
  DeterministicRng rng(seed);
  InclusionRun run;
  run.fresh = InclusionRate(*log, RandomIndices(rng, per_rep, 0, size), size);
  Progress("  %s: fresh %.0f proofs/s\n", what, run.fresh);
  (void)InclusionRate(*log, RandomIndices(rng, per_rep, 0, size), size);
  std::vector<double> rates;
  for (uint64_t r = 0; r < reps; ++r) {
    const auto idx = RandomIndices(rng, per_rep, 0, size);
    rates.push_back(InclusionRate(*log, idx, size));
    Progress("  %s: rep %" PRIu64 " %.0f proofs/s\n", what, r + 1, rates.back());
  }
  run.median = Median(rates);
  run.min = *std::min_element(rates.begin(), rates.end());
  run.max = *std::max_element(rates.begin(), rates.end());
  return run;
}

int Run(const Options& o) {
  Report report;
  const auto run_start = Clock::now();

  // Directory and database path.
  std::string dir = o.dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/tlog-load-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      Die("mkdtemp failed");
    }
    dir = tmpl;
    g_cleanup.remove_dir = true;
  } else {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      Die("cannot create " + dir);
    }
  }
  const std::string path = (fs::path(dir) / kDbName).string();
  if (!o.reuse && fs::exists(path)) {
    Die(path + " exists; remove it, or pass --reuse to measure that log");
  }
  if (o.reuse && !fs::exists(path)) {
    Die(path + " does not exist (--reuse)");
  }
  g_cleanup.dir = dir;
  g_cleanup.active = !o.keep && !o.reuse;
  std::atexit(RunCleanup);
  Progress("tlog_load: log at %s\n", path.c_str());

  Entries entries(o.batch, o.entry_bytes, o.seed);
  DeterministicRng key_rng(o.seed ^ 0x5eed);
  const NoteSigner signer = Check(NoteSigner::Create(kOrigin, NoteKeyType::kEd25519,
                                                     crypto::Ed25519PrivateKey::Generate(key_rng)),
                                  "signer");

  // 1. The SHA-256 floor: HashLeaf + HashChildren per leaf, on the same entries. Measured
  // before building and again after (the machine's speed drifts); the floor is the median of
  // all those repetitions.
  const std::string floor_sec = "SHA-256 floor: HashLeaf(entry) + one HashChildren per leaf";
  report.Section(floor_sec);
  std::vector<double> floor_reps, leaf_reps, node_reps, openssl_reps;
  auto measure_floor = [&](const char* when) {
    const uint64_t sample = o.floor_sample;
    (void)FloorNsPerLeaf(entries, std::min<uint64_t>(sample, 100000));  // warm up
    std::vector<double> now;
    for (uint64_t r = 0; r < o.reps; ++r) {
      now.push_back(FloorNsPerLeaf(entries, sample));
      leaf_reps.push_back(HashLeafNsPerLeaf(entries, sample));
      node_reps.push_back(HashChildrenNsPerLeaf(sample));
      openssl_reps.push_back(OpensslFloorNsPerLeaf(entries, sample));
    }
    floor_reps.insert(floor_reps.end(), now.begin(), now.end());
    Progress("floor (%s): %.1f ns/leaf (median of %" PRIu64 " x %" PRIu64 " leaves)\n", when,
             Median(now), o.reps, sample);
    return Median(now);
  };
  const bool want_floor = Want(o, "floor");
  const double floor_before = want_floor ? measure_floor("before building") : 0;
  double floor_after = 0;
  double floor_ns = floor_before;
  auto report_floor = [&] {
    if (!want_floor) {
      return;
    }
    floor_ns = Median(floor_reps);
    report.Add(floor_sec, "floor", "floor_ns_per_leaf", floor_ns, "ns/leaf",
               "median of " + std::to_string(floor_reps.size()) + " x " +
                   std::to_string(o.floor_sample) + " leaves");
    report.Add(floor_sec, "floor, before building", "floor_before_ns_per_leaf", floor_before,
               "ns/leaf");
    if (floor_after > 0) {
      report.Add(floor_sec, "floor, after building", "floor_after_ns_per_leaf", floor_after,
                 "ns/leaf");
    }
    report.Add(floor_sec, "HashLeaf alone", "floor_hash_leaf_ns", Median(leaf_reps), "ns");
    report.Add(floor_sec, "HashChildren alone", "floor_hash_children_ns", Median(node_reps), "ns");
    report.Add(floor_sec, "same 2 hashes, OpenSSL, reused ctx", "floor_openssl_ns_per_leaf",
               Median(openssl_reps), "ns/leaf", "reference: SHA-256 without the API's overhead");
  };

  // 2. Build the log.
  uint64_t size = o.leaves;
  if (!o.reuse) {
    auto log = OpenLog(path, LogOptions{}.tile_cache_tiles);
    // When B does not divide N, the first batch takes the remainder, so the last (signed)
    // batch is a full one and compares with the median.
    const uint64_t nbatches = (o.leaves + o.batch - 1) / o.batch;
    const uint64_t remainder = o.leaves % o.batch;
    auto batch_first = [&](uint64_t b) {
      return b == 0 ? 0 : (remainder == 0 ? b * o.batch : remainder + (b - 1) * o.batch);
    };
    auto batch_leaves = [&](uint64_t b) { return b == 0 && remainder != 0 ? remainder : o.batch; };
    std::vector<double> batch_ns_per_leaf;
    batch_ns_per_leaf.reserve(nbatches);
    double append_s = 0;
    double signed_batch_ms = 0;
    uint64_t signed_batch_leaves = 0;
    const auto build_start = Clock::now();
    uint64_t next_progress = 1;
    std::vector<double> all_batch_us;
    all_batch_us.reserve(nbatches);
    for (uint64_t b = 0; b < nbatches; ++b) {
      const uint64_t first = batch_first(b);
      const uint64_t n = batch_leaves(b);
      const bool last = b + 1 == nbatches;
      const auto batch = entries.Stamp(first, n);
      const auto t0 = Clock::now();
      auto appended = log->Append(batch, last ? &signer : nullptr);
      const auto t1 = Clock::now();
      if (!appended.ok()) {
        DieError("append", appended.error());
      }
      if (*appended != first) {
        Die("append returned an unexpected index");
      }
      const double s = Seconds(t1 - t0);
      append_s += s;
      all_batch_us.push_back(s * 1e6);
      if (last) {
        signed_batch_ms = s * 1e3;
        signed_batch_leaves = n;
      } else if (n == o.batch) {
        batch_ns_per_leaf.push_back(s * 1e9 / static_cast<double>(n));
      }
      if (b + 1 >= next_progress * nbatches / 20) {
        const double el = Seconds(Clock::now() - build_start);
        const double done = static_cast<double>(first + n) / static_cast<double>(o.leaves);
        Progress("build: %3.0f%%  %" PRIu64
                 " leaves  %.0f s elapsed, ~%.0f s to go, "
                 "last batch %.0f ns/leaf\n",
                 100 * done, first + n, el, el / done - el, s * 1e9 / static_cast<double>(n));
        ++next_progress;
      }
    }
    const double build_wall_s = Seconds(Clock::now() - build_start);
    if (!o.batch_times.empty()) {
      std::ofstream csv(o.batch_times);
      csv << "first_leaf,leaves,append_us\n";
      for (uint64_t b = 0; b < nbatches; ++b) {
        csv << batch_first(b) << "," << batch_leaves(b) << "," << all_batch_us[b] << "\n";
      }
      if (!csv) {
        Die("cannot write " + o.batch_times);
      }
    }
    if (log->size() != o.leaves) {
      Die("log size after building is wrong");
    }
    Check(log->LatestCheckpoint(), "latest checkpoint");
    const uint64_t hwm_build = ProcStatusKib("VmHWM");
    const uint64_t rss_build = ProcStatusKib("VmRSS");

    // Signing alone, to split the signed batch's cost.
    std::vector<double> sign_us;
    for (uint64_t r = 0; r < std::max<uint64_t>(o.reps, 5); ++r) {
      const Checkpoint cp{kOrigin, log->size(), log->root(), {}};
      const auto t0 = Clock::now();
      auto note = SignCheckpoint(cp, signer);
      const auto t1 = Clock::now();
      Check(std::move(note), "sign checkpoint");
      sign_us.push_back(Seconds(t1 - t0) * 1e6);
    }
    log.reset();  // closes SQLite, which checkpoints and removes the WAL

    floor_after = want_floor ? measure_floor("after building") : 0;
    report_floor();
    const double overall = append_s * 1e9 / static_cast<double>(o.leaves);
    const double med = Median(batch_ns_per_leaf);
    const std::string sec = "Append (SQLite storage, batches of " + std::to_string(o.batch) + ")";
    report.Add(sec, "append, all batches", "append_ns_per_leaf", overall, "ns/leaf",
               "total time in Append / N");
    if (floor_ns > 0) {
      report.Add(sec, "append, ratio to floor", "append_ratio_to_floor", overall / floor_ns, "x",
                 "goal <= 3");
    }
    report.Add(sec, "append, median batch", "append_batch_median_ns_per_leaf", med, "ns/leaf");
    if (floor_ns > 0) {
      report.Add(sec, "append, median batch / floor", "append_batch_median_ratio_to_floor",
                 med / floor_ns, "x");
    }
    report.Add(sec, "append, p90 batch", "append_batch_p90_ns_per_leaf",
               Percentile(batch_ns_per_leaf, 90), "ns/leaf");
    report.Add(sec, "append, p99 batch", "append_batch_p99_ns_per_leaf",
               Percentile(batch_ns_per_leaf, 99), "ns/leaf");
    report.Add(sec, "append, slowest batch", "append_batch_max_ns_per_leaf",
               Percentile(batch_ns_per_leaf, 100), "ns/leaf");
    report.Add(sec, "append throughput", "append_leaves_per_s",
               static_cast<double>(o.leaves) / append_s, "leaves/s");
    report.Add(sec, "build wall time", "build_wall_s", build_wall_s, "s",
               "including stamping entries");
    report.Add(sec, "last batch, with signer", "append_signed_batch_ms", signed_batch_ms, "ms",
               std::to_string(signed_batch_leaves) + " leaves + checkpoint");
    report.Add(sec, "median batch, no signer", "append_unsigned_batch_median_ms",
               med * static_cast<double>(o.batch) / 1e6, "ms");
    report.Add(sec, "SignCheckpoint alone", "sign_checkpoint_us", Median(sign_us), "us");
    report.Add("Memory", "peak RSS after building", "rss_peak_after_build_kib",
               static_cast<double>(hwm_build), "KiB", "VmHWM");
    report.Add("Memory", "RSS after building", "rss_after_build_kib",
               static_cast<double>(rss_build), "KiB", "VmRSS");
  }

  if (o.reuse) {
    report_floor();
    if (const uint64_t n = OpenLog(path, 0)->size(); n != size) {
      Die(path + " holds " + std::to_string(n) + " leaves, not --leaves " + std::to_string(size));
    }
  }

  // 3. Bytes on disk, with the log closed.
  {
    uint64_t total = 0;
    std::string parts;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const uint64_t n = FileBytes(path + suffix);
      total += n;
      parts += std::string(parts.empty() ? "" : ", ") + "db" + suffix + " " + std::to_string(n);
    }
    // A full stored tile holds levels 0..7 of 256 leaves: 256 + 128 + ... + 2 = 510 hashes.
    const double payload = static_cast<double>(o.entry_bytes + 2) +  // bundle: u16 + entry
                           510.0 * kHashBytes / kTileWidth;          // tile hashes
    report.Add("Disk (log closed)", "bytes on disk", "disk_bytes", static_cast<double>(total), "B",
               parts);
    report.Add("Disk (log closed)", "bytes per leaf", "disk_bytes_per_leaf",
               static_cast<double>(total) / static_cast<double>(size), "B/leaf");
    report.Add("Disk (log closed)", "stored payload per leaf", "payload_bytes_per_leaf", payload,
               "B/leaf", "entry + 2, + 510/256 hashes of 32 B");
  }

  // 4. Open time: the first open after closing, then the median of the rest.
  Hash root{};
  if (Want(o, "open")) {
    std::vector<double> ms;
    for (uint64_t r = 0; r < o.reps + 1; ++r) {
      const auto t0 = Clock::now();
      auto log = OpenLog(path, LogOptions{}.tile_cache_tiles);
      const auto t1 = Clock::now();
      ms.push_back(Seconds(t1 - t0) * 1e3);
      if (log->size() != size) {
        Die("reopened log has size " + std::to_string(log->size()) + ", expected " +
            std::to_string(size));
      }
    }
    report.Add("Open (OpenSqliteLogStorage + Log::Open)", "first open after close", "open_first_ms",
               ms.front(), "ms");
    report.Add("Open (OpenSqliteLogStorage + Log::Open)", "open, median of the rest", "open_ms",
               Median(std::vector<double>(ms.begin() + 1, ms.end())), "ms");
  }

  // 5. Inclusion proofs from the full tree.
  const uint64_t per_rep = o.proofs / o.reps;
  const std::string incl = "Inclusion proofs, Inclusion(i, " + std::to_string(size) +
                           "), random i, " + std::to_string(per_rep) + " per rep";
  char range[96];
  if (Want(o, "inclusion")) {
    const size_t cache = LogOptions{}.tile_cache_tiles;
    const InclusionRun warm = MeasureInclusion(path, cache, size, per_rep, o.reps, o.seed + 1,
                                               "inclusion, default cache");
    std::snprintf(range, sizeof(range), "reps %.0f..%.0f", warm.min, warm.max);
    report.Add(incl, "default cache (" + std::to_string(cache) + " tiles), after warm-up",
               "inclusion_per_s", warm.median, "proofs/s", std::string(range) + "; goal >= 100000");
    report.Add(incl, "default cache, first rep after open", "inclusion_fresh_per_s", warm.fresh,
               "proofs/s");
  }
  if (Want(o, "nocache")) {
    const InclusionRun none =
        MeasureInclusion(path, 0, size, per_rep, o.reps, o.seed + 2, "inclusion, no tile cache");
    std::snprintf(range, sizeof(range), "reps %.0f..%.0f", none.min, none.max);
    report.Add(incl, "no tile cache (tile_cache_tiles = 0)", "inclusion_nocache_per_s", none.median,
               "proofs/s", range);
  }

  // 6. Consistency proofs between random sizes 1 <= s1 <= s2 <= N.
  auto log = OpenLog(path, LogOptions{}.tile_cache_tiles);
  root = log->root();
  if (Want(o, "consistency")) {
    DeterministicRng rng(o.seed + 3);
    std::vector<double> rates;
    for (uint64_t r = 0; r < o.reps + 1; ++r) {  // the first is a warm-up
      std::vector<std::pair<uint64_t, uint64_t>> pairs(per_rep);
      for (auto& [s1, s2] : pairs) {
        s2 = 1 + rng.Uniform(size);
        s1 = 1 + rng.Uniform(s2);
      }
      uint64_t hashes = 0;
      const auto t0 = Clock::now();
      for (const auto& [s1, s2] : pairs) {
        auto proof = log->Consistency(s1, s2);
        if (!proof.ok()) {
          DieError("consistency proof", proof.error());
        }
        hashes += proof->size();
      }
      const auto t1 = Clock::now();
      g_sink = g_sink + hashes;
      if (r > 0) {
        rates.push_back(static_cast<double>(per_rep) / Seconds(t1 - t0));
        Progress("  consistency: rep %" PRIu64 " %.0f proofs/s\n", r, rates.back());
      }
    }
    report.Add("Consistency proofs, Consistency(s1, s2), random 1 <= s1 <= s2 <= N",
               "default cache, after warm-up", "consistency_per_s", Median(rates), "proofs/s");
  }
  const uint64_t hwm_proofs = ProcStatusKib("VmHWM");
  const uint64_t rss_proofs = ProcStatusKib("VmRSS");
  // The database is memory-mapped, so VmRSS counts the page cache pages the proofs touched;
  // RssAnon is the process's own memory.
  const uint64_t anon_proofs = ProcStatusKib("RssAnon");

  // 7. Verification, on a sample of proofs made (untimed) from the log.
  if (Want(o, "verify")) {
    DeterministicRng rng(o.seed + 4);
    const uint64_t v = std::max<uint64_t>(1, o.verify_sample);
    struct Incl {
      uint64_t index;
      Hash leaf;
      std::vector<Hash> proof;
    };
    std::vector<Incl> incls;
    incls.reserve(v);
    for (const uint64_t i : RandomIndices(rng, v, 0, size)) {
      incls.push_back({i, HashLeaf(entries.MakeEntry(i)), Check(log->Inclusion(i, size), "proof")});
    }
    struct Cons {
      uint64_t s1, s2;
      Hash r1, r2;
      std::vector<Hash> proof;
    };
    std::vector<Cons> cons;
    const uint64_t vc = std::max<uint64_t>(1, v / 10);  // roots cost a little to compute
    cons.reserve(vc);
    for (uint64_t k = 0; k < vc; ++k) {
      const uint64_t s2 = 1 + rng.Uniform(size);
      const uint64_t s1 = 1 + rng.Uniform(s2);
      cons.push_back({s1, s2, Check(RootHash(*log, s1), "root"), Check(RootHash(*log, s2), "root"),
                      Check(log->Consistency(s1, s2), "proof")});
    }
    std::vector<double> inc_rates, con_rates;
    for (uint64_t r = 0; r < o.reps + 1; ++r) {  // the first is a warm-up
      auto t0 = Clock::now();
      for (const auto& p : incls) {
        if (!VerifyInclusion(p.leaf, p.index, size, p.proof, root).ok()) {
          Die("an inclusion proof from the log does not verify (index " + std::to_string(p.index) +
              ")");
        }
      }
      auto t1 = Clock::now();
      if (r > 0) {
        inc_rates.push_back(static_cast<double>(incls.size()) / Seconds(t1 - t0));
      }
      t0 = Clock::now();
      for (const auto& p : cons) {
        if (!VerifyConsistency(p.s1, p.s2, p.proof, p.r1, p.r2).ok()) {
          Die("a consistency proof from the log does not verify (" + std::to_string(p.s1) + " -> " +
              std::to_string(p.s2) + ")");
        }
      }
      t1 = Clock::now();
      if (r > 0) {
        con_rates.push_back(static_cast<double>(cons.size()) / Seconds(t1 - t0));
      }
    }
    const std::string sec = "Verification (" + std::to_string(incls.size()) + " inclusion, " +
                            std::to_string(cons.size()) + " consistency proofs from the log)";
    report.Add(sec, "VerifyInclusion", "verify_inclusion_per_s", Median(inc_rates), "proofs/s",
               "leaf hash given");
    report.Add(sec, "VerifyConsistency", "verify_consistency_per_s", Median(con_rates), "proofs/s");
  }
  log.reset();

  report.Add("Memory", "peak RSS after proofs", "rss_peak_after_proofs_kib",
             static_cast<double>(hwm_proofs), "KiB",
             "VmHWM, before the verification sample is made");
  report.Add("Memory", "RSS after proofs", "rss_after_proofs_kib", static_cast<double>(rss_proofs),
             "KiB", "VmRSS, including mapped database pages (page cache)");
  report.Add("Memory", "anonymous RSS after proofs", "rss_anon_after_proofs_kib",
             static_cast<double>(anon_proofs), "KiB", "RssAnon: the process's own memory");

  // 8. Append into memory storage (after the RSS readings: it holds its log in memory), to
  // separate the log's own work from SQLite's.
  if (Want(o, "memory")) {
    const uint64_t sample = std::min<uint64_t>(o.leaves, 262144);
    std::vector<double> reps;
    for (uint64_t r = 0; r < o.reps; ++r) {
      LogOptions opts;
      opts.origin = kOrigin;
      auto mem = Check(Log::Open(NewMemoryLogStorage(), std::move(opts)), "open memory log");
      double s = 0;
      for (uint64_t first = 0; first < sample; first += o.batch) {
        const uint64_t n = std::min(o.batch, sample - first);
        const auto batch = entries.Stamp(first, n);
        const auto t0 = Clock::now();
        Check(mem->Append(batch, nullptr), "append (memory)");
        s += Seconds(Clock::now() - t0);
      }
      reps.push_back(s * 1e9 / static_cast<double>(sample));
    }
    const double med = Median(reps);
    const std::string sec = "Append into NewMemoryLogStorage (" + std::to_string(sample) +
                            " leaves, same batches): the log's CPU cost without SQLite";
    report.Add(sec, "append (memory storage)", "append_memory_ns_per_leaf", med, "ns/leaf");
    if (floor_ns > 0) {
      report.Add(sec, "append (memory storage) / floor", "append_memory_ratio_to_floor",
                 med / floor_ns, "x");
    }
  }

  report.Add("Run", "total run time", "run_wall_s", Seconds(Clock::now() - run_start), "s");
  report.Note(
      "Goals (tlog issue): append <= 3x floor; >= 100000 inclusion proofs/s from a "
      "10M-leaf log; memory independent of log size (compare the RSS rows of runs at "
      "different --leaves).");
  report.Print(o);
  if (o.keep || o.reuse) {
    std::fprintf(stderr, "tlog_load: kept %s\n", path.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace holdfast::tlog

int main(int argc, char** argv) {
  const auto options = holdfast::tlog::ParseFlags(argc, argv);
  return holdfast::tlog::Run(options);
}
