#!/usr/bin/env bash
# Debian packages bench:sip needs (SIPp and Kamailio, the reference proxy), installed only when
# missing. Kamailio's package enables a service that would take port 5060 where systemd runs it;
# the benchmark starts its own instance on a free port, so that service is disabled if present.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"
need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need+=(kamailio)
[ ${#need[@]} -eq 0 ] && exit 0
apt_install "${need[@]}"
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled kamailio >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
