#!/usr/bin/env bash
# Runs the SIPp phone scenarios of this folder (registrations and calls) against kadsip nodes; see
# README.md, "Phones: registrations and calls".
#
#   sip-scenarios/run-calls.sh CALLER_NODE_IP:PORT [CALLEE_NODE_IP:PORT]
#
# The calling phone uses CALLER_NODE as its registrar and outbound proxy; the called phone registers
# at CALLEE_NODE (default: the same node). With two different nodes every call crosses the overlay:
# the caller's node finds the callee's node by FIND_VALUE and proxies to it (two record-routing hops).
# The node addresses must be the nodes' --listen addresses (they appear in Via and Record-Route).
#
# Environment (all optional):
#   CASES="..."     cases to run, in order. Default: register call reinvite cancel noanswer busy message notfound
#                   prack subscribe subscribe-early refer options options-notfound
#                   Others: register-auth register-auth-wrong (digest; need AUTH_PASS), unavailable,
#                   deadphone (the callee's phone registered, then went silent: 480 with
#                   Retry-After once nothing, not even 100 Trying, came back for 4*T1 = 2 s)
#   DOMAIN=D        the AoRs' domain (default: CALLER_NODE's IP, the domain every node on that IP serves)
#   CALLER=NAME     calling user (default alice); CALLEE=NAME callee name prefix (default bob)
#   TAG=T           suffix of the callee names (default: the runner's PID), so runs do not share AoRs
#   AUTH_NODE=IP:PORT  where the register-auth cases send (default CALLER_NODE)
#   AUTH_USER, AUTH_PASS  a user of that node's KADSIP_USERS_FILE (default user: CALLER)
#   RING_MS=N       ringing time before the caller cancels in "cancel" (default 1000)
#   NOANSWER_MS=N   the caller's no-answer timer in "noanswer" (default 8000)
#   LOCAL_IP=IP     the phones' address (default: the source address the kernel picks towards the node)
#   BASE_PORT=N     first of the phones' ports (default random in 20000-31999; each case takes 4)
#   OUT_DIR=DIR     where SIPp's logs go (default: a temporary folder, removed when all pass)
#
# Prints one line per case (PASS/FAIL NAME ...). Exit status: 0 every case passed, 1 one failed,
# 2 usage error or sipp missing. Every SIPp run is bounded (-timeout, and `timeout`).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
usage() { echo "usage: $0 CALLER_NODE_IP:PORT [CALLEE_NODE_IP:PORT]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
caller_ip="${1%:*}"; caller_port="${1##*:}"
callee_addr="${2:-$1}"
callee_ip="${callee_addr%:*}"; callee_port="${callee_addr##*:}"
for x in "$caller_port" "$callee_port"; do [[ "$x" =~ ^[0-9]+$ ]] || usage; done
[ -n "$caller_ip" ] && [ "$caller_ip" != "$1" ] && [ -n "$callee_ip" ] && [ "$callee_ip" != "$callee_addr" ] || usage
caller_node="$caller_ip:$caller_port"
callee_node="$callee_ip:$callee_port"

if ! command -v sipp >/dev/null 2>&1; then
  echo "run-calls.sh: sipp not found; install Debian's sip-tester (bash scripts/install-system-deps.sh)" >&2
  exit 2
fi

CASES="${CASES:-register call reinvite cancel noanswer busy message notfound prack subscribe subscribe-early refer options options-notfound}"
DOMAIN="${DOMAIN:-$caller_ip}"
CALLER="${CALLER:-alice}"
CALLEE="${CALLEE:-bob}"
TAG="${TAG:-$$}"
AUTH_NODE="${AUTH_NODE:-$caller_node}"
AUTH_USER="${AUTH_USER:-$CALLER}"
RING_MS="${RING_MS:-1000}"
NOANSWER_MS="${NOANSWER_MS:-8000}"
if [ -z "${LOCAL_IP:-}" ]; then
  LOCAL_IP="$(ip -o route get "$caller_ip" 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p' | head -1)"
  LOCAL_IP="${LOCAL_IP:-127.0.0.1}"
fi
BASE_PORT="${BASE_PORT:-$((20000 + RANDOM % 12000))}"  # below the ephemeral range (32768-)
[[ "$BASE_PORT" =~ ^[0-9]+$ ]] && [ "$BASE_PORT" -lt 65000 ] || { echo "run-calls.sh: bad BASE_PORT" >&2; exit 2; }

for c in $CASES; do
  case "$c" in
    register|register-auth|register-auth-wrong|call|reinvite|cancel|noanswer|deadphone|busy|message|notfound|unavailable) ;;
    prack|subscribe|subscribe-early|refer|options|options-notfound) ;;
    *) echo "run-calls.sh: unknown case $c" >&2; exit 2 ;;
  esac
