"""RuntimeConfig: defaults < file < environment < flags, unknown keys and bad values refused by name."""

import pytest

from eai_avatar.runtime.commands.serve import engine_overrides
from eai_avatar.runtime.config import MODELS, RuntimeConfig


def test_defaults_are_the_cpu_and_the_contracts_limits():
    config = RuntimeConfig.load(env={})
    assert set(config.engines.values()) == {"onnxruntime"} and set(config.engines) == set(MODELS)
    assert config.threads == 2 and config.limits.text_chars == 2000 and config.limits.queued_events == 32
    assert config.server.token is None and config.store.retries == 2


def test_each_source_overrides_the_one_before(tmp_path):
    file = tmp_path / "runtime.toml"
    file.write_text('threads = 4\n[engines]\nrenderer = "tensorrt"\n[limits]\nqueued_events = 8\n'
                    '[store]\npath = "file.db"\nretries = 5\n[server]\nport = 7000\n')  # fmt: skip
    env = {"EAI_AVATAR_THREADS": "3", "EAI_AVATAR_DB": "env.db", "EAI_AVATAR_ENGINE": "onnxruntime-cuda"}
    config = RuntimeConfig.load(file, env=env, overrides={"threads": 1, "server.port": 0, "store.path": None})
    assert config.threads == 1 and config.server.port == 0  # flags win
    assert config.store.path == "env.db" and config.store.retries == 5  # environment over file; file over defaults
    assert set(config.engines.values()) == {"onnxruntime-cuda"}  # EAI_AVATAR_ENGINE names every model...
    env["EAI_AVATAR_ENGINE_RENDERER"] = "tensorrt"  # ...and a model's own variable wins over it
    assert RuntimeConfig.load(file, env=env).engines["renderer"] == "tensorrt"
    assert RuntimeConfig.load(file, env=env).limits.queued_events == 8
    assert RuntimeConfig.load(env={"EAI_AVATAR_CONFIG": str(file)}).threads == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour = 3", "unknown runtime config key 'colour'"),
        ("[limits]\nqueue = 3", "unknown key(s) queue in [limits]"),
        ("[engines]\nrenderer = 'cuda'", "engines.renderer: unknown backend 'cuda'"),
        ("[engines]\nmouth = 'onnxruntime'", "unknown model 'mouth'"),
        ("threads = 0", "threads must be a positive number"),
        ("[limits]\nqueued_events = -1", "queued_events must be a positive number"),
        ("[server]\nport = 70000", "port must be 0..65535"),
        ("[server]\ntls_cert = 'a.pem'", "TLS needs both"),
        ("threads = 'two'", "threads must be int"),
        ("threads = [", "not valid TOML"),
        ("[store]\npath = 'mysql://db/avatars'", "is a mysql:// URL; a store is a SQLite file or a postgresql://"),
        ("[store]\nschema = 'Avatars'", "schema 'Avatars' must be a lower-case name"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path, text, message):
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        RuntimeConfig.load(file, env={})


def test_a_token_comes_from_a_file_or_the_environment_and_is_never_empty(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    assert RuntimeConfig.load(env={"EAI_AVATAR_TOKEN_FILE": str(token_file)}).server.token == "s3cret"
    assert RuntimeConfig.load(env={"EAI_AVATAR_TOKEN": "abc"}).server.token == "abc"
    assert "s3cret" not in repr(RuntimeConfig.load(env={"EAI_AVATAR_TOKEN": "s3cret"}))  # never in logs
    for env, message in (
        ({"EAI_AVATAR_TOKEN": ""}, "set but empty"),
        ({"EAI_AVATAR_TOKEN_FILE": "/nowhere"}, "not found"),
    ):
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            RuntimeConfig.load(env=env)
    with pytest.raises(ValueError, match="turn authentication off"):
        RuntimeConfig.load(env={}, overrides={"server.token": " "})


def test_engine_flags():
    assert engine_overrides(["onnxruntime-cuda", "renderer=tensorrt"]) == {
        **{f"engines.{model}": "onnxruntime-cuda" for model in MODELS if model != "renderer"},
        "engines.renderer": "tensorrt",
    }
