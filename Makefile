# The two set-up commands of the README: `make generate-kernels` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.akcuda-installed

.PHONY: generate-kernels test venv import specs specs-check generate compile parity clean gpu-check

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]'
	touch $(STAMP)

import: venv
	$(BIN)/akcuda import

# The main job: import -> specs check -> generate -> compile -> host parity -> report.
generate-kernels: venv
	$(BIN)/akcuda pipeline

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/akcuda import
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf build

# Every parity case on the host build with AddressSanitizer + UBSan (no guard band); fails on any report.
.PHONY: sanitize
sanitize: venv
	$(BIN)/akcuda sanitize --json build/sanitize/sanitize.json

# Awkward 2.14's own test suite, stock and through install("host"), outcome by outcome (not part
# of `make test`: it runs the whole suite twice, well over half an hour on 2 cores).
.PHONY: awkward-suite
awkward-suite: venv
	$(BIN)/akcuda import
	nice $(BIN)/akcuda awkward-suite --out build/awkward-suite

# Per-call cost of every specialization (counting target), with GPU sweeps where a GPU exists:
# build/bench/bench.{json,md} and PNG plots.
.PHONY: bench
bench: venv
	$(BIN)/akcuda bench

# Where the registry is reachable: `make gpu-bundle PY=3.12 BUNDLE=dir` writes one folder (at most
# 40 MB) with the wheels a GPU machine lacks for that Python, akcuda's wheel, the pinned sdists
# and the prebuilt build/generated and build/compiled.
PY ?= 3.12
BUNDLE ?= build/gpu-bundle
.PHONY: gpu-bundle
gpu-bundle: venv
	$(BIN)/akcuda generate
	$(BIN)/akcuda compile
	$(BIN)/akcuda bundle --python $(PY) --out $(BUNDLE)

# On a GPU machine with CuPy and no network: `make gpu-check BUNDLE=dir OUT=dir`. Installs from the
# bundle alone into a venv that sees the system's packages (its CuPy, NumPy, cuda-bindings, NVRTC);
# akcuda itself with --no-deps so that its CUDA 12 pins do not replace the system's. Then the
# device check's tiers (docs/gpu-check.md), each writing its results into OUT before the next.
OUT ?= build/gpu-check
GPU_VENV ?= build/gpu-venv
.PHONY: gpu-check
gpu-check:
	$(PYTHON) -m venv --system-site-packages $(GPU_VENV)
	$(GPU_VENV)/bin/pip install -q --no-index --find-links $(BUNDLE)/wheels awkward awkward-cpp pycparser fsspec packaging
	-$(GPU_VENV)/bin/pip install -q --no-index --find-links $(BUNDLE)/wheels cuda-cccl
	$(GPU_VENV)/bin/pip install -q --no-index --no-deps $(BUNDLE)/wheels/akcuda-*.whl
	mkdir -p build/upstream && cp $(BUNDLE)/upstream/*.tar.gz build/upstream/
	rm -rf build/generated build/compiled && cp -r $(BUNDLE)/generated $(BUNDLE)/compiled build/
	$(GPU_VENV)/bin/akcuda import
	$(GPU_VENV)/bin/akcuda gpu-check --out $(OUT)
