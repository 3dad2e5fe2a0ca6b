#!/usr/bin/env bash
# Builds llama.cpp's own `llama-perplexity` from the source vendored in the llama-cpp-python
# sdist we already depend on, so benchmark scripts can compare our figures with llama.cpp's on
# the same model, text and threads. Not part of `make test`: it compiles for a few minutes.
# Prints the binary's path. Same portable flags as the wheel (see the Makefile: AMX).
set -euo pipefail
VERSION=0.3.36
CACHE="${PERFICS_TOOLS_CACHE:-$HOME/.cache/perfics-studio/llama-tools-$VERSION}"
PY="${PY:-.venv/bin/python}"
BIN="$CACHE/build/bin/llama-perplexity"
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$CACHE"
if [[ ! -d "$CACHE/src" ]]; then
  "$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$CACHE" >&2
  mkdir -p "$CACHE/src"
  tar -xzf "$CACHE/llama_cpp_python-$VERSION.tar.gz" -C "$CACHE/src" --strip-components=1
fi
cmake -S "$CACHE/src/vendor/llama.cpp" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF >&2
cmake --build "$CACHE/build" --target llama-perplexity -j "$(nproc)" >&2
echo "$BIN"
