# tiercache, top level.
#   make deps    apt packages, deb-src, .venv with tiercache[test] (scripts/bootstrap.sh)
#   make all     the native library and tiercache installed (editable) into .venv
#   make test    deps, then the C tests, the C tests under ASan+UBSan, the NUMA placement suite
#                (here, and in ../shared/numa-vm's multi-node VM when present; NUMA_VM=path),
#                the Python tests (examples/ included), the threaded C tests under TSan, the
#                Python tests under ASan+UBSan and the threaded Python tests under TSan, 30 s
#                of differential fuzzing, 25 s of fuzzing the server's request handling,
#                and make lint
#   make bench   the main command: builds everything, then `tiercache bench --compare ...`:
#                tiercache (DRAM + a temporary directory on /dev/shm) against dict, cachetools,
#                diskcache, redis and memcached on the same requests; table and plots into
#                benchmarks/results/run/, ignored by git (BENCH_ARGS to change the workload)
#   make bench-rss     DRAM use against its budget under churn and idle (benchmarks/rss)
#   make bench-cache   TierCache micro-benchmarks against its targets (benchmarks/cache)
#   make bench-native  the allocator against memkind (benchmarks/native)
#   make bench-tiering issue 11's tiering benchmarks (fill, miss ratio, speed, set stalls):
#                benchmarks/results/tiering.json and .txt
#   make bench-server  tiercache-server against memcached and redis (issue 12; benchmarks/server)
#   make fuzz    the cache fuzzer for FUZZ_SECONDS (default 600)
#   make fuzz-server   the server's request fuzzer for FUZZ_SECONDS
#   make reliability   fault sweep + process events + 60 s fuzz: one summary line
#   make soak    mixed load with TTLs on 2 threads for SOAK_SECONDS (default 1800)
#   make lint    ruff check, ruff format --check (ruff and mypy at the `dev` extra's pins),
#                clang-format --dry-run (format-c-check) and
#                mypy tiercache; every check runs, the target fails at the end if any did
#   make format-c      clang-format -i over the C and C++ sources (.clang-format)
#   make examples      builds and runs every program in examples/ (also run by pytest:
#                tests/test_examples.py)
# Everything is idempotent: a second `make test` reuses what the first one built.

SHELL := /bin/bash
VENV ?= .venv
NPROC := $(shell nproc 2>/dev/null || echo 2)
PYTEST_ARGS ?=

.PHONY: all deps test test-native test-asan test-numa test-python bench bench-deps \
	bench-cache bench-native bench-tiering bench-rss lint format clean test-tsan \
	test-python-asan test-python-tsan fuzz fuzz-short reliability soak format-c format-c-check \
	examples lint-deps bench-server fuzz-server fuzz-server-short

all: deps
	$(MAKE) -C native -j$(NPROC)

deps:
	@echo "===== dependencies"
	VENV=$(VENV) bash scripts/bootstrap.sh

# Every suite runs even when an earlier one fails; the target fails if any did.
test: deps
	@failed=""; \
	echo "===== native tests"; \
	$(MAKE) -C native -j$(NPROC) test || failed="$$failed native"; \
	echo "===== native tests under ASan+UBSan"; \
	$(MAKE) -C native -j$(NPROC) test-asan || failed="$$failed native-asan"; \
	echo "===== NUMA placement (here with overrides, then in the multi-node VM)"; \
	{ $(MAKE) -C native -j$(NPROC) numa-bin && bash scripts/numa-test.sh; } || failed="$$failed numa"; \
	echo "===== python tests"; \
	$(VENV)/bin/pytest $(PYTEST_ARGS) || failed="$$failed python"; \
	echo "===== threaded native tests under TSan"; \
	$(MAKE) test-tsan || failed="$$failed native-tsan"; \
	echo "===== python tests under ASan+UBSan"; \
	$(MAKE) test-python-asan || failed="$$failed python-asan"; \
	echo "===== threaded python tests under TSan"; \
	$(MAKE) test-python-tsan || failed="$$failed python-tsan"; \
	echo "===== differential fuzzing, 30 s"; \
	$(MAKE) fuzz-short || failed="$$failed fuzz"; \
	echo "===== server request fuzzing (libFuzzer, ASan+UBSan), 25 s"; \
	$(MAKE) fuzz-server-short || failed="$$failed fuzz-server"; \
	echo "===== lint: ruff, clang-format, mypy"; \
	$(MAKE) lint || failed="$$failed lint"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all suites passed"

