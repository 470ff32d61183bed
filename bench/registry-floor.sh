#!/bin/bash
# The floor under bench/pull-push.sh: what this machine and Debian's docker-registry allow with
# no engine at all. The same shape of image (LAYERS gzip blobs of random data, SIZE_MB in all),
# each a tar of one file, moved with curl, gunzip and GNU tar, LAYERS at once like berth and skopeo do:
#   upload    POST + PATCH + PUT of each blob (the registry's ingest; nothing compressed on the way)
#   download  GET of each blob into a file (no digest check)
#   unpack    GET | gunzip | tar -x of each blob (no digest check, nothing kept)
# and the start of a bare `node -e 0`, which every berth CLI command pays before its first request.
# A push or pull through any client cannot beat these figures; one that checks digests and
# keeps blobs does more work than they do.
# Usage: bench/registry-floor.sh [SIZE_MB] [ROUNDS] [LAYERS]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-100}
ROUNDS=${2:-3}
LAYERS=${3:-4}

work=$(mktemp -d /tmp/berth-floor-XXXXXX)
reg_pid=""
cleanup() {
  [ -z "$reg_pid" ] || { kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' "$work" "$port" > "$work/config.yml"
env -u REGISTRY_HTTP_ADDR docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/v2/" >/dev/null && break; sleep 0.05; done

ms() { echo $(( $(date +%s%N) / 1000000 )); }
rate() { awk -v mb="$1" -v t="$2" 'BEGIN { printf "%.0f", mb * 1000 / t }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
location() { tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}'; }
absolute() { case $1 in http*) echo "$1" ;; *) echo "$base$1" ;; esac; }

mkdir -p "$work/blobs"
per_layer=$(( SIZE_MB * 1000000 / LAYERS ))
for l in $(seq "$LAYERS"); do
  mkdir -p "$work/src/$l"; head -c "$per_layer" /dev/urandom > "$work/src/$l/data$l"
  tar -C "$work/src/$l" -cf - . | gzip -1 > "$work/blobs/$l.gz"
  sha256sum "$work/blobs/$l.gz" | cut -c1-64 > "$work/blobs/$l.digest"
done
rm -rf "$work/src"

upload() {  # repo, layer
  local loc
  loc=$(absolute "$(curl -s -D - -o /dev/null -X POST "$base/v2/$1/blobs/uploads/" | location)")
  loc=$(absolute "$(curl -s -D - -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' -T "$work/blobs/$2.gz" "$loc" | location)")
  case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
  curl -sf -o /dev/null -X PUT "${loc}digest=sha256:$(cat "$work/blobs/$2.digest")"
}

# `wait` alone would wait for the registry too: wait for these jobs only.
jobs_of=()
spawn() { "$@" & jobs_of+=($!); }
join() { wait "${jobs_of[@]}"; jobs_of=(); }

up=(); down=(); unpack=(); nodes=()
for r in $(seq "$ROUNDS"); do
  sync
  t0=$(ms); for l in $(seq "$LAYERS"); do spawn upload "floor/r$r" "$l"; done; join; t1=$(ms)
  up+=($(rate "$SIZE_MB" $((t1 - t0))))
  rm -rf "$work/down"; mkdir -p "$work/down"
  t0=$(ms)
  for l in $(seq "$LAYERS"); do spawn curl -sf -o "$work/down/$l" "$base/v2/floor/r$r/blobs/sha256:$(cat "$work/blobs/$l.digest")"; done; join
  t1=$(ms)
  down+=($(rate "$SIZE_MB" $((t1 - t0))))
  rm -rf "$work/x"; mkdir -p "$work/x"; sync
  t0=$(ms)
  for l in $(seq "$LAYERS"); do
    mkdir "$work/x/$l"
    spawn sh -c 'curl -sf "$1" | gunzip | tar -xpf - -C "$2"' - "$base/v2/floor/r$r/blobs/sha256:$(cat "$work/blobs/$l.digest")" "$work/x/$l"
  done; join
  t1=$(ms)
  unpack+=($(rate "$SIZE_MB" $((t1 - t0))))
  t0=$(ms); node -e 0; t1=$(ms)
  nodes+=($((t1 - t0)))
  rm -rf "$work/x" "$work/down" "$work/data/docker/registry/v2/blobs"
done

echo "no engine: $LAYERS gzip blobs of random data, $SIZE_MB MB; $ROUNDS rounds; $(nproc) cores; curl, gunzip, GNU tar, docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null || echo '?')"
printf '%-10s %6s MB/s\n' upload "$(median "${up[@]}")" download "$(median "${down[@]}")" unpack "$(median "${unpack[@]}")"
printf '%-10s %6s ms\n' "node -e 0" "$(median "${nodes[@]}")"
echo "(all rounds: upload ${up[*]}; download ${down[*]}; unpack ${unpack[*]}; node ${nodes[*]})"
