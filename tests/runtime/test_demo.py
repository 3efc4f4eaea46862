"""The main job: `eai-avatar demo` writes a conversation MP4 with sound, two avatars and changing captions."""

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")
av = pytest.importorskip("av", reason="the demo writes MP4 with PyAV")

from eai_avatar.cli import main  # noqa: E402
from eai_avatar.runtime.demo import CAPTION_HEIGHT, run_demo  # noqa: E402


def test_a_short_demo(tmp_path, capsys):
    out = tmp_path / "conversation.mp4"
    assert main(["demo", "--turns", "6", "--out", str(out), "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and printed.count("ada:") == 3 and printed.count("bo:") == 3
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert audio.rate == 16000 and video.average_rate == 25
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        duration = float(video.duration * video.time_base)
    assert abs(duration - len(frames) / 25) < 0.05 and len(frames) > 100
    height, width = frames[0].shape[:2]
    avatars = frames[len(frames) // 2][: height - CAPTION_HEIGHT]
    left, right = avatars[:, : width // 2], avatars[:, width // 2 :]
    for half in (left, right):  # a character in each half, not an empty panel
        assert half.reshape(-1, 3).std(axis=0).mean() > 20
    assert not np.array_equal(left, right)


def test_captions_follow_the_tree_and_the_interactive_mode(tmp_path):
    report = run_demo(tmp_path / "a.mp4", turns=6, seed=1)
    assert [c.speaker for c in report.captions] == ["ada", "bo"] * 3
    assert len({c.text for c in report.captions}) == 6
    shown = [tuple(sorted(c.emotions.items())) for c in report.captions]
    assert len(set(shown)) > 1  # the emotions the faces show change as the tree accumulates them
    assert sum(c.frames for c in report.captions) == report.frames

    lines = ["Hi Bo, I am back from the trip.", "I brought you a present!"]
    human = run_demo(tmp_path / "b.mp4", seed=2, interactive_lines=lines)
    assert [c.speaker for c in human.captions] == ["ada", "bo", "ada", "bo"]
    assert [c.text for c in human.captions][::2] == lines
    with av.open(str(tmp_path / "b.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first.shape[1] == 256  # only the agent is drawn; the human is you


def test_an_interactive_line_can_be_a_recording_whose_words_are_heard(tmp_path):
    pytest.importorskip("faster_whisper", reason="hearing a recording needs speech recognition ('eai-avatar[asr]')")
    import wave

    from eai_avatar.runtime.tts.espeak import EspeakBackend

    line = "I think we should leave before the rain starts."
    samples = EspeakBackend().synthesize(line, "en-us").samples
    recording = tmp_path / "line.wav"
    with wave.open(str(recording), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.concatenate([np.zeros(8000, np.int16), samples]).astype("<i2").tobytes())
    report = run_demo(tmp_path / "c.mp4", seed=3, interactive_lines=["Hello Bo.", str(recording)])
    assert [c.speaker for c in report.captions if c.listener] == ["ada", "bo", "ada", "bo"]
    heard = [c.text for c in report.captions if c.listener][2]
    assert "rain" in heard.lower() and "leave" in heard.lower()  # the caption is what was recognized
    with pytest.raises(FileNotFoundError, match="no such WAV file"):
        run_demo(tmp_path / "d.mp4", interactive_lines=[str(tmp_path / "missing.wav")])
