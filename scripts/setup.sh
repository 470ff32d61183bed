#!/bin/sh
# README command (a): on a fresh Debian machine, as root, from a checkout of berth:
#   installs the system packages berth drives (runc, conmon, iptables, GNU tar, busybox),
#   runs `npm ci` (which builds berth), starts berthd in the background with its default
#   paths (socket /run/berth/berth.sock, data /var/lib/berth), makes the demo image
#   busybox:latest from Debian's busybox package, and runs a container with it.
# Safe to run again: packages already there are kept, a running berthd is reused.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup.sh: run me as root (berthd manages mounts, namespaces and cgroups)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
PACKAGES="runc conmon iptables iproute2 tar busybox-static ca-certificates python3-docker tini gcc libc6-dev docker-registry skopeo openssl chromium docker-compose"
missing=""
for p in $PACKAGES; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "==> installing:$missing"
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi

echo "==> npm ci (installs dependencies and builds berth)"
npm ci --no-audit --no-fund

SOCK=/run/berth/berth.sock
if ./bin/berth -H "unix://$SOCK" version >/dev/null 2>&1; then
  echo "==> berthd is already running on $SOCK"
else
  echo "==> starting berthd (log: /var/log/berthd.log)"
  # setsid: the daemon outlives this script and its terminal. stdin/stdout/stderr are
  # redirected so nothing waits on pipes the daemon would otherwise keep open.
  setsid ./bin/berthd -H "unix://$SOCK" </dev/null >>/var/log/berthd.log 2>&1 &
  i=0
  until ./bin/berth -H "unix://$SOCK" version >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -le 100 ] || { echo "berthd did not start; see /var/log/berthd.log" >&2; tail -20 /var/log/berthd.log >&2; exit 1; }
    sleep 0.1
  done
fi

echo "==> making the demo image busybox:latest from Debian's busybox package"
mkdir -p .cache
[ -s .cache/busybox-static.tar ] || ./scripts/make-busybox-rootfs.sh .cache/busybox-static.tar static
./bin/berth -H "unix://$SOCK" import .cache/busybox-static.tar busybox:latest

echo "==> berth run --rm busybox echo hello from berth"
./bin/berth -H "unix://$SOCK" run --rm busybox echo hello from berth

echo "==> berth build -t hello-berth examples/hello && berth run --rm hello-berth"
./bin/berth -H "unix://$SOCK" build --progress=plain -t hello-berth examples/hello
./bin/berth -H "unix://$SOCK" run --rm hello-berth
