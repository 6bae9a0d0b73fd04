#!/bin/sh
# Starts a kadsip node in a container. A node's Peer-ID derives from the IP address it listens on,
# so it must listen on a real address, not 0.0.0.0: unless KADSIP_LISTEN is set, take the
# container's first address and port 5060. Extra arguments go to `kadsip start`.
set -eu
if [ -z "${KADSIP_LISTEN:-}" ]; then
  ip=$(hostname -i 2>/dev/null | awk '{print $1}')
  [ -n "$ip" ] || { echo "kadsip-entrypoint: cannot find this container's IP; set KADSIP_LISTEN" >&2; exit 2; }
  export KADSIP_LISTEN="$ip:5060"
fi
app=${KADSIP_APP_DIR:-/app}
exec node "$app/dist/cli/main.js" start "$@"
