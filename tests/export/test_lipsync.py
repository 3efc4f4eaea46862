"""`eai-avatar eval lipsync`: the metrics on hand-made curves with known answers, the speech-folder reader's errors,
and one run of the command on a tiny espeak-ng folder with the shipped bundle. Here rather than in audio2exp/, whose
fixtures need torch: this evaluation does not."""

import json
import wave

import numpy as np
import pytest

from eai_avatar.export.audio2exp.lipsync import (
    LIPS_TOUCH_OPENING,
    VISEME_PHONEME,
    Phone,
    inner_lip_opening,
    is_reduced_or_h,
    lipsync_metrics,
    open_vowel_indicator,
    read_speech_utterance,
    runtime_voice_line_faces,
    speech_folder_wavs,
    viseme_baseline_faces,
)
from eai_avatar.runtime.motion.visemes import VISEME_TARGETS, VISEMES, viseme_for
from eai_avatar.runtime.rig.face_rig import FaceRig
from eai_avatar.vocabulary import BLENDSHAPE_INDEX, SAMPLE_RATE

JAW = BLENDSHAPE_INDEX["jawOpen"]


def pose(weights: dict[str, float]) -> np.ndarray:
    vector = np.zeros(52, np.float32)
    for name, value in weights.items():
        vector[BLENDSHAPE_INDEX[name]] = value
    return vector


