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

# On a machine with an NVIDIA GPU and no network: `make gpu-check OUT=results WHEELS=wheels`.
# WHEELS holds every wheel the project needs (made where the registry is reachable with
# `pip download -d wheels setuptools wheel cupy-cuda12x .[test]`); build/upstream/*.tar.gz are
# carried along too, and `akcuda import` then only verifies them.
OUT ?= build/gpu-check
WHEELS ?=
.PHONY: gpu-check
gpu-check:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(if $(WHEELS),--no-index --find-links $(WHEELS) --no-build-isolation) -e '.[gpu,test]'
	$(BIN)/akcuda import
	$(BIN)/akcuda generate
	$(BIN)/akcuda compile
	$(BIN)/akcuda gpu-check --out $(OUT)
