#!/bin/bash
# berth's registry server (`berth registry serve`) against Debian's docker-registry (distribution
# 2.8) on the same image and the same clients, both on 127.0.0.1. The image: LAYERS gzip blobs of
# random data (SIZE_MB in all, each a tar of one file), a config and a manifest, made once. Per
# round and per server:
#   push          curl: the layers and the config at once (POST, one PATCH of the whole blob, PUT
#                 ?digest=), then the schema2 manifest PUT by tag
#   pull          curl: GET of the manifest, then of the layers at once into files
#   skopeo push   skopeo copy of the image as an OCI layout on disk to docker://...
#   skopeo pull   skopeo copy of it back into a new OCI layout (digests checked by skopeo)
#   manifest GET  schema2 manifest by tag, keep-alive, 16 connections, ~3 s or 20000 requests
#                 (bench/registry-load.js), only 200 answers counted
# Each push lands in an empty registry: the server is started afresh on a new storage dir before
# the curl push and again before the skopeo push (a blob already stored would be a cheaper
# commit). skopeo runs with a blob-info cache of its own each time (a tmpfs over
# /var/lib/containers/cache, in a mount namespace of its own), so it never mounts a blob it saw in
# an earlier round instead of uploading it. The two servers take turns going first, round by round.
# Usage: bench/registry.sh [SIZE_MB=100] [ROUNDS=3] [LAYERS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-100}
ROUNDS=${2:-3}
LAYERS=${3:-4}
KINDS=(docker-registry berth)
SCHEMA2=application/vnd.docker.distribution.manifest.v2+json

work=$(mktemp -d /tmp/berth-registry-bench-XXXXXX)
declare -A pid_of=() base_of=()

# Stops a server by its PID (SIGTERM, then SIGKILL after 5 s) and removes its storage.
stop_server() {
  local kind=$1 pid=${pid_of[$1]:-}
  pid_of[$kind]=""
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work/$kind-data"
}
cleanup() {
  for k in "${KINDS[@]}"; do stop_server "$k"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
rate() { awk -v mb="$1" -v t="$2" 'BEGIN { printf "%.0f", mb * 1000 / (t > 0 ? t : 1) }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
location() { tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}'; }
absolute() { case $1 in http*) echo "$1" ;; *) echo "$base$1" ;; esac; }
sha() { sha256sum "$1" | cut -c1-64; }

# Starts a server of KIND on a free port with a new, empty storage dir; sets pid_of, base_of.
start_server() {
  local kind=$1 port dir="$work/$1-data" log="$work/$1.log"
  rm -rf "$dir"
  mkdir -p "$dir"
  port=$(free_port)
  case $kind in
    docker-registry)
      printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$dir" "$port" > "$work/docker-registry.yml"
      env -u REGISTRY_HTTP_ADDR docker-registry serve "$work/docker-registry.yml" >"$log" 2>&1 &
      ;;
    berth) node bin/berth registry serve --addr "127.0.0.1:$port" --root "$dir" >"$work/berth.out" 2>"$log" & ;;
  esac
  pid_of[$kind]=$!
  base_of[$kind]="http://127.0.0.1:$port"
  for _ in $(seq 400); do
    if [ "$kind" = berth ]; then grep -q '^berth registry serving' "$work/berth.out" && break; else curl -fs "${base_of[$kind]}/v2/" >/dev/null && break; fi
    kill -0 "${pid_of[$kind]}" 2>/dev/null || break
    sleep 0.05
  done
  curl -fs "${base_of[$kind]}/v2/" >/dev/null && return 0
  echo "$kind did not answer GET ${base_of[$kind]}/v2/ within 20 s$(kill -0 "${pid_of[$kind]}" 2>/dev/null || echo ' (it exited)'):" >&2
  cat "$log" "$work/berth.out" 2>/dev/null >&2
  exit 1
}

# --- the image, made once: layers, config, schema2 manifest, and the same blobs as an OCI layout ---
oci="$work/oci"
mkdir -p "$oci/blobs/sha256"
per_layer=$(( SIZE_MB * 1000000 / LAYERS ))
layer_digests=(); layer_sizes=(); diff_ids=()
for l in $(seq "$LAYERS"); do
  mkdir -p "$work/src"
  head -c "$per_layer" /dev/urandom > "$work/src/data$l"
  tar -C "$work/src" -cf "$work/layer.tar" .
  diff_ids+=("sha256:$(sha "$work/layer.tar")")
  gzip -1 < "$work/layer.tar" > "$work/layer.gz"
  d=$(sha "$work/layer.gz")
  mv "$work/layer.gz" "$oci/blobs/sha256/$d"
  layer_digests+=("sha256:$d"); layer_sizes+=("$(stat -c %s "$oci/blobs/sha256/$d")")
  rm -rf "$work/src" "$work/layer.tar"
