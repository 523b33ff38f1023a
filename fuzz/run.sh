#!/usr/bin/env bash
# run.sh BIN_DIR SECONDS: runs every fuzz_* binary in BIN_DIR for SECONDS each, starting from
# its seed corpus in fuzz/corpus/<name>/. New inputs go to a scratch directory, so the
# committed corpus only changes when someone copies a finding in on purpose.
set -euo pipefail
bin_dir=$1
seconds=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for bin in "$bin_dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  mkdir -p "$scratch/$name"
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$scratch/" \
        "$scratch/$name" "$here/corpus/$name" > "$scratch/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; last lines of its log:"
    tail -40 "$scratch/$name.log"
    for a in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-*; do
      [ -e "$a" ] && echo "reproducer (base64): $(base64 -w0 "$a")"
    done
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch/$name.log" | tr '\n' ' '
    echo
  fi
done
exit $status