done
case " $CASES " in *" register-auth "*) [ -n "${AUTH_PASS:-}" ] || { echo "run-calls.sh: register-auth needs AUTH_PASS" >&2; exit 2; } ;; esac

keep_out=1
if [ -z "${OUT_DIR:-}" ]; then OUT_DIR="$(mktemp -d -t kadsip-calls.XXXXXX)"; keep_out=0; fi
mkdir -p "$OUT_DIR"

# What the called phone must see: one node on the path, or the caller's node then the callee's.
# The reverse direction (a NOTIFY from the callee's phone to the caller's): rset is the callee's
# route set (its INVITE's or SUBSCRIBE's Record-Route, in order), and the caller must see the
# request come through the nodes the other way round (rvias, rrr).
if [ "$caller_node" = "$callee_node" ]; then
  hops=1
  rr="<sip:$caller_node;lr>|||"
  rrr="$rr"
  rset="<sip:$caller_node;lr>"
  via_nodes="$caller_node|"
  rvia_nodes="$caller_node|"
else
  hops=2
  rr="<sip:$callee_node;lr>|<sip:$caller_node;lr>||"
  rrr="<sip:$caller_node;lr>|<sip:$callee_node;lr>||"
  rset="<sip:$callee_node;lr>, <sip:$caller_node;lr>"
  via_nodes="$callee_node|$caller_node|"
  rvia_nodes="$caller_node|$callee_node|"
fi
maxfwd=$((70 - hops))
pad4() { # pads a "|"-terminated path to 4 slots
  local path="$1" n
  n="$(printf '%s' "$path" | tr -cd '|' | wc -c)"
  while [ "$n" -lt 4 ]; do path="$path|"; n=$((n + 1)); done
  printf '%s' "$path"
}
vias_for() { pad4 "$via_nodes$LOCAL_IP:$1|"; }    # the UAS's expected Via path for a caller phone on port $1
rvias_for() { pad4 "$rvia_nodes$LOCAL_IP:$1|"; }  # the caller's, for a request from the callee phone on port $1

failed=0
next_port=$BASE_PORT
take_ports() { port_a=$next_port; port_b=$((next_port + 2)); next_port=$((next_port + 4)); }

# sipp_run LOG_NAME TARGET SCENARIO PORT TIMEOUT_S [sipp args...]; returns SIPp's exit code.
sipp_run() {
  local name="$1" target="$2" scen="$3" port="$4" tmo="$5"; shift 5
  local args=(-sf "$here/$scen" -t u1 -i "$LOCAL_IP" -p "$port" -m 1 -timeout "${tmo}s" -timeout_error -nostdin
    -trace_err -error_file "$OUT_DIR/$name.errors.log" -trace_msg -message_file "$OUT_DIR/$name.messages.log" "$@")
  [ -n "$target" ] && args+=("$target")
  ( cd "$OUT_DIR" && timeout $((tmo + 15)) sipp "${args[@]}" </dev/null >"$OUT_DIR/$name.screen.log" 2>&1 )
}

# Waits until a UDP port is bound (the background UAS is listening), at most 3 s.
wait_bound() {
  local port="$1" i
  for i in $(seq 1 30); do
    if ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  return 0
}

report() { # NAME WHAT RC [LOG_NAMES...]
  local name="$1" what="$2" rc="$3"; shift 3
  if [ "$rc" = 0 ]; then
    echo "PASS $name ($what)"
  else
    failed=1; keep_out=1
    echo "FAIL $name ($what): $rc; logs in $OUT_DIR"
    local l
    for l in "$@"; do
      grep -v "Discarding message which can't be mapped" "$OUT_DIR/$l.errors.log" 2>/dev/null | grep -E "^[0-9]{4}-" | head -8 | sed "s/^/  [$l] /" >&2 || true
    done
  fi
}

register() { # USER NODE PORT LOG
  sipp_run "$4" "$2" register.xml "$3" 10 -s "$1" -key domain "$DOMAIN" -key expires 300
}
unregister() { # USER NODE PORT LOG  (best effort: a failed case still leaves the node clean)
  sipp_run "$4" "$2" unregister.xml "$3" 10 -s "$1" -key domain "$DOMAIN" >/dev/null 2>&1 || true
}