# Sanitizers. The Python suites load a copy of the package whose _native and _fastpath are
# built with -fsanitize (scripts/build_sanitized_python.py), with the runtime preloaded since
# CPython itself is not instrumented. ASan: leak checking off (CPython keeps its arenas); SEGV
# left to the process (fork-policy tests expect it). glibc's malloc is ASan's there, so the
# test that the process malloc is glibc's does not apply.
SAN_PY = $(abspath build/sanitized-py)
ASAN_ENV = ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TIERCACHE_SANITIZER=asan
# libstdc++ is preloaded with the sanitizer runtime so that its __cxa_throw interceptor finds
# the real one (Python is not linked with libstdc++): without it, the first C++ exception in an
# extension (matplotlib's ft2font) stops the process on a failed ASan CHECK.
CXX_RUNTIME := $(shell $(or $(CXX),g++) -print-file-name=libstdc++.so.6 2>/dev/null)
# (jemalloc's background purging threads stay off under TSan: see native/Makefile's test-tsan.)
TSAN_ENV = TSAN_OPTIONS="detect_deadlocks=0 halt_on_error=1" TIERCACHE_SANITIZER=tsan \
	TIERCACHE_BACKGROUND_PURGE=0
test-tsan:
	$(MAKE) -C native -j$(NPROC) test-tsan
test-python-asan:
	rt=$$($(VENV)/bin/python scripts/build_sanitized_python.py asan | tail -n1) && \
	env LD_PRELOAD="$$rt $(CXX_RUNTIME)" PYTHONPATH=$(SAN_PY)/asan $(ASAN_ENV) $(VENV)/bin/pytest -p no:cacheprovider \
		--deselect tests/test_native_load.py::test_process_malloc_is_still_glibc $(PYTEST_ARGS)
test-python-tsan:
	rt=$$($(VENV)/bin/python scripts/build_sanitized_python.py tsan | tail -n1) && \
	env LD_PRELOAD="$$rt $(CXX_RUNTIME)" PYTHONPATH=$(SAN_PY)/tsan $(TSAN_ENV) $(VENV)/bin/pytest -p no:cacheprovider \
		tests/test_cache_threads.py tests/test_cache_zero_copy_lifetime.py $(PYTEST_ARGS)

# Differential fuzzing of the cache API (fuzz/fuzz_cache.py, atheris) from the committed corpus:
# a short bounded run in `make test`, a longer one on its own (FUZZ_SECONDS, default 10 min).
FUZZ_SECONDS ?= 600
fuzz-short:
	PYTHON=$(VENV)/bin/python bash scripts/fuzz.sh 30
fuzz:
	PYTHON=$(VENV)/bin/python bash scripts/fuzz.sh $(FUZZ_SECONDS)
# The server's request handling (fuzz/fuzz_server.c, libFuzzer under ASan+UBSan): a short run
# in `make test`, a longer one on its own (FUZZ_SECONDS).
fuzz-server-short:
	$(MAKE) -C native -j$(NPROC)
	bash scripts/fuzz-server.sh 25
fuzz-server: all
	bash scripts/fuzz-server.sh $(FUZZ_SECONDS)

# The reliability figures: the full fault sweep, the process-event tests and a fuzz run, ending
# with one line (faults injected, fuzz executions, crashes, violations, values lost).
# The soak benchmark is separate: make soak (SOAK_SECONDS, default 30 min).
RELIABILITY_FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 1800
reliability: all
	$(VENV)/bin/python scripts/reliability.py --fuzz-seconds $(RELIABILITY_FUZZ_SECONDS)
soak: all
	$(VENV)/bin/python benchmarks/soak/soak.py --seconds $(SOAK_SECONDS)

# Pieces of `make test`, for a quicker loop once `make deps` has run.
test-native:
	$(MAKE) -C native -j$(NPROC) test
test-asan:
	$(MAKE) -C native -j$(NPROC) test-asan
test-numa:
	$(MAKE) -C native -j$(NPROC) numa-bin
	bash scripts/numa-test.sh
