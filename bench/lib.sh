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
