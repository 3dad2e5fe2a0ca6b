"""Engine layer: the Backend protocol, the llama.cpp and fake backends, the GGUF registry and
prompt formats. Imports only core.types, core.errors and core.config."""

from core.engine.backend import Backend, OnToken

__all__ = ["Backend", "OnToken"]
