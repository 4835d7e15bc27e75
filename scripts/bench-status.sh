#!/usr/bin/env bash
# Benchmark `droidforge status --json` with many droids against the same facts gathered with
# git by hand in the same run: `git worktree list`, and per droid `git status --porcelain` in
# its worktree, `git rev-list --left-right --count` against the integration branch and
# `git show` of its TODO file. Targets: 100 droids on 1k-file worktrees in <= 0.3 s,
# <= 0.4x git by hand, and linear in droids (the per-droid cost is printed for each size).
#
# usage: scripts/bench-status.sh [DROIDS...]   (default: 25 100; e.g. `25 100 400`)
#   FILES=N  files in each generated repo, so in every worktree (default 1000)
#   RUNS=N   rounds per size (default 5, at least 5 for the report; medians are printed and
#            the two contenders alternate which goes first)
#   KEEP=DIR keep the generated repos in DIR and reuse them on the next run (setup of 100
#            droids x 1k files writes 100k files; reuse saves it when iterating)
# Exits non-zero only on errors, never on slow numbers.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${*:-25 100}
FILES=${FILES:-1000}
RUNS=${RUNS:-5}
echo "building droidforge (release)…" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DF="$ROOT/target/release/droidforge"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/df-status.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
WORK=${KEEP:-$TMP}
mkdir -p "$WORK"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

now_ms() { date +%s%3N; }

setup() { # $1 = repo dir, $2 = droids
  local repo=$1 n=$2
  [ -f "$repo/.setup-done" ] && return 0
  rm -rf "$repo"
  git init -q -b main "$repo"
  (cd "$repo"
   echo /.setup-done >> .git/info/exclude
   awk -v n="$FILES" -v d="$n" 'BEGIN {
       for (i = 0; i < n; i++) {
         dir = sprintf("src/m%d", i % d);
         if (!(dir in made)) { system("mkdir -p " dir); made[dir] = 1 }
         f = sprintf("%s/f%d.txt", dir, i); print i > f; close(f)
       }
     }'
   mkdir -p .droidforge
   { echo '[forge]'; echo 'integration = "main"'; echo '[[phase]]'; echo 'id = 1'
     for i in $(seq 0 $((n - 1))); do
       printf '[[droid]]\nname = "d%d"\nphases = [1]\nowns = ["src/m%d/**"]\ntodo = "src/m%d/TODO.md"\n' "$i" "$i" "$i"
     done; } > .droidforge/forge.toml
   for i in $(seq 0 $((n - 1))); do printf -- '- [x] a\n- [ ] b\n' > "src/m$i/TODO.md"; done
   git add -A && git commit -qm base
   "$DF" -q spawn --all
   # Some activity: a commit in every third droid, an uncommitted file in every fifth, and
   # the integration branch one commit ahead of the spawn point.
   for i in $(seq 0 3 $((n - 1))); do
     (cd ".droidforge/worktrees/d$i" && echo x >> "src/m$i/f$i.txt" && git commit -qam work)
   done
   for i in $(seq 0 5 $((n - 1))); do echo dirty > ".droidforge/worktrees/d$i/scratch.txt"; done
   echo more > README && git add README && git commit -qm more
   touch .setup-done)
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

git_by_hand() { # $1 = droids
  git worktree list --porcelain > /dev/null
  for i in $(seq 0 $(($1 - 1))); do
    git -C ".droidforge/worktrees/d$i" status --porcelain > /dev/null
    git rev-list --left-right --count "main...droidforge/d$i" > /dev/null
    git show "droidforge/d$i:src/m$i/TODO.md" > /dev/null
  done
}

measure() { # $1 = repo, $2 = droids; prints "df_ms git_ms df_rss_kb" (medians of RUNS)
  local repo=$1 n=$2 t0 t1 rss run side
  cd "$repo"
  "$DF" status --json > /dev/null   # warm the caches once (and refresh stale index stat data)
  git_by_hand "$n"
  : > "$WORK/df.ms"; : > "$WORK/git.ms"
  for run in $(seq 1 "$RUNS"); do
    for side in $( [ $((run % 2)) = 1 ] && echo "df git" || echo "git df"); do
      t0=$(now_ms)
      if [ "$side" = df ]; then "$DF" status --json > /dev/null; else git_by_hand "$n"; fi
      t1=$(now_ms)
      echo $((t1 - t0)) >> "$WORK/$side.ms"
    done
  done
  echo "  rounds ($n droids): droidforge $(tr '\n' ' ' < "$WORK/df.ms")ms; git $(tr '\n' ' ' < "$WORK/git.ms")ms" >&2
  rss=$( { /usr/bin/time -f '%M' "$DF" status --json > /dev/null; } 2>&1 | tail -1)
  echo "$(median < "$WORK/df.ms") $(median < "$WORK/git.ms") $rss"
}

echo "load before: $(uptime)"
for n in $SIZES; do
  echo "setting up $n droids on $FILES files…" >&2
  setup "$WORK/repo-$n-$FILES" "$n"
done
RESULTS=()
for n in $SIZES; do
  read -r df_ms git_ms rss < <(measure "$WORK/repo-$n-$FILES" "$n")
  RESULTS+=("$n $df_ms $git_ms $rss")
done
echo "load after: $(uptime)"
echo "status of N droids on $FILES-file worktrees, medians of $RUNS alternating rounds:"
printf '%8s %14s %14s %8s %14s %12s\n' droids "droidforge ms" "git ms" ratio "ms per droid" "max RSS KB"
for r in "${RESULTS[@]}"; do
  read -r n df_ms git_ms rss <<< "$r"
  awk -v n="$n" -v a="$df_ms" -v b="$git_ms" -v m="$rss" 'BEGIN {
    printf "%8d %14d %14d %8.3f %14.2f %12d\n", n, a, b, (b > 0 ? a / b : 0), a / n, m }'
done
