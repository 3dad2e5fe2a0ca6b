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
	$(PY) scripts/bench_scoring.py
	$(PY) scripts/bench_kld.py
	$(PY) scripts/bench_classify.py
	$(PY) scripts/bench_learn.py
	$(PY) scripts/bench_endpoint.py

setup: $(STAMP)

# llama-cpp-python compiles llama.cpp from source (about 5 minutes on 2 cores) the first
# time; the wheel is kept under $(WHEELS), so later set-ups take seconds. llama.cpp's default
# build uses every instruction the build machine reports (-march=native); some virtual
# machines report AMX without enabling it, and the model then crashes at its first decode. So
# we build for x86-64-v3 (AVX2, FMA, F16C), which runs on any machine from the last decade.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE   := -DGGML_NATIVE=OFF
WHEELS        := $(HOME)/.cache/perfics-studio/llama-cpp-python-$(LLAMA_VERSION)-portable
LLAMA_WHEEL    = $(firstword $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl))

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	test -n "$(LLAMA_WHEEL)" || CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip wheel --quiet \
	  --no-deps --no-cache-dir --no-binary llama-cpp-python -w $(WHEELS) \
	  llama-cpp-python==$(LLAMA_VERSION)
	$(PY) -m pip install --quiet --no-deps --force-reinstall \
	  $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	# torch first, alone and pinned, so no other package can pull a CUDA build of it.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,train,serve]'
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
