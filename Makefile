# The two set-up commands of the README: `make generate-kernels` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.akcuda-installed

.PHONY: generate-kernels test venv import specs specs-check generate compile parity clean gpu-check wheel

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/pip install --disable-pip-version-check -q -e '.[toolchain,test]'
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

# akcuda's wheel, carrying its kernel store (generated .cu, plans, cubins for sm_80 and sm_90, the
# sm_90 PTX, Awkward's licence): build/dist/akcuda-*.whl, through `python -m build` (see setup.py).
wheel: venv
	$(BIN)/akcuda generate
	$(BIN)/akcuda compile
	$(BIN)/akcuda wheel

# Where the registry is reachable: `make gpu-bundle PY=3.12 BUNDLE=dir` writes one folder (at most
# 40 MB) with akcuda's wheel, the wheels a GPU machine lacks for that Python and the pinned sdists.
PY ?= 3.12
BUNDLE ?= build/gpu-bundle
.PHONY: gpu-bundle
gpu-bundle: venv
	$(BIN)/akcuda generate
	$(BIN)/akcuda compile
	$(BIN)/akcuda bundle --python $(PY) --out $(BUNDLE)

# On a GPU machine with no network: the bundle's wheels into $(PYTHON)'s own environment (there
# python3 is itself a venv; a venv made from it would see none of its packages). akcuda's base
# install needs only NumPy of what the machine has, so no CUDA package of its own is replaced;
# --force-reinstall so that an earlier akcuda of the same version is replaced too.
.PHONY: gpu-install
gpu-install:
	$(PYTHON) -m pip install -q --no-index --find-links $(BUNDLE)/wheels awkward awkward-cpp pycparser fsspec packaging
	-$(PYTHON) -m pip install -q --no-index --find-links $(BUNDLE)/wheels cuda-cccl
	$(PYTHON) -m pip install -q --no-index --no-deps --force-reinstall $(BUNDLE)/wheels/akcuda-*.whl
	$(PYTHON) -m akcuda info

# On a GPU machine with CuPy and no network: `make gpu-check BUNDLE=dir OUT=dir`. Installs from the
# bundle (gpu-install), then, in this checkout, the device check's tiers on the installed kernels
# (docs/gpu-check.md), each writing its results into OUT before the next.
OUT ?= build/gpu-check
.PHONY: gpu-check
gpu-check: gpu-install
	mkdir -p build/upstream && cp $(BUNDLE)/upstream/*.tar.gz build/upstream/
	$(PYTHON) -m akcuda import
	$(PYTHON) -m akcuda gpu-check --out $(OUT)
