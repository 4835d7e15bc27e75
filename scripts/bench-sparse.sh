#!/usr/bin/env bash
# Benchmark a sparse `droidforge spawn --sparse` against `git worktree add -b` (a full
# checkout) and against git's own sparse worktree made by hand (`git worktree add
# --no-checkout` + `git sparse-checkout set --cone` + `git reset --hard`), in the same run, on
# generated repositories where the droid owns 1% of the files.
#
# usage: scripts/bench-sparse.sh            (sizes 40000 and 100000 files)
#   SIZES="N..."  repository sizes in files (default "40000 100000")
#   RUNS=N        rounds per size (default 5; the median is reported, contenders alternate)
#
# Old worktrees are moved aside between rounds, not deleted: on this kind of disk, creating
# files right after deleting many costs every tool 10-20x more. Exits non-zero only on errors.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
SIZES=${SIZES:-"40000 100000"}

echo "building droidforge (release)…" >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
DF="$ROOT/target/release/droidforge"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/df-bench-sparse.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

now_us() { echo $(($(date +%s%N) / 1000)); }
median_ms() { sort -n "$1" | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
count_files() { find "$1" -path "$1/.git" -prune -o -type f -print | wc -l | tr -d ' '; }

echo "load before: $(uptime)"
SUMMARY=""
for FILES in $SIZES; do
  REPO="$WORK/repo-$FILES"
  TRASH="$WORK/trash-$FILES"
  mkdir -p "$TRASH"
  DIRS=$((FILES / 100))
  OWNED=$((DIRS / 100))
  [ "$OWNED" -ge 1 ] || OWNED=1
  echo "generating a repo with $FILES files in $DIRS directories…" >&2
  git init --quiet -b main "$REPO"
  (cd "$REPO" && awk -v n="$FILES" 'BEGIN {
      for (i = 0; i < n; i++) {
        d = sprintf("src/m%04d", int(i / 100));
        if (!(d in made)) { system("mkdir -p " d); made[d] = 1 }
        f = sprintf("%s/f%06d.rs", d, i);
        printf "// file %d\npub fn f%d() -> u64 {\n    %d\n}\n", i, i, i > f;
        close(f);
      }
    }')
  # One droid owning the first 1% of the directories (cone mode: `dir/**` patterns).
  OWNS=$(for i in $(seq 0 $((OWNED - 1))); do printf '"src/m%04d/**", ' "$i"; done)
  mkdir -p "$REPO/.droidforge"
  printf '[forge]\nintegration = "main"\nbranch_prefix = "df/"\nworktree_dir = ".bench-df"\n\n[[phase]]\nid = 1\n\n[[droid]]\nname = "d1"\nphases = [1]\nowns = [%s]\n' \
    "${OWNS%, }" >"$REPO/.droidforge/forge.toml"
  echo "/.bench-df/" >>"$REPO/.git/info/exclude"
  git -C "$REPO" add -A
  git -C "$REPO" commit --quiet -m "generated"
  CONE_DIRS=$(for i in $(seq 0 $((OWNED - 1))); do printf 'src/m%04d ' "$i"; done)
  cd "$REPO"

  # Move a worktree aside (no mass deletion between rounds) and drop its branch.
  aside() { # DIR BRANCH
    mv "$1" "$TRASH/$(basename "$1").$RANDOM$RANDOM"
    git worktree prune
    git branch -D --quiet "$2"
  }
  run_df() {
    local t0 t1
    t0=$(now_us)
    "$DF" spawn d1 --sparse >/dev/null 2>&1
    t1=$(now_us)
    echo $((t1 - t0)) >>"$WORK/df-$FILES"
    DF_COUNT=$(count_files "$REPO/.bench-df/d1")
    aside "$REPO/.bench-df/d1" df/d1
  }
  run_git() {
    local t0 t1
    t0=$(now_us)
    git worktree add --quiet -b gitbench/g "$WORK/g-$FILES" main
    t1=$(now_us)
    echo $((t1 - t0)) >>"$WORK/git-$FILES"
    GIT_COUNT=$(count_files "$WORK/g-$FILES")
    aside "$WORK/g-$FILES" gitbench/g
  }
  run_gitsparse() {
    local t0 t1
    t0=$(now_us)
    git worktree add --quiet --no-checkout -b gitsparse/s "$WORK/s-$FILES" main
    # shellcheck disable=SC2086
    git -C "$WORK/s-$FILES" sparse-checkout set --cone .droidforge $CONE_DIRS
    git -C "$WORK/s-$FILES" reset --quiet --hard
    t1=$(now_us)
    echo $((t1 - t0)) >>"$WORK/gitsparse-$FILES"
    SP_COUNT=$(count_files "$WORK/s-$FILES")
    aside "$WORK/s-$FILES" gitsparse/s
  }

  # Warm the page cache and every code path once (not measured).
  run_df
  run_git
  run_gitsparse
  : >"$WORK/df-$FILES"
  : >"$WORK/git-$FILES"
  : >"$WORK/gitsparse-$FILES"
  for run in $(seq 1 "$RUNS"); do
    case $((run % 3)) in
      1) run_df; run_git; run_gitsparse ;;
      2) run_git; run_gitsparse; run_df ;;
      0) run_gitsparse; run_df; run_git ;;
    esac
  done
  cd "$WORK"

  df=$(median_ms "$WORK/df-$FILES")
  git=$(median_ms "$WORK/git-$FILES")
  sp=$(median_ms "$WORK/gitsparse-$FILES")
  echo
  echo "== $FILES files, droid owns $OWNED of $DIRS directories; median of $RUNS rounds"
  for f in df git gitsparse; do
    echo "  all rounds $f (ms): $(awk '{printf "%.0f ", $1 / 1000}' "$WORK/$f-$FILES")"
  done
  printf '  %-52s %9s ms %8s files\n' "droidforge spawn --sparse" "$df" "$DF_COUNT"
  printf '  %-52s %9s ms %8s files\n' "git worktree add -b (full)" "$git" "$GIT_COUNT"
  printf '  %-52s %9s ms %8s files\n' "git worktree add --no-checkout + sparse-checkout set" "$sp" "$SP_COUNT"
  line=$(awk -v a="$df" -v b="$git" -v c="$sp" -v n="$FILES" 'BEGIN {
    printf "%d files: git worktree add / droidforge = %.1fx faster; git sparse by hand / droidforge = %.2fx", n, b / a, c / a }')
  echo "  $line"
  SUMMARY="$SUMMARY$line"$'\n'
  [ "$DF_COUNT" -lt "$GIT_COUNT" ] || { echo "error: the sparse worktree has $DF_COUNT files, the full one $GIT_COUNT" >&2; exit 1; }
  rm -rf "$TRASH" "$REPO"
done
echo
echo "load after: $(uptime)"
printf '%s' "$SUMMARY"
