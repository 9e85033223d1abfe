#!/usr/bin/env bash
# Builds the node for both Raspberry Pi targets and checks each binary's ELF
# machine type: the proof that `make node-arm64` and `make node-armv7` work.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory node-arm64 node-armv7
check() {
  local f=$1 want=$2
  local got
  got=$(readelf -h "$f" | awk -F: '/Machine:/{gsub(/^ +/,"",$2); print $2}')
  if [ "$got" != "$want" ]; then echo "check-cross: $f is '$got', want '$want'" >&2; exit 1; fi
  echo "check-cross: $f: $got, $(stat -c %s "$f") bytes"
}
check bin/radio-node-linux-arm64 "AArch64"
check bin/radio-node-linux-armv7 "ARM"
