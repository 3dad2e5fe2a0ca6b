# PeRFICS Studio. `make run` and `make test` each do the whole set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench models setup chromium lint clean

run: setup models
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port 8501

test: setup models chromium
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: setup models
	$(PY) scripts/bench_engine.py
	$(PY) scripts/bench_refine.py
	$(PY) scripts/bench_tradeoffs.py

setup: $(STAMP)

# llama-cpp-python compiles llama.cpp from source (about 6 minutes on 2 cores) the first
# time; pip caches the built wheel, so later set-ups take seconds.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

models: setup
	$(PY) scripts/fetch_models.py

# Debian's chromium for the browser test; playwright never downloads a browser of its own.
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
