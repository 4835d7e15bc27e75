#!/usr/bin/env bash
# `droidforge guard` latency: it runs on every edit an agent makes, so it has to be cheap.
# A forge of 100 droids x 10 globs (1,000 globs) plus a shared and a protected pattern; one
# spawned droid worktree; RUNS alternating runs (default 200) of, in turn:
#   guard  - `droidforge guard <owned path>` in the droid worktree (warm manifest cache)
#   refuse - `droidforge guard <another droid's path>` (exit 4; journals the refusal)
#   git    - `git check-ignore -q <path>` in the same worktree: git's cheapest path query
#   true   - `/bin/true`: the process-spawn floor
# Prints p50/p99 (ms) per command and the ratios to `git check-ignore` and to the floor;
# guard's own work is roughly its p50 minus the floor's. Release build.
# Usage: scripts/bench-guard.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
cargo build --release --quiet
bin=$PWD/target/release/droidforge
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
mkdir -p "$repo" && cd "$repo"
git init -q -b main
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p .droidforge
{
  echo '[forge]'
  echo 'integration = "main"'
  echo '[paths]'
  echo 'shared = ["INTERFACES.md"]'
  echo 'protected = [".github/**"]'
  for d in $(seq 0 99); do
    echo '[[droid]]'
    echo "name = \"d$d\""
    printf 'owns = ['
    for g in $(seq 0 9); do
      printf '"src/d%d/m%d/**", ' "$d" "$g"
    done
    echo ']'
  done
} > .droidforge/forge.toml
mkdir -p src/d0/m0 src/d1/m0
echo 'fn a() {}' > src/d0/m0/a.rs
echo 'fn b() {}' > src/d1/m0/b.rs
echo '# Interfaces' > INTERFACES.md
git add -A && git commit -q -m 'forge'
"$bin" -q spawn d0 >/dev/null 2>&1
wt=$repo/.droidforge/worktrees/d0
cd "$wt"

# One cold run (validates the manifest and writes the cache), then warm runs.
t0=$EPOCHREALTIME
"$bin" guard src/d0/m0/a.rs
t1=$EPOCHREALTIME
cold=$(( (${t1/./} - ${t0/./}) ))

declare -A samples
names=(guard refuse git true)
run_one() {
  case $1 in
    guard) "$bin" guard src/d0/m0/a.rs ;;
    refuse) "$bin" guard src/d1/m0/b.rs 2>/dev/null || true ;;
    git) git check-ignore -q src/d0/m0/a.rs || true ;;
    true) /bin/true ;;
  esac
}
for i in $(seq 1 "$runs"); do
  # Rotate which command goes first in each round, so none always runs on a cold cache line.
  for k in 0 1 2 3; do
    name=${names[$(( (i + k) % 4 ))]}
    t0=$EPOCHREALTIME
    run_one "$name"
    t1=$EPOCHREALTIME
    samples[$name]+="$(( ${t1/./} - ${t0/./} )) "
  done
done

pct() { # pct <p> <samples...>: the p-th percentile in microseconds
  local p=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{a[NR]=$1} END {i=int((NR*p+99)/100); if (i<1) i=1; print a[i]}'
}
ms() { awk -v us="$1" 'BEGIN {printf "%.2f", us/1000}'; }
declare -A p50 p99
for n in "${names[@]}"; do
  # shellcheck disable=SC2086
  p50[$n]=$(pct 50 ${samples[$n]})
  # shellcheck disable=SC2086
  p99[$n]=$(pct 99 ${samples[$n]})
done
echo "droidforge guard, 1,000 globs (100 droids x 10), $runs alternating runs each"
echo "cold first run (validate + cache): $(ms "$cold") ms"
printf '%-8s %9s %9s %12s %10s\n' command p50_ms p99_ms x_git_p50 x_true_p50
for n in "${names[@]}"; do
  printf '%-8s %9s %9s %12s %10s\n' "$n" "$(ms "${p50[$n]}")" "$(ms "${p99[$n]}")" \
    "$(awk -v a="${p50[$n]}" -v b="${p50[git]}" 'BEGIN {printf "%.2f", a/b}')" \
    "$(awk -v a="${p50[$n]}" -v b="${p50[true]}" 'BEGIN {printf "%.2f", a/b}')"
done
echo "guard's own work (p50 guard - p50 true): $(ms $(( p50[guard] - p50[true] ))) ms; refused: $(ms $(( p50[refuse] - p50[true] ))) ms"
