#!/usr/bin/env bash
# Runs the codec comparison (mqtt-proto vs rumqttc's mqttbytes::v4 vs mqttrs) and
# prints a markdown table of median ns per packet.
#
#   bash mqtt-bench/report.sh              # run the bench, then print the table
#   bash mqtt-bench/report.sh encode       # extra arguments go to criterion (a filter)
#   SKIP_RUN=1 bash mqtt-bench/report.sh   # only print the table from the last run
#
# Figures come from criterion's target/criterion/<group>/<bench>/new/estimates.json
# (median point estimate, divided by the elements per iteration).
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "${SKIP_RUN:-0}" != 1 ]; then
    # Criterion's own output goes to stderr so that stdout is just the table.
    cargo bench -p mqtt-bench --bench compare -- --noplot "$@" >&2
fi

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

python3 - "$target_dir/criterion" <<'EOF'
import json
import os
import sys

root = sys.argv[1]

# (group, function) -> median ns per element, from every benchmark.json found.
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
    results[(bench["group_id"], bench["function_id"])] = ns

CRATES = ["mqtt-proto", "rumqttc", "mqttrs"]
ROWS = [
    ("decode_owned", "decode, `BytesMut` -> owned packet"),
    ("decode_borrowed", "decode, borrowed `&[u8]`"),
    ("encode", "encode, payload copied into reused buffer"),
    ("encode_slice", "encode into `&mut [u8]`"),
    ("encode_header", "encode header only (zero-copy send path) \u2020"),
]
PAYLOADS = ["64B", "4KiB"]


def fmt(ns):
    return "\u2014" if ns is None else f"{ns:.1f}"


def ratio(a, b):
    return "\u2014" if a is None or b is None else f"{a / b:.2f}x"


print("| operation | payload | mqtt-proto ns/packet | rumqttc ns/packet | mqttrs ns/packet "
      "| rumqttc / mqtt-proto | mqttrs / mqtt-proto |")
print("|---|---|--:|--:|--:|--:|--:|")
missing = 0
for group, label in ROWS:
    for payload in PAYLOADS:
        gid = f"{group}/{payload}"
        ns = {c: results.get((gid, c)) for c in CRATES}
        if ns["mqtt-proto"] is None:
            missing += 1
            continue
        rumq, mqttrs = ns["rumqttc"], ns["mqttrs"]
        if group == "encode_header":
            # The send path: rumqttc must copy the payload; mqtt-proto writes the header
            # and hands the payload to a vectored write.
            rumq = results.get((f"encode/{payload}", "rumqttc"))
            mqttrs = results.get((f"encode/{payload}", "mqttrs"))
        print(f"| {label} | {payload} | {fmt(ns['mqtt-proto'])} | {fmt(ns['rumqttc'])} "
              f"| {fmt(ns['mqttrs'])} | {ratio(rumq, ns['mqtt-proto'])} "
              f"| {ratio(mqttrs, ns['mqtt-proto'])} |")
print()
print("Median of criterion's samples, ns per packet. \u2014: the crate has no such API.")
print("\u2020 Ratios on this row are the other crate's full encode over mqtt-proto's "
      "header-only encode: what each must do before the socket write.")
if missing:
    print(f"\n({missing} row(s) had no results under {root}: run the bench first.)")
EOF
