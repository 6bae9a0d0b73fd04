#!/usr/bin/env bash
# Builds Asterisk 22.10.1 (LTS) with its bundled pjproject 2.17 once per machine, into a cache
# outside the repository, and prints the install prefix on stdout (the binary is PREFIX/sbin/asterisk).
# Asterisk is in neither npm nor Debian 12: its source and pjproject's are vendored tarballs that
# are never committed to this repository. They are looked for in $KADSIP_VENDOR_DIR, else in
# <repo>/../shared/vendor/ (asterisk-22.10.1.tar.gz, pjproject-2.17.tar.gz).
# The prefix is ${KADSIP_CACHE:-$HOME/.cache/kadsip}/asterisk-22.10.1; when a finished install is
# there the script does nothing else. Installs the Debian build dependencies it lacks (root or sudo).
# The build runs at low priority (nice) so other work is not starved: about 15-25 minutes on 2 cores.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
version=22.10.1
pjversion=2.17
cache="${KADSIP_CACHE:-$HOME/.cache/kadsip}"
prefix="$cache/asterisk-${version}"
done_mark="$prefix/.built"

if [ -f "$done_mark" ] && [ -x "$prefix/sbin/asterisk" ]; then
  echo "$prefix"
  exit 0
fi

find_tarball() {
  local name="$1" dir
  for dir in ${KADSIP_VENDOR_DIR:+"$KADSIP_VENDOR_DIR"} "$repo/../shared/vendor"; do
    if [ -f "$dir/$name" ]; then echo "$(cd "$dir" && pwd)/$name"; return 0; fi
  done
  echo "build-asterisk: no $name in \$KADSIP_VENDOR_DIR (${KADSIP_VENDOR_DIR:-unset}) or $repo/../shared/vendor/, and no built Asterisk at $prefix" >&2
  return 1
}
ast_tar="$(find_tarball "asterisk-${version}.tar.gz")"
pj_tar="$(find_tarball "pjproject-${pjversion}.tar.gz")"

# One build at a time: a second run waits, then finds the install the first made.
mkdir -p "$cache"
exec 9>"$cache/.asterisk.lock"
flock 9
if [ -f "$done_mark" ] && [ -x "$prefix/sbin/asterisk" ]; then
  echo "$prefix"
  exit 0
fi

echo "build-asterisk: building Asterisk $version (bundled pjproject $pjversion) into $prefix (once per machine; about 15-25 minutes on 2 cores)" >&2

. "$repo/scripts/apt-install.sh"
need=()
for pkg in build-essential pkg-config libedit-dev libjansson-dev libxml2-dev uuid-dev \
  libsqlite3-dev libssl-dev bzip2 patch; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
apt_install "${need[@]}"

# Build in a scratch directory; the prefix is only marked finished after `make install`, so an
# interrupted build is redone rather than taken for a finished one.
work="$(mktemp -d "$cache/asterisk-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$cache/asterisk-build.log"
started=$(date +%s)
rm -rf "$prefix"
(
  cd "$work"
  tar xzf "$ast_tar"
  tar xzf "$pj_tar"
  cd asterisk
  # The bundled pjproject from the unpacked tree: nothing is downloaded.
  ln -s "$work/pjproject" third-party/pjproject/source
  nice -n 19 ./configure --with-pjproject-bundled --without-jansson-bundled --prefix="$prefix"
  make menuselect.makeopts
  menuselect/menuselect --disable-category MENUSELECT_ADDONS --disable-category MENUSELECT_CORE_SOUNDS \
    --disable-category MENUSELECT_MOH --disable-category MENUSELECT_EXTRA_SOUNDS --disable BUILD_NATIVE menuselect.makeopts
  nice -n 19 make -j"$(nproc)"
  nice -n 19 make install
) >"$log" 2>&1 || {
  echo "build-asterisk: the Asterisk build failed; the last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}
touch "$done_mark"
echo "build-asterisk: built Asterisk $version in $prefix in $(( ($(date +%s) - started) / 60 )) min (log: $log)" >&2
echo "$prefix"
