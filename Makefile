# Two commands from a fresh clone: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install bytecode serve bench clean

$(BIN)/cxbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/cxbot

# The project's own modules, byte-compiled ahead: where PYTHONDONTWRITEBYTECODE is set, every start
# would otherwise compile them from source again (a tenth of `serve`'s start-up). Only stale files are redone.
bytecode: install
	@$(BIN)/python -m compileall -q bot handlers notifications storage >/dev/null

demo: install bytecode
	$(BIN)/cxbot demo

serve: install bytecode
	$(BIN)/cxbot serve

test: install bytecode
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) build *.egg-info
