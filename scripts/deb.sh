#!/usr/bin/env bash
# Builds the Debian packages into dist/: the controller for amd64 and arm64
# (pure Go), the node for arm64, armhf (ARMv7: Raspberry Pi 2 and later) and
# amd64 (cgo: ALSA and Opus, cross-compiled with Debian's toolchains, which
# scripts/install-deps.sh installs).
# Usage: scripts/deb.sh [VERSION]   (default: 0.1.0+git<commit date>.<commit>)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
if [ -n "${1:-}" ]; then
  version=$1
else
  version="0.1.0+git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).$(git rev-parse --short HEAD)"
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then version="$version.dirty"; fi
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
ldflags="-X main.version=$version"
build=dist/build
rm -rf "$build"
mkdir -p "$build"
$GO build -o dist/build/mkdeb ./packaging/mkdeb

for arch in amd64 arm64; do
  mkdir -p "$build/$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch $GO build -trimpath -ldflags "$ldflags" -o "$build/$arch/" ./cmd/radio-controller ./cmd/radioctl
done

# The node: amd64 natively, the Pi targets through the Makefile's cross builds.
scripts/install-deps.sh run   # gcc, pkg-config, the ALSA and Opus headers
CGO_ENABLED=1 $GO build -trimpath -ldflags "$ldflags" -o "$build/amd64/" ./cmd/radio-node
make --no-print-directory node-arm64 BIN="$build/arm64" VERSION="$version"
mv "$build/arm64/radio-node-linux-arm64" "$build/arm64/radio-node"
mkdir -p "$build/armhf"
make --no-print-directory node-armv7 BIN="$build/armhf" VERSION="$version"
mv "$build/armhf/radio-node-linux-armv7" "$build/armhf/radio-node"

for arch in amd64 arm64; do "$build/mkdeb" -version "$version" -arch "$arch" -bin "$build/$arch" -out dist radio-controller; done
for arch in amd64 arm64 armhf; do "$build/mkdeb" -version "$version" -arch "$arch" -bin "$build/$arch" -out dist radio-node; done
rm -rf "$build"
ls -l dist/*_"$version"_*.deb
