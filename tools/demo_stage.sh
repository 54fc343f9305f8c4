#!/usr/bin/env bash
# Make's SHELL during `make demo`: runs one recipe line with bash, then, for the stages that do work (python
# modules, torchrun, the subprojects' shell drivers), prints one line with its elapsed time and appends it to
# $DEMO_TIMES (JSON lines: target, stage, seconds, status) for the results page. $DEMO_TARGET and $DEMO_START
# (epoch seconds) are set by the demo loop in the root Makefile.
start=$(date +%s.%N)
/bin/bash "$@"
status=$?
line="${!#}"  # the recipe line: the last argument after the shell flags
# The stage's name: the python module, or the script, after any VAR=value prefixes.
stage=$(printf '%s\n' "$line" | grep -oE '(-m [A-Za-z0-9_.]+|[A-Za-z0-9_./-]+\.sh)' | head -n 1 | sed 's/^-m //')
if [ -n "$stage" ]; then
  now=$(date +%s.%N)
  read -r seconds since < <(awk -v s="$start" -v n="$now" -v d="${DEMO_START:-$start}" \
    'BEGIN { printf "%.1f %d\n", n - s, n - d }')
  printf '[demo %3d:%02d] %s: %s %s in %s s\n' $((since / 60)) $((since % 60)) "${DEMO_TARGET:-make}" "$stage" \
    "$([ $status -eq 0 ] && echo done || echo "FAILED (exit $status)")" "$seconds" >&2
  if [ -n "${DEMO_TIMES:-}" ]; then
    printf '{"target": "%s", "stage": "%s", "seconds": %s, "status": %d}\n' \
      "${DEMO_TARGET:-make}" "$stage" "$seconds" "$status" >> "$DEMO_TIMES"
  fi
fi
exit $status
