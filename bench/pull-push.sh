#!/bin/bash
# Push and pull throughput against Debian's docker-registry on loopback, side by side with
# skopeo on the same data. The image: busybox plus LAYERS layers of random data (SIZE_MB in all:
# incompressible, so compression cannot flatter anyone). Each round builds a fresh image (new
# random bytes), pushes it with berth (gzip made on the fly), removes it and pulls it back (download,
# digest checks and extraction). skopeo pushes the same layers from an uncompressed OCI layout
# (compressing, as a push from local storage must) and pulls into an OCI layout (download and
# digest checks only: it extracts nothing). Figures are MB/s of uncompressed image data, medians.
# Usage: bench/pull-push.sh [SIZE_MB] [ROUNDS] [LAYERS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SIZE_MB=${1:-100}
ROUNDS=${2:-3}
LAYERS=${3:-4}

bench_daemon
registries=()
cleanup_all() {
  for p in "${registries[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  bench_daemon_cleanup
}
trap cleanup_all EXIT
berth() { ./bin/berth -H "unix://$sock" "$@"; }

# A docker-registry of our own on a free loopback port, storage under $work; prints host:port.
start_registry() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' "$dir" "$port" > "$dir/config.yml"
  env -u REGISTRY_HTTP_ADDR docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  registries+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
  REG="127.0.0.1:$port"
}

policy="$work/policy.json"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$policy"
sk() { skopeo --policy "$policy" --tmpdir "$work" "$@" >/dev/null; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
rate() { awk -v mb="$1" -v t="$2" 'BEGIN { printf "%.0f", mb * 1000 / t }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

per_layer=$(( SIZE_MB * 1000000 / LAYERS ))
bp=(); bl=(); sp=(); sl=()
for r in $(seq "$ROUNDS"); do
  start_registry "$work/reg-$r"
  img=busybox
  for l in $(seq "$LAYERS"); do
    berth run --name "fill$l" "$img" sh -c "head -c $per_layer /dev/urandom > /data$l" >/dev/null
    berth commit "fill$l" "bench/fill:$r-$l" >/dev/null
    berth rm "fill$l" >/dev/null
    img="bench/fill:$r-$l"
  done
  name="$REG/bench/img:$r"
  berth tag "$img" "$name"
  sync
  t0=$(ms); berth push "$name" >/dev/null; t1=$(ms)
  bp+=($(rate "$SIZE_MB" $((t1 - t0))))
  berth rmi "$name" >/dev/null
  for l in $(seq "$LAYERS" -1 1); do berth rmi "bench/fill:$r-$l" >/dev/null; done
  t0=$(ms); berth pull "$name" >/dev/null; t1=$(ms)
  bl+=($(rate "$SIZE_MB" $((t1 - t0))))
  berth rmi "$name" >/dev/null

  # skopeo, same layers: an uncompressed layout to push from (not timed), a fresh registry.
  sk copy --src-tls-verify=false --dest-decompress "docker://$name" "oci:$work/plain-$r:x"
  start_registry "$work/reg-sk-$r"
  t0=$(ms); sk copy --dest-tls-verify=false --dest-compress "oci:$work/plain-$r:x" "docker://$REG/bench/img:$r"; t1=$(ms)
  sp+=($(rate "$SIZE_MB" $((t1 - t0))))
  t0=$(ms); sk copy --src-tls-verify=false "docker://$REG/bench/img:$r" "oci:$work/pulled-$r:x"; t1=$(ms)
  sl+=($(rate "$SIZE_MB" $((t1 - t0))))
  rm -rf "$work/plain-$r" "$work/pulled-$r" "$work/reg-$r/data" "$work/reg-sk-$r/data"
done

echo "image: busybox + $LAYERS random layers, $SIZE_MB MB; $ROUNDS rounds; $(nproc) cores"
printf '%-8s %12s %12s\n' "" "berth MB/s" "skopeo MB/s"
printf '%-8s %12s %12s\n' push "$(median "${bp[@]}")" "$(median "${sp[@]}")"
printf '%-8s %12s %12s\n' pull "$(median "${bl[@]}")" "$(median "${sl[@]}")"
echo "(all rounds: berth push ${bp[*]}; berth pull ${bl[*]}; skopeo push ${sp[*]}; skopeo pull ${sl[*]})"
