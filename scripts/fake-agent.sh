#!/usr/bin/env bash
# A fake coding agent for droidforge's tests: real process, scripted behaviour.
#
# Usage: fake-agent.sh CONFIG_DIR DROID
# Sources CONFIG_DIR/DROID.env (or CONFIG_DIR/default.env) which may set:
#   SHARED_LOG=FILE     append "start DROID NANOS" / "end DROID NANOS" lines
#   PID_FILE=FILE       append "DROID PID" for this process (and "DROID-child PID" for CHILD)
#   PRINT="text"        print this line to stdout, and "to stderr" to stderr
#   WRITE="path=text"   write a file (relative to cwd); several separated by ';'
#   COMMIT="message"    git add -A && git commit -m message
#   SLEEP=SECS          sleep before exiting
#   IGNORE_TERM=1       ignore SIGTERM (only SIGKILL stops it)
#   CHILD=1             start a background child (sleep) in the same process group
#   HANG=1              never exit on its own
#   QUIET_WRITE=SECS    after start: print nothing, touch a file every SECS (for stall tests)
#   EXIT=CODE           exit code (default 0)
set -u
dir="$1"
droid="$2"
if [ -f "$dir/$droid.env" ]; then . "$dir/$droid.env"; elif [ -f "$dir/default.env" ]; then . "$dir/default.env"; fi
now() { date +%s%N; }
[ -n "${IGNORE_TERM:-}" ] && trap '' TERM
[ -n "${SHARED_LOG:-}" ] && echo "start $droid $(now)" >> "$SHARED_LOG"
[ -n "${PID_FILE:-}" ] && echo "$droid $$" >> "$PID_FILE"
echo "fake agent $droid starting in $(pwd)"
echo "brief: ${DROIDFORGE_BRIEF:-none}"
if [ -n "${CHILD:-}" ]; then
  sleep 1000 &
  [ -n "${PID_FILE:-}" ] && echo "$droid-child $!" >> "$PID_FILE"
fi
[ -n "${PRINT:-}" ] && { echo "$PRINT"; echo "to stderr" >&2; }
if [ -n "${WRITE:-}" ]; then
  IFS=';' read -ra items <<< "$WRITE"
  for item in "${items[@]}"; do
    path="${item%%=*}"; text="${item#*=}"
    mkdir -p "$(dirname "$path")"
    printf '%s\n' "$text" > "$path"
  done
fi
if [ -n "${COMMIT:-}" ]; then
  git add -A && git commit -q -m "$COMMIT"
fi
if [ -n "${QUIET_WRITE:-}" ]; then
  while true; do sleep "$QUIET_WRITE"; date +%s%N > .fake-activity; done
fi
if [ -n "${HANG:-}" ]; then
  while true; do sleep 1; done
fi
[ -n "${SLEEP:-}" ] && sleep "$SLEEP"
[ -n "${SHARED_LOG:-}" ] && echo "end $droid $(now)" >> "$SHARED_LOG"
echo "fake agent $droid done"
exit "${EXIT:-0}"
