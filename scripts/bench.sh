#!/usr/bin/env bash
# `make bench`: every benchmark, with figures and (where a peer exists) the
# peer measured in the same run. Results are recorded in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3-), $(date -u +%Y-%m-%dT%H:%MZ)"
pkgs=$(go list ./... | grep -v '/e2e$')
# Among them: the controller's Start (Run to the API's first answer with
# 100,000 nodes enrolled, then the background publishing of their desired
# state; RADIO_START_NODES), and the api package's Replan (one full plan of
# the national dataset, 10,000 stations / 100,000 nodes) and Coverage.
# Among them: SaveBulletin (api: one officer's save of one bulletin in a
# 1,400-bulletin programme, wall and CPU time per save; goal <= 100 ms).
go test -run '^$' -bench . -benchmem $pkgs
# End-to-end benchmarks run whole processes; one iteration is one experiment.
# Among them: AlignFile and AlignLive (the nodes' start spread as heard, from
# one capture of all of them; RADIO_ALIGN_ROUNDS), Fanout (10,000 simulated
# nodes, the embedded broker and Mosquitto in the same run; RADIO_FANOUT_NODES).
# The broker package's Connections (above) is the embedded broker's memory per
# connection (RADIO_BROKER_CONNS).
go test -run '^$' -bench . -benchtime 1x -timeout 30m ./e2e/