test-python:
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The main command: a Zipf workload whose data (~200 MiB) is larger than DRAM (16 MiB) but
# fits DRAM + the capacity tier (256 MiB, a temporary directory on /dev/shm); every peer gets
# the same 272 MiB. ~1-2 minutes here.
# Output of a run goes to an ignored folder; benchmarks/results/ keeps the committed reference
# run (copy a run there on purpose: make bench BENCH_OUT=benchmarks/results).
BENCH_OUT ?= benchmarks/results/run
BENCH_ARGS ?= --compare dict,cachetools,diskcache,redis,memcached \
	--key-pattern Z:Z --key-maximum 50000 --data-size-range 64-8192 -n 100000 \
	--dram-mb 16 --pmem-mb 256 --sweep-dram-mb 4,8,16,32,64 --hide-histogram

bench: bench-deps
	@mkdir -p $(BENCH_OUT)
	set -o pipefail; $(VENV)/bin/tiercache bench $(BENCH_ARGS) --plot $(BENCH_OUT) \
		--json-out-file $(BENCH_OUT)/bench.json | tee $(BENCH_OUT)/bench.txt

bench-deps:
	VENV=$(VENV) EXTRAS=test,bench bash scripts/bootstrap.sh
	$(MAKE) -C native -j$(NPROC)

# Issue 12's server benchmark: tiercache-server against memcached and redis-server, one C load
# generator (benchmarks/server/loadgen.c) for all; all-DRAM and data 8x DRAM on a file tier.
# ~3 minutes; results, committed on purpose, in benchmarks/results/server.{txt,json,png}
# (BENCH_SERVER_ARGS: bench.py's options, e.g. --seconds 10 --out DIR).
BENCH_SERVER_ARGS ?=
bench-server: bench-deps
	$(MAKE) -C benchmarks/server
	$(VENV)/bin/python benchmarks/server/bench.py $(BENCH_SERVER_ARGS)

bench-rss: all
	$(VENV)/bin/python benchmarks/rss/rss.py

bench-cache: bench-deps
	$(MAKE) -C benchmarks/cache run PYTHON=$(abspath $(VENV))/bin/python

bench-tiering: bench-deps
	$(MAKE) -C benchmarks/cache tiering PYTHON=$(abspath $(VENV))/bin/python

bench-native: bench-deps
	$(MAKE) -C benchmarks/native run PYTHON=$(abspath $(VENV))/bin/python

# The C and C++ sources clang-format checks (.clang-format): the library, its headers, tests
# and server, the native benchmarks, the fast path, and any C under fuzz/. tiercache/_cdef.h is
# cffi's declaration syntax, not C to format; build trees and generated files are left out.
C_FORMAT_FILES = $(shell find native/include native/src native/server native/tests \
	benchmarks/native fuzz tiercache examples \( -path '*/build' -o -path '*/build-*' \) -prune \
	-o \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) ! -name _cdef.h ! -name _native.c \
	-type f -print 2>/dev/null | LC_ALL=C sort)
CLANG_FORMAT ?= clang-format

# Every check runs even when an earlier one fails; the target fails at the end if any did.
# The linters at the versions pyproject.toml's `dev` extra pins (quick when they are in place).
lint-deps:
	$(VENV)/bin/python scripts/lint_requirements.py | \
		xargs -d '\n' $(VENV)/bin/python -m pip install -q --disable-pip-version-check

lint: lint-deps
	@failed=""; \
	echo "== ruff check"; $(VENV)/bin/ruff check . || failed="$$failed ruff-check"; \
	echo "== ruff format --check"; $(VENV)/bin/ruff format --check . || failed="$$failed ruff-format"; \
	echo "== clang-format"; $(MAKE) --no-print-directory format-c-check || failed="$$failed clang-format"; \
	echo "== mypy tiercache"; $(VENV)/bin/mypy tiercache || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then echo "make lint: FAILED:$$failed"; exit 1; fi; \
	echo "make lint: all checks passed"

format-c-check:
	@command -v $(CLANG_FORMAT) >/dev/null || \
		{ echo "clang-format is missing: make deps (apt install clang-format)"; exit 1; }
	$(CLANG_FORMAT) --dry-run -Werror $(C_FORMAT_FILES)

format-c:
	$(CLANG_FORMAT) -i $(C_FORMAT_FILES)

format: lint-deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The programs in examples/: the C and C++ ones built (the C one with pkg-config against a
# private install of the library), then every one run and checked. pytest runs the same file.
examples: all
	$(VENV)/bin/pytest -p no:cacheprovider tests/test_examples.py $(PYTEST_ARGS)

clean:
	$(MAKE) -C native clean
	rm -rf build *.egg-info tiercache/_native*.so tiercache/_native.c .pytest_cache
