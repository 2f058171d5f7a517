#!/bin/bash
# `make bench`: see bench/bench.mjs. Needs root (eBPF, cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/bench.mjs "$@"
