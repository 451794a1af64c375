#!/usr/bin/env bash
# fuzz.sh — build and run the libFuzzer harnesses (clang-14, -fsanitize=fuzzer,address,undefined).
#
#   tests/fuzz/fuzz.sh build                 build build/fuzz/fuzz_{image,model,idx,classifier}
#   tests/fuzz/fuzz.sh HARNESS SECONDS       fuzz one harness (image|model|idx|classifier) for SECONDS
#   tests/fuzz/fuzz.sh all SECONDS           each harness in turn, SECONDS each
#
# A run starts from the committed seeds (tests/fuzz/corpus/HARNESS, read only)
# plus what earlier runs found (build/fuzz/corpus/HARNESS), writes crashing
# inputs to build/fuzz/crashes/HARNESS/, its log to build/fuzz/HARNESS.log,
# and records executions, coverage and crashes in tests/fuzz/results.json
# (the "findings" notes there are kept; docs/reliability.md is made from it).
# Exit status: non-zero if the fuzzer found a crash, leak or timeout.
set -Eeuo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."
HARNESSES=(image model idx classifier)

build() { make -s -f tests/fuzz/Makefile -j2; }

fuzz_one() {
  local h=$1 seconds=$2 bin=build/fuzz/fuzz_$1
  [[ " ${HARNESSES[*]} " == *" $h "* ]] || { echo "fuzz.sh: unknown harness '$h' (${HARNESSES[*]})" >&2; exit 2; }
  mkdir -p "build/fuzz/corpus/$h" "build/fuzz/crashes/$h"
  echo "==> fuzzing $h for ${seconds}s (log: build/fuzz/$h.log)"
  local status=0
  # -rss_limit_mb: a decoder that allocates gigabytes for a small input is a finding too.
  "$bin" "build/fuzz/corpus/$h" "tests/fuzz/corpus/$h" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -artifact_prefix="build/fuzz/crashes/$h/" \
    >"build/fuzz/$h.log" 2>&1 || status=$?
  tail -n 12 "build/fuzz/$h.log" | grep -E '^(#|stat::|==|SUMMARY|artifact)' || true
  node - "$h" "$seconds" "$status" <<'EOF'
const fs = require('fs');
const [h, seconds, status] = process.argv.slice(2);
const log = fs.readFileSync(`build/fuzz/${h}.log`, 'utf8');
const stat = (k) => Number((new RegExp(`stat::${k}:\\s*(\\d+)`).exec(log) ?? [])[1] ?? NaN);
const last = [...log.matchAll(/^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/gm)].at(-1) ?? [];
const file = 'tests/fuzz/results.json';
const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const artifacts = fs.readdirSync(`build/fuzz/crashes/${h}`).sort();
const problem = /runtime error: [^\n]*|==\d+==ERROR: \w+: [\w-]+( on [^\n]*? at pc)?|ERROR: libFuzzer: [^\n]*/.exec(log);
all[h] = {
  seconds: Number(seconds),
  executions: stat('number_of_executed_units') || Number(last[1] ?? 0),
  exec_per_second: stat('average_exec_per_sec') || null,
  coverage_edges: Number(last[2] ?? 0), features: Number(last[3] ?? 0), corpus_units: Number(last[4] ?? 0),
  peak_rss_mb: stat('peak_rss_mb') || null,
  result: Number(status) === 0 ? 'no crash' : `stopped: ${problem ? problem[0].replace(/^==\d+==/, '').replace(/ on address .*/, '') : `exit ${status}`}`,
  crash_artifacts: artifacts,
  date: new Date().toISOString().slice(0, 10),
  findings: all[h]?.findings ?? [],
};
fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
console.log(`    ${h}: ${all[h].executions} executions, ${all[h].result}`);
EOF
  return "$status"
}

case "${1:-}" in
  build) build ;;
  all)
    build
    rc=0
    for h in "${HARNESSES[@]}"; do fuzz_one "$h" "${2:?usage: fuzz.sh all SECONDS}" || rc=1; done
    exit $rc ;;
  image|model|idx|classifier) build; fuzz_one "$1" "${2:?usage: fuzz.sh HARNESS SECONDS}" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
