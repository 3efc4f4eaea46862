"""The local backend: its errors without llama-cpp-python or a model, its use of llama_cpp (through a stand-in
module), and a real SmolLM2 GGUF when one is installed and named by EAI_AVATAR_LOCAL_MODEL."""

import importlib.util
import os
import sys
import types

import pytest

from eai_avatar.runtime.dialogue import DialogueContext, DialogueLine, create_backend

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


def make_context():
    return DialogueContext(
        characters=("ada", "ben"),
        display_names={"ada": "Ada", "ben": "Ben"},
        history=[DialogueLine("ada", "Did you see the sky?")],
        emotions={"ada": "surprised", "ben": "fear"},
    )


@pytest.fixture
def fake_llama_cpp(monkeypatch):
    """A stand-in `llama_cpp` that records what the backend asks and streams chat chunks as llama_cpp does."""
    calls = {}

    class Llama:
        def __init__(self, **kwargs):
            calls["init"] = kwargs

        def create_chat_completion(self, **kwargs):
            calls["chat"] = kwargs
            yield {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
            for piece in ["Ben", ": It looks", " like a storm."]:
                yield {"choices": [{"index": 0, "delta": {"content": piece}}]}

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=Llama))
    monkeypatch.delenv("EAI_AVATAR_LOCAL_MODEL", raising=False)
    return calls


def test_local_uses_llama_cpp_with_the_shared_prompt(fake_llama_cpp, tmp_path):
    model = tmp_path / "smollm2.gguf"
    model.write_bytes(b"GGUF")
    backend = create_backend("local", topic="the weather", seed=2**40 + 7, model_path=model)
    assert fake_llama_cpp["init"]["model_path"] == str(model) and fake_llama_cpp["init"]["seed"] == 7
    assert backend.next_line(make_context()) == DialogueLine("ben", "It looks like a storm.")
    system = fake_llama_cpp["chat"]["messages"][0]["content"]
    assert "Ada currently feels surprised" in system and "Ben currently feels fear" in system
    assert fake_llama_cpp["chat"]["stream"] is True
    backend.close()
    with pytest.raises(RuntimeError, match="closed"):
        backend.next_line(make_context())


def test_local_without_a_model_says_what_to_set(fake_llama_cpp, tmp_path):
    with pytest.raises(RuntimeError, match="EAI_AVATAR_LOCAL_MODEL"):
        create_backend("local")
    with pytest.raises(RuntimeError, match="missing.gguf' does not exist"):
        create_backend("local", model_path=tmp_path / "missing.gguf")


@pytest.mark.skipif(HAS_LLAMA_CPP, reason="llama-cpp-python is installed")
def test_local_without_llama_cpp_says_what_to_install():
    with pytest.raises(RuntimeError, match="pip install llama-cpp-python"):
        create_backend("local")


@pytest.mark.slow
# pytest reports the nearest mark first: the missing package, then the missing model.
@pytest.mark.skipif(not os.environ.get("EAI_AVATAR_LOCAL_MODEL"), reason="EAI_AVATAR_LOCAL_MODEL names no GGUF model")
@pytest.mark.skipif(not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
def test_real_smollm2_writes_a_line():
    backend = create_backend("local", topic="the weather", seed=1)
    try:
        line = backend.next_line(make_context())
    finally:
        backend.close()
    assert line.speaker == "ben" and line.text and "\n" not in line.text
