#!/usr/bin/env bash
# Benchmark `droidforge merge --phase 1` (droids never spawned: every branch is marked ready
# with `droidforge done`) against a `git replay --onto` + `update-ref` loop over the same
# branches, in the same run: the contenders alternate (the first one rotates every round), each
# on a fresh copy of the same repository, and the MEDIAN of the rounds counts. Also reports the
# peak RSS of droidforge (`/usr/bin/time -f %M`) and the cost of one `droidforge done` call.
# Exits non-zero only on errors (a droid that does not land is one), never on slow numbers.
#
# Usage:
#   scripts/bench-merge.sh                      # generated repo: 10 droids x 20 commits
#   scripts/bench-merge.sh --droids 10 --commits 1000 --files 2000
#   scripts/bench-merge.sh --gitgit [BUNDLE]    # real data: the git/git topics, one phase
#                                               # (default /work/shared/data/gitgit-topics.bundle)
#   scripts/bench-merge.sh --repo PATH          # any repo: every `droidforge/*` branch is a droid
#                                               # of phase 1 owning the files its branch changes
# Options: --runs N (default $RUNS or 5), --bin PATH (default: build target/release),
#          --rebase (also time a `git rebase` + fast-forward loop; slow, off by default),
#          --checkout (keep the integration branch checked out; by default every contender runs
#          with a detached HEAD in the main worktree so that none pays for a checkout update).
#          --rss (also sample every process of each contender every 10 ms from /proc/PID/status
#            and report the anonymous part of its peak RSS (RssAnon: heap, stacks) next to the
#            peak itself (getrusage, as /usr/bin/time %M: the largest single process, git's
#            included); the rest is file-backed (the binary, libraries, mmapped packs).
#            scripts/bench-merge-memory.sh runs this for several --commits values; the sampler
#            takes some CPU, so compare times from runs without --rss), plus a memory reference:
#            ONE `git replay --onto T0 T0..b1 T0..b2 ...` over every branch (the loop spreads
#            the reading over one process per droid; this reads every commit in one process,
#            as droidforge does; it stacks the branches instead of landing them one by one),
#          --spawned (the droids' worktrees exist: `droidforge spawn --all` on every fresh copy,
#          untimed, then every contender does what a git user would do to the worktrees too:
#            git replay loop: per droid `git replay --onto` and `git -C <worktree> reset -q --keep
#              <rebased tip>` (moves the droid's branch AND its worktree's index and files), then
#              `update-ref` of main (`reset -q --keep` of the main checkout with --checkout);
#            droidforge merge --phase 1: moves each merged droid's branch and worktree itself;
#            droidforge merge --phase 1 --no-sync-worktrees (a third contender): leaves the
#              droids' branches and worktrees on their original commits, like a replay loop that
#              only moves main.)
# The generated repo is written with `git fast-import` (10 x 1,000 commits in seconds): each
# droid's commit c adds `droidN/file<c>.txt` and rewrites `droidN/file1.txt`, so every commit
# touches a directory that grows with the branch (the case where work per commit must not
# grow with the directory).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
droids=10
commits=20
files=2000
runs="${RUNS:-5}"
mode=generated
source_repo=""
bundle="/work/shared/data/gitgit-topics.bundle"
bin=""
checkout=0
with_rebase=0
spawned=0
rss_mode=0
while [ $# -gt 0 ]; do
  case "$1" in
    --droids) droids="$2"; shift 2 ;;
    --commits) commits="$2"; shift 2 ;;
    --files) files="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --rebase) with_rebase=1; shift ;;
    --checkout) checkout=1; shift ;;
    --spawned) spawned=1; shift ;;
    --rss) rss_mode=1; shift ;;
    --gitgit) mode=gitgit; if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then bundle="$2"; shift; fi; shift ;;
    --repo) mode=repo; source_repo="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
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
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-merge.XXXXXX")"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
tpl="$work/template"
mkdir -p "$work/old"

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Write a manifest where each droid owns the files its branch changes (files changed by two or
# more droids are shared), then commit it on main so all branches must be rebased. With
# GLOBS=1 (the generated repo) each droid owns its directory instead (`droidN/**`), as a real
# manifest would: a list of every file would grow with the commits and so would the ownership
# matcher's memory.
write_manifest() {
  local dir="$1"
  (
    cd "$dir"
    mkdir -p .droidforge
    local list="$work/owned.txt"
    : > "$list"
    for b in $(git for-each-ref --format='%(refname:short)' 'refs/heads/droidforge/'); do
      local d="${b#droidforge/}"
      if [ "${GLOBS:-0}" = 1 ]; then printf '%s\t%s/**\n' "$d" "$d" >> "$list"; continue; fi
      git log --format= --name-only --no-renames "main..$b" | grep . | sort -u | sed "s|^|$d\t|" >> "$list"
    done
    {
      printf '[forge]\nintegration = "main"\n\n[paths]\nshared = ['
      cut -f2 "$list" | sort | uniq -d | sed 's/.*/"&"/' | paste -sd, -
      printf ']\n\n[[phase]]\nid = 1\nname = "Bench"\n'
      for b in $(git for-each-ref --format='%(refname:short)' 'refs/heads/droidforge/'); do
        local d="${b#droidforge/}"
        printf '\n[[droid]]\nname = "%s"\nphases = [1]\nowns = [' "$d"
        awk -F'\t' -v d="$d" '$1 == d { printf "%s\"%s\"", (n++ ? ", " : ""), $2 }' "$list"
        printf ']\n'
      done
    } > .droidforge/forge.toml
    echo ".droidforge/worktrees/" >> .git/info/exclude
    git add .droidforge/forge.toml
    git commit -q -m "Set up droidforge"
  )
}

# A fast-import stream: a base commit with $files files, then per droid a branch of $commits
# commits into its own (growing) directory.
generate_stream() {
  awk -v files="$files" -v droids="$droids" -v commits="$commits" '
    function data(s) { printf "data %d\n%s", length(s), s }
    function who(t) { printf "author Bench Author <author@example.com> %d +0000\ncommitter Bench Committer <committer@example.com> %d +0000\n", t, t }
    BEGIN {
      t = 1700000000
      print "commit refs/heads/main"; print "mark :1"; who(t); data("base\n")
      for (i = 1; i <= files; i++) { printf "M 100644 inline src/base%d.txt\n", i; data("file " i "\n") }
      print ""
      for (d = 1; d <= droids; d++) {
        for (c = 1; c <= commits; c++) {
          t++
          printf "commit refs/heads/droidforge/droid%d\n", d; who(t); data("droid" d ": commit " c "\n")
          if (c == 1) print "from :1"
          printf "M 100644 inline droid%d/file%d.txt\n", d, c; data("droid " d " commit " c "\n")
          if (c > 1) { printf "M 100644 inline droid%d/file1.txt\n", d; data("droid " d " revision " c "\n") }
          print ""
        }
      }
    }'
}

setup_start=$(date +%s.%N)
case "$mode" in
  generated)
    git init -q -b main "$tpl"
    generate_stream | git -C "$tpl" fast-import --quiet
    git -C "$tpl" checkout -q main
    GLOBS=1 write_manifest "$tpl"
    ;;
  gitgit)
    git init -q -b scratch "$tpl"
    (cd "$tpl" && git fetch -q "$bundle" 'refs/heads/*:refs/heads/*' && git checkout -q main)
    write_manifest "$tpl"
    ;;
  repo)
    git clone -q --no-local "$source_repo" "$tpl"
    (cd "$tpl" && for r in $(git for-each-ref --format='%(refname:short)' 'refs/remotes/origin/droidforge/'); do
       git branch -q "${r#origin/}" "$r"; done
     git checkout -q -B main origin/HEAD 2>/dev/null || true)
    if ! git -C "$tpl" cat-file -e main:.droidforge/forge.toml 2>/dev/null; then write_manifest "$tpl"; fi
    ;;
