# `make roadmap` and `make test` create .venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: roadmap test setup bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

roadmap: $(STAMP)
	$(BIN)/explorer roadmap --backend ort,model:iphone12 --out results/ --plot

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest tests

bench: $(STAMP)
	$(BIN)/explorer bench latency
	$(BIN)/explorer bench proxy
	$(BIN)/explorer bench search

clean-venv:
	rm -rf $(VENV)
