#!/usr/bin/env bash
# Installs the Debian packages the tests use, only where missing, so a fresh machine of this kind
# needs no manual step. Safe to run again. Needs root (as on these machines) or sudo.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"
need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
# tshark (no GUI; ~130 MB with libwireshark): test/live/wire-tshark.test.ts decodes captured traffic.
command -v tshark >/dev/null 2>&1 || need+=(tshark)
# unshare (util-linux): test/live/torture.test.ts runs the node in a network namespace.
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# dnsmasq (dnsmasq-base: the binary without the system service, in /usr/sbin): test/resolve/ runs
# it as a real DNS server on loopback for the RFC 3263 resolver tests.
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
# baresip (baresip-core, no recommends: the real softphone, headless): test/live/baresip.test.ts.
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
# coturn (turnserver, run in the foreground with flags only, not as the system service):
# test/live/turn.test.ts relays a NATed phone's media through it, beside a `--turn` node.
command -v turnserver >/dev/null 2>&1 || [ -x /usr/bin/turnserver ] || need+=(coturn)
# conntrack: test/live/testbed.ts flushes a NAT box's mappings (conntrack -F); python3 runs the
# testbed's userspace switch (test/live/testbed-switch.py: this kernel has no tc netem).
command -v conntrack >/dev/null 2>&1 || [ -x /usr/sbin/conntrack ] || need+=(conntrack)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# stunnel4: test/live/tls.test.ts puts it in front of SIPp (Debian's sip-tester is built without
# TLS): SIPp speaks TCP to it, it speaks TLS to the node and checks the node's certificate.
command -v stunnel4 >/dev/null 2>&1 || need+=(stunnel4)
apt_install "${need[@]}"