esac

branches=$(git -C "$tpl" for-each-ref --format='%(refname:short)' 'refs/heads/droidforge/')
ndroids=$(echo "$branches" | wc -w)
ncommits=0
for b in $branches; do ncommits=$((ncommits + $(git -C "$tpl" rev-list --count "main..$b"))); done
nfiles=$(git -C "$tpl" ls-files | wc -l)
# Merge order for the git contenders: droidforge's own (deterministic, here: by name).
order=$(echo "$branches" | tr ' ' '\n' | sort)
# `done` per droid (never spawned: it marks the branch head), each call timed on its own.
done_ms=""
for b in $order; do
  t0=$(date +%s%N)
  "$bin" -C "$tpl" -q done "${b#droidforge/}"
  t1=$(date +%s%N)
  done_ms="$done_ms $(( (t1 - t0) / 1000000 ))"
done
GIT_CONFIG_COUNT=0 git -C "$tpl" gc -q --auto
setup_s=$(awk -v a="$setup_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "repo: $mode, $ndroids droids, $ncommits commits, $nfiles files; median of $runs rounds (setup ${setup_s}s)$([ "$spawned" = 0 ] || echo "; droids' worktrees spawned")"
echo "load: $(uptime)"

fresh() {
  # Old copies are moved aside, not deleted: creating files right after deleting many is slow
  # on some disks, which would penalize whichever contender runs next.
  if [ -e "$work/run" ]; then mv "$work/run" "$(mktemp -d "$work/old/run.XXXXXX")/"; fi
  cp -a "$tpl" "$work/run"
  if [ "$checkout" = 0 ]; then git -C "$work/run" checkout -q --detach main; fi
  if [ "$spawned" = 1 ]; then
    "$bin" -C "$work/run" -q spawn --all >/dev/null 2>&1
    # The worktrees' files predate their index by more than the clock's granularity, as they
    # would after an agent's session: no racily clean entry to re-hash, for any contender.
    sleep 1
  fi
}

cat > "$work/rebase.sh" <<'EOS'
set -e
cd "$1"; shift
git checkout -q main
for b in "$@"; do
  git rebase -q main "$b" >/dev/null
  git checkout -q main
  git merge -q --ff-only "$b"
done
EOS
cat > "$work/replay.sh" <<'EOS'
set -e
cd "$1"; shift
base=$(git rev-parse main)
tip=$base
for b in "$@"; do
  new=$(git replay --onto "$tip" "$base..$b" | awk '{print $3}')
  git update-ref "refs/heads/$b" "$new"
  tip=$new
done
git update-ref refs/heads/main "$tip" "$base"
EOS
# --rss: a memory reference, all branches in one `git replay` (results not applied).
cat > "$work/replay1.sh" <<'EOS'
set -e
cd "$1"; shift
base=$(git rev-parse main)
ranges=""
for b in "$@"; do ranges="$ranges $base..$b"; done
git replay --onto "$base" $ranges > /dev/null
EOS
# --spawned: the branches are checked out in the droids' worktrees (and main perhaps in the
# main one): `reset --keep` moves each branch with its index and files, keeping local edits.
cat > "$work/replay-spawned.sh" <<'EOS'
set -e
cd "$1"; shift
base=$(git rev-parse main)
tip=$base
for b in "$@"; do
  new=$(git replay --onto "$tip" "$base..$b" | awk '{print $3}')
  git -C ".droidforge/worktrees/${b#droidforge/}" reset -q --keep "$new"
  tip=$new
done
if [ "$(git symbolic-ref -q HEAD)" = refs/heads/main ]; then git reset -q --keep "$tip"
else git update-ref refs/heads/main "$tip" "$base"; fi
EOS

# --rss: the largest RssAnon (kB) of any one process in the tree of $1 until it exits, sampled
# every 10 ms (the status files of processes that exit between two samples are not read; with
# fewer than a few samples the figure is a lower bound).
sample_anon() {
  local root=$1 max=0 p k v rest todo kids t nap
  # A pipe nobody writes to: `read -t` on it sleeps without forking a `sleep` (the sampler
  # shares the CPUs with what it measures).
  exec {nap}<> <(:)
  while [ -e "/proc/$root" ]; do
    todo=$root
    while [ -n "$todo" ]; do
      set -- $todo; p=$1; shift; todo="$*"
      while read -r k v rest; do
        [ "$k" = RssAnon: ] && [ "$v" -gt "$max" ] && max=$v
      done 2>/dev/null < "/proc/$p/status" || true
      for t in /proc/"$p"/task/*/children; do
        kids=""; read -r kids 2>/dev/null < "$t" || true
        [ -z "$kids" ] || todo="$todo $kids"
      done
      todo="${todo# }"
    done
    read -r -t 0.01 -u "$nap" || true
  done
  exec {nap}<&-
  echo "$max"
}

# Prints "wall cpu rss_kb anon_kb" (seconds; cpu = user + sys of the whole process tree; anon_kb
# 0 without --rss).
measure() {
  local name="$1"
  fresh
  case "$name" in
    droidforge|nosync)
      local extra=""; [ "$name" = droidforge ] || extra="--no-sync-worktrees"
      # Exit 3/4 (a droid rejected for a conflict or a path it does not own, as some real
      # topics are) is an outcome, not an error: the others landed.
      local rc=0
      timed "$bin" -C "$work/run" -q merge --phase 1 $extra >/dev/null || rc=$?
      case "$rc" in 0|3|4) ;; *) echo "droidforge merge failed (exit $rc)" >&2; exit 1 ;; esac
      git -C "$work/run" log -1 --format=%s main | grep -q "^droidforge: record merge" \
        || { echo "droidforge merge did not land" >&2; exit 1; } ;;
    replay) local script=replay; [ "$spawned" = 0 ] || script=replay-spawned
      timed bash "$work/$script.sh" "$work/run" $order ;;
    *) timed bash "$work/$name.sh" "$work/run" $order ;;
  esac
  # (time writes "Command exited with non-zero status N" first when it did)
  tail -1 "$work/time.txt" | awk -v a="$(cat "$work/anon.txt")" '{ printf "%.3f %.3f %d %d\n", $1, $2 + $3, $4, a }'
}

# Run a contender under /usr/bin/time (into $work/time.txt), with --rss its RssAnon sampled too
# (into $work/anon.txt).
timed() {
  echo 0 > "$work/anon.txt"
  if [ "$rss_mode" = 0 ]; then
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@"
    return
  fi
  local rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" &
  local pid=$!
  sample_anon "$pid" > "$work/anon.txt"
  wait "$pid" || rc=$?
  return "$rc"
}

contenders="replay droidforge"
# (a build from before --no-sync-worktrees existed runs without that contender)
if [ "$spawned" = 1 ] && "$bin" merge --help | grep -q -- --no-sync-worktrees; then contenders="$contenders nosync"; fi
[ "$with_rebase" = 0 ] || contenders="$contenders rebase"
[ "$rss_mode" = 0 ] || [ "$spawned" = 1 ] || contenders="$contenders replay1"
declare -A wall cpu rss anon
for name in $contenders; do wall[$name]=""; cpu[$name]=""; rss[$name]=""; anon[$name]=""; done
set -- $contenders
for r in $(seq 1 "$runs"); do
  for name in "$@"; do
    read -r w c m a < <(measure "$name")
    wall[$name]="${wall[$name]} $w"; cpu[$name]="${cpu[$name]} $c"; rss[$name]="${rss[$name]} $m"
    anon[$name]="${anon[$name]} $a"
  done
  set -- "${@:2}" "$1" # rotate who goes first
done
med() { echo $1 | tr ' ' '\n' | grep . | median; }
label() { case "$1" in rebase) echo "git rebase + ff loop";; replay1) echo "git replay, all in one process";; replay) echo "git replay + update-ref loop";; droidforge) echo "droidforge merge --phase 1";; nosync) echo "droidforge --no-sync-worktrees";; esac; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
if [ "$rss_mode" = 0 ]; then
  printf '%-30s %8s %8s %10s   %s\n' "" "wall(s)" "cpu(s)" "peak RSS" "(all rounds: wall)"
else
  printf '%-30s %8s %8s %10s %10s   %s\n' "" "wall(s)" "cpu(s)" "peak RSS" "anon part" "(all rounds: wall)"
fi
for name in $contenders; do
  if [ "$rss_mode" = 0 ]; then
    printf '%-30s %8s %8s %7s MB   (%s)\n' "$(label $name)" "$(med "${wall[$name]}")" "$(med "${cpu[$name]}")" \
      "$(mb "$(med "${rss[$name]}")")" "${wall[$name]# }"
  else
    printf '%-30s %8s %8s %7s MB %7s MB   (%s)\n' "$(label $name)" "$(med "${wall[$name]}")" "$(med "${cpu[$name]}")" \
      "$(mb "$(med "${rss[$name]}")")" "$(mb "$(med "${anon[$name]}")")" "${wall[$name]# }"
  fi
done
rp_w=$(med "${wall[replay]}"); rp_c=$(med "${cpu[replay]}")
for name in $contenders; do
  case "$name" in replay|replay1) continue ;; esac
  awk -v w="$(med "${wall[$name]}")" -v c="$(med "${cpu[$name]}")" -v rw="$rp_w" -v rc="$rp_c" -v l="$(label $name)" \
    'BEGIN { printf "ratio %s / git replay loop: wall %.2fx, cpu %.2fx\n", l, (rw > 0 ? w / rw : 0), (rc > 0 ? c / rc : 0) }'
done
echo "droidforge done: median $(med "$done_ms") ms per call over $ndroids calls (all:$done_ms)"
