#!/usr/bin/env bash
# Benchmark reading a large event journal: `droidforge events -n 20` against `tail -n 20`,
# `droidforge events --limit 20` against `head -n 20`, and `droidforge events --since 1h`
# against `grep -c` over the same file, in the same run (contenders alternate which goes
# first, median of RUNS rounds), plus droidforge's peak RSS (`/usr/bin/time -f %M`) at two
# journal sizes to show that memory does not grow with the journal.
#
# The journal is one `events.jsonl` written directly (as a droidforge without rotation left
# it, the case of issue 15: 1M lines, 1.3 GB RSS before); its last 3,600 events (one a
# second) fall in the last hour.
#
# usage: scripts/bench-events.sh [LINES...]   (default: 100000 1000000)
#   RUNS=N  rounds (default 5)
# Exits non-zero only on errors, never on slow numbers.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${*:-100000 1000000}
RUNS=${RUNS:-5}
echo "building droidforge (release)…" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DF="$ROOT/target/release/droidforge"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/df-events.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

setup() { # $1 = repo dir, $2 = lines
  local repo=$1 n=$2
  git init -q -b main "$repo"
  mkdir -p "$repo/.droidforge" "$repo/.git/droidforge"
  printf '[forge]\nintegration = "main"\n[[phase]]\nid = 1\n' > "$repo/.droidforge/forge.toml"
  for i in 0 1 2 3 4 5 6 7 8 9; do
    printf '[[droid]]\nname = "d%d"\nphases = [1]\nowns = ["d%d/**"]\n' "$i" "$i" >> "$repo/.droidforge/forge.toml"
  done
  git -C "$repo" add -A && git -C "$repo" commit -qm base
  awk -v n="$n" -v now="$(date +%s%3N)" 'BEGIN {
      for (i = 0; i < n; i++) {
        printf "{\"at_ms\":%d,\"kind\":\"output\",\"droid\":\"d%d\",\"message\":\"agent line %d of the run\",\"data\":null,\"pid\":4242}\n", now - (n - i) * 1000, i % 10, i
      }
    }' > "$repo/.git/droidforge/events.jsonl"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
now_ms() { date +%s%3N; }

# $1 = label, $2 = droidforge command, $3 = reference command (run inside the repo)
pair() {
  local label=$1 a=$2 b=$3 run side t0 t1
  : > "$WORK/a.ms"; : > "$WORK/b.ms"
  # Output goes to a file, not /dev/null: GNU grep stops at the first match when it sees its
  # output is /dev/null.
  eval "$a" > "$WORK/out"; eval "$b" > "$WORK/out"   # warm the page cache
  for run in $(seq 1 "$RUNS"); do
    for side in $( [ $((run % 2)) = 1 ] && echo "a b" || echo "b a"); do
      t0=$(now_ms)
      if [ "$side" = a ]; then eval "$a" > "$WORK/out"; else eval "$b" > "$WORK/out"; fi
      t1=$(now_ms)
      echo $((t1 - t0)) >> "$WORK/$side.ms"
    done
  done
  local ma mb rss
  ma=$(median < "$WORK/a.ms"); mb=$(median < "$WORK/b.ms")
  rss=$( { eval "/usr/bin/time -f '%M' $a" > "$WORK/out"; } 2>&1 | tail -1)
  awk -v l="$label" -v a="$ma" -v b="$mb" -v m="$rss" -v ra="$(tr '\n' ' ' < "$WORK/a.ms")" -v rb="$(tr '\n' ' ' < "$WORK/b.ms")" 'BEGIN {
    printf "  %-34s droidforge %6d ms  reference %6d ms  ratio %7.2f  droidforge max RSS %7d KB   (rounds: %s| %s)\n", l, a, b, (b > 0 ? a / b : 0), m, ra, rb }'
}

echo "load before: $(uptime)"
for n in $SIZES; do
  echo "generating a journal of $n lines…" >&2
  setup "$WORK/repo-$n" "$n"
done
for n in $SIZES; do
  cd "$WORK/repo-$n"
  J=.git/droidforge/events.jsonl
  echo "journal of $n lines ($(du -h "$J" | cut -f1)), medians of $RUNS alternating rounds:"
  pair "events -n 20 vs tail -n 20" "$DF events -n 20" "tail -n 20 $J"
  pair "events --limit 20 vs head -n 20" "$DF events --limit 20" "head -n 20 $J"
  pair "events --since 1h vs grep -c" "$DF events --since 1h" "grep -c '\"droid\":\"d3\"' $J"
  pair "events --json --since 1h vs grep -c" "$DF events --json --since 1h" "grep -c '\"droid\":\"d3\"' $J"
done
echo "load after: $(uptime)"
