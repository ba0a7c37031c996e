# tiercache, top level.
#   make deps    apt packages, deb-src, .venv with tiercache[test] (scripts/bootstrap.sh)
#   make all     the native library and tiercache installed (editable) into .venv
#   make test    deps, then the C tests, the C tests under ASan+UBSan, the NUMA placement suite
#                (here, and in ../shared/numa-vm's multi-node VM when present; NUMA_VM=path),
#                and the Python tests
#   make bench   the main command: builds everything, then `tiercache bench --compare ...`:
#                tiercache (DRAM + a temporary directory on /dev/shm) against dict, cachetools,
#                diskcache, redis and memcached on the same requests; table and plots into
#                benchmarks/results/ (BENCH_ARGS to change the workload)
#   make bench-cache   TierCache micro-benchmarks against its targets (benchmarks/cache)
#   make bench-native  the allocator against memkind (benchmarks/native)
#   make lint    ruff check and ruff format --check
# Everything is idempotent: a second `make test` reuses what the first one built.

SHELL := /bin/bash
VENV ?= .venv
NPROC := $(shell nproc 2>/dev/null || echo 2)
PYTEST_ARGS ?=

.PHONY: all deps test test-native test-asan test-numa test-python bench bench-deps \
	bench-cache bench-native lint format clean

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
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all suites passed"

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
BENCH_OUT ?= benchmarks/results
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

bench-cache: bench-deps
	$(MAKE) -C benchmarks/cache run PYTHON=$(abspath $(VENV))/bin/python

bench-native: bench-deps
	$(MAKE) -C benchmarks/native run PYTHON=$(abspath $(VENV))/bin/python

lint:
	@[ -x $(VENV)/bin/ruff ] || $(VENV)/bin/python -m pip install -q ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	@[ -x $(VENV)/bin/ruff ] || $(VENV)/bin/python -m pip install -q ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	$(MAKE) -C native clean
	rm -rf build *.egg-info tiercache/_native*.so tiercache/_native.c .pytest_cache
