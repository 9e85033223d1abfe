#!/usr/bin/env bash
# `make run`: the controller on its embedded defaults (embedded MQTT broker,
# SQLite in run-data/) plus one local node that plays to this machine's
# default audio output. Ctrl-C stops both; run again to continue where you were.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${RADIO_DATA:-run-data}
HTTP=${RADIO_HTTP:-127.0.0.1:8080}
MQTT=${RADIO_MQTT:-127.0.0.1:1883}
SERVER="http://$HTTP"
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

bin/radio-controller -data "$DATA/controller" -http "$HTTP" -mqtt "$MQTT" \
  > >(sed -u 's/^/[controller] /') 2>&1 &
pids+=($!)

ctl() { bin/radioctl -server "$SERVER" -token-file "$DATA/controller/admin.token" "$@"; }
for i in $(seq 1 100); do
  if [ -s "$DATA/controller/admin.token" ] && ctl area list >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "run: the controller stopped; see its log above" >&2; exit 1; fi
  sleep 0.2
done

if [ ! -f "$DATA/node.json" ]; then
  echo "run: first start: creating a demo commune, a zone and one local speaker cluster"
  ctl area add p-demo "Tỉnh mẫu" -kind province >/dev/null
  ctl area add x-demo "Xã mẫu" -kind commune -parent p-demo >/dev/null
  ctl station add st-demo x-demo "Đài truyền thanh xã mẫu" >/dev/null
  ctl zone add z-demo st-demo -name "Thôn 1" >/dev/null
  ctl node add local-1 st-demo -name "Cụm loa 1 (máy này)" -lat 21.0285 -lon 105.8542 -zone z-demo -out "$DATA/node.json.tmp" >/dev/null
  sed "s#\"/var/lib/radio-node\"#\"$DATA/node\"#" "$DATA/node.json.tmp" > "$DATA/node.json"
  rm -f "$DATA/node.json.tmp"
  chmod 600 "$DATA/node.json"
fi
if [ ! -f "$DATA/demo-accounts.txt" ]; then
  # Web UI accounts of the demo commune: an officer who prepares bulletins
  # and the commune leader who approves them.
  pw_officer=$(ctl user add canbo -role officer -area x-demo -name "Cán bộ văn hóa xã" | sed -n 's/.*"password": "\(.*\)".*/\1/p')
  pw_leader=$(ctl user add lanhdao -role leader -area x-demo -name "Lãnh đạo UBND xã" | sed -n 's/.*"password": "\(.*\)".*/\1/p')
  umask 077
  printf 'canbo    (officer, prepares bulletins)  %s\nlanhdao  (leader, approves them)         %s\n' "$pw_officer" "$pw_leader" > "$DATA/demo-accounts.txt"
fi
if [ ! -f "$DATA/demo-bulletin.mp3" ]; then
  ffmpeg -hide_banner -loglevel error -f lavfi -i "sine=frequency=660:duration=1" -f lavfi -i "sine=frequency=880:duration=1" \
    -filter_complex "[0][1]concat=n=2:v=0:a=1,volume=0.4" -c:a libmp3lame -b:a 64k "$DATA/demo-bulletin.mp3"
fi

bin/radio-node -config "$DATA/node.json" > >(sed -u 's/^/[node] /') 2>&1 &
pids+=($!)

cat <<MSG

==============================================================================
 The commune radio is running.
   Web app        : $SERVER/   (open it in a browser; Vietnamese, English)
                    admin / $(cat "$DATA/controller/admin.password" 2>/dev/null || echo "see $DATA/controller/admin.password")
                    demo commune accounts (saved in $DATA/demo-accounts.txt):
$(sed 's/^/                    /' "$DATA/demo-accounts.txt")
   Controller API : $SERVER/api/v1/   (embedded MQTT broker on $MQTT)
   Data           : $DATA  (SQLite registry, media, keys)
   API token      : $DATA/controller/admin.token
   Local node     : local-1 in zone z-demo "Thôn 1" (plays to this machine's sound output,
                    or into a silent sink if it has none: see the [node] log)

 In another terminal, from $(pwd):
   export RADIO_TOKEN=\$(cat $DATA/controller/admin.token) RADIO_SERVER=$SERVER
   bin/radioctl node list                                  # local-1 should be online
   bin/radioctl media upload $DATA/demo-bulletin.mp3       # or any mp3/m4a/wav/ogg/amr/webm
   bin/radioctl play <sha256 printed above> -zone z-demo   # plays in ~4 s
   bin/radioctl plays                                      # proof of play: started, finished
 Ctrl-C here stops everything.
==============================================================================

MSG
wait -n "${pids[@]}"
