# tiercache, top level.
#   make deps    apt packages, deb-src, .venv with tiercache[test] (scripts/bootstrap.sh)
#   make all     the native library and tiercache installed (editable) into .venv
#   make test    deps, then the C tests, the C tests under ASan+UBSan, the NUMA placement suite
#                (here, and in ../shared/numa-vm's multi-node VM when present; NUMA_VM=path),
#                and the Python tests
#   make bench   the main command: TierCache vs cachetools/dict/diskcache, then the allocator
#                vs memkind (benchmarks/cache, benchmarks/native)
#   make lint    ruff check and ruff format --check
# Everything is idempotent: a second `make test` reuses what the first one built.

SHELL := /bin/bash
VENV ?= .venv
NPROC := $(shell nproc 2>/dev/null || echo 2)
PYTEST_ARGS ?=

.PHONY: all deps test test-native test-asan test-numa test-python bench lint format clean

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

# The main command: the cache against its peers, then the allocator against memkind.
bench:
	VENV=$(VENV) EXTRAS=test,bench bash scripts/bootstrap.sh
	$(MAKE) -C native -j$(NPROC)
	$(MAKE) -C benchmarks/cache run PYTHON=$(abspath $(VENV))/bin/python
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