# call_case NAME WHAT UAS_SCENARIO UAC_SCENARIO [UAC args...]
# Registers the callee (at the callee's node) and the caller (at the caller's node), runs the UAS in
# the background on the callee's registered port and the UAC on the caller's, then unregisters both.
call_case() {
  local name="$1" what="$2" uas="$3" uac="$4"; shift 4
  local user="$CALLEE-$name-$TAG" rc=0 uas_rc=0 uac_rc=0 uas_pid
  take_ports
  local callee_port=$port_a caller_port=$port_b
  register "$user" "$callee_node" "$callee_port" "$name.register-callee" || rc="register callee: sipp exit $?"
  if [ "$rc" = 0 ]; then register "$CALLER" "$caller_node" "$caller_port" "$name.register-caller" || rc="register caller: sipp exit $?"; fi
  if [ "$rc" = 0 ]; then
    local uas_args=(-s "$user" -key vias "$(vias_for "$caller_port")" -key rr "$rr" -key maxfwd "$maxfwd" -key ruri "sip:$user@$LOCAL_IP:$callee_port")
    case "$uas" in
      uas-message.xml|uas-options.xml) uas_args=(-s "$user" -key vias "$(vias_for "$caller_port")" -key maxfwd "$maxfwd") ;;
      uas-subscribe.xml) uas_args+=(-key rset "$rset" -key early "${early:-0}") ;;
      uas-refer.xml) uas_args+=(-key rset "$rset") ;;
    esac
    sipp_run "$name.uas" "" "$uas" "$callee_port" 30 "${uas_args[@]}" &
    uas_pid=$!
    wait_bound "$callee_port"
    sipp_run "$name.uac" "$caller_node" "$uac" "$caller_port" 25 -s "$user" -key caller "$CALLER" -key domain "$DOMAIN" "$@" || uac_rc=$?
    if [ "$uac_rc" -ne 0 ]; then
      # The UAC failed: the UAS may wait for a request that will not come; stop it now.
      sleep 1; kill "$uas_pid" 2>/dev/null || true
    fi
    wait "$uas_pid" || uas_rc=$?
    if [ "$uac_rc" -ne 0 ] || [ "$uas_rc" -ne 0 ]; then rc="sipp exit caller $uac_rc, callee $uas_rc"; fi
  fi
  unregister "$user" "$callee_node" "$callee_port" "$name.unregister-callee"
  unregister "$CALLER" "$caller_node" "$caller_port" "$name.unregister-caller"
  report "$name" "$what" "$rc" "$name.register-callee" "$name.register-caller" "$name.uac" "$name.uas"
}

# reject_case NAME WHAT USER CODE RETRY: a call to USER that must end with exactly CODE.
reject_case() {
  local name="$1" what="$2" user="$3" code="$4" retry="$5" rc=0 start end
  take_ports
  start=$(date +%s%N)
  sipp_run "$name.uac" "$caller_node" uac-reject.xml "$port_b" 25 -s "$user" -key caller "$CALLER" -key domain "$DOMAIN" \
    -key code "$code" -key retry "$retry" || rc="sipp exit $?"
  end=$(date +%s%N)
  report "$name" "$what, in $(( (end - start) / 1000000 )) ms" "$rc" "$name.uac"
}

