#!/usr/bin/env bash
# Peak memory of `droidforge merge --phase 1` as the number of commits grows, next to a
# `git replay --onto` + `update-ref` loop over the same branches, in one run: for each N in
# $COMMITS (default "250 500 1000 2000"), scripts/bench-merge.sh --rss on its generated repo
# (10 droids x N commits, droids never spawned, every droid marked ready with `done`) prints
# each contender's peak RSS (getrusage maxrss: the largest single process) and its anonymous
# part (RssAnon sampled every 10 ms: heap and stacks; the rest is file-backed: the binary,
# shared libraries and the mmapped pack files the run read). A third column is a memory
# reference: ONE `git replay` over all the branches, which reads every commit in one process as
# droidforge does (the loop spreads them over one process per droid). Then the growth per
# commit between the smallest and the largest N, in bytes.
#
# The generated repo makes every droid commit add a file to the droid's own directory, so the
# trees a commit touches grow with N too: the object caches (bounded in entries, not bytes)
# hold larger trees at larger N, for git as for droidforge.
#
# With SCALE=droids the number of droids grows instead (DROIDS_LIST, default "10 20 40", each
# with COMMITS commits, default 500): every droid's trees stay the same size, so what grows is
# only what the run keeps per commit and what any process reading a larger repository maps
# (its pack index); each process of the git loop still reads one droid.
#
# Usage: scripts/bench-merge-memory.sh [--bin PATH]   (default: cargo build --release)
# Env: COMMITS (list of N), DROIDS (default 10), FILES (base files, default 2000), RUNS
# (rounds per N, default 1: memory figures barely move between rounds; the median counts),
# SCALE (commits, the default, or droids), DROIDS_LIST.
# Exits non-zero only on errors, never on large numbers. Takes about a minute on a quiet
# 2-core machine with the defaults.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
scale="${SCALE:-commits}"
case "$scale" in
  commits) commits_list="${COMMITS:-250 500 1000 2000}"; droids_list="${DROIDS:-10}" ;;
  droids) commits_list="${COMMITS:-500}"; droids_list="${DROIDS_LIST:-10 20 40}" ;;
  *) echo "SCALE must be commits or droids, not $scale" >&2; exit 2 ;;
esac
files="${FILES:-2000}"
runs="${RUNS:-1}"
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  (cd "$here" && cargo build --release --quiet)
  bin="$here/target/release/droidforge"
fi

echo "load: $(uptime)"
if [ "$scale" = droids ]; then
  echo "merge of D droids x $commits_list commits (droids never spawned), $files base files; median of $runs round(s) per D"
  label=D
else
  echo "merge of $droids_list droids x N commits (droids never spawned), $files base files; median of $runs round(s) per N"
  label=N
fi
printf '%6s %8s | %-24s | %-24s | %-24s | %s\n' "$label" "commits" "droidforge peak (anon)" "git loop peak (anon)" "git 1 process (anon)" "droidforge / git loop"
rows=()
for n in $([ "$scale" = droids ] && echo "$droids_list" || echo "$commits_list"); do
  if [ "$scale" = droids ]; then d="$n" c="$commits_list"; else d="$droids_list" c="$n"; fi
  out="$(RUNS="$runs" bash "$here/scripts/bench-merge.sh" --droids "$d" --commits "$c" --files "$files" \
    --bin "$bin" --rss)"
  # Rows: "<label> wall cpu peak MB anon MB (rounds)"; the label is cut off first.
  df=$(echo "$out" | sed -n 's/^droidforge merge --phase 1 //p' | awk '{ print $3, $5; exit }')
  git=$(echo "$out" | sed -n 's/^git replay + update-ref loop //p' | awk '{ print $3, $5; exit }')
  one=$(echo "$out" | sed -n 's/^git replay, all in one process //p' | awk '{ print $3, $5; exit }')
  total=$(echo "$out" | sed -n 's/^repo: generated, [0-9]* droids, \([0-9]*\) commits.*/\1/p')
  if [ -z "$df" ] || [ -z "$git" ] || [ -z "$one" ] || [ -z "$total" ]; then
    echo "$out" >&2
    echo "bench-merge.sh printed no memory figures for $label=$n" >&2
    exit 1
  fi
  read -r df_peak df_anon <<< "$df"
  read -r git_peak git_anon <<< "$git"
  read -r one_peak one_anon <<< "$one"
  printf '%6s %8s | %8s MB (%6s MB) | %8s MB (%6s MB) | %8s MB (%6s MB) | %.2fx\n' "$n" "$total" \
    "$df_peak" "$df_anon" "$git_peak" "$git_anon" "$one_peak" "$one_anon" \
    "$(awk -v a="$df_peak" -v b="$git_peak" 'BEGIN { print (b > 0 ? a / b : 0) }')"
  rows+=("$total $df_peak $df_anon $git_peak $git_anon $one_peak $one_anon")
done
if [ "${#rows[@]}" -ge 2 ]; then
  read -r c0 dp0 da0 gp0 ga0 op0 oa0 <<< "${rows[0]}"
  read -r c1 dp1 da1 gp1 ga1 op1 oa1 <<< "${rows[${#rows[@]}-1]}"
  awk -v c0="$c0" -v c1="$c1" -v dp0="$dp0" -v dp1="$dp1" -v da0="$da0" -v da1="$da1" \
    -v gp0="$gp0" -v gp1="$gp1" -v ga0="$ga0" -v ga1="$ga1" -v op0="$op0" -v op1="$op1" \
    -v oa0="$oa0" -v oa1="$oa1" 'BEGIN {
      k = 1024 * 1024 / (c1 - c0)
      printf "growth per commit from %d to %d commits: droidforge peak %.0f B (anon %.0f B), git loop peak %.0f B (anon %.0f B), git 1 process peak %.0f B (anon %.0f B)\n",
        c0, c1, (dp1 - dp0) * k, (da1 - da0) * k, (gp1 - gp0) * k, (ga1 - ga0) * k, (op1 - op0) * k, (oa1 - oa0) * k
    }'
fi
