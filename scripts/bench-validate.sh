#!/usr/bin/env bash
# Time manifest validation (`droidforge plan --check`, which includes the ownership overlap
# analysis) on generated manifests, next to `git status` on the same repository in the same run
# as a yardstick (alternating, median of N runs, printing the ratio).
#
# Cases: 100 / 1,000 / 10,000 droids owning three disjoint globs each (`src/dN/**`,
# `tests/dN_*.rs`, `docs/dN.md`), and the pathological case of 400 droids owning `**/*N*`
# (every pair overlaps; the analysis stops at its cap).
#
# Usage: scripts/bench-validate.sh [--runs N] [--bin PATH]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
runs=5
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --bin) bin="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  (cd "$here" && cargo build --release --quiet)
  bin="$here/target/release/droidforge"
fi

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-validate.XXXXXX")"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# make_repo DIR COUNT KIND
make_repo() {
  local dir="$1" n="$2" kind="$3"
  git init -q -b main "$dir"
  mkdir -p "$dir/.droidforge"
  echo r > "$dir/README.md"
  git -C "$dir" add README.md
  git -C "$dir" commit -q -m init
  awk -v n="$n" -v kind="$kind" 'BEGIN {
    print "[[phase]]\nid = 1\n"
    for (i = 0; i < n; i++) {
      printf "[[droid]]\nname = \"d%d\"\nphases = [1]\n", i
      if (kind == "disjoint")
        printf "owns = [\"src/d%d/**\", \"tests/d%d_*.rs\", \"docs/d%d.md\"]\n\n", i, i, i
      else
        printf "owns = [\"**/*%d*\"]\n\n", i
    }
  }' > "$dir/.droidforge/forge.toml"
}

printf '%-28s %12s %12s %8s\n' case "plan --check" "git status" ratio
for spec in 100:disjoint 1000:disjoint 10000:disjoint 400:pathological; do
  n="${spec%%:*}"; kind="${spec#*:}"
  dir="$work/$n-$kind"
  make_repo "$dir" "$n" "$kind"
  df_times=(); git_times=()
  for _ in $(seq "$runs"); do
    t0=$(now); (cd "$dir" && "$bin" plan --check >/dev/null 2>&1) || { echo "plan --check failed on $spec" >&2; exit 1; }
    t1=$(now); git -C "$dir" status --porcelain >/dev/null; t2=$(now)
    df_times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
    git_times+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')")
  done
  df=$(printf '%s\n' "${df_times[@]}" | median)
  gt=$(printf '%s\n' "${git_times[@]}" | median)
  printf '%-28s %11.3fs %11.3fs %7.1fx\n' "$n droids ($kind)" "$df" "$gt" "$(awk -v a="$df" -v b="$gt" 'BEGIN { print a / b }')"
done
