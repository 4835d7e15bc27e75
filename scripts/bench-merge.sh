#!/usr/bin/env bash
# Benchmark `droidforge merge --phase 1` against (a) a loop of `git rebase` + fast-forward per
# droid and (b) `git replay` per droid, on the same repository in the same run.
#
# Usage:
#   scripts/bench-merge.sh                      # generated repo: 10 droids x 20 commits
#   scripts/bench-merge.sh --droids 10 --commits 20 --files 2000
#   scripts/bench-merge.sh --gitgit [BUNDLE]    # real data: 70 git/git topics, one phase
#                                               # (default /work/shared/data/gitgit-topics.bundle)
#   scripts/bench-merge.sh --repo PATH          # any repo: every `droidforge/*` branch is a droid
#                                               # of phase 1 owning the files its branch changes
# Options: --runs N (default 3, the best run counts), --bin PATH (default: target/release),
#          --checkout (keep the integration branch checked out; by default every contender runs
#          with a detached HEAD in the main worktree so that none pays for a checkout update,
#          except the rebase loop, which cannot work without one).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
droids=10
commits=20
files=2000
runs=3
mode=generated
source_repo=""
bundle="/work/shared/data/gitgit-topics.bundle"
bin=""
checkout=0
while [ $# -gt 0 ]; do
  case "$1" in
    --droids) droids="$2"; shift 2 ;;
    --commits) commits="$2"; shift 2 ;;
    --files) files="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --checkout) checkout=1; shift ;;
    --gitgit) mode=gitgit; if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then bundle="$2"; shift; fi; shift ;;
    --repo) mode=repo; source_repo="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  (cd "$here" && cargo build --release --quiet)
  bin="$here/target/release/droidforge"
fi

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Bench Author" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="Bench Committer" GIT_COMMITTER_EMAIL=committer@example.com
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-merge.XXXXXX")"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
tpl="$work/template"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Write a manifest where each droid owns the files its branch changes (files changed by two or
# more droids are shared), then commit it on main so all branches must be rebased.
write_manifest() {
  local dir="$1"
  (
    cd "$dir"
    mkdir -p .droidforge
    local list="$work/owned.txt"
    : > "$list"
    for b in $(git for-each-ref --format='%(refname:short)' 'refs/heads/droidforge/'); do
      local d="${b#droidforge/}"
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

case "$mode" in
  generated)
    git init -q -b main "$tpl"
    (
      cd "$tpl"
      mkdir -p src
      for i in $(seq 1 "$files"); do echo "file $i" > "src/base$i.txt"; done
      git add -A && git commit -q -m "base"
      for d in $(seq 1 "$droids"); do
        git checkout -q -b "droidforge/droid$d" main
        mkdir -p "droid$d"
        for c in $(seq 1 "$commits"); do
          echo "droid $d commit $c" > "droid$d/file$c.txt"
          if [ "$c" -gt 1 ]; then echo "more $c" >> "droid$d/file1.txt"; fi
          git add -A && git commit -q -m "droid$d: commit $c"
        done
        git checkout -q main
      done
    )
    write_manifest "$tpl"
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
for b in $order; do "$bin" -C "$tpl" -q done "${b#droidforge/}"; done
git -C "$tpl" gc -q --auto
echo "repo: $mode, $ndroids droids, $ncommits commits, $nfiles files; best of $runs runs"

fresh() {
  rm -rf "$work/run"
  cp -a "$tpl" "$work/run"
  if [ "$checkout" = 0 ]; then git -C "$work/run" checkout -q --detach main; fi
}

cat > "$work/rebase.sh" <<'EOS'
set -e
cd "$1"; shift
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
cat > "$work/droidforge.sh" <<'EOS'
set -e
"$DF_BIN" -C "$1" -q merge --phase 1 >/dev/null
EOS
export DF_BIN="$bin"

# Prints "wall cpu" (seconds; cpu = user + sys of the whole process tree).
measure() {
  local script="$1"
  fresh
  if [ "$script" = rebase ]; then git -C "$work/run" checkout -q main; fi
  /usr/bin/time -f "%e %U %S" -o "$work/time.txt" bash "$work/$script.sh" "$work/run" $order
  if [ "$script" = droidforge ]; then
    git -C "$work/run" log -1 --format=%s main | grep -q "^droidforge: record merge" \
      || { echo "droidforge merge did not land" >&2; exit 1; }
  fi
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time.txt"
}

declare -A wall cpu
for name in rebase replay droidforge; do wall[$name]=""; cpu[$name]=""; done
for r in $(seq 1 "$runs"); do
  for name in rebase replay droidforge; do
    read -r w c < <(measure "$name")
    wall[$name]="${wall[$name]} $w"
    cpu[$name]="${cpu[$name]} $c"
  done
done
best() { tr ' ' '\n' | grep . | sort -n | head -1; }
label() { case "$1" in rebase) echo "git rebase + ff loop";; replay) echo "git replay per droid";; droidforge) echo "droidforge merge --phase 1";; esac; }
printf '%-28s %9s %9s   %s\n' "" "wall(s)" "cpu(s)" "(all runs: wall / cpu)"
for name in rebase replay droidforge; do
  printf '%-28s %9s %9s   (%s /%s)\n' "$(label $name)" "$(echo ${wall[$name]} | best)" "$(echo ${cpu[$name]} | best)" "${wall[$name]# }" "${cpu[$name]}"
done
for kind in wall cpu; do
  if [ $kind = wall ]; then rb=$(echo ${wall[rebase]} | best); rp=$(echo ${wall[replay]} | best); dfm=$(echo ${wall[droidforge]} | best)
  else rb=$(echo ${cpu[rebase]} | best); rp=$(echo ${cpu[replay]} | best); dfm=$(echo ${cpu[droidforge]} | best); fi
  awk -v df="$dfm" -v rp="$rp" -v rb="$rb" -v k="$kind" 'BEGIN {
    printf "%-5s droidforge / git replay = %.2fx (target <= 1.2x); git rebase loop / droidforge = %.1fx\n", k, df / rp, rb / df
  }'
done
