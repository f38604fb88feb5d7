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
	$(BIN)/akcuda import
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf build

# Every parity case on the host build with AddressSanitizer + UBSan (no guard band); fails on any report.
.PHONY: sanitize
sanitize: venv
	$(BIN)/akcuda sanitize --json build/sanitize/sanitize.json
