#!/usr/bin/env bash
# Benchmark `droidforge merge --verify CMD [--verify-jobs K]` against doing the same by hand
# with git, in the same run: the contenders alternate (the first one rotates every round) and
# the MEDIAN of the rounds counts. Prints `uptime` load and ratios. Exits non-zero only on
# errors (a droid that does not land, a scratch worktree left behind), never on slow numbers.
#
# Two scenarios on generated repositories (8 independent droids, one commit each, marked ready
# with `droidforge done`; never spawned):
#   (a) small repo ($SMALL_FILES files, default 2,000), CMD = `sleep 1`:
#       droidforge --verify-jobs 4  |  droidforge --verify-jobs 1 (serial)  |  by hand: `git
#       replay` the chain, then one `git worktree add --detach` per candidate, CMD run 4 at a
#       time (`xargs -P 4`), the worktrees moved aside (see hygiene), `git update-ref`.
#   (b) large repo ($LARGE_FILES files, default 20,000), CMD = `true`, COLD (no warm pool: the
#       merge checks out a scratch worktree of the whole tree, and moves it into its trash at
#       the end for a detached sweep to delete): droidforge (default jobs = 1)  |  droidforge
#       --verify-jobs 4  |  by hand as above, one candidate at a time (a fresh `git worktree
#       add --detach` per candidate)  |  the floor: ONE plain `git worktree add --detach` of
#       the tip (what any cold verification of this tree costs at least), with ratios to it.
#   (c) the same large repo WARM: `[forge] pool = 4` and `droidforge pool refresh` at setup (as
#       `spawn` keeps it in the background), so the merge borrows full checkouts that exist
#       already and moves them by the changed paths: droidforge --verify-jobs 1 | --verify-jobs 4
#       |  by hand with the same advantage: one worktree kept from setup on, per candidate
#       `git checkout --detach` + `git clean -ffdx` + CMD.
#
# Usage: scripts/bench-verify.sh [--runs N] [--only a|b|c] [--bin PATH]
#   RUNS (default 5), SMALL_FILES, LARGE_FILES, DROIDS (default 8), SETTLE (seconds, default
#   0) may also come from the env.
# Between contenders the repository is reset (refs and droidforge's state restored from a
# snapshot), not copied: a 20,000-file copy per contender would dominate the run.
#
# Hygiene: NO CONTENDER DELETES FILES DURING THE RUN. This machine's disk is ext4 without a
# journal, where creating a file skips every inode freed less than 60 s ago (360 s while its
# inode table block is still dirty) at the cost of a buffer-cache lookup each (`perf`: 65% of
# a scratch checkout's time in the kernel's `recently_deleted` right after 20,000 files were
# deleted), so whoever creates files after a big delete pays for it: 20,000 small files took
# 1.1-1.2 s fresh, 6.6-18.3 s right after an `rm -rf` of 20,000, 9.1 s 30 s later, 7.9-9.7 s
# 60 s later, in any directory (measured 30 Nov 2026, other jobs also deleting). So the
# by-hand contenders move their worktrees into $work/trash (`mv` + `git worktree prune`), and
# droidforge's trash (where a run moves its scratch worktrees, see docs/merge.md) is moved
# there too while the script holds the trash lock its detached sweep waits for, so that sweep
# finds nothing to delete. $work/trash is deleted at exit. SETTLE=N runs `sync` and sleeps N s
# before EACH contender alike (N >= 60 lets other jobs' deletes wear off).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-5}"
droids="${DROIDS:-8}"
small_files="${SMALL_FILES:-2000}"
large_files="${LARGE_FILES:-20000}"
only=""
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  (cd "$here" && cargo build --release --quiet)
  bin="$here/target/release/droidforge"
fi

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
# No automatic gc: a landing starts `git gc --auto` in the background (as git's porcelain
# does), which would pack the merge's loose objects while the next contender runs. None of
# the contenders packs; each round starts from a fresh copy.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=gc.auto GIT_CONFIG_VALUE_0=0
export GIT_AUTHOR_NAME="Bench Author" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="Bench Committer" GIT_COMMITTER_EMAIL=committer@example.com
export LC_ALL=C
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-verify.XXXXXX")"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
med() { echo $1 | tr ' ' '\n' | grep . | median; }

