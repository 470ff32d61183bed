#!/bin/bash
# The floor under bench/build-cache.sh's b) project (a 50 MB context of 5 random files): the same
# `docker build` (DOCKER_BUILDKIT=0) against stand-ins that build nothing (bench/context-sink.js),
# in the same rounds: new bytes (cold), nothing changed (cached), the same bytes written again
# (rewritten).
#   null     the CLI's start, its tar of the context, the transfer, its exit
#   receive  that and berth's context receiver: each file compared with the bytes it kept (or
#            hashed and kept when new), which no build can skip without trusting mtimes
# A cached berthd build does all of `receive` and then its steps' cache lookups.
# Both stand-ins start Node as bin/berthd does. Usage: bench/build-context-floor.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
export DOCKER_BUILDKIT=0

work=$(mktemp -d /tmp/berth-ctxfloor-XXXXXX)
sink_pid=""
cleanup() {
  [ -z "$sink_pid" ] || { kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
export DOCKER_HOST="unix://$work/sink.sock" DOCKER_CONFIG="$work/docker-config"

ctx="$work/ctx"
mkdir -p "$ctx"
printf 'FROM busybox\nCOPY f1 f2 /app/\n' > "$ctx/Dockerfile"
fill() { for i in 1 2 3 4 5; do head -c 10000000 /dev/urandom > "$ctx/f$i"; done; touch -d "@$(( $(date +%s) - 10 ))" "$ctx"/f*; }
rewrite() { for f in "$ctx"/f*; do cp "$f" "$f.tmp" && mv "$f.tmp" "$f"; done; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
build() {
  local t0
  t0=$(ms)
  docker build "$ctx" >"$work/out" 2>&1 || { echo "docker build failed:" >&2; cat "$work/out" >&2; exit 1; }
  echo $(( $(ms) - t0 ))
}

printf '%-10s %9s %10s %13s\n' "" "cold ms" "cached ms" "rewritten ms"
for mode in null receive; do
  node --initial-old-space-size=64 bench/context-sink.js "$work/sink.sock" "$mode" "$work/$mode" 2>"$work/sink.log" &
  sink_pid=$!
  for _ in $(seq 100); do [ -S "$work/sink.sock" ] && break; sleep 0.05; done
  # One untimed round, as bench/build-cache.sh warms berthd up.
  fill; build >/dev/null; build >/dev/null
  c=(); w=(); r=()
  for _ in $(seq "$ROUNDS"); do
    fill; sync
    c+=($(build)); w+=($(build)); rewrite; r+=($(build))
  done
  kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
  printf '%-10s %9s %10s %13s   (cached: %s)\n' "$mode" "$(med "${c[@]}")" "$(med "${w[@]}")" "$(med "${r[@]}")" "${w[*]}"
done
