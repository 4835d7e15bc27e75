#!/usr/bin/env bash
# Ownership classification benchmark: 100,000 paths against 1,000 globs, compared
# with `git check-ignore --stdin` on the same paths and patterns in the same run.
# Usage: scripts/bench-ownership.sh [PATHS] [GLOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example bench_ownership -- "${1:-100000}" "${2:-1000}"
