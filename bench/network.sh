#!/bin/bash
# Network throughput and connection set-up, host to container, side by side:
#   through the published port   : 127.0.0.1:<host port> → DNAT → the container (berth's path for -p)
#   to the bridge address        : <container ip>:<port> straight over the bridge, no NAT
# Throughput: a bounded transfer (default 1 GiB) from the host into busybox `nc -l` in the
# container, written with bash's /dev/tcp; the median of R rounds (default 3).
# Connection set-up: the median time of N (default 200) TCP connects to busybox httpd in the
# container (connect + close, no request), measured in one Node process.
# Usage (as root, after `npm ci`): bench/network.sh [MiB] [R] [N]
# It starts its own berthd on a temp data root and socket and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
R=${2:-3}
N=${3:-200}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-bench-XXXXXX)
sock="$work/berth.sock"
bridge="bb$(basename "$work" | tail -c 7)"
daemon_pid=""
export DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$work/docker-config"
cleanup() {
  if [ -n "$daemon_pid" ]; then
    docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  fi
  bench_network_cleanup "$bridge" "$work/data"
  grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh

mkdir -p .cache
[ -s .cache/busybox-static.tar ] || ./scripts/make-busybox-rootfs.sh .cache/busybox-static.tar static
./bin/berthd -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" -b "$bridge" --log-level warn --live-restore=false 2>"$work/berthd.log" &
daemon_pid=$!
for _ in $(seq 100); do ./bin/berth -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
./bin/berth -H "unix://$sock" import .cache/busybox-static.tar busybox >/dev/null

# A sink that accepts one connection after another and discards what it reads.
docker run -d --name sink -p 19000:9000 busybox sh -c 'while true; do nc -l -p 9000 > /dev/null; done' >/dev/null
docker run -d --name web -p 19080:8080 busybox sh -c 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
sink_ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' sink)
web_ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' web)

# Waits (bounded) until host:port accepts a connection.
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done; echo "no listener at $1:$2" >&2; return 1; }

# One transfer of $MIB MiB into host:port; prints MB/s (decimal, as network figures go).
transfer() {
  local s e
  wait_port "$1" "$2"
  s=$(date +%s%N)
  head -c "$((MIB * 1024 * 1024))" /dev/zero > "/dev/tcp/$1/$2"
  e=$(date +%s%N)
  awk -v b="$((MIB * 1024 * 1024))" -v ns="$((e - s))" 'BEGIN {printf "%.0f", b / (ns / 1e9) / 1e6}'
  sleep 0.3 # the sink's loop starts its next nc
}

median_of() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

throughput() {
  local rounds=()
  for _ in $(seq "$R"); do rounds+=("$(transfer "$1" "$2")"); done
  echo "$(median_of "${rounds[@]}") MB/s (rounds: ${rounds[*]})"
}

connects() {
  wait_port "$1" "$2"
  node -e '
    const net = require("node:net");
    const [host, port, n] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
    const times = [];
    (async () => {
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        await new Promise((resolve, reject) => {
          const s = net.connect({ host, port }, () => { times.push(Number(process.hrtime.bigint() - t0) / 1e6); s.destroy(); resolve(); });
          s.on("error", reject);
        });
      }
      times.sort((a, b) => a - b);
      const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(3);
      console.log(`${q(0.5)} ms (p90 ${q(0.9)}, max ${times[times.length - 1].toFixed(3)})`);
    })().catch((e) => { console.error(e.message); process.exit(1); });
  ' "$1" "$2" "$N"
}

echo "host → container over berth's network, $MIB MiB per transfer, median of $R ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '  %-46s %s\n' "throughput via published port 127.0.0.1:19000" "$(throughput 127.0.0.1 19000)"
printf '  %-46s %s\n' "throughput to the bridge address $sink_ip:9000" "$(throughput "$sink_ip" 9000)"
echo "TCP connection set-up, median of $N connects"
printf '  %-46s %s\n' "via published port 127.0.0.1:19080" "$(connects 127.0.0.1 19080)"
printf '  %-46s %s\n' "to the bridge address $web_ip:8080" "$(connects "$web_ip" 8080)"
