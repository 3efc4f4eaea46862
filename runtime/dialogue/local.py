"""A small local LLM as a dialogue backend: a SmolLM2 Instruct GGUF file run by llama-cpp-python, on the CPU.

Optional on both counts: `llama_cpp` is not a dependency of the package and no model ships with it. Creating
the backend without either is a RuntimeError that says what to install or set. The prompt is the one the
openai backend sends (`prompt.build_messages`), so both write in the same voice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from eai_avatar.runtime.dialogue.base import DialogueBackend, DialogueContext, DialogueLine
from eai_avatar.runtime.dialogue.prompt import DEFAULT_MAX_HISTORY, build_messages, clean_stream

MODEL_ENV = "EAI_AVATAR_LOCAL_MODEL"
DEFAULT_N_CTX = 2048
DEFAULT_MAX_TOKENS = 96
DEFAULT_TEMPERATURE = 0.8
_MODEL_HINT = (
    f"pass model_path=... or set {MODEL_ENV} to a SmolLM2 Instruct GGUF file "
    "(e.g. one from the Hugging Face repository HuggingFaceTB/SmolLM2-360M-Instruct-GGUF)"
)


class LocalBackend(DialogueBackend):
    """Lines from a GGUF chat model loaded in-process with llama-cpp-python.

    Options: `model_path` (or $EAI_AVATAR_LOCAL_MODEL), `n_ctx`, `n_threads` (None = llama.cpp's choice),
    `temperature`, `max_tokens`, `max_history`.
    """

    name = "local"
    OPTIONS = ("model_path", "n_ctx", "n_threads", "temperature", "max_tokens", "max_history")

    def __init__(
        self,
        topic: str = "",
        seed: int | None = None,
        model_path: str | os.PathLike | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        temperature: float = DEFAULT_TEMPERATURE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_history: int = DEFAULT_MAX_HISTORY,
    ):
        try:
            import llama_cpp
        except ImportError:
            raise RuntimeError(
                "the local dialogue backend needs llama-cpp-python, which is not installed: "
                f"pip install llama-cpp-python, then {_MODEL_HINT}"
            ) from None
        path = model_path or os.environ.get(MODEL_ENV, "")
        if not path:
            raise RuntimeError(f"the local dialogue backend needs a model: {_MODEL_HINT}")
        path = Path(path).expanduser()
        if not path.is_file():
            raise RuntimeError(f"the local dialogue backend's model {str(path)!r} does not exist: {_MODEL_HINT}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens!r}")
        self.topic = topic or ""
        self.model_path = path
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.max_history = max_history
        kwargs = {"model_path": str(path), "n_ctx": n_ctx, "verbose": False}
        if n_threads is not None:
            kwargs["n_threads"] = n_threads
        if seed is not None:
            kwargs["seed"] = seed & 0xFFFFFFFF  # llama.cpp seeds are 32-bit; sessions' are 64-bit
        try:
            self._llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise RuntimeError(f"the local dialogue backend cannot load {str(path)!r}: {exc}") from None
        # One llama.cpp context is not safe to share between threads.
        self._lock = threading.Lock()

    def _deltas(self, context: DialogueContext) -> Iterator[str]:
        messages = build_messages(context, self.topic, self.max_history)
        if self._llm is None:
            raise RuntimeError("the local dialogue backend is closed")
        with self._lock:
            try:
                chunks = self._llm.create_chat_completion(
                    messages=messages, temperature=self.temperature, max_tokens=self.max_tokens, stream=True
                )
                for chunk in chunks:
                    content = chunk["choices"][0]["delta"].get("content") if chunk.get("choices") else None
                    if content:
                        yield content
            except (ValueError, RuntimeError, KeyError, IndexError) as exc:
                raise RuntimeError(f"the local dialogue backend failed on {str(self.model_path)!r}: {exc}") from None

    def stream_line(self, context: DialogueContext) -> Iterator[str]:
        return clean_stream(self._deltas(context), context, self.name)

    def next_line(self, context: DialogueContext) -> DialogueLine:
        text = "".join(self.stream_line(context)).strip()
        return DialogueLine(speaker=context.next_speaker, text=text)

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None and hasattr(llm, "close"):
            llm.close()
