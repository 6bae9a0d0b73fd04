#!/usr/bin/env bash
# apt_install PACKAGE...: installs the given Debian packages (without recommends), as root or
# through sudo; does nothing for an empty list. Sourced by the install-*-deps.sh scripts.
apt_install() {
  [ $# -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing system packages: $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
