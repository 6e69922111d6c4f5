# `make roadmap` and `make test` create .venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: roadmap test setup bench notebooks clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

roadmap: $(STAMP)
	$(BIN)/explorer roadmap --backend ort,model:iphone12 --out results/ --plot

# The notebooks' source is notebooks/*.py (jupytext py:percent, paired with the .ipynb);
# this updates each .ipynb from its .py (cell ids kept) and executes it in place (full
# settings, backend ort, the default cache), so the committed notebooks show their tables
# and figures.
NOTEBOOKS := notebooks/01_roadmap notebooks/02_search

notebooks: $(STAMP)
	for nb in $(NOTEBOOKS); do \
		$(BIN)/jupytext --quiet --update --to ipynb $$nb.py && \
		$(BIN)/jupyter-execute --timeout=1200 --inplace $$nb.ipynb || exit 1; \
	done

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check explorer tests notebooks
	$(BIN)/python -m pytest tests

bench: $(STAMP)
	$(BIN)/explorer bench latency
	$(BIN)/explorer bench proxy
	$(BIN)/explorer bench search
	$(BIN)/explorer bench startup
	$(BIN)/explorer bench cost
	$(BIN)/explorer bench counts
	cache=$$(mktemp -d) && $(BIN)/explorer bench lut --cache-dir $$cache && \
		$(BIN)/explorer bench scale --cache-dir $$cache

clean-venv:
	rm -rf $(VENV)
