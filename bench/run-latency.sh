#!/bin/bash
# Container start-to-exit latency, side by side:
#   berth CLI   : berth run --rm busybox true
#   docker CLI  : docker run --rm busybox true, against berthd (DOCKER_HOST), on the default
#                 bridge (veth, address, route) and with --network none (loopback only)
#   runc floor  : runc run of the same rootfs, no daemon, no monitor, no overlay
# Prints the median wall time of N runs of each (default 20) after one warm-up run.
# Usage (as root, after `npm ci`): bench/run-latency.sh [N]
# It starts its own berthd on a temp data root and socket and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-bench-XXXXXX)
sock="$work/berth.sock"
# Its own default bridge, so a berthd of the host (berth0) is never touched.
bridge="bb$(basename "$work" | tail -c 7)"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  bench_network_cleanup "$bridge" "$work/data"
  grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p .cache
[ -s .cache/busybox-static.tar ] || ./scripts/make-busybox-rootfs.sh .cache/busybox-static.tar static

. bench/lib.sh
./bin/berthd -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" -b "$bridge" --log-level warn 2>"$work/berthd.log" &
daemon_pid=$!
for _ in $(seq 100); do ./bin/berth -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
./bin/berth -H "unix://$sock" import .cache/busybox-static.tar busybox >/dev/null

# The runc floor: the same rootfs as a plain bundle, a fresh container id per run.
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"
tar -xf .cache/busybox-static.tar -C "$bundle/rootfs"
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c['process']['terminal'] = False; c['process']['args'] = ['true']; c['linux']['cgroupsPath'] = '/berth-bench/floor'
json.dump(c, open(p, 'w'))
PY
runc_once() { runc --root "$work/runc" run --bundle "$bundle" "bench-$RANDOM$RANDOM" </dev/null; }

echo "container run latency, median of $N runs ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
# The docker CLI figure goes first and each group after a pause: 20 Node CLIs in a row raise the
# load the next group would be measured under.
printf '  %-44s %s\n' "docker run --rm busybox true (→ berthd, bridge)" "$(DOCKER_HOST="unix://$sock" median docker run --rm busybox true)"
sleep 5
printf '  %-44s %s\n' "  the same with --network none" "$(DOCKER_HOST="unix://$sock" median docker run --rm --network none busybox true)"
sleep 5
printf '  %-44s %s\n' "runc run (floor: no daemon, monitor, overlay)" "$(median runc_once)"
sleep 5
printf '  %-44s %s\n' "berth run --rm busybox true" "$(median ./bin/berth -H "unix://$sock" run --rm busybox true)"
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  # This variable makes every Node process parse a CA bundle at start-up (~80 ms here).
  printf '  %-44s %s\n' "  the same without NODE_EXTRA_CA_CERTS" "$(env -u NODE_EXTRA_CA_CERTS bash -c "$(declare -f median); N=$N; median ./bin/berth -H unix://$sock run --rm busybox true")"
fi
printf '  %-44s %s\n' "node -e '' (Node start-up, for scale)" "$(median node -e '')"
[ -z "${NODE_EXTRA_CA_CERTS:-}" ] || printf '  %-44s %s\n' "  the same without NODE_EXTRA_CA_CERTS" "$(env -u NODE_EXTRA_CA_CERTS bash -c "$(declare -f median); N=$N; median node -e ''")"
