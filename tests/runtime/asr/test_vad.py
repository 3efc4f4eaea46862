"""The streaming voice activity detector: onsets against espeak's own phoneme timings, noise that must not count as
speech, and the same events however the audio is split."""

import numpy as np
import pytest

from eai_avatar.runtime.asr.vad import VadEvent, VoiceActivityDetector

RATE = 16_000


def noise(kind: str, seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """Float noise at `dbfs` RMS (int16 scale): white hiss, pink (a fan) or a 60 Hz hum with harmonics."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    if kind == "white":
        x = rng.normal(size=n)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.normal(size=n))
        f = np.arange(len(spectrum), dtype=float)
        f[0] = 1.0
        x = np.fft.irfft(spectrum / np.sqrt(f), n)
    elif kind == "hum":
        t = np.arange(n) / RATE
        x = sum(a * np.sin(2 * np.pi * 60 * k * t + k) for k, a in ((1, 1.0), (2, 0.6), (3, 0.4), (4, 0.2)))
    else:
        raise ValueError(kind)
    return x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20) * 32768


def pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def events(vad: VoiceActivityDetector, audio: np.ndarray, chunk: int) -> list[tuple[VadEvent, int]]:
    """Each event with the number of samples pushed when it came out."""
    out = []
    for start in range(0, len(audio), chunk):
        piece = audio[start : start + chunk]
        out += [(e, start + len(piece)) for e in vad.push(piece)]
    return out


@pytest.fixture(scope="module")
def espeak():
    pytest.importorskip("espeakng_loader", reason="espeak-ng (espeakng-loader) speaks the test sentences")
    from eai_avatar.runtime.tts.espeak import EspeakBackend

    return EspeakBackend()


LINES = (
    ("Sure, I can help you with that.", "en-us"),
    ("Five apples and a loaf of bread.", "en-gb-x-rp+m5"),
    ("Hello, is anybody there?", "en-us+f3"),
    ("We could try the other door instead.", "en+klatt4"),
)


@pytest.mark.parametrize("kind, snr_db", [("white", 40), ("white", 20), ("white", 12), ("pink", 15), ("hum", 15)])
def test_onset_and_end_of_espeak_speech_in_noise(espeak, kind, snr_db):
    """One start within 150 ms of the first phoneme (espeak's own timing), reported within 300 ms of it while
    the audio streams in 20 ms chunks, and one end near the last phoneme, at every noise level."""
    errors, latencies = [], []
    for i, (text, voice) in enumerate(LINES):
        speech = espeak.synthesize(text, voice)
        spoken = [p for p in speech.phonemes if p.phoneme != "_"]
        onset = 1.0 + spoken[0].start_s
        offset = 1.0 + spoken[-1].end_s
        x = speech.samples.astype(np.float64)
        level = 20 * np.log10(np.sqrt(np.mean(x[x != 0] ** 2)) / 32768)
        audio = np.concatenate([np.zeros(RATE), x, np.zeros(RATE)])
        audio = pcm(audio + noise(kind, len(audio) / RATE, level - snr_db, seed=i))
        found = events(VoiceActivityDetector(), audio, chunk=RATE // 50)
        assert [e.kind for e, _ in found] == ["start", "end"], (text, voice, found)
        (start, pushed), (end, _) = found
        errors.append(start.sample / RATE - onset)
        latencies.append(pushed / RATE - onset)
        assert abs(errors[-1]) <= 0.15, (text, voice, errors[-1])
        assert latencies[-1] <= 0.30, (text, voice, latencies[-1])
        assert -0.15 <= end.sample / RATE - offset <= 0.15, (text, voice, end.sample / RATE - offset)
    assert np.median(latencies) <= 0.2


@pytest.mark.parametrize("kind", ["white", "pink", "hum"])
@pytest.mark.parametrize("dbfs", [-60, -40, -25])
def test_steady_background_is_never_speech(kind, dbfs):
    vad = VoiceActivityDetector()
    assert vad.push(pcm(noise(kind, 4.0, dbfs))) == []
    assert not vad.in_speech
    assert vad.noise_floor_db is not None and vad.noise_floor_db > -100


def test_silence_and_clicks_are_never_speech():
    clicks = np.zeros(3 * RATE)
    clicks[:: RATE // 4] = 20000.0  # one-sample clicks, four a second
    for audio in (np.zeros(3 * RATE), clicks, np.random.default_rng(1).integers(-2, 3, 3 * RATE)):
        assert VoiceActivityDetector().push(pcm(audio)) == []


def test_a_hum_switched_on_ends_as_speech_within_a_second_and_a_half():
    """A hum is voiced and new, so it may start speech; a level steady for a second is then taken as background."""
    audio = noise("white", 6.0, -70)
    audio[3 * RATE :] += noise("hum", 3.0, -30)
    found = events(VoiceActivityDetector(), pcm(audio), chunk=RATE // 50)
    assert [e.kind for e, _ in found] in ([], ["start", "end"])
    if found:
        assert found[1][1] - found[0][1] <= 1.5 * RATE


def test_a_pause_shorter_than_end_silence_does_not_end_speech(espeak):
    first = espeak.synthesize("Sure, I can help you with that.", "en-us").samples
    second = espeak.synthesize("We could try the other door instead.", "en-us").samples
    gap = np.zeros(round(0.3 * RATE), np.int16)
    audio = np.concatenate([np.zeros(RATE // 2, np.int16), first, gap, second, np.zeros(RATE, np.int16)])
    assert [e.kind for e in VoiceActivityDetector().push(audio)] == ["start", "end"]
    assert [e.kind for e in VoiceActivityDetector(end_silence_ms=200).push(audio)] == ["start", "end", "start", "end"]
    # The end's sample is where the silence began; the event comes end_silence_ms later.
    vad = VoiceActivityDetector(end_silence_ms=200)
    found = events(vad, audio, chunk=RATE // 50)
    end, pushed = found[1]
    assert 0.2 <= (pushed - end.sample) / RATE <= 0.26


def test_the_same_events_however_the_audio_is_split(espeak):
    rng = np.random.default_rng(3)
    parts = []
    for text, voice in LINES[:3]:
        parts += [np.zeros(RATE), espeak.synthesize(text, voice).samples.astype(np.float64)]
    audio = np.concatenate(parts + [np.zeros(RATE)])
    audio = pcm(audio + noise("pink", len(audio) / RATE, -45))
    whole = VoiceActivityDetector().push(audio)
    assert [e.kind for e in whole] == ["start", "end"] * 3
    for _ in range(4):
        vad, split, at = VoiceActivityDetector(), [], 0
        while at < len(audio):
            n = int(rng.integers(1, 4000))
            split += vad.push(audio[at : at + n])
            at += n
        assert split == whole
    assert VoiceActivityDetector().push(audio[:0]) == []


def test_reset_starts_a_new_stream(espeak):
    audio = np.concatenate([np.zeros(RATE // 2, np.int16), espeak.synthesize("Hello there.", "en-us").samples])
    vad = VoiceActivityDetector()
    first = vad.push(audio)
    assert vad.in_speech and [e.kind for e in first] == ["start"]
    assert vad.samples_seen == len(audio)
    vad.reset()
    assert not vad.in_speech and vad.samples_seen == 0 and vad.noise_floor_db is None
    assert vad.push(audio) == first


@pytest.mark.parametrize(
    "bad",
    [np.zeros(10, np.float32), np.zeros((10, 2), np.int16), [0, 1, 2], np.zeros(10, np.int32)],
)
def test_push_takes_int16_mono_only(bad):
    with pytest.raises(ValueError, match="int16"):
        VoiceActivityDetector().push(bad)


@pytest.mark.parametrize(
    "options",
    [
        {"sample_rate": 4000},
        {"sample_rate": 16000.0},
        {"frame_ms": 5},
        {"frame_ms": 100},
        {"end_silence_ms": 0},
        {"start_ms": -1},
        {"preroll_ms": -5},
        {"onset_margin_db": 3, "offset_margin_db": 6},
        {"min_speech_db": 10},
        {"voicing_threshold": 1.5},
        {"noise_adapt_s": float("nan")},
    ],
)
def test_bad_settings_are_value_errors_naming_them(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        VoiceActivityDetector(**options)
