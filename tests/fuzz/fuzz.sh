#!/usr/bin/env bash
# fuzz.sh — build and run the libFuzzer harnesses (clang-14, -fsanitize=fuzzer,address,undefined).
#
#   tests/fuzz/fuzz.sh build               build build/fuzz/fuzz_{image,model,idx,classifier}
#                                          and their 32-bit twins in build/fuzz32/ (-m32)
#   tests/fuzz/fuzz.sh HARNESS SECONDS     fuzz one harness for SECONDS; HARNESS is image, model,
#                                          idx or classifier, with a 32 suffix for the -m32 build
#   tests/fuzz/fuzz.sh all SECONDS         each harness (64- and 32-bit) in turn, SECONDS each
#   tests/fuzz/fuzz.sh triage HARNESS      replay its crash artifacts: one line per input,
#                                          "kind in function file" (files known to crash the same way group)
#
# A run starts from the committed seeds (tests/fuzz/corpus/H, read only), the
# inputs of earlier findings (tests/fuzz/regressions/H) and what earlier runs
# found (build/fuzz/corpus/H). It runs in libFuzzer's fork mode and goes on
# after a crash, so one known bug does not end a long run: crashing inputs
# land in build/fuzz/crashes/HARNESS/, the log in build/fuzz/HARNESS.log, and
# tests/fuzz/results.json records executions, coverage and crash count (its
# "findings" notes are kept; docs/reliability.md is made from it).
# DENSELAB_FUZZ_SKIP_KNOWN=1 makes a harness skip inputs that reach a reported
# but not yet fixed defect (see known_open() in the harness; long runs only).
# Exit status: non-zero if the run saved a crash, leak or timeout.
set -Eeuo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."
HARNESSES=(image model idx classifier)

build() {
  make -s -f tests/fuzz/Makefile -j2
  make -s -f tests/fuzz/Makefile -j2 BITS=32
}

# binary HARNESS: build/fuzz/fuzz_model for "model", build/fuzz32/fuzz_model for "model32".
binary() { if [[ $1 == *32 ]]; then echo "build/fuzz32/fuzz_${1%32}"; else echo "build/fuzz/fuzz_$1"; fi; }

check_name() {
  [[ " ${HARNESSES[*]} " == *" ${1%32} "* ]] || { echo "fuzz.sh: unknown harness '$1' (${HARNESSES[*]}, each also with 32)" >&2; exit 2; }
}

fuzz_one() {
  local h=$1 seconds=$2 bin base=${1%32}
  check_name "$h"
  bin=$(binary "$h")
  mkdir -p "build/fuzz/corpus/$base" "build/fuzz/crashes/$h" "tests/fuzz/regressions/$base"
  echo "==> fuzzing $h for ${seconds}s (log: build/fuzz/$h.log)"
  # -rss_limit_mb/-malloc_limit_mb: a loader that allocates gigabytes for a small input is a finding too.
  # -max_len: room for graphs the model mutator grows (concatenations of thousands of inputs).
  "$bin" "build/fuzz/corpus/$base" "tests/fuzz/corpus/$base" "tests/fuzz/regressions/$base" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -print_final_stats=1 \
    -artifact_prefix="build/fuzz/crashes/$h/" >"build/fuzz/$h.log" 2>&1 || true
  node - "$h" "$seconds" <<'EOF'
const fs = require('fs');
const [h, seconds] = process.argv.slice(2);
const log = fs.readFileSync(`build/fuzz/${h}.log`, 'utf8');
// Fork mode's status lines: "#EXECS: cov: E ft: F corp: C exec/s X oom/timeout/crash: O/T/K time: Ss ..."
const last = [...log.matchAll(/^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec\/s (\d+) oom\/timeout\/crash: (\d+)\/(\d+)\/(\d+)/gm)].at(-1) ?? [];
const file = 'tests/fuzz/results.json';
const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const artifacts = fs.readdirSync(`build/fuzz/crashes/${h}`).sort();
const executions = Number(last[1] ?? 0), problems = Number(last[6] ?? 0) + Number(last[7] ?? 0) + Number(last[8] ?? 0);
all[h] = {
  build: h.endsWith('32') ? '32-bit (-m32)' : '64-bit',
  seconds: Number(seconds),
  executions,
  // Over every long run recorded here (the harness may have changed between them).
  executions_all_runs: (all[h]?.executions_all_runs ?? all[h]?.executions ?? 0) + executions,
  exec_per_second: Math.round(executions / Number(seconds)),
  coverage_edges: Number(last[2] ?? 0), features: Number(last[3] ?? 0), corpus_units: Number(last[4] ?? 0),
  result: problems ? `${last[6]} out-of-memory, ${last[7]} timeouts, ${last[8]} crashes (see findings)` : 'no crash',
  crash_artifacts: artifacts.length,
  date: new Date().toISOString().slice(0, 10),
  skipped_known_open: process.env.DENSELAB_FUZZ_SKIP_KNOWN ? 'inputs reaching reported open defects skipped (see the harness)' : undefined,
  findings: all[h]?.findings ?? [],
};
fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
console.log(`    ${h}: ${executions} executions, ${all[h].result}`);
process.exitCode = problems ? 1 : 0;
EOF
}

# One line per crash artifact: the sanitizer's kind of error and the first frame in DenseLab's code.
triage() {
  local h=$1 bin f
  check_name "$h"
  bin=$(binary "$h")
  for f in build/fuzz/crashes/"$h"/*; do
    [ -f "$f" ] || continue
    { "$bin" "$f" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 2>&1 || true; } | node -e '
      const log = require("fs").readFileSync(0, "utf8");
      const kind = (/runtime error: ([^\n]*)|ERROR: (?:AddressSanitizer|libFuzzer): ([\w-]+)/.exec(log) ?? []).slice(1).find(Boolean) ?? "no crash now";
      const frame = /#\d+ 0x[0-9a-f]+ in (\w+) [^\n]*?((?:models|learn|kernels|common)\/[\w.]+)/.exec(log) ?? /^([\w/.]+):\d+:\d+: runtime error/m.exec(log);
      console.log(`${kind.replace(/0x[0-9a-f]+/g, "ADDR").slice(0, 90)} | ${frame ? `${frame[1]} ${frame[2] ?? ""}` : "?"} | ${process.argv[1]}`);
    ' "$f"
  done | sort
}

case "${1:-}" in
  build) build ;;
  all)
    build
    rc=0
    for h in "${HARNESSES[@]}"; do
      fuzz_one "$h" "${2:?usage: fuzz.sh all SECONDS}" || rc=1
      fuzz_one "${h}32" "$2" || rc=1
    done
    exit $rc ;;
  triage) triage "${2:?usage: fuzz.sh triage HARNESS}" ;;
  image|model|idx|classifier|image32|model32|idx32|classifier32) build; fuzz_one "$1" "${2:?usage: fuzz.sh HARNESS SECONDS}" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
