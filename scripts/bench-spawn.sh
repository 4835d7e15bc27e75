#!/usr/bin/env bash
# Benchmark `droidforge spawn` against `git worktree add -b` on the same repository, in the
# same run: 1 droid vs 1 worktree, and 20 droids (`spawn --all`) vs 20 sequential worktrees;
# with POOL=1 also 1 droid spawned from a warm pool (`[forge] pool = 1`, docs/pool.md).
#
# usage: scripts/bench-spawn.sh [REPO]      (default: a generated repo of ~20k files)
#   RUNS=N   rounds (default 5; the median of each contender is reported)
#   FILES=N  files in the generated repo (default 20000; FILES=10 shows the fixed cost per call)
#   N_MANY=N droids of the `spawn --all` contender (default 20; 0 skips it, e.g. for a quick
#            POOL=1 run on a big repo)
#   POOL=1   add the warm-pool contender: before each of its rounds (not timed) `pool refresh`
#            fills the pool; the timed `spawn d01` then takes that worktree. The background
#            refill is off (DROIDFORGE_POOL_BACKGROUND=0) so it cannot slow the next contender.
#
# Contenders alternate within each round and the first one rotates between rounds, so that
# background noise does not always hit the same side. Old worktrees are moved aside between
# runs, not deleted: on this kind of disk, creating files right after deleting many costs
# every tool 10-20x more. Prints `uptime` before and after, every round, medians and ratios;
# exits non-zero only on errors (a droidforge spawn that did not do its job), never on times.
#
# A given REPO is never modified: it is cloned (`git clone --local`) into a temp dir first.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
FILES=${FILES:-20000}
POOL=${POOL:-0}
N_MANY=${N_MANY:-20}
export DROIDFORGE_POOL_BACKGROUND=0

echo "building droidforge (release)…" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DF="$ROOT/target/release/droidforge"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/df-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
REPO="$WORK/repo"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

