# The two commands a new user needs:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SIZE   ?= small

.PHONY: demo test docs bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed  ## build the demo store and print its first summary
	$(VENV)/bin/kolgraph demo

test: $(VENV)/.installed  ## lint + the full test suite (what CI runs)
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory docs
	$(PY) -m pytest -q

docs: $(VENV)/.installed  ## the docs site into site/, warnings as errors (mkdocs serve: live preview)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

bench: $(VENV)/.installed  ## benchmark suite at SIZE=small|medium|large, report in bench-report/
	$(PY) -m benchmarks.run --size $(SIZE)

clean:
	rm -rf $(VENV) demo.kg bench-report .pytest_cache site