# A repo at $1 with $2 base files and $droids droid branches, each adding one file in its own
# directory; manifest on main (with `pool = $3` and a warm pool when $3 > 0, plus the by-hand
# contender's kept worktree); every droid marked ready; HEAD detached (no contender pays for
# moving the main checkout).
make_repo() {
  local dir="$1" nfiles="$2" pool="${3:-0}"
  git init -q -b main "$dir"
  awk -v files="$nfiles" -v droids="$droids" -v pool="$pool" '
    function data(s) { printf "data %d\n%s", length(s), s }
    function who(t) { printf "author Bench Author <author@example.com> %d +0000\ncommitter Bench Committer <committer@example.com> %d +0000\n", t, t }
    BEGIN {
      t = 1700000000
      print "commit refs/heads/main"; print "mark :1"; who(t); data("base\n")
      for (i = 1; i <= files; i++) { printf "M 100644 inline src/d%d/base%d.txt\n", i % 50, i; data("file " i "\n") }
      printf "M 100644 inline .droidforge/forge.toml\n"
      m = "[forge]\nintegration = \"main\"\n" (pool > 0 ? "pool = " pool "\n" : "") "\n[[phase]]\nid = 1\nname = \"Bench\"\n"
      for (d = 1; d <= droids; d++) m = m sprintf("\n[[droid]]\nname = \"droid%d\"\nphases = [1]\nowns = [\"droid%d/**\"]\n", d, d)
      data(m)
      print ""
      for (d = 1; d <= droids; d++) {
        t++
        printf "commit refs/heads/droidforge/droid%d\n", d; who(t); data("droid" d "\n")
        print "from :1"
        printf "M 100644 inline droid%d/work.txt\n", d; data("droid " d "\n")
        print ""
      }
    }' | git -C "$dir" fast-import --quiet
  git -C "$dir" checkout -q --detach main
  for d in $(seq 1 "$droids"); do "$bin" -C "$dir" -q done "droid$d"; done
  git -C "$dir" gc -q
  if [ "$pool" -gt 0 ]; then
    "$bin" -C "$dir" -q pool refresh
    git -C "$dir" worktree add -q --detach "$dir.kept" main
  fi
  git -C "$dir" worktree list | wc -l > "$dir.worktrees"
  git -C "$dir" for-each-ref --format='%(objectname) %(refname)' > "$dir.refs"
  cp -a "$dir/.git/droidforge" "$dir.state"
}

# Put the repo back as make_repo left it: refs (also deleting new ones) and droidforge's state.
reset_repo() {
  local dir="$1"
  {
    git -C "$dir" for-each-ref --format='%(refname)' | while read -r r; do
      grep -q " $r\$" "$dir.refs" || echo "delete $r"
    done
    awk '{ print "update " $2 " " $1 }' "$dir.refs"
  } | git -C "$dir" update-ref --stdin
  git -C "$dir" update-ref --no-deref HEAD "$(awk '$2 == "refs/heads/main" { print $1 }' "$dir.refs")"
  mv "$dir/.git/droidforge" "$(mktemp -d "$work/old.XXXXXX")/"
  cp -a "$dir.state" "$dir/.git/droidforge"
}

cat > "$work/byhand-warm.sh" <<'EOS'
# by hand, warm: replay the chain, then verify each candidate in the worktree kept from setup
# on (checkout + clean -ffdx, as droidforge undoes what a verification left), then move main.
set -e
cd "$1"; kept="$2"; cmd="$3"; shift 3
base=$(git rev-parse main); tip=$base
for b in "$@"; do
  tip=$(git replay --onto "$tip" "$base..$b" | awk '{print $3}')
  git -C "$kept" checkout -q --detach "$tip"
  git -C "$kept" clean -ffdxq
  (cd "$kept" && sh -c "$cmd")
done
git update-ref refs/heads/main "$tip" "$base"
EOS

cat > "$work/byhand.sh" <<'EOS'
# by hand: replay the chain, then verify each candidate in its own fresh scratch worktree,
# JOBS at a time, then move main. The worktrees are moved aside into TRASH and unregistered
# (`git worktree prune`), not deleted (see the hygiene note).
set -e
cd "$1"; jobs="$2"; export CMD="$3"; trash="$4"; shift 4
base=$(git rev-parse main); tip=$base; tips=""
for b in "$@"; do
  tip=$(git replay --onto "$tip" "$base..$b" | awk '{print $3}')
  tips="$tips $tip"
done
scratch="$(mktemp -d "$trash/../byhand.XXXXXX")"
# `git worktree add` does not run concurrently in one repository: add them one by one, run the
# command JOBS at a time.
for t in $tips; do git worktree add -q --detach "$scratch/wt-$t" "$t"; done
printf '%s\n' $tips | xargs -P "$jobs" -I{} sh -c 'cd "$0/wt-{}" && sh -c "$CMD"' "$scratch"
mv "$scratch" "$trash/"
git worktree prune
git update-ref refs/heads/main "$tip" "$base"
EOS

cat > "$work/floor.sh" <<'EOS'
# the floor: one plain `git worktree add --detach` of the integration tip, moved aside after.
set -e
cd "$1"; trash="$2"
scratch="$(mktemp -d "$trash/../floor.XXXXXX")"
git worktree add -q --detach "$scratch/wt" main
mv "$scratch" "$trash/"
git worktree prune
EOS

mkdir -p "$work/trash"