done
blob_file() { echo "$oci/blobs/sha256/${1#sha256:}"; }
put_blob() {  # file: stores it in the layout, prints its digest
  local d; d=$(sha "$1"); cp "$1" "$oci/blobs/sha256/$d"; echo "sha256:$d"
}
ids=$(printf '"%s",' "${diff_ids[@]}")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "${ids%,}" > "$work/config.json"
config_digest=$(put_blob "$work/config.json")
config_size=$(stat -c %s "$work/config.json")
manifest() {  # manifest media type, config media type, layer media type
  local layers="" i
  for i in "${!layer_digests[@]}"; do layers+=$(printf '{"mediaType":"%s","size":%s,"digest":"%s"},' "$3" "${layer_sizes[$i]}" "${layer_digests[$i]}"); done
  printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","size":%s,"digest":"%s"},"layers":[%s]}' "$1" "$2" "$config_size" "$config_digest" "${layers%,}"
}
manifest "$SCHEMA2" application/vnd.docker.container.image.v1+json application/vnd.docker.image.rootfs.diff.tar.gzip > "$work/manifest.json"
manifest application/vnd.oci.image.manifest.v1+json application/vnd.oci.image.config.v1+json application/vnd.oci.image.layer.v1.tar+gzip > "$work/oci-manifest.json"
oci_digest=$(put_blob "$work/oci-manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":%s,"digest":"%s","annotations":{"org.opencontainers.image.ref.name":"img"}}]}' \
  "$(stat -c %s "$work/oci-manifest.json")" "$oci_digest" > "$oci/index.json"

# --- requests ---

# call METHOD URL WANT OUT [curl args]: one request, its body into OUT (- for a scratch file), its
# headers into $hdr. Any other status is reported with method, path, status and body, and fails.
call() {
  local method=$1 url=$2 want=$3 out=$4 code rc=0
  shift 4
  hdr="$work/hdr.$BASHPID"
  [ "$out" != - ] || out="$work/body.$BASHPID"
  code=$(curl -s -o "$out" -D "$hdr" -w '%{http_code}' -X "$method" "$@" "$url") || rc=$?
  [ "$rc" = 0 ] && [ "$code" = "$want" ] && return 0
  echo "$cur FAILED: $method /${url#http://127.0.0.1:*/} -> ${code:-no answer} (curl exit $rc, wanted $want): $(head -c 2000 "$out" 2>/dev/null)" >&2
  return 1
}

upload() {  # repo, digest
  local loc
  call POST "$base/v2/$1/blobs/uploads/" 202 - || return 1
  loc=$(absolute "$(location < "$hdr")")
  call PATCH "$loc" 202 - -H 'Content-Type: application/octet-stream' -T "$(blob_file "$2")" || return 1
  loc=$(absolute "$(location < "$hdr")")
  case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
  call PUT "${loc}digest=$2" 201 - || return 1
}

# `wait` alone would wait for the servers too: wait for these jobs only, failing if any failed.
jobs_of=()
spawn() { "$@" & jobs_of+=($!); }
join() {
  local p failed=0
  for p in "${jobs_of[@]}"; do wait "$p" || failed=1; done
  jobs_of=()
  return "$failed"
}

push() {  # repo
  local d
  for d in "${layer_digests[@]}" "$config_digest"; do spawn upload "$1" "$d"; done
  join
  call PUT "$base/v2/$1/manifests/1" 201 - -H "Content-Type: $SCHEMA2" --data-binary @"$work/manifest.json"
}

pull() {  # repo, into dir
  local i
  call GET "$base/v2/$1/manifests/1" 200 "$2/manifest" -H "Accept: $SCHEMA2"
  for i in "${!layer_digests[@]}"; do spawn call GET "$base/v2/$1/blobs/${layer_digests[$i]}" 200 "$2/$i"; done
  join
}

# After the clock: what was pulled is what was pushed.
check_pull() {  # repo, dir
  local i
  cmp -s "$2/manifest" "$work/manifest.json" || { echo "$cur FAILED: GET /v2/$1/manifests/1 answered other bytes than were pushed" >&2; return 1; }
  for i in "${!layer_digests[@]}"; do
    [ "sha256:$(sha "$2/$i")" = "${layer_digests[$i]}" ] || { echo "$cur FAILED: GET /v2/$1/blobs/${layer_digests[$i]} answered other bytes" >&2; return 1; }
  done
}

