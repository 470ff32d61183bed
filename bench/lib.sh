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
