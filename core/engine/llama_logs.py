"""llama.cpp's log while a model loads: notes we expect kept off the terminal, and the errors
kept for the message we raise.

The bundled llama.cpp numbers its log levels one higher than llama-cpp-python 0.3.36's logger
assumes (error is 4, which that logger treats as debug), so with verbose=False its errors
vanish. That matters for LoRA adapters: a failed adapter load is only logged, the Python
wrapper carries on without the adapter, and the model would silently run as its base.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

GGML_LOG_ERROR = 4  # ggml_log_level in the bundled llama.cpp (0 none, 1 debug, ... 5 cont)
# Adapter tensors of a weight that llama.cpp repacked for the CPU go to plain CPU memory; it
# says so once per tensor, at warning level, although nothing is wrong.
ADAPTER_BUFFER_NOTE = b"cannot use buft"
POOLING_NOTE = b"pooling_type"  # a generative model asked for mean pooling (embeddings)
SWA_CACHE_NOTE = b"using full-size SWA cache"  # Gemma 3: how its KV cache is laid out
LOAD_NOTES = (ADAPTER_BUFFER_NOTE, SWA_CACHE_NOTE)  # what loading a model may say, harmlessly


@contextmanager
def filtered_llama_logs(drop: tuple[bytes, ...] = ()) -> Iterator[list[str]]:
    """While inside: lines containing any of `drop` are not printed, error lines are
    collected in the yielded list, and everything else goes to llama-cpp-python's logger."""
    import llama_cpp
    from llama_cpp import _logger

    errors: list[str] = []

    @llama_cpp.llama_log_callback
    def forward(level, text, user_data):
        if level == GGML_LOG_ERROR:
            errors.append(text.decode("utf-8", errors="replace").strip())
        elif not any(marker in text for marker in drop):
            _logger.llama_log_callback(level, text, user_data)

    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))
    try:
        yield errors
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


def adapter_failure(errors: list[str]) -> str:
    """The reason llama.cpp gave for refusing an adapter, without function-name prefixes."""
    generic = "failed to load lora adapter from file"
    reasons = []
    for line in errors:
        reason = line.split("failed to apply lora adapter: ", 1)[-1]
        if reason == line and ": " in line:
            reason = line.split(": ", 1)[1]  # "gguf_init_from_reader: invalid magic ..."
        if reason and reason != generic and reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons) or "llama.cpp could not apply the LoRA adapter"


def adapter_applied(llm) -> bool:
    """Whether llama-cpp-python holds an adapter. A failed load leaves a NULL pointer there,
    not None, so its own `is None` check passes it; a NULL pointer is falsy."""
    return bool(getattr(llm, "_lora_adapter", None))
