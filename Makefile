# Two commands from a fresh clone: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install serve bench clean

$(BIN)/cxbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/cxbot

demo: install
	$(BIN)/cxbot demo

serve: install
	$(BIN)/cxbot serve

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) build *.egg-info
