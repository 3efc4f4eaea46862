"""The package's promises: light imports, a working CLI, stubs that match the protos."""

import json
import subprocess
import sys
from pathlib import Path

import eai_avatar
from eai_avatar.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_importing_the_sdk_and_runtime_does_not_import_torch():
    out = _python(
        "import sys, eai_avatar, eai_avatar.v1.service_pb2_grpc, eai_avatar.runtime.server, eai_avatar.cli;"
        "print(sorted(m for m in ('torch', 'diffusers', 'eai_avatar.export') if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_version_and_help(capsys):
    assert eai_avatar.__version__.count(".") == 2
    out = subprocess.run(
        [sys.executable, "-m", "eai_avatar", "--version"], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == f"eai-avatar {eai_avatar.__version__}"
    assert main([]) == 0
    help_text = capsys.readouterr().out
    for name in COMMANDS:
        assert name in help_text


def test_every_listed_command_has_a_working_module():
    import importlib

    leaves = []
    for name, entry in COMMANDS.items():
        targets = entry[1] if isinstance(entry[1], dict) else {None: entry}
        leaves += [(name, target, module_path, summary) for target, (module_path, summary) in targets.items()]
    assert len(leaves) >= len(COMMANDS)
    for name, target, module_path, summary in leaves:
        module = importlib.import_module(module_path)
        assert callable(module.add_arguments) and callable(module.run), (name, target)
        assert summary


def test_info_json_reports_the_contract(capsys):
    assert main(["info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["contract"] == {"version": "v1", "service": "eai_avatar.v1.AvatarService"}
    assert facts["vocabulary"]["blendshapes"] == 52
    assert facts["version"] == eai_avatar.__version__


def test_unknown_command_fails():
    result = subprocess.run([sys.executable, "-m", "eai_avatar", "no-such-command"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_stubs_are_up_to_date_with_the_protos():
    result = subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_all_extra_installs_from_the_public_registry_alone():
    """`pip install '.[all]'` must work on any machine: no package that only NVIDIA's index serves, and not the GPU
    onnxruntime, which would replace the CPU build's module."""
    import runpy
    from unittest import mock

    with mock.patch("setuptools.setup") as setup:
        runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")
    extras = setup.call_args.kwargs["extras_require"]
    names = {requirement.split("=")[0].split(">")[0].split("<")[0].strip() for requirement in extras["all"]}
    assert not names & {"tensorrt", "cuda-python", "onnxruntime-gpu"}
    for extra in ("train", "tts", "voices", "asr", "ingest", "postgres", "dev"):
        assert set(extras[extra]) <= set(extras["all"])
    assert "tensorrt" in " ".join(extras["tensorrt"])