# One contender on the repo at $1: prints its wall time in seconds.
measure() {
  local dir="$1" name="$2" cmd="$3" t0 t1
  [ "${SETTLE:-0}" = 0 ] || { sync; sleep "$SETTLE"; }
  reset_repo "$dir"
  # droidforge's detached sweep waits for the trash lock, held here until the trash is moved
  # aside (then the sweep finds nothing to delete); fd 8 is closed for droidforge itself, so
  # neither it nor its sweep inherits the lock.
  exec 8>"$dir/.git/droidforge/trash.lock"
  flock 8
  t0=$(date +%s%N)
  case "$name" in
    df*) local k="${name#df}"
      "$bin" -C "$dir" -q merge --phase 1 --verify "$cmd" --verify-jobs "$k" >/dev/null 8>&- ;;
    hand*) local k="${name#hand}"
      bash "$work/byhand.sh" "$dir" "$k" "$cmd" "$work/trash" $(seq -f 'droidforge/droid%g' 1 "$droids") 8>&- ;;
    warm*)
      bash "$work/byhand-warm.sh" "$dir" "$dir.kept" "$cmd" $(seq -f 'droidforge/droid%g' 1 "$droids") 8>&- ;;
    floor)
      bash "$work/floor.sh" "$dir" "$work/trash" 8>&- ;;
  esac
  t1=$(date +%s%N)
  if [ -e "$dir/.git/droidforge/trash" ]; then
    mv "$dir/.git/droidforge/trash" "$(mktemp -d "$work/trash/df.XXXXXX")/"
  fi
  exec 8>&-
  # Every droid landed (the floor lands nothing), and no scratch worktree is left behind.
  local landed
  landed=$(git -C "$dir" ls-tree -d --name-only main | grep -c '^droid' || true)
  [ "$name" = floor ] || [ "$landed" = "$droids" ] || { echo "$name: $landed of $droids droids landed" >&2; exit 1; }
  [ "$(git -C "$dir" worktree list | wc -l)" = "$(cat "$dir.worktrees")" ] || { echo "$name left a worktree behind" >&2; git -C "$dir" worktree list >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}

label() {
  case "$1" in
    df*) echo "droidforge merge --verify-jobs ${1#df}" ;;
    hand*) echo "by hand: worktree per candidate, ${1#hand} at a time" ;;
    warm*) echo "by hand: one kept worktree, checkout + clean" ;;
    floor) echo "floor: one git worktree add --detach" ;;
  esac
}

# scenario NAME FILES POOL CMD REFERENCE CONTENDERS...
scenario() {
  local title="$1" nfiles="$2" pool="$3" cmd="$4" ref="$5"; shift 5
  local dir="$work/$title" t0
  t0=$(date +%s)
  make_repo "$dir" "$nfiles" "$pool"
  echo
  local warm="cold: no warm pool"
  [ "$pool" -gt 0 ] && warm="warm: pool = $pool, refreshed at setup"
  echo "($title) $droids droids, $(git -C "$dir" ls-files | wc -l) files, --verify '$cmd', $warm; median of $runs rounds (setup $(( $(date +%s) - t0 ))s)"
  echo "load: $(uptime)"
  declare -A wall
  local name r w
  for name in "$@"; do wall[$name]=""; done
  local order=("$@")
  for r in $(seq 1 "$runs"); do
    for name in "${order[@]}"; do
      w=$(measure "$dir" "$name" "$cmd")
      wall[$name]="${wall[$name]} $w"
    done
    order=("${order[@]:1}" "${order[0]}") # rotate who goes first
  done
  for name in "$@"; do
    printf '  %-48s %7s s   (all: %s)\n' "$(label "$name")" "$(med "${wall[$name]}")" "${wall[$name]# }"
  done
  local rw other
  rw=$(med "${wall[$ref]}")
  for other in "$ref" floor; do
    [ -n "${wall[$other]:-}" ] || continue
    rw=$(med "${wall[$other]}")
    for name in "$@"; do
      [ "$name" = "$other" ] && continue
      case "$name" in df*) ;; *) [ "$other" = floor ] && continue ;; esac
      awk -v w="$(med "${wall[$name]}")" -v rw="$rw" -v l="$(label "$name")" -v rl="$(label "$other")" \
        'BEGIN { printf "  ratio %s / %s: %.2fx\n", l, rl, (rw > 0 ? w / rw : 0) }'
    done
  done
  echo "load: $(uptime)"
}

case "${only:-a}" in a) scenario a "$small_files" 0 "sleep 1" hand4 df4 df1 hand4 ;; esac
case "${only:-b}" in b) scenario b "$large_files" 0 "true" hand1 df1 df4 hand1 floor ;; esac
case "${only:-c}" in c) scenario c "$large_files" 4 "true" warm1 df1 df4 warm1 ;; esac