echo "caller node $caller_node, callee node $callee_node ($hops hop(s)), domain $DOMAIN, phones $LOCAL_IP:$BASE_PORT..."
for c in $CASES; do
  case "$c" in
    register)
      take_ports
      rc=0
      sipp_run register "$callee_node" register-unregister.xml "$port_a" 10 -s "$CALLEE-reg-$TAG" -key domain "$DOMAIN" -key expires 300 || rc="sipp exit $?"
      report register "REGISTER 200 lists our Contact with expires; Expires 0: 200 lists none" "$rc" register
      ;;
    register-auth)
      take_ports
      rc=0
      sipp_run register-auth "$AUTH_NODE" register-auth.xml "$port_a" 10 -s "$AUTH_USER" -key domain "$DOMAIN" -key expires 300 \
        -au "$AUTH_USER" -ap "$AUTH_PASS" || rc="sipp exit $?"
      report register-auth "401 Digest challenge, 200 with the Contact; unregister 401, 200 with none" "$rc" register-auth
      ;;
    register-auth-wrong)
      take_ports
      rc=0
      sipp_run register-auth-wrong "$AUTH_NODE" register-auth-wrong.xml "$port_a" 10 -s "$AUTH_USER" -key domain "$DOMAIN" -key expires 300 \
        -au "$AUTH_USER" -ap "wrong-${AUTH_PASS:-password}-x" || rc="sipp exit $?"
      report register-auth-wrong "wrong password: 401, then 401 again" "$rc" register-auth-wrong
      ;;
    call)
      # The callee's phone takes the next free port pair's first port: $next_port is it (see take_ports).
      call_case call "INVITE 180 200 ACK BYE 200; Via, Record-Route, Max-Forwards, Contact exact" uas-answer.xml uac-call.xml \
        -key contact "sip:$CALLEE-call-$TAG@$LOCAL_IP:$next_port" -key rr "$rr"
      ;;
    reinvite)
      call_case reinvite "call with a re-INVITE through the Record-Route set" uas-answer.xml uac-reinvite.xml \
        -key contact "sip:$CALLEE-reinvite-$TAG@$LOCAL_IP:$next_port" -key rr "$rr"
      ;;
    cancel)
      call_case cancel "CANCEL after ${RING_MS} ms of ringing: 200 to CANCEL, 487 to INVITE, ACK" uas-ring.xml uac-cancel.xml -d "$RING_MS"
      ;;
    noanswer)
      call_case noanswer "no answer: the caller gives up after ${NOANSWER_MS} ms: CANCEL reaches the phone, 487" uas-ring.xml uac-cancel.xml -d "$NOANSWER_MS"
      ;;
    busy)
      call_case busy "callee busy: 486 reaches the caller, ACKed hop by hop" uas-busy.xml uac-reject.xml -key code 486 -key retry absent
      ;;
    message)
      call_case message "MESSAGE out of dialog, 200 from the callee" uas-message.xml uac-message.xml
      ;;
    prack)
      call_case prack "100rel: reliable 183 with RSeq, PRACK with RAck and UPDATE in the early dialog, 200, ACK, INFO, BYE, all through the Record-Route set" \
        uas-prack.xml uac-prack.xml -key contact "sip:$CALLEE-prack-$TAG@$LOCAL_IP:$next_port" -key rr "$rr"
      ;;
    subscribe|subscribe-early)
      # subscribe-early: the notifier sends its first NOTIFY before the 200 to the SUBSCRIBE (RFC 6665 4.1.2.4)
      early=0; [ "$c" = subscribe-early ] && early=1
      call_case "$c" "SUBSCRIBE (Event: presence) 200 record-routed, NOTIFY back through the node(s)$([ $early = 1 ] && echo ' before the 200'), unsubscribe, NOTIFY terminated" \
        uas-subscribe.xml uac-subscribe.xml -key contact "sip:$CALLEE-$c-$TAG@$LOCAL_IP:$next_port" -key rr "$rr" -key rrr "$rrr" \
        -key rvias "$(rvias_for "$next_port")" -key maxfwd "$maxfwd" -key early "$early"
      ;;
    refer)
      call_case refer "call, REFER with Refer-To: 202, NOTIFY (Event: refer, message/sipfrag 100 then 200) back through the node(s), BYE" \
        uas-refer.xml uac-refer.xml -key contact "sip:$CALLEE-refer-$TAG@$LOCAL_IP:$next_port" -key rr "$rr" \
        -key rvias "$(rvias_for "$next_port")" -key maxfwd "$maxfwd"
      ;;
    options)
      call_case options "OPTIONS to a registered user's AoR: proxied to the phone, its 200 comes back" uas-options.xml uac-options.xml -key code 200
      ;;
    options-notfound)
      take_ports
      rc=0
      sipp_run options-notfound.uac "$caller_node" uac-options.xml "$port_b" 25 -s "nobody-opt-$TAG" -key caller "$CALLER" -key domain "$DOMAIN" \
        -key code 404 || rc="sipp exit $?"
      report options-notfound "OPTIONS to a user registered nowhere: 404" "$rc" options-notfound.uac
      ;;
    deadphone)
      # Registered at a port where nothing listens any more: no answer at all, not even 100 Trying,
      # within 4*T1, so the proxy counts the phone unreachable and the caller gets 480 + Retry-After.
      take_ports
      rc=0
      user="$CALLEE-dead-$TAG"
      register "$user" "$callee_node" "$port_a" deadphone.register-callee || rc="register callee: sipp exit $?"
      if [ "$rc" = 0 ]; then
        start=$(date +%s%N)
        sipp_run deadphone.uac "$caller_node" uac-reject.xml "$port_b" 25 -s "$user" -key caller "$CALLER" -key domain "$DOMAIN" \
          -key code 480 -key retry required || rc="sipp exit $?"
        end=$(date +%s%N)
      fi
      unregister "$user" "$callee_node" "$port_a" deadphone.unregister-callee
      report deadphone "callee's phone silent: 480 with Retry-After, in $(( (${end:-0} - ${start:-0}) / 1000000 )) ms" "$rc" deadphone.register-callee deadphone.uac
      ;;
    notfound)
      reject_case notfound "callee registered nowhere: 404" "nobody-$TAG" 404 absent
      ;;
    unavailable)
      reject_case unavailable "overlay out of reach: 480 with Retry-After" "$CALLEE-gone-$TAG" 480 required
      ;;
  esac
done

if [ "$keep_out" -eq 0 ]; then rm -rf "$OUT_DIR"; fi
exit "$failed"
