#!/bin/bash
# Volumes: what a mount costs a start, and writing into a volume against the container's own
# (overlay) layer. Figures, side by side:
#   docker run --rm busybox true                 no mounts
#   … -v vol:/data                               a named volume that has data (no copy-up)
#   … -v <new>:/etc                              a new volume each run: copy-up of the image's /etc
#   … --mount type=tmpfs                         a tmpfs
#   write 256 MiB with dd into a volume, and into the container's layer (median of R rounds)
# Usage (as root, after `npm ci`): bench/volumes.sh [N] [R]
# It starts its own berthd on a temp data root and socket and removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
R=${2:-3}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

. bench/lib.sh
bench_daemon
docker run --rm -v vol:/data busybox sh -c 'echo x > /data/x' >/dev/null

i=0
copy_up() { i=$((i + 1)); docker run --rm -v "cu$i:/etc" busybox true; }

# One dd of 256 MiB into $TARGET in a fresh container (with the given flags), synced; prints MB/s.
# busybox dd reports no rate: the time comes from /proc/uptime around it (10 ms steps). Not --rm:
# an --rm container's layer is a volatile overlay, where fsync is a no-op.
write_rate() {
  local name="w$RANDOM$RANDOM"
  docker run --name "$name" "$@" busybox sh -c 'a=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero of=$0/blob bs=1M count=256 conv=fsync 2>/dev/null; b=$(cut -d" " -f1 /proc/uptime); echo $a $b' "${TARGET}" \
    | awk '{printf "%.0f MB/s", 268.435456 / ($2 - $1)}'
  docker rm "$name" >/dev/null
}

echo "container start with mounts, median of $N runs ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '  %-46s %s\n' "docker run --rm busybox true" "$(median docker run --rm busybox true)"
printf '  %-46s %s\n' "  -v vol:/data (a volume with data)" "$(median docker run --rm -v vol:/data busybox true)"
printf '  %-46s %s\n' "  -v <new volume>:/etc (copy-up of /etc)" "$(median copy_up)"
printf '  %-46s %s\n' "  --mount type=tmpfs,target=/t" "$(median docker run --rm --mount type=tmpfs,target=/t busybox true)"
echo "writing 256 MiB with dd (conv=fsync), $R rounds"
for _ in $(seq "$R"); do
  printf '  %-46s %s\n' "into a volume (-v vol:/data)" "$(TARGET=/data write_rate -v vol:/data)"
  printf '  %-46s %s\n' "into the container's layer (overlay)" "$(TARGET=/tmp write_rate)"
done
