#!/usr/bin/env bash
# Installs what building and testing the project needs on a Debian machine.
# Idempotent: packages already present are skipped by apt. Usage: scripts/install-deps.sh [test|run|cross-arm64|cross-armhf]
set -euo pipefail
what=${1:-test}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

base=(pkg-config gcc libasound2-dev libopus-dev ffmpeg)
case "$what" in
  run)  pkgs=("${base[@]}" libasound2-plugins espeak-ng) ;;
  test) pkgs=("${base[@]}" espeak-ng mosquitto mosquitto-clients icecast2 pulseaudio pulseaudio-utils libasound2-plugins alsa-utils chromium fonts-noto-core systemd adduser zbar-tools) ;;
  cross-arm64) pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libasound2-dev:arm64 libopus-dev:arm64 pkg-config) ;;
  cross-armhf) pkgs=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libasound2-dev:armhf libopus-dev:armhf pkg-config) ;;
  *) echo "usage: $0 [test|run|cross-arm64|cross-armhf]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

case "$what" in
  cross-arm64) $SUDO dpkg --add-architecture arm64 ;;
  cross-armhf) $SUDO dpkg --add-architecture armhf ;;
esac
echo "install-deps: installing ${missing[*]}" >&2
# A foreign architecture's index can be out of step with the mirror ("File has
# unexpected size"); apt then keeps the other indexes, so go on and let the
# install say whether anything is really missing.
$SUDO apt-get update -q || { sleep 5; $SUDO apt-get update -q; } || echo "install-deps: apt-get update reported errors; trying the install anyway" >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
