# Shared by the bench scripts (sourced, not run).

# median: runs "$@" once to warm up, then N times (N from the caller), and prints the median
# wall time with min and max, in ms.
median() {
  local times=() s e
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
  for _ in $(seq "$N"); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f ms (min %.1f, max %.1f)", m/1000, a[1]/1000, a[NR]/1000}'
}

# Removes what a stopped bench daemon leaves by design: its default bridge and its iptables rules
# (comment berth:<first 8 hex of its engine id>), by their own names only.
bench_network_cleanup() {
  local bridge=$1 data=$2 tag t lines
  ip link del "$bridge" 2>/dev/null || true
  tag=$(tr -d '-' < "$data/engine-id" 2>/dev/null | cut -c1-8) || return 0
  [ -n "$tag" ] || return 0
  for t in filter nat raw; do
    lines=$(iptables-save -t "$t" | grep -E "^-A .*berth:$tag" | sed 's/^-A/-D/') || true
    [ -z "$lines" ] || printf '*%s\n%s\nCOMMIT\n' "$t" "$lines" | iptables-restore --noflush -w
  done
}

# A berthd of the bench's own, for scripts driving it with the docker CLI: a temp work dir, its
# own socket and default bridge, no live-restore, the busybox image imported; everything it made
# (containers, the daemon, the bridge and rules, mounts, the dir) removed when the script exits.
# Sets work, sock, bridge, daemon_pid, DOCKER_HOST and DOCKER_CONFIG.
bench_daemon() {
  work=$(mktemp -d /tmp/berth-bench-XXXXXX)
  sock="$work/berth.sock"
  bridge="bb$(basename "$work" | tail -c 7)"
  daemon_pid=""
  export DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$work/docker-config"
  trap bench_daemon_cleanup EXIT
  mkdir -p .cache
  [ -s .cache/busybox-static.tar ] || ./scripts/make-busybox-rootfs.sh .cache/busybox-static.tar static
  ./bin/berthd -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" -b "$bridge" --log-level warn --live-restore=false 2>"$work/berthd.log" &
  daemon_pid=$!
  for _ in $(seq 100); do ./bin/berth -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
  ./bin/berth -H "unix://$sock" import .cache/busybox-static.tar busybox >/dev/null
}

bench_daemon_cleanup() {
  if [ -n "$daemon_pid" ]; then
    docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  fi
  bench_network_cleanup "$bridge" "$work/data"
  grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
