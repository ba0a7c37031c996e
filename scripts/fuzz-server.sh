#!/usr/bin/env bash
# Run the server's request-handling fuzzer (fuzz/fuzz_server.c: libFuzzer, ASan + UBSan) for
# SECONDS seconds (default 30) from the committed corpus fuzz/corpus/server; new inputs go to
# build/fuzz/server-corpus, a failing input to build/fuzz/server-. Prints one line:
#   fuzz-server: N executions, C crashes
# Exit status 0 only when C is 0. ASan's quarantine is kept at 32 MiB so that the harness's
# check that memory stops growing (RSS after input 2000 against later) measures the server.
#   scripts/fuzz-server.sh 25
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-30}
OUT=build/fuzz
if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
    echo "fuzz-server: FAILED: clang is not installed (scripts/bootstrap.sh installs clang and libclang-rt-14-dev)"
    exit 1
fi
make -s -C native fuzz-server BUILD=build || { echo "fuzz-server: FAILED to build"; exit 1; }
mkdir -p "$OUT/server-corpus"
log="$OUT/server-last-run.log"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=32 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    native/build/fuzz/fuzz_server "$OUT/server-corpus" fuzz/corpus/server \
    -dict=fuzz/server.dict -max_len=4096 -rss_limit_mb=2048 -timeout=20 \
    -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$OUT/server-" -print_final_stats=1 \
    >"$log" 2>&1
rc=$?
runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1)
runs=${runs:-0}
crashes=0
if [ $rc -ne 0 ]; then
    crashes=1
    grep -v '^INFO: ' "$log" | tail -n 40
fi
echo "fuzz-server: $runs executions, $crashes crashes" | tee "$OUT/server-summary.txt"
[ $crashes -eq 0 ]
