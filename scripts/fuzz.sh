#!/usr/bin/env bash
# Run the differential cache fuzzer (fuzz/fuzz_cache.py, atheris) for SECONDS seconds (default
# 30), starting from the committed corpus; new inputs go to build/fuzz/corpus, never into the
# committed one, and a failing input to build/fuzz/. Prints one line:
#   fuzz: N executions, C crashes, V invariant violations
# and writes it to build/fuzz/summary.txt. Exit status 0 only when C and V are 0.
#   PYTHON=.venv/bin/python scripts/fuzz.sh 30
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-30}
PYTHON=${PYTHON:-.venv/bin/python}
OUT=build/fuzz
mkdir -p "$OUT/corpus"
log="$OUT/last-run.log"
"$PYTHON" fuzz/fuzz_cache.py "$OUT/corpus" fuzz/corpus/cache -max_len=900 \
    -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$OUT/" -print_final_stats=1 \
    >"$log" 2>&1
rc=$?
runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1)
[ -n "$runs" ] || runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -n1)
runs=${runs:-0}
crashes=0 violations=0
if [ $rc -ne 0 ]; then
    if grep -q 'InvariantViolation' "$log"; then violations=1; else crashes=1; fi
    grep -v '^INFO: Instrumenting' "$log" | tail -n 40
fi
line="fuzz: $runs executions, $crashes crashes, $violations invariant violations"
echo "$line" | tee "$OUT/summary.txt"
[ $crashes -eq 0 ] && [ $violations -eq 0 ]
