#!/usr/bin/env bash
# Runs a Google Benchmark binary 5 times over and prints, per benchmark, the median real time
# and, for each Holdfast benchmark that has a peer, the ratio holdfast/peer.
#
#   bench/run.sh [BINARY] [BENCHMARK FLAGS...]   default BINARY: build/bench/crypto_bench
#   bench/run.sh signal_bench [FLAGS...]          a bare name means build/bench/<name>
#   bench/run.sh --report FILE.json              print the table of an earlier run again
#
# Flags after BINARY are passed through and win over the defaults, e.g.
#   bench/run.sh build/bench/crypto_bench --benchmark_min_time=0.2 --benchmark_filter=XEdDsa
# The JSON results go to BENCH_OUT (default: <BINARY>.json, beside the binary).
#
# Pairing: benchmarks are named BM_<Operation>/<implementation>[/<args>]. A "holdfast" row (or
# a "holdfast_<variant>" row) is paired with every non-Holdfast row that differs only in the
# implementation. Ratio below 1.0: Holdfast is faster. Exit status 1 if a benchmark failed (a
# check against its peer included); errors whose message starts with "skipped:" (e.g. no
# AES-NI for libsodium's AES-GCM) are not failures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ ${1:-} == --report ]]; then
  [[ $# -eq 2 ]] || { echo "usage: $0 --report FILE.json" >&2; exit 2; }
  out=$2
else
  bin="$root/build/bench/crypto_bench"
  if [[ $# -gt 0 && $1 != -* ]]; then
    bin=$1
    shift
    if [[ $bin != */* && ! -x $bin ]]; then
      bin="$root/build/bench/$bin"
    fi
  fi
  if [[ ! -x $bin ]]; then
    echo "run.sh: no benchmark binary at $bin (build first: ninja -C build $(basename "$bin"))" >&2
    exit 2
  fi
  out=${BENCH_OUT:-$bin.json}
  echo "run.sh: running $bin; results in $out" >&2
  # The JSON on stdout duplicates the --benchmark_out file; errors still reach stderr.
  "$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_format=json --benchmark_out="$out" "$@" >/dev/null
fi

exec python3 - "$out" <<'PY'
import json
import signal
import sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head

HOLDFAST = "holdfast"
NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def fmt_rate(bytes_per_s):
    for unit, scale in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if bytes_per_s >= scale:
            return "%.3g %s" % (bytes_per_s / scale, unit)
    return "%.3g B/s" % bytes_per_s


def is_holdfast(impl):
    """True for "holdfast" and its variants ("holdfast_store"); every other is a peer."""
    return impl is not None and (impl == HOLDFAST or impl.startswith(HOLDFAST + "_"))


def pair_key(name):
    """(operation, args) and implementation of BM_<Operation>/<implementation>[/<args>]."""
    parts = name.split("/")
    if len(parts) < 2:
        return (name, ""), None
    return (parts[0], "/".join(parts[2:])), parts[1]


def main(path):
    with open(path) as f:
        report = json.load(f)

    position, median, cv, rate, errors = {}, {}, {}, {}, {}
    for b in report.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        # Registration order, also when --benchmark_enable_random_interleaving shuffled the run.
        position.setdefault(name, (b.get("family_index", len(position)),
                                   b.get("per_family_instance_index", 0)))
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        if b.get("run_type") != "aggregate":
            continue
        agg = b.get("aggregate_name")
        if agg == "median":
            median[name] = b["real_time"] * NS_PER_UNIT[b.get("time_unit", "ns")]
            if "bytes_per_second" in b:
                rate[name] = b["bytes_per_second"]
        elif agg == "cv":
            cv[name] = b["real_time"]

    order = sorted(position, key=position.get)
    groups = {}
    for name in order:
        key, impl = pair_key(name)
        groups.setdefault(key, []).append((impl, name))

    rows = []
    for name in order:
        if name in errors:
            rows.append((name, "-", "-", "-", "ERROR: " + errors[name]))
            continue
        if name not in median:
            continue
        key, impl = pair_key(name)
        ratios = []
        if is_holdfast(impl):
            for peer_impl, peer in groups[key]:
                if not is_holdfast(peer_impl) and peer in median and median[peer] > 0:
                    r = median[name] / median[peer]
                    # Two significant digits below 0.01, where "%.2f" would print 0.00.
                    ratios.append(("%.2f" if r >= 0.01 else "%.2g") % r + " vs " + peer_impl)
        rows.append((name, fmt_time(median[name]),
                     "%.1f%%" % (100 * cv[name]) if name in cv else "-",
                     fmt_rate(rate[name]) if name in rate else "",
                     ", ".join(ratios)))

    ctx = report.get("context", {})
    print("%s  %s CPUs @ %s MHz  load %s  openssl %s  libsodium %s" % (
        ctx.get("date", "?"), ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
        "/".join("%.2f" % x for x in ctx.get("load_avg", [])) or "?",
        ctx.get("openssl", "?"), ctx.get("libsodium", "?")))
    print("median real time of %s repetitions; cv = coefficient of variation across them;"
          " holdfast/peer below 1.0 = Holdfast is faster"
          % (report["benchmarks"][0].get("repetitions", "?") if report.get("benchmarks") else "?"))
    hdr = ("benchmark", "median", "cv", "throughput", "holdfast/peer")
    width = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    align = ("<", ">", ">", ">", "<")
    line = lambda r: "  ".join("%*s" % ((-1 if a == "<" else 1) * w, c)
                               for c, w, a in zip(r, width, align)).rstrip()
    print(line(hdr))
    print("  ".join("-" * w for w in width))
    for r in rows:
        print(line(r))

    failed = [n for n, m in errors.items() if not m.startswith("skipped:")]
    if failed:
        print("\n%d benchmark(s) failed: %s" % (len(failed), ", ".join(failed)))
        return 1
    return 0


sys.exit(main(sys.argv[1]))
PY