if [ $# -ge 1 ]; then
  SRC=$(cd "$1" && pwd)
  echo "cloning $SRC…" >&2
  git clone --quiet --local "$SRC" "$REPO"
  LABEL="$SRC"
else
  echo "generating a repo with $FILES files…" >&2
  git init --quiet -b main "$REPO"
  (cd "$REPO" && awk -v n="$FILES" 'BEGIN {
      for (i = 0; i < n; i++) {
        d = sprintf("src/m%03d", int(i / 100));
        if (!(d in made)) { system("mkdir -p " d); made[d] = 1 }
        f = sprintf("%s/f%05d.rs", d, i);
        printf "// file %d\npub fn f%d() -> u64 {\n", i, i > f;
        for (j = 0; j < 20; j++) printf "    let x%d = %d * %d;\n", j, i, j > f;
        printf "    %d\n}\n", i > f;
        close(f);
      }
    }')
  git -C "$REPO" add -A
  git -C "$REPO" commit --quiet -m "generated"
  LABEL="generated ($FILES files)"
fi

cd "$REPO"
BRANCH=$(git symbolic-ref --short HEAD)
TRACKED=$(git ls-files | wc -l | tr -d ' ')

# A manifest with N_MANY droids (at least d01), committed (spawn makes worktrees from the integration tip,
# which must have it).
mkdir -p .droidforge
{
  printf '[forge]\nintegration = "%s"\nbranch_prefix = "df/"\nworktree_dir = ".bench-df"\npool = %s\n\n' "$BRANCH" "$POOL"
  printf '[[phase]]\nid = 1\n\n'
  for i in $(seq 1 $((N_MANY > 0 ? N_MANY : 1))); do
    printf '[[droid]]\nname = "d%02d"\nphases = [1]\nowns = ["area%02d/**"]\n\n' "$i" "$i"
  done
} > .droidforge/forge.toml
echo "/.bench-df/" >>"$(git rev-parse --git-common-dir)/info/exclude"
git add .droidforge/forge.toml
git commit --quiet -m "bench manifest"
mkdir -p "$WORK/gitwt"

mkdir -p "$WORK/trash"
reset_all() {
  local dir
  for dir in .bench-df "$WORK/gitwt"; do
    [ -d "$dir" ] && mv "$dir" "$WORK/trash/$(basename "$dir").$RANDOM$RANDOM"
  done
  mkdir -p "$WORK/gitwt"
  git worktree prune
  git for-each-ref --format='%(refname:short)' refs/heads/df/ refs/heads/gitbench/ |
    xargs -r git branch -D --quiet
  sync
}

now_ns() { date +%s%N; }

# time_cmd NAME CMD... : runs CMD once, appends the elapsed ms to $WORK/NAME.
time_cmd() {
  local name=$1
  shift
  local t0 t1
  t0=$(now_ns)
  "$@" >/dev/null 2>&1
  t1=$(now_ns)
  echo $(((t1 - t0) / 1000)) >>"$WORK/$name" # microseconds
}

git_many() {
  for i in $(seq -w 1 $N_MANY); do
    git worktree add --quiet -b "gitbench/g$i" "$WORK/gitwt/g$i" "$BRANCH"
  done
}

median_ms() { sort -n "$WORK/$1" | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }

echo "load before: $(uptime)"
# Warm the page cache and both code paths once (not measured).
reset_all
"$DF" spawn d01 >/dev/null 2>&1
git worktree add --quiet -b gitbench/g01 "$WORK/gitwt/g01" "$BRANCH"
run_one() {
  case $1 in
    df1) reset_all; time_cmd df1 "$DF" spawn d01 ;;
    git1) reset_all; time_cmd git1 git worktree add --quiet -b gitbench/g01 "$WORK/gitwt/g01" "$BRANCH" ;;
    dfP) reset_all; "$DF" pool refresh --quiet; sync; time_cmd dfP "$DF" spawn d01 ;;
    dfN) reset_all; time_cmd dfN "$DF" spawn --all ;;
    gitN) reset_all; time_cmd gitN git_many ;;
  esac
}
CONTENDERS=(df1 git1)
[ "$POOL" = 1 ] && CONTENDERS+=(dfP)
[ "$N_MANY" -gt 0 ] && CONTENDERS+=(dfN gitN)
N_CONT=${#CONTENDERS[@]}
for run in $(seq 1 "$RUNS"); do
  for k in $(seq 0 $((N_CONT - 1))); do
    run_one "${CONTENDERS[$(((k + run - 1) % N_CONT))]}"
  done
done
if [ "$POOL" = 1 ]; then
  # Sanity: a warm pool really is used.
  reset_all
  "$DF" pool refresh --quiet
  "$DF" spawn d01 --json | grep -q '"pooled": true' ||
    { echo "error: spawn did not take the warm pool worktree" >&2; exit 1; }
fi
# Sanity: the last droidforge spawn really created N_MANY worktrees.
CREATED=0
if [ "$N_MANY" -gt 0 ]; then
  reset_all
  "$DF" spawn --all >/dev/null 2>&1
  CREATED=$(git worktree list --porcelain | grep -c '^branch refs/heads/df/' || true)
fi
reset_all

df1=$(median_ms df1) git1=$(median_ms git1)
dfN=$([ "$N_MANY" -gt 0 ] && median_ms dfN || echo 0)
gitN=$([ "$N_MANY" -gt 0 ] && median_ms gitN || echo 1)
dfP=$([ "$POOL" = 1 ] && median_ms dfP || echo 0)
echo
echo "load after: $(uptime)"
echo "repo: $LABEL, $TRACKED tracked files, $(nproc 2>/dev/null || echo '?') cores, median of $RUNS runs"
for f in "${CONTENDERS[@]}"; do echo "  all runs $f (ms): $(awk '{printf "%.0f ", $1 / 1000}' "$WORK/$f")"; done
printf '%-40s %10s\n' "command" "ms"
printf '%-40s %10s\n' "droidforge spawn (1 droid)" "$df1"
printf '%-40s %10s\n' "git worktree add -b (1)" "$git1"
[ "$POOL" = 1 ] && printf '%-40s %10s\n' "droidforge spawn (1, warm pool)" "$dfP"
if [ "$N_MANY" -gt 0 ]; then
  printf '%-40s %10s\n' "droidforge spawn --all ($N_MANY droids)" "$dfN"
  printf '%-40s %10s\n' "git worktree add -b ($N_MANY, sequential)" "$gitN"
fi
awk -v a="$df1" -v b="$git1" -v c="$dfN" -v d="$gitN" -v p="$dfP" 'BEGIN {
  printf "ratio 1 droid:   droidforge/git = %.2f (%s)\n", a / b, (a < b) ? "droidforge faster" : "git faster";
  if (p > 0) printf "ratio warm pool: droidforge/git = %.2f (%s)\n", p / b, (p < b) ? "droidforge faster" : "git faster";
  if (c > 0) printf "ratio %d droids: droidforge/git = %.2f (%s)\n", '"$N_MANY"', c / d, (c < d) ? "droidforge faster" : "git faster";
}'
[ "$CREATED" = "$N_MANY" ] || { echo "error: spawn --all created $CREATED worktrees, expected $N_MANY" >&2; exit 1; }
