#!/usr/bin/env bash
# Runs every fuzz target for a bounded number of executions (default 200000
# each, about 10-20 s per target on a 2-core machine).
#
# A count, not a duration: with a duration -fuzztime, Go 1.26's fuzz
# coordinator can fail a target with a bare "context deadline exceeded" at the
# deadline, having found nothing (golang/go#75804, fixed in Go 1.27). A count
# has no deadline to race. Minimising a new input is bounded by a count too,
# so a slow input cannot stall a run. A real crash still fails the run and
# writes its input to testdata/fuzz/<Target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
n=${n%x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz: $pkg $f (${n} executions)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "${n}x" -fuzzminimizetime 500x "$pkg"
  done
done
