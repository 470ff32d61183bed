#!/bin/bash
# Exec latency and the cost of running containers, measured through the docker CLI against berthd:
#   exec      : median wall time of `docker exec <c> true` (N runs, default 20, after a warm-up)
#   runc exec : `runc exec` of the same container with no daemon or monitor in between
#   CLI alone : `docker exec` and the 50 `docker run -d` against bench/instant-engine.js, which
#               answers at once: the part of each figure that is the docker CLI's own (its
#               start-up, requests and exit)
#   starts    : wall time of 50 `docker run -d busybox sleep` one after another
#   memory    : PSS of the per-container monitor (conmon), averaged over the 50 running containers,
#               plus berthd's RSS growth per container; berthd's RSS idle and with 50 running
# Docker's figures on this machine (from issue 3) are printed beside berth's for comparison.
# Usage (as root, after `npm ci`): bench/exec-latency.sh [N]
# BERTH_SECCOMP_LOADER=off in the environment has runc compile and apply each container's
# filter itself (runtime/seccomp-loader.ts): run both ways for the loader's share of a start.
# It starts its own berthd on a temp data root and socket and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
COUNT=50
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

# Its daemon runs without live-restore, so it stops what it runs when the script ends.
. bench/lib.sh
bench_daemon
instant_pid=""
trap '[ -n "$instant_pid" ] && kill "$instant_pid" 2>/dev/null; bench_daemon_cleanup' EXIT

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

echo "berth: exec latency and per-container cost ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
sleep 2
idle_rss=$(rss_kb "$daemon_pid")

docker run -d --name exec-target busybox sleep 100000 >/dev/null
id=$(docker inspect -f '{{.Id}}' exec-target)
printf '  %-46s %-34s docker: 62–73 ms\n' "docker exec <c> true (median of $N)" "$(median docker exec exec-target true)"
cat >"$work/process.json" <<'JSON'
{"args":["/bin/true"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0},"terminal":false}
JSON
# A container started through the seccomp loader has no filter in runc's config: its runc execs
# load it through the loader, as berthd's do (runtime/seccomp-loader.ts), so this one does too.
spec="$work/data/containers/$id/spec.json"
if [ -f "$spec" ]; then
  node -e '
    const fs = require("fs");
    const { loaderProcess } = require("./dist/src/runtime/seccomp-loader");
    const spec = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const p = { ...JSON.parse(fs.readFileSync(process.argv[2], "utf8")), capabilities: spec.process.capabilities };
    const filter = JSON.parse(spec.annotations["io.berth.seccomp-loader"]);
    fs.writeFileSync(process.argv[2], JSON.stringify(loaderProcess(p, filter)));
  ' "$spec" "$work/process.json"
fi
printf '  %-46s %s\n' "runc exec (no daemon, no monitor)" "$(median runc --root "$work/exec/runc" exec --process "$work/process.json" "$id")"
node bench/instant-engine.js "$work/instant.sock" &
instant_pid=$!
for _ in $(seq 50); do [ -S "$work/instant.sock" ] && break; sleep 0.1; done
printf '  %-46s %s\n' "docker exec, CLI alone (instant engine)" "$(DOCKER_HOST="unix://$work/instant.sock" median docker exec c true)"
s=$(date +%s%N)
for i in $(seq "$COUNT"); do DOCKER_HOST="unix://$work/instant.sock" docker run -d busybox sleep 100000 >/dev/null; done
e=$(date +%s%N)
cli_starts=$(awk -v t=$(( (e - s) / 1000000 )) 'BEGIN {printf "%.2f s", t/1000}')
kill "$instant_pid"; instant_pid=""
docker rm -f exec-target >/dev/null
sleep 2

s=$(date +%s%N)
for i in $(seq "$COUNT"); do docker run -d --name "idle-$i" busybox sleep 100000 >/dev/null; done
e=$(date +%s%N)
printf '  %-46s %-34s docker: 12.8 s\n' "$COUNT × docker run -d, one after another" "$(awk -v t=$(( (e - s) / 1000000 )) 'BEGIN {printf "%.2f s", t/1000}')"
printf '  %-46s %s\n' "$COUNT × docker run -d, CLI alone (instant engine)" "$cli_starts"
sleep 3

monitors=$(for i in $(seq "$COUNT"); do cat "$work/exec/ctr/$(docker inspect -f '{{.Id}}' "idle-$i")/conmon.pid"; echo; done)
total_pss=0
for p in $monitors; do total_pss=$((total_pss + $(pss_kb "$p"))); done
busy_rss=$(rss_kb "$daemon_pid")
per_ctr=$(awk -v p="$total_pss" -v n="$COUNT" 'BEGIN {printf "%.2f MB", p/n/1024}')
growth=$(awk -v a="$busy_rss" -v b="$idle_rss" -v n="$COUNT" 'BEGIN {printf "%.2f MB", (a-b)/n/1024}')
printf '  %-46s %-34s docker: 2.6 MB (containerd-shim)\n' "monitor PSS per running container" "$per_ctr"
printf '  %-46s %s\n' "berthd RSS growth per running container" "$growth"
printf '  %-46s %-34s docker: 151 MB (dockerd)\n' "berthd RSS idle" "$(awk -v k="$idle_rss" 'BEGIN {printf "%.1f MB", k/1024}')"
printf '  %-46s %s\n' "berthd RSS with $COUNT running" "$(awk -v k="$busy_rss" 'BEGIN {printf "%.1f MB", k/1024}')"
