#!/usr/bin/env bash
# Builds drachtio-server 0.9.10 (the C++ SIP server drachtio-srf applications connect to) once per
# machine, into a cache outside the repository, and prints the binary's path on stdout.
# drachtio-server is on neither npm nor Debian: its source (with its git submodules unpacked) is a
# vendored tarball that is never committed to this repository. It is looked for at
#   $KADSIP_VENDOR_DIR/drachtio-server-0.9.10-with-deps.tar.gz, else
#   <repo>/../shared/vendor/drachtio-server-0.9.10-with-deps.tar.gz
# The binary goes to ${KADSIP_CACHE:-$HOME/.cache/kadsip}/drachtio-server-0.9.10/bin/drachtio;
# when it is there already the script does nothing else. Installs the Debian build dependencies
# it lacks (root or sudo). The build runs at low priority (nice) so other work is not starved.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
version=0.9.10
tarball_name="drachtio-server-${version}-with-deps.tar.gz"
cache="${KADSIP_CACHE:-$HOME/.cache/kadsip}/drachtio-server-${version}"
bin="$cache/bin/drachtio"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

tarball=""
for dir in ${KADSIP_VENDOR_DIR:+"$KADSIP_VENDOR_DIR"} "$repo/../shared/vendor"; do
  if [ -f "$dir/$tarball_name" ]; then tarball="$(cd "$dir" && pwd)/$tarball_name"; break; fi
done
if [ -z "$tarball" ]; then
  echo "build-drachtio: no drachtio-server source: expected $tarball_name in \$KADSIP_VENDOR_DIR (${KADSIP_VENDOR_DIR:-unset}) or $repo/../shared/vendor/, and no built binary at $bin" >&2
  exit 1
fi

# One build at a time (two test runs may both find the binary missing): the second waits, then
# finds the binary the first built.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

echo "build-drachtio: building drachtio-server $version from $tarball into $cache (once per machine; about 10-15 minutes on 2 cores)" >&2

. "$repo/scripts/apt-install.sh"
need=()
for pkg in build-essential cmake autoconf automake libtool libtool-bin libssl-dev \
  libcurl4-openssl-dev zlib1g-dev libboost-all-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
apt_install "${need[@]}"

# Build in a scratch directory beside the cache and move the binary in last, so an interrupted
# build leaves no half binary that the next run would take for a finished one.
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$cache/build.log"
started=$(date +%s)
(
  cd "$work"
  tar xzf "$tarball"
  cd drachtio-server
  nice -n 15 ./bootstrap.sh
  mkdir build && cd build
  nice -n 15 ../configure CPPFLAGS='-DNDEBUG' CXXFLAGS='-O2'
  nice -n 15 make -j"$(nproc)"
) >"$log" 2>&1 || {
  echo "build-drachtio: the drachtio-server build failed; the last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}
mkdir -p "$cache/bin"
install -m 0755 "$work/drachtio-server/build/drachtio" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "build-drachtio: built $bin in $(( ($(date +%s) - started) / 60 )) min (log: $log)" >&2
echo "$bin"
