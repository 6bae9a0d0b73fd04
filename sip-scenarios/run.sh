#!/usr/bin/env bash
# Runs the SIPp dSIP-peer scenarios of this folder against one kadsip node (see README.md).
#
#   sip-scenarios/run.sh NODE_IP:NODE_PORT [OVERLAY]
#
# Environment (all optional):
#   NODE_ID=HEX      the node's own Peer-ID (40 hex). Default: the peerId of STATUS_URL/status when
#                    STATUS_URL is set, else computed from NODE_IP:NODE_PORT by PROTOCOL.md section 1
#                    (right for a node that listens on the address it is reached at).
#   STATUS_URL=URL   the node's --http address, e.g. http://127.0.0.1:8080
#   LOCAL_IP=IP      SIPp's address (default: the source address the kernel picks towards NODE_IP)
#   LOCAL_PORT=N     SIPp's port for dsip-peer.xml; dsip-peer-bad-id.xml uses N+1 (default: random)
#   TARGET=HEX       the ID looked up in step (b); must not be the node's (default: fixed, checked)
#   ONLY=NAME        run only this scenario (dsip-peer or dsip-peer-bad-id)
#   OUT_DIR=DIR      where SIPp's logs go (default: a temporary folder, removed on success)
#
# Prints one line per scenario (PASS/FAIL NAME ...). Exit status: 0 every scenario passed, 1 one
# failed, 2 usage error or sipp missing. Safe in the background: sipp runs with -nostdin, its
# screen goes to a log file, and every run is bounded (-timeout 15s, and `timeout 30`).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
usage() { echo "usage: $0 NODE_IP:NODE_PORT [OVERLAY]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
remote="$1"
overlay="${2:-kadsip}"
node_ip="${remote%:*}"
node_port="${remote##*:}"
[[ "$node_port" =~ ^[0-9]+$ ]] && [ -n "$node_ip" ] && [ "$node_ip" != "$remote" ] || usage
node_ip="${node_ip#[}"; node_ip="${node_ip%]}"

if ! command -v sipp >/dev/null 2>&1; then
  echo "run.sh: sipp not found; install Debian's sip-tester (bash scripts/install-system-deps.sh)" >&2
  exit 2
fi

# PROTOCOL.md section 1: SHA-1 of the IP address as text, low 16 bits replaced by the port.
peer_id() { printf '%s%04x' "$(printf '%s' "$1" | sha1sum | cut -c1-36)" "$2"; }

hex40() { [[ "$1" =~ ^[0-9a-f]{40}$ ]]; }

if [ -z "${NODE_ID:-}" ] && [ -n "${STATUS_URL:-}" ]; then
  status="$(curl -fsS --max-time 5 "${STATUS_URL%/}/status" 2>/dev/null || true)"
  NODE_ID="$(printf '%s' "$status" | grep -o '"peerId"[[:space:]]*:[[:space:]]*"[0-9a-f]*"' | grep -o '[0-9a-f]\{40\}' | head -1)"
  if [ -z "$NODE_ID" ]; then echo "run.sh: no peerId at ${STATUS_URL%/}/status" >&2; exit 2; fi
fi
NODE_ID="$(printf '%s' "${NODE_ID:-$(peer_id "$node_ip" "$node_port")}" | tr 'A-F' 'a-f')"
hex40 "$NODE_ID" || { echo "run.sh: NODE_ID must be 40 hex digits" >&2; exit 2; }

if [ -z "${LOCAL_IP:-}" ]; then
  LOCAL_IP="$(ip -o route get "$node_ip" 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p' | head -1)"
  LOCAL_IP="${LOCAL_IP:-127.0.0.1}"
fi
LOCAL_PORT="${LOCAL_PORT:-$((20000 + RANDOM % 12000))}"  # below the ephemeral range (32768-)
[[ "$LOCAL_PORT" =~ ^[0-9]+$ ]] && [ "$LOCAL_PORT" -lt 65535 ] || { echo "run.sh: bad LOCAL_PORT" >&2; exit 2; }

TARGET="$(printf '%s' "${TARGET:-$(printf '%s' 'kadsip sipp target' | sha1sum | cut -c1-40)}" | tr 'A-F' 'a-f')"
hex40 "$TARGET" || { echo "run.sh: TARGET must be 40 hex digits" >&2; exit 2; }
if [ "$TARGET" = "$NODE_ID" ]; then TARGET="$(printf '%s' "$TARGET" | tr '0-9a-f' '1-9a-f0')"; fi

keep_out=1
if [ -z "${OUT_DIR:-}" ]; then OUT_DIR="$(mktemp -d -t kadsip-sipp.XXXXXX)"; keep_out=0; fi
mkdir -p "$OUT_DIR"

failed=0
# run_scenario NAME PORT WHAT [-key NAME VALUE]...
run_scenario() {
  local name="$1" port="$2" what="$3"; shift 3
  if [ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ]; then return 0; fi
  local rc=0
  ( cd "$OUT_DIR" && timeout 30 sipp "$node_ip:$node_port" -sf "$here/$name.xml" \
      -t u1 -i "$LOCAL_IP" -p "$port" -m 1 -timeout 15s -timeout_error -nostdin \
      -trace_err -error_file "$OUT_DIR/$name.errors.log" \
      -trace_msg -message_file "$OUT_DIR/$name.messages.log" \
      -s "$overlay" "$@" </dev/null >"$OUT_DIR/$name.screen.log" 2>&1 ) || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "PASS $name ($what)"
  else
    failed=1
    echo "FAIL $name ($what): sipp exit $rc; logs in $OUT_DIR"
    keep_out=1
    # The events SIPp reports (unexpected message, failed regexp, timeout), not the routine noise.
    grep -v "Discarding message which can't be mapped" "$OUT_DIR/$name.errors.log" 2>/dev/null | grep -E "^[0-9]{4}-" | head -20 >&2 || true
    tail -5 "$OUT_DIR/$name.screen.log" >&2 || true
  fi
}

own="$(peer_id "$LOCAL_IP" "$LOCAL_PORT")"
bad_port=$((LOCAL_PORT + 1))
# A Peer-ID that is wrong for LOCAL_IP:bad_port: the right one with its top bit flipped.
right_bad="$(peer_id "$LOCAL_IP" "$bad_port")"
first=$((16#${right_bad:0:1} ^ 8))
bad="$(printf '%x' "$first")${right_bad:1}"

echo "node $node_ip:$node_port id $NODE_ID overlay $overlay; sipp $LOCAL_IP:$LOCAL_PORT id $own"
# The wrong-ID scenario first: a rejected request leaves no trace in the node, whereas a good one
# makes the node ping SIPp back (it verifies contacts before it stores them).
run_scenario dsip-peer-bad-id "$bad_port" "493 to OPTIONS and FIND_NODE with a wrong peer-ID" \
  -key badpeerid "$bad" -key target "$TARGET"
run_scenario dsip-peer "$LOCAL_PORT" "PING 200, FIND_NODE 302 with peer URIs, FIND_NODE self 200" \
  -key peerid "$own" -key nodeid "$NODE_ID" -key target "$TARGET"

if [ "$keep_out" -eq 0 ]; then rm -rf "$OUT_DIR"; fi
exit "$failed"