# skopeo with an empty blob-info cache of its own, when this machine lets us mount one.
fresh_cache=0
if unshare -m --propagation private sh -c 'mkdir -p /var/lib/containers/cache && mount -t tmpfs tmpfs /var/lib/containers/cache' 2>/dev/null; then fresh_cache=1; fi
skopeo_copy() {
  local status=0
  if [ "$fresh_cache" = 1 ]; then
    unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo copy "$@"' - "$@" >"$work/skopeo.out" 2>&1 || status=$?
  else
    skopeo copy "$@" >"$work/skopeo.out" 2>&1 || status=$?
  fi
  [ "$status" = 0 ] && return 0
  echo "$cur FAILED: skopeo copy $* (exit $status):" >&2
  cat "$work/skopeo.out" >&2
  echo "-- $cur's answers with status >= 400 (last 20; skopeo's HEADs of new blobs are 404 by design):" >&2
  grep -E '" [45][0-9][0-9] ' "$work/$cur.log" | tail -20 >&2 || true
  return 1
}

declare -A res=()
add() { res[$1]="${res[$1]:-} $2"; }

for r in $(seq "$ROUNDS"); do
  order=("${KINDS[@]}")
  [ $((r % 2)) = 1 ] || order=(berth docker-registry)
  for cur in "${order[@]}"; do
    start_server "$cur"
    base=${base_of[$cur]}
    sync
    t0=$(ms); push "bench/r$r"; t1=$(ms)
    add "$cur:push" "$(rate "$SIZE_MB" $((t1 - t0)))"
    rm -rf "$work/pulled"; mkdir -p "$work/pulled"
    t0=$(ms); pull "bench/r$r" "$work/pulled"; t1=$(ms)
    add "$cur:pull" "$(rate "$SIZE_MB" $((t1 - t0)))"
    check_pull "bench/r$r" "$work/pulled"
    rm -rf "$work/pulled"
    read -r ok other errors secs rps < <(node bench/registry-load.js "$base/v2/bench/r$r/manifests/1" 16 3 20000 2>"$work/load.err")
    [ "$other" = 0 ] && [ "$errors" = 0 ] || { echo "$cur: $other non-200 answers and $errors failed requests of $((ok + other + errors)) manifest GETs in $secs s, the first:" >&2; cat "$work/load.err" >&2; }
    add "$cur:rps" "$rps"
    stop_server "$cur"

    start_server "$cur"
    base=${base_of[$cur]}
    dest="127.0.0.1:${base##*:}/bench/skopeo-r$r:1"
    sync
    t0=$(ms); skopeo_copy --dest-tls-verify=false "oci:$oci:img" "docker://$dest"; t1=$(ms)
    add "$cur:skopeo-push" "$(rate "$SIZE_MB" $((t1 - t0)))"
    rm -rf "$work/skopeo-pulled"
    t0=$(ms); skopeo_copy --src-tls-verify=false "docker://$dest" "oci:$work/skopeo-pulled:img"; t1=$(ms)
    add "$cur:skopeo-pull" "$(rate "$SIZE_MB" $((t1 - t0)))"
    rm -rf "$work/skopeo-pulled"
    stop_server "$cur"
  done
done

echo "registry servers: $LAYERS gzip blobs of random data, $SIZE_MB MB; $ROUNDS rounds; $(nproc) cores; curl, skopeo $(skopeo --version | awk '{print $3}'), node $(node --version); docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null || echo '?') vs berth $(git describe --always --dirty 2>/dev/null || echo "?")$( [ "$fresh_cache" = 1 ] || echo '; skopeo blob-info cache shared: later rounds may mount blobs')"
row() { printf '%-18s %16s %10s  %s\n' "$1" "$(median ${res[docker-registry:$2]})" "$(median ${res[berth:$2]})" "$3"; }
printf '%-18s %16s %10s\n' '' docker-registry berth
row push push MB/s
row pull pull MB/s
row 'skopeo push' skopeo-push MB/s
row 'skopeo pull' skopeo-pull MB/s
row 'manifest GET' rps req/s
for k in "${KINDS[@]}"; do
  echo "(all rounds, $k: push${res[$k:push]}; pull${res[$k:pull]}; skopeo push${res[$k:skopeo-push]}; skopeo pull${res[$k:skopeo-pull]}; manifest GET${res[$k:rps]})"
done
