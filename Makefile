# The two commands of the README (`make run`, `make test`) each set up .venv/ themselves.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench soak prompts venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "PatronAuth needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	@touch $(STAMP)

# `make run PORT=8100` serves on another port; e-mailed links follow it.
run: venv
	$(BIN)/patronauth init --demo
	PATRONAUTH_PUBLIC_URL="$${PATRONAUTH_PUBLIC_URL:-http://127.0.0.1:$(PORT)}" $(BIN)/patronauth demo
	$(BIN)/patronauth serve --port $(PORT)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:randomly -n 0 tests/unit/test_layering.py

test: lint
	$(BIN)/pytest -n 2

bench: venv
	bench/needs.sh
	$(BIN)/python -m bench

# The ten-minute soak of two nodes (memory growth); `make bench` runs it for one minute.
soak: venv
	$(BIN)/python -m bench --soak

# Every spoken text of the telephone line in one language (yue, cmn or en) as WAV files,
# to listen to: `make prompts LANGUAGE=cmn` (needs Debian's espeak-ng; docs/telephone.md).
LANGUAGE ?= yue
prompts: venv
	$(BIN)/python -m patronauth.telephone.render --language $(LANGUAGE) --out var/prompts/$(LANGUAGE)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