def curves(frames: int, jaw: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros((frames, 52), np.float32)
    if jaw is not None:
        out[:, JAW] = jaw
    return out


# ------------------------------------------------------------------------------------------------ lips touch


def test_the_rig_opening_closes_rest_and_pp_and_opens_everything_else():
    assert inner_lip_opening(pose({})) == pytest.approx(0.008, abs=1e-6)
    assert inner_lip_opening(pose(VISEME_TARGETS["PP"])) <= LIPS_TOUCH_OPENING
    for viseme in ("FF", "SS", "DD", "aa", "E", "O"):
        assert inner_lip_opening(pose(VISEME_TARGETS[viseme])) > 3 * LIPS_TOUCH_OPENING, viseme
    assert inner_lip_opening(pose(VISEME_TARGETS["aa"])) > 0.25


def test_the_opening_is_the_rigs_own_landmarks():
    """The linear shortcut equals the gap between the landmarks FaceRig computes, for any weights."""
    rig = FaceRig()
    weights = np.random.default_rng(0).uniform(0, 0.7, size=(6, 52)).astype(np.float32)
    weights[:, [BLENDSHAPE_INDEX["jawLeft"], BLENDSHAPE_INDEX["jawRight"]]] = 0  # they slide the lower lip sideways
    for w in weights:
        inner = rig.contour("lips_inner", rig.landmarks(w))
        upper, lower = inner[1:6], inner[7:][::-1]
        assert np.allclose(upper[:, 0], lower[:, 0], atol=1e-5)
        assert inner_lip_opening(w) == pytest.approx(float((lower[:, 1] - upper[:, 1]).max()), abs=1e-5)
    assert inner_lip_opening(weights).shape == (6,)


# ------------------------------------------------------------------------------------------------ metrics

# 0.0-0.2 pause, p 0.2-0.28 (frames 5, 6), aa 0.28-0.52 (frames 7..12), b 0.52-0.6 (frames 13, 14),
# schwa 0.6-0.68 (frames 15, 16), m 0.68-0.76 (frames 17, 18), h 0.76-0.84, E 0.84-1.0 (frames 21..24).
PHONES = [
    Phone("_", 0.0, 0.2, "sil"),
    Phone("p", 0.2, 0.28, "PP"),
    Phone("A:", 0.28, 0.52, "aa"),
    Phone("b", 0.52, 0.6, "PP"),
    Phone("@", 0.6, 0.68, "E"),
    Phone("m", 0.68, 0.76, "PP"),
    Phone("h", 0.76, 0.84, "E"),
    Phone("E", 0.84, 1.0, "E"),
]


def test_a_closure_counts_only_when_a_frame_overlapping_the_segment_touches():
    faces = curves(25)
    faces[:] = pose({"jawOpen": 0.3})  # open everywhere ...
    faces[6] = pose(VISEME_TARGETS["PP"])  # ... but p closes in its second frame
    faces[12] = pose({})  # b: closed in the frame just before it (ends at 0.52 = its start): does not count
    faces[18] = pose({"jawOpen": 0.02})  # m: nearly closed, with a gap of 0.008 + 0.45 * 0.02 = 0.017: open
    metrics = lipsync_metrics([(faces, PHONES)])
    assert metrics["bilabial_segments"] == 3
    assert metrics["bilabial_segments_closed"] == 1
    assert metrics["bilabial_closure_rate"] == pytest.approx(1 / 3)
    faces[13] = pose({})  # now b closes in its own first frame
    assert lipsync_metrics([(faces, PHONES)])["bilabial_segments_closed"] == 2


def test_open_vowels_leave_out_schwa_and_h_and_the_jaw_means_are_by_frame_centre():
    indicator = open_vowel_indicator(PHONES, 25)
    assert np.flatnonzero(indicator).tolist() == [7, 8, 9, 10, 11, 12, 21, 22, 23, 24]
    assert is_reduced_or_h("@") and is_reduced_or_h("'@L") and is_reduced_or_h("AX") and is_reduced_or_h("HH")
    assert not is_reduced_or_h("E") and not is_reduced_or_h("3:") and not is_reduced_or_h("aa")
    jaw = np.zeros(25)
    jaw[indicator] = 0.6
    jaw[[5, 6, 13, 14, 17, 18]] = 0.1  # bilabial frames
    jaw[[15, 16, 19, 20]] = 0.9  # schwa and h: must not count as open vowels
    metrics = lipsync_metrics([(curves(25, jaw), PHONES)])
    assert metrics["jaw_open_in_open_vowels_mean"] == pytest.approx(0.6)
    assert metrics["open_vowel_frames"] == 10 and metrics["open_vowel_segments"] == 2
    assert metrics["jaw_open_in_bilabials_mean"] == pytest.approx(0.1)
    assert metrics["bilabial_frames"] == 6
    assert metrics["open_vowel_to_bilabial_jaw_ratio"] == pytest.approx(6.0)


@pytest.mark.parametrize("lag", [0, 2, -3, 5])
def test_a_known_lag_gives_that_offset(lag):
    rng = np.random.default_rng(1)
    phones, cursor = [], 0.0
    for _ in range(30):  # alternating open vowels and consonants of random lengths
        for viseme in ("aa", "DD"):
            length = 0.04 * int(rng.integers(2, 6))
            phones.append(Phone("a" if viseme == "aa" else "d", cursor, cursor + length, viseme))
            cursor += length
    frames = int(round(cursor * 25))
    indicator = open_vowel_indicator(phones, frames).astype(float)
    jaw = np.zeros(frames)
    if lag >= 0:
        jaw[lag:] = indicator[: frames - lag]  # the mouth opens `lag` frames after the vowel starts: late
    else:
        jaw[:lag] = indicator[-lag:]
    metrics = lipsync_metrics([(curves(frames, 0.5 * jaw), phones)])
    assert metrics["offset_frames"] == lag
    assert metrics["correlation_at_offset"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["correlation_frames"] == frames
    if lag:
        assert metrics["jaw_open_open_vowel_r"] < 0.9


def test_pauses_are_long_sil_segments_trimmed_at_the_edges():
    # A 0.32 s pause (frames 0..7; centres 0.06..0.26 are 40 ms inside), a 0.08 s one (too short), speech between.
    phones = [Phone("_", 0.0, 0.32, "sil"), Phone("a", 0.32, 0.6, "aa"), Phone("_", 0.6, 0.68, "sil"),
              Phone("a", 0.68, 0.8, "aa")]  # fmt: skip
    jaw = np.full(20, 0.5)
    jaw[1:7] = 0.1  # the trimmed inside of the long pause
    jaw[15:17] = 0.9  # the short pause: ignored
    metrics = lipsync_metrics([(curves(20, jaw), phones)])
    assert metrics["jaw_open_in_pauses_mean"] == pytest.approx(0.1)
    assert metrics["pause_frames"] == 6 and metrics["pause_segments"] == 1


def test_nothing_to_measure_gives_none_not_a_crash():
    metrics = lipsync_metrics([(curves(10), [Phone("s", 0.0, 0.4, "SS")])])
    assert metrics["bilabial_closure_rate"] is None and metrics["bilabial_segments"] == 0
    assert metrics["jaw_open_in_open_vowels_mean"] is None and metrics["open_vowel_to_bilabial_jaw_ratio"] is None
    assert metrics["jaw_open_open_vowel_r"] is None and metrics["offset_frames"] is None
    assert metrics["jaw_open_in_pauses_mean"] is None


def test_the_viseme_baseline_closes_every_bilabial():
    assert {viseme: viseme_for(phoneme) for viseme, phoneme in VISEME_PHONEME.items()} == {v: v for v in VISEMES}
    faces = viseme_baseline_faces(PHONES, 25)
    metrics = lipsync_metrics([(faces, PHONES)])
    assert metrics["bilabial_closure_rate"] == 1.0
    assert metrics["jaw_open_in_open_vowels_mean"] > 0.3 > 0.05 > metrics["jaw_open_in_bilabials_mean"]


# ------------------------------------------------------------------------------------------------ the reader


def write_wav(path, samples, rate=SAMPLE_RATE):
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.asarray(samples, "<i2").tobytes())


def write_utterance(folder, name, meta, rate=SAMPLE_RATE, seconds=0.5):
    folder.mkdir(parents=True, exist_ok=True)
    write_wav(folder / f"{name}.wav", np.zeros(int(rate * seconds), np.int16), rate)
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (folder / f"{name}.json").write_text(text, encoding="utf-8")
    return folder / f"{name}.wav"


GOOD = {"text": "up", "voice": "festival:kdlpc16k", "phone_set": "radio",
        "phones": [{"phone": "pau", "start": 0.0, "end": 0.2, "viseme": "sil"},
                   {"phone": "ah", "start": 0.2, "end": 0.3, "viseme": "aa"},
                   {"phone": "p", "start": 0.3, "end": 0.38, "viseme": "PP"}]}  # fmt: skip


def test_the_reader_reads_the_format_and_resamples(tmp_path):
    utterance = read_speech_utterance(write_utterance(tmp_path, "a", GOOD, rate=22_050))
    assert utterance.utterance_id == "a" and utterance.voice == "festival:kdlpc16k"
    assert utterance.phone_set == "radio" and utterance.text == "up"
    assert len(utterance.samples) == SAMPLE_RATE // 2 and utterance.samples.dtype == np.int16
    assert utterance.phones[2] == Phone("p", 0.3, 0.38, "PP")


def test_the_readers_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no such speech folder"):
        speech_folder_wavs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no <id>.wav"):
        speech_folder_wavs(tmp_path / "empty")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    write_wav(lonely / "x.wav", np.zeros(100, np.int16))
    with pytest.raises(ValueError, match="without their json: x.wav"):
        speech_folder_wavs(lonely)
    with pytest.raises(ValueError, match="has no x.json"):
        read_speech_utterance(lonely / "x.wav")
    cases = {
        "broken": ("{not json", "not valid JSON"),
        "list": ([1, 2], "expected an object"),
        "no_voice": ({**GOOD, "voice": None}, "'voice' must be a string"),
        "no_phones": ({**GOOD, "phones": []}, "non-empty list"),
        "viseme": ({**GOOD, "phones": [{"phone": "p", "start": 0, "end": 0.1, "viseme": "P"}]}, "unknown viseme 'P'"),
        "backwards": ({**GOOD, "phones": [{"phone": "p", "start": 0.2, "end": 0.1, "viseme": "PP"}]}, "start <= end"),
        "text_time": ({**GOOD, "phones": [{"phone": "p", "start": "0", "end": 0.1, "viseme": "PP"}]}, "finite"),
        "reserved": ({**GOOD, "voice": "flite:cmu_us_slt"}, "reserved"),
    }
    for name, (meta, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            read_speech_utterance(write_utterance(tmp_path / "bad", name, meta))


# ------------------------------------------------------------------------------------------------ the command


@pytest.fixture(scope="module")
def shipped_generator():
    pytest.importorskip("onnxruntime")
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.models.audio2exp import engine_expression_generator

    return engine_expression_generator(Bundle(default_bundle_path()).engine("audio2exp"))


def test_the_runtime_way_equals_the_whole_utterance(shipped_generator):
    """Streamed in the runtime's chunks, the faces are those of SpeakerFaces.add_speech (whole, padded audio)."""
    rng = np.random.default_rng(2)
    samples = (rng.standard_normal(SAMPLE_RATE + 123) * 2000).astype(np.int16)
    faces = runtime_voice_line_faces(shipped_generator, samples)
    frames = -(-len(samples) // 640)
    padded = np.zeros(frames * 640, np.int16)
    padded[: len(samples)] = samples
    assert faces.shape == (frames, 52)
    assert np.allclose(faces, shipped_generator.whole(padded, SAMPLE_RATE, "neutral"), atol=1e-5)


@pytest.fixture(scope="module")
def espeak_folder(tmp_path_factory):
    pytest.importorskip("espeakng_loader", reason="the folder is spoken by espeak-ng")
    from tests.export.speech_folders import espeak_speech_folder

    lines = [("My brother bought a map.", "en-us"), ("Please pass me the bread.", "en-us"),
             ("My brother bought a map.", "de"), ("Maybe both of them will come.", "de")]  # fmt: skip
    return espeak_speech_folder(tmp_path_factory.mktemp("lipsync") / "speech", lines)


def test_eval_lipsync_on_a_tiny_espeak_folder(espeak_folder, shipped_generator, tmp_path, capsys):
    from eai_avatar.cli import main

    meta = json.loads((espeak_folder / "002-de.json").read_text(encoding="utf-8"))
    assert meta["voice"] == "espeak:de" and meta["phones"][0]["viseme"] == "sil"
    assert not any(p["phone"].startswith("(") for p in meta["phones"])  # espeak's language marks are not phones
    markdown = tmp_path / "report.md"
    assert main(["eval", "lipsync", "--speech", str(espeak_folder), "--json", "--markdown", str(markdown)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["voices"]) == ["espeak:de", "espeak:en-us"]
    assert report["settings"]["first_chunk_frames"] == 3 and report["settings"]["emotion"] == "neutral"
    overall = report["overall"]
    for path in ("model", "baseline"):
        voices = [report["voices"][v][path] for v in report["voices"]]
        assert overall[path]["utterances"] == 4 == sum(v["utterances"] for v in voices)
        for count in ("bilabial_segments", "frames", "open_vowel_frames", "pause_frames"):
            assert overall[path][count] == sum(v[count] for v in voices) > 0, (path, count)
        assert -5 <= overall[path]["offset_frames"] <= 5
    # Both paths score the same frames of the same utterances.
    for count in ("frames", "bilabial_segments", "open_vowel_frames", "bilabial_frames", "pause_frames"):
        assert overall["model"][count] == overall["baseline"][count]
    assert overall["model"]["bilabial_segments"] >= 12  # p b m in every line
    baseline = overall["baseline"]
    assert baseline["bilabial_closure_rate"] >= 0.95  # the viseme path closes bilabials by construction
    assert baseline["jaw_open_open_vowel_r"] > 0.4
    assert baseline["jaw_open_in_pauses_mean"] < 0.02
    model = overall["model"]
    assert model["jaw_open_in_open_vowels_mean"] > model["jaw_open_in_bilabials_mean"]  # a sanity bound, not the figure
    table = markdown.read_text(encoding="utf-8")
    assert "| espeak:de | Audio2Exp | 2 |" in table and "| overall | viseme baseline | 4 | 1.000 (" in table
    assert sum(line.startswith("|") for line in table.splitlines()) == 2 + 2 * 3  # header, rule, 2 rows each


def test_eval_lipsync_refuses_an_empty_folder_clearly(tmp_path, capsys):
    from eai_avatar.cli import main

    assert main(["eval", "lipsync", "--speech", str(tmp_path)]) == 2
    assert "holds no <id>.wav utterances" in capsys.readouterr().err
