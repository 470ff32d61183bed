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

. bench/lib.sh
bench_daemon

# A sink that keeps listening (-ll) and discards what each connection sends.
docker run -d --name sink -p 19000:9000 busybox nc -ll -p 9000 -e sh -c 'cat > /dev/null' >/dev/null
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
  head -c "$((MIB * 1024 * 1024))" /dev/zero > "/dev/tcp/$1/$2" || { echo "transfer to $1:$2 failed" >&2; exit 1; }
  e=$(date +%s%N)
  awk -v b="$((MIB * 1024 * 1024))" -v ns="$((e - s))" 'BEGIN {printf "%.0f", b / (ns / 1e9) / 1e6}'
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
