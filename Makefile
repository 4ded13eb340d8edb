# The two commands a new user needs:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SIZE   ?= small

.PHONY: demo test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed  ## build the demo store and print its first summary
	$(VENV)/bin/kolgraph demo

test: $(VENV)/.installed  ## lint + the full test suite (what CI runs)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: $(VENV)/.installed  ## benchmark suite at SIZE=small|medium|large, report in bench-report/
	$(PY) -m benchmarks.run --size $(SIZE)

clean:
	rm -rf $(VENV) demo.kg bench-report .pytest_cache
