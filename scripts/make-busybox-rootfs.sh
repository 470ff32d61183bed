#!/bin/sh
# Builds a small busybox root filesystem tarball from Debian's busybox package.
# Usage: scripts/make-busybox-rootfs.sh OUT.tar [static|dynamic]
#   static  (default): busybox-static, a single binary (~2 MB)
#   dynamic: Debian's dynamic busybox plus the host's libc, libresolv and loader, with
#            nsswitch.conf, because static glibc name resolution is fragile in containers.
# The .deb comes from apt's cache or `apt-get download`; nothing is installed on the host.
set -eu
out=${1:?usage: $0 OUT.tar [static|dynamic]}
case $out in /*) ;; *) out="$(pwd)/$out" ;; esac
flavour=${2:-static}
case $flavour in static) pkg=busybox-static ;; dynamic) pkg=busybox ;; *) echo "unknown flavour $flavour" >&2; exit 2 ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
deb=$(ls /var/cache/apt/archives/${pkg}_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download "$pkg" >/dev/null; }
  deb=$(ls "$work"/${pkg}_*.deb | head -n1)
fi
dpkg -x "$deb" pkg
root=$work/rootfs
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/tmp" \
  "$root/proc" "$root/sys" "$root/dev" "$root/root" "$root/var" "$root/home" "$root/lib" "$root/lib64"
chmod 1777 "$root/tmp"
cp pkg/bin/busybox "$root/bin/busybox"
if [ "$flavour" = dynamic ]; then
  for lib in /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libresolv.so.2 \
             /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2; do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
fi
# One link per applet, where Debian's busybox would put it.
for applet in $("$root/bin/busybox" --list-full 2>/dev/null || "$root/bin/busybox" --list | sed 's|^|bin/|'); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
