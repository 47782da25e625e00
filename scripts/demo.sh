#!/usr/bin/env bash
# Runs the demo against a local mosquitto started on a free loopback port
# (installing mosquitto if missing), then stops the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    SKIP_FUZZ=1 bash scripts/setup.sh
fi
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$dir/mosquitto.conf"
"$mosquitto_bin" -c "$dir/mosquitto.conf" 2> "$dir/mosquitto.log" &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

echo "== the tokio client's tour (adapter-tokio/examples/demo.rs)"
cargo run -q -p mqtt-tokio --example demo -- "mqtt://127.0.0.1:$port"
echo
echo "== MQTT 5.0: properties, request / response, shared subscriptions (adapter-tokio/examples/v5.rs)"
cargo run -q -p mqtt-tokio --example v5 -- "mqtt://127.0.0.1:$port"
echo
echo "== mosquitto_sub / mosquitto_pub look-alikes (examples sub and pub)"
cargo run -q -p mqtt-tokio --example sub -- -p "$port" -t 'tools/#' -v -C 2 &
sub=$!
sleep 1
printf 'first line\nsecond line\n' | cargo run -q -p mqtt-tokio --example pub -- -p "$port" -t tools/lines -q 1 -l
wait $sub
echo
echo "== the session over a blocking TcpStream (mqtt-session/examples/blocking.rs)"
cargo run -q -p mqtt-session --example blocking -- "127.0.0.1:$port"
echo
echo "== the codec alone (mqtt-proto/examples/raw_client.rs)"
cargo run -q -p mqtt-proto --example raw_client -- "127.0.0.1:$port" demo/hello
