# The two commands: `make run` and `make test`. Both set everything up first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.memtui-installed
# Two workers: the suite is mostly subprocess waits and TensorFlow start-ups.
PYTEST_ARGS ?= -n 2

.PHONY: run test test-fast lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,jax]'
	@touch $(STAMP)

run: $(STAMP)
	@echo 'memtui: to watch a real out-of-memory ending and its one-key fix, run: $(VENV)/bin/memtui demo oom'
	$(VENV)/bin/memtui

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The unit layer only (tests/README.md says what goes there): in-process tests,
# no TensorFlow, no trainer or memtui processes, no terminal.
test-fast: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS) tests/unit

# Every benchmark prints its own ratios; gpu_check.py needs an NVIDIA GPU and
# says so (exit 2) elsewhere, which is not a failure of the others.
bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b; rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$b != bench/gpu_check.py ]; then exit $$rc; fi; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
