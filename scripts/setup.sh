#!/usr/bin/env bash
# Installs every Debian 12 package that Holdfast's build, tests, fuzzers and benchmarks need.
# Idempotent: prints nothing and changes nothing when all are present. Uses sudo when not root.
set -euo pipefail

packages=(
  # Toolchain.
  build-essential cmake ninja-build pkg-config ccache git
  # Libraries (DESIGN.md "Components and dependencies").
  libsodium-dev libssl-dev libsqlite3-dev libboost-dev libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libcli11-dev
  # The terminal chat UI (holdfast chat), and tmux to drive it in its tests; gdb's gcore
  # makes the core file the seized-server test searches.
  libncurses-dev tmux gdb
  # Tests and benchmarks; libsignal-protocol-c is the interop peer and libolm (Olm/Megolm) a
  # benchmark peer, never shipped.
  libgtest-dev libgmock-dev libbenchmark-dev libsignal-protocol-c-dev libolm-dev
  # Fuzzing (libFuzzer ships with clang's runtime) and benchmark reports.
  clang libclang-rt-14-dev python3
  # The main job's demo and the integration scripts talk HTTPS to holdfastd on loopback.
  curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
