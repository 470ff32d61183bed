#!/bin/bash
# docker build (the classic builder, DOCKER_BUILDKIT=0, as the docker CLI drives it) against a
# bench berthd: cold and cached build times, wall clock as the user waits for `docker build`
# (context tarred and sent by the CLI included).
#   a) 3 steps: FROM busybox, COPY of a 20 MB random file, a small RUN.
#   b) 10 steps over a 50 MB context of 5 random files: ENV, COPYs, RUNs, LABEL, CMD.
#   floor: FROM busybox + LABEL, a context of one Dockerfile, cached: what any build costs
#   (CLI start, context tar, one request, the stream).
# Cold: every round writes new random bytes into the context, so every step after FROM misses
# (the COPY's content key changes and everything after it chains on it). Cached: the same build
# again with nothing changed (the daemon compares each file with the bytes it kept from the last
# build and, finding them equal, hashes and writes nothing); Rewritten: the same bytes written
# again just before the build (new mtimes, which change nothing: the bytes are compared). The
# script fails if any step after FROM of a cached build did not print "Using cache". Figures are
# medians of ROUNDS rounds, in ms.
# Usage: bench/build-cache.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${1:-5}
export DOCKER_BUILDKIT=0

bench_daemon
ms() { echo $(( $(date +%s%N) / 1000000 )); }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

ctx_a="$work/ctx-a"
ctx_b="$work/ctx-b"
ctx_f="$work/ctx-floor"
mkdir -p "$ctx_a" "$ctx_b" "$ctx_f"
printf 'FROM busybox\nLABEL bench=floor\n' > "$ctx_f/Dockerfile"
cat > "$ctx_a/Dockerfile" <<'EOF'
FROM busybox
COPY big /big
RUN wc -c /big > /size
EOF
cat > "$ctx_b/Dockerfile" <<'EOF'
FROM busybox
COPY f1 f2 /app/
WORKDIR /app
ENV APP=/app
COPY f3 ./
RUN md5sum f1 > f1.md5
COPY f4 f5 ./
RUN ls -l > listing
LABEL bench=build-cache
CMD ["cat", "listing"]
EOF

# New bytes for the cold build, last changed 10 s ago (as files edited a moment before a build).
ago() { touch -d "@$(( $(date +%s) - 10 ))" "$@"; }
fill_a() { head -c 20000000 /dev/urandom > "$ctx_a/big"; ago "$ctx_a/big"; }
fill_b() { for i in 1 2 3 4 5; do head -c 10000000 /dev/urandom > "$ctx_b/f$i"; done; ago "$ctx_b"/f*; }
# The same bytes written again just now (new mtimes, the same bytes to compare).
rewrite() { for f in "$@"; do cp "$f" "$f.tmp" && mv "$f.tmp" "$f"; done; }

# build DIR TAG OUT: one timed `docker build`; prints its wall time in ms, its output in OUT.
build() {
  local t0 t1
  t0=$(ms)
  docker build -t "$2" "$1" >"$3" 2>"$3.err" || { echo "docker build $2 failed:" >&2; cat "$3" "$3.err" >&2; exit 1; }
  t1=$(ms)
  echo $((t1 - t0))
}

# Every step after FROM must have been a cache hit (and no container ran).
assert_all_cached() {
  local steps hits
  steps=$(grep -c '^Step ' "$1")
  hits=$(grep -c '^ ---> Using cache$' "$1" || true)
  if [ "$hits" -ne $((steps - 1)) ] || grep -q 'Running in' "$1"; then
    echo "cached build of $2: $hits cache hits for $steps steps:" >&2
    cat "$1" >&2
    exit 1
  fi
}

# The same, the other way: a cold build must not have hit the cache anywhere.
assert_none_cached() {
  if grep -q '^ ---> Using cache$' "$1"; then
    echo "cold build of $2 used the cache:" >&2
    cat "$1" >&2
    exit 1
  fi
}

ac=(); aw=(); ar=(); bc=(); bw=(); br=(); fw=()
build "$ctx_f" bench/floor "$work/out" >/dev/null
# One untimed round first, as bench/lib.sh's median() warms up: a daemon that has run a while has
# its hot paths compiled; a fresh one spends the first builds in V8's baseline tiers.
fill_a; build "$ctx_a" bench/a:warm "$work/out" >/dev/null; build "$ctx_a" bench/a:warm "$work/out" >/dev/null
fill_b; build "$ctx_b" bench/b:warm "$work/out" >/dev/null; build "$ctx_b" bench/b:warm "$work/out" >/dev/null
for r in $(seq "$ROUNDS"); do
  fill_a; sync
  ac+=($(build "$ctx_a" "bench/a:$r" "$work/out"))
  assert_none_cached "$work/out" a
  aw+=($(build "$ctx_a" "bench/a:$r" "$work/out"))
  assert_all_cached "$work/out" a
  rewrite "$ctx_a/big"
  ar+=($(build "$ctx_a" "bench/a:$r" "$work/out"))
  assert_all_cached "$work/out" a

  fill_b; sync
  bc+=($(build "$ctx_b" "bench/b:$r" "$work/out"))
  assert_none_cached "$work/out" b
  bw+=($(build "$ctx_b" "bench/b:$r" "$work/out"))
  assert_all_cached "$work/out" b
  rewrite "$ctx_b"/f*
  br+=($(build "$ctx_b" "bench/b:$r" "$work/out"))
  assert_all_cached "$work/out" b

  fw+=($(build "$ctx_f" bench/floor "$work/out"))
  assert_all_cached "$work/out" floor
done

echo "docker build (DOCKER_BUILDKIT=0) against berthd; $ROUNDS rounds; $(nproc) cores; medians"
echo "cached: nothing changed; rewritten: the same bytes written again just before (new mtimes)"
printf '%-30s %9s %10s %13s\n' "" "cold ms" "cached ms" "rewritten ms"
printf '%-30s %9s %10s %13s\n' "a) 3 steps, COPY 20 MB" "$(med "${ac[@]}")" "$(med "${aw[@]}")" "$(med "${ar[@]}")"
printf '%-30s %9s %10s %13s\n' "b) 10 steps, 50 MB context" "$(med "${bc[@]}")" "$(med "${bw[@]}")" "$(med "${br[@]}")"
printf '%-30s %9s %10s %13s\n' "floor: 2 steps, no context" "-" "$(med "${fw[@]}")" "-"
echo "(all rounds: a cold ${ac[*]}; a cached ${aw[*]}; a rewritten ${ar[*]}; b cold ${bc[*]}; b cached ${bw[*]}; b rewritten ${br[*]}; floor ${fw[*]})"
