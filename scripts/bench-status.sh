#!/usr/bin/env bash
# Benchmark `droidforge status` with many droids (target: 100 droids well under a second,
# memory flat in the number of droids), against what the same facts cost with git by hand in
# the same run: `git worktree list` plus, per droid, `git status --porcelain` and
# `git rev-list --left-right --count`.
#
# usage: scripts/bench-status.sh [DROIDS]   (default 100; also measures DROIDS/10 for memory)
#   FILES=N  files in the generated repo (default 1000)
#   RUNS=N   rounds (default 5; medians are reported, the two sides alternate which goes first)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100}
FILES=${FILES:-1000}
RUNS=${RUNS:-5}
echo "building droidforge (release)…" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DF="$ROOT/target/release/droidforge"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/df-status.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

now_ms() { date +%s%3N; }

setup() { # $1 = repo dir, $2 = droids
  local repo=$1 n=$2
  git init -q -b main "$repo"
  (cd "$repo"
   for i in $(seq 0 $((FILES - 1))); do d="src/m$((i % n))"; mkdir -p "$d"; echo "$i" > "$d/f$i.txt"; done
   mkdir -p .droidforge
   { echo '[forge]'; echo 'integration = "main"'; echo '[[phase]]'; echo 'id = 1'
     for i in $(seq 0 $((n - 1))); do
       printf '[[droid]]\nname = "d%d"\nphases = [1]\nowns = ["src/m%d/**"]\ntodo = "src/m%d/TODO.md"\n' "$i" "$i" "$i"
     done; } > .droidforge/forge.toml
   for i in $(seq 0 $((n - 1))); do printf -- '- [x] a\n- [ ] b\n' > "src/m$i/TODO.md"; done
   git add -A && git commit -qm base
   "$DF" -q spawn --all
   # Some activity: a commit in every third droid, an uncommitted file in every fifth.
   for i in $(seq 0 3 $((n - 1))); do
     (cd ".droidforge/worktrees/d$i" && echo x >> "src/m$i/f$i.txt" && git commit -qam work)
   done
   for i in $(seq 0 5 $((n - 1))); do echo dirty > ".droidforge/worktrees/d$i/scratch.txt"; done)
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
  local repo=$1 n=$2 t0 t1 rss run
  cd "$repo"
  "$DF" status --json > /dev/null   # warm the caches once
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
SMALL=$((N / 10)); [ "$SMALL" -ge 1 ] || SMALL=1
echo "setting up $N and $SMALL droids on $FILES files…" >&2
setup "$WORK/big" "$N"
setup "$WORK/small" "$SMALL"
read -r df_ms git_ms rss_big < <(measure "$WORK/big" "$N")
read -r _ _ rss_small < <(measure "$WORK/small" "$SMALL")
echo "load after: $(uptime)"
echo "droidforge status, $N droids: ${df_ms} ms (median of $RUNS)"
echo "git by hand (worktree list + status + rev-list + show per droid): ${git_ms} ms (median of $RUNS)"
awk -v a="$df_ms" -v b="$git_ms" 'BEGIN { if (b > 0) printf "ratio droidforge/git = %.3f\n", a / b }'
echo "max RSS: $SMALL droids ${rss_small} KB, $N droids ${rss_big} KB"
awk -v a="$rss_big" -v b="$rss_small" 'BEGIN { if (b > 0) printf "memory ratio %d/%d droids = %.2f\n", '"$N"', '"$SMALL"', a / b }'
