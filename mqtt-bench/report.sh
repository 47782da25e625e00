#!/usr/bin/env bash
# Runs the codec comparison (mqtt-proto vs rumqttc's mqttbytes::v4 vs mqttrs) and
# prints a markdown table of ns per packet.
#
#   bash mqtt-bench/report.sh              # run the bench, then print the table
#   bash mqtt-bench/report.sh encode       # extra arguments go to criterion (a filter)
#   ROUNDS=3 bash mqtt-bench/report.sh     # run it 3 times, keep each figure's best round
#   SKIP_RUN=1 bash mqtt-bench/report.sh   # only print the table from the last run
#
# Figures come from criterion's target/criterion/<group>/<bench>/new/estimates.json:
# the median point estimate, divided by the elements per iteration. With ROUNDS > 1
# each figure is the lowest of the rounds' medians (on a shared 2-core machine, noise
# only ever adds time).
set -euo pipefail

cd "$(dirname "$0")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
rounds_dir=$(mktemp -d)
trap 'rm -rf "$rounds_dir"' EXIT

# Snapshots criterion's latest results into $1 as {"group<TAB>function": ns/element}.
collect() {
    python3 - "$target_dir/criterion" "$1" <<'PY'
import json
import os
import sys

root, out = sys.argv[1], sys.argv[2]
results = {}
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
        continue
    with open(os.path.join(dirpath, "benchmark.json")) as f:
        bench = json.load(f)
    with open(os.path.join(dirpath, "estimates.json")) as f:
        est = json.load(f)
    elements = (bench.get("throughput") or {}).get("Elements") or 1
    ns = est["median"]["point_estimate"] / elements
    results[bench["group_id"] + "\t" + bench["function_id"]] = ns
with open(out, "w") as f:
    json.dump(results, f)
PY
}

if [ "${SKIP_RUN:-0}" = 1 ]; then
    collect "$rounds_dir/round-1.json"
else
    for round in $(seq 1 "${ROUNDS:-1}"); do
        # Criterion's own output goes to stderr so that stdout is just the table.
        cargo bench -p mqtt-bench --bench compare -- --noplot "$@" >&2
        collect "$rounds_dir/round-$round.json"
    done
fi

python3 - "$rounds_dir" <<'PY'
import json
import os
import sys

rounds_dir = sys.argv[1]
rounds = sorted(os.listdir(rounds_dir))

# (group, function) -> ns per packet: the lowest median over the rounds.
results = {}
for name in rounds:
    with open(os.path.join(rounds_dir, name)) as f:
        for key, ns in json.load(f).items():
            group, function = key.split("\t")
            old = results.get((group, function))
            results[(group, function)] = ns if old is None else min(old, ns)

CRATES = ["mqtt-proto", "rumqttc", "mqttrs"]
BOTH = ["64B", "4KiB"]
ROWS = [
    ("decode_owned", "decode, `BytesMut` -> owned packet", BOTH),
    ("decode_stream_owned", "decode 10,000-packet buffer, `BytesMut` -> owned", ["64B"]),
    ("decode_frame", "decode, `BytesMut` -> `PublishFrame` (session path)", BOTH),
    ("decode_stream_frame", "decode 10,000-packet buffer -> `PublishFrame` \u2021", ["64B"]),
    ("decode_borrowed", "decode, borrowed `&[u8]`", BOTH),
    ("decode_stream_borrowed", "decode 10,000-packet buffer, borrowed", ["64B"]),
    ("encode", "encode, payload copied into reused buffer", BOTH),
    ("encode_slice", "encode into `&mut [u8]`", BOTH),
    ("encode_header", "encode header only into a `BufMut` (zero-copy send path) \u2020", BOTH),
    ("encode_header_buf", "encode header only into a `BytesMut` (session path) \u2020", BOTH),
]


def fmt(ns):
    return "\u2014" if ns is None else f"{ns:.1f}"


def ratio(a, b):
    return "\u2014" if a is None or b is None else f"{a / b:.2f}x"


print("| operation | payload | mqtt-proto ns/packet | rumqttc ns/packet | mqttrs ns/packet "
      "| rumqttc / mqtt-proto | mqttrs / mqtt-proto |")
print("|---|---|--:|--:|--:|--:|--:|")
missing = 0
for group, label, payloads in ROWS:
    for payload in payloads:
        gid = f"{group}/{payload}"
        ns = {c: results.get((gid, c)) for c in CRATES}
        if ns["mqtt-proto"] is None:
            missing += 1
            continue
        rumq, mqttrs = ns["rumqttc"], ns["mqttrs"]
        if group == "decode_stream_frame":
            rumq = results.get(("decode_stream_owned/64B", "rumqttc"))
        if group in ("encode_header", "encode_header_buf"):
            # The send path: rumqttc must copy the payload; mqtt-proto writes the header
            # and hands the payload to a vectored write.
            rumq = results.get((f"encode/{payload}", "rumqttc"))
            mqttrs = results.get((f"encode/{payload}", "mqttrs"))
        print(f"| {label} | {payload} | {fmt(ns['mqtt-proto'])} | {fmt(ns['rumqttc'])} "
              f"| {fmt(ns['mqttrs'])} | {ratio(rumq, ns['mqtt-proto'])} "
              f"| {ratio(mqttrs, ns['mqtt-proto'])} |")
print()
what = "Median" if len(rounds) == 1 else f"Lowest of {len(rounds)} rounds' medians"
print(f"{what} of criterion's samples, ns per packet. \u2014: the crate has no such API.")
print("\u2020 Ratios on these rows are the other crate's full encode over mqtt-proto's "
      "header-only encode: what each must do before the socket write.")
print("\u2021 rumqttc's figure on this row is its owned stream decode.")
# Both crates encode through `bytes`' `BufMut`, whose version moves the encode rows a
# lot (1.12.1's `BytesMut::put_slice` is not inlined, 1.12.2's is): say which ran.
with open("Cargo.lock") as f:
    lock = f.read().split("[[package]]")
bytes_version = next((p.split('version = "')[1].split('"')[0] for p in lock
                      if '\nname = "bytes"\n' in p), "?")
print(f"Encode buffers are placed so that no store straddles a 4 KiB page "
      f"(benches/compare.rs); bytes {bytes_version}.")
if missing:
    print(f"\n({missing} row(s) had no results: run the bench first.)")
PY
