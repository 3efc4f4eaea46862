"""Each stage of the turn pipeline on its own, over typed frames, with fake models (no espeak, MiniLM or ONNX)."""

import io

import numpy as np
import pytest
from PIL import Image

from eai_avatar.runtime.errors import InvalidInput, LimitExceeded
from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree
from eai_avatar.runtime.itt.propagation import IncrementalQ
from eai_avatar.runtime.pipeline import AvatarChunk, MediaChunk, OutputSpec, TurnPlan, TurnRequest
from eai_avatar.runtime.pipeline.stages import (
    Encode,
    HeadMasks,
    HeadPoses,
    ListenerFaces,
    MotionImages,
    RecognizeEmotion,
    Render,
    SpeakerFaces,
    Voice,
    check_text,
    output_indices,
)
from eai_avatar.runtime.rig import FaceRig, HeadPose, MaskReference, RigParams
from eai_avatar.runtime.tts.base import SpeechAudio
from tests.runtime.pipeline.fakes import JAW, FakeModels, FakeRecognizer, FakeRenderer, FakeVoice


@pytest.fixture(scope="module")
def models():
    return FakeModels()


def chunk(*avatars, count=4, first=0):
    return MediaChunk(first, count, [AvatarChunk(name, role, emotion, first, count) for name, role, emotion in avatars])


def plan_for(speech: SpeechAudio, speaker="ada", listener="bo", render_speaker=True) -> TurnPlan:
    tree = InteractiveTalkingTree([speaker, listener])
    speak, listen = tree.add_round(speaker, "hi", EmotionEstimate.certain("happy"))
    q = IncrementalQ.of_tree(tree)
    frames = -(-len(speech.samples) // 640)
    return TurnPlan(1, speaker, listener, "hi", speak.estimate, q.get(1), listen.estimate, q.get(2), 1, 2, speech, 0,
                    frames, render_speaker)  # fmt: skip


# ---------------------------------------------------------------- planning


def test_recognize_takes_an_override_and_never_guesses_unknown_words():
    recognizer = FakeRecognizer()
    stage = RecognizeEmotion(lambda: recognizer)
    assert stage.process(TurnRequest("ada", "sad news"), "sad news").label == "sad"
    assert stage.process(TurnRequest("ada", "sad news", emotion_override="angry"), "sad news").confidence == 1.0
    unknown = stage.process(TurnRequest("ada", "(voice line)", transcript_known=False), "(voice line)")
    assert (unknown.label, unknown.confidence) == ("neutral", pytest.approx(0.3))
    assert recognizer.calls == ["sad news"]  # the placeholder text was never recognized
    with pytest.raises(InvalidInput, match="furious"):
        stage.process(TurnRequest("ada", "x", emotion_override="furious"), "x")


def test_voice_uses_tts_or_the_clients_audio_at_16_khz():
    tts = FakeVoice()
    stage = Voice(lambda: tts, {"ada": "fake-1", "bo": "fake-2"})
    spoken = stage.process(TurnRequest("bo", "hello"), "hello")
    assert tts.calls == [("hello", "fake-2")] and len(spoken.samples) == int(0.07 * 16000 * 5)
    line = (np.ones(44100) * 1000).astype(np.int16)
    own = stage.process(TurnRequest("ada", "x", audio=SpeechAudio(line, 44100)), "x")
    assert own.sample_rate == 16000 and len(own.samples) == 16000 and len(tts.calls) == 1
    with pytest.raises(InvalidInput, match="at least one frame"):
        stage.process(TurnRequest("ada", "x", audio=SpeechAudio(np.zeros(100, np.int16), 16000)), "x")


def test_text_checks():
    assert check_text("  hi ") == "hi"
    with pytest.raises(InvalidInput, match="empty"):
        check_text("   ")
    with pytest.raises(LimitExceeded, match="at most 5"):
        check_text("toolong", limit=5)
    with pytest.raises(InvalidInput, match="NUL"):
        check_text("a\x00b")


# ---------------------------------------------------------------- faces


def test_speaker_faces_follow_the_audio_and_fill_only_the_speaker(models):
    tone = (np.sin(np.arange(8 * 640) * 0.08) * 8000).astype(np.int16)
    speech = SpeechAudio(np.concatenate([np.zeros(4 * 640, np.int16), tone]), 16000)
    stage = SpeakerFaces(models.expressions)
    stage.begin_turn(plan_for(speech))
    stage.add_speech(speech.samples, 12)
    first = chunk(("ada", "speak", "happy"), ("bo", "listen", "happy"), count=6)
    stage.process(first)
    rest = chunk(("ada", "speak", "happy"), ("bo", "listen", "happy"), count=10, first=6)
    stage.process(rest)
    jaw = np.concatenate([first.avatars[0].blendshapes[:, JAW], rest.avatars[0].blendshapes[:, JAW]])
    assert jaw[:3].max() < 0.1 and jaw[6:11].min() > 0.5  # silent, then talking
    assert np.all(jaw[12:] == 0)  # past the end of the voice the mouth rests
    assert first.avatars[1].blendshapes is None  # the listener is another stage's


def test_speaker_faces_stream_a_live_voice_as_it_arrives(models):
    stage = SpeakerFaces(models.expressions)
    stage.listen_live("ada")
    tone = (np.sin(np.arange(16000) * 0.08) * 8000).astype(np.int16)
    ready = [stage.feed(tone[i : i + 800]) for i in range(0, 16000, 800)]
    assert ready == sorted(ready) and 0 < ready[-1] < 25  # lagging by the receptive field
    assert stage.feed(np.zeros(0, np.int16), final=True) == 25


def test_listener_faces_blend_to_each_listeners_emotion(models):
    stage = ListenerFaces(models.leed, ("ada", "bo"), np.random.default_rng(0))
    calm = chunk(("bo", "listen", "neutral"), ("ada", "speak", "neutral"), count=30)
    stage.process(calm)
    assert calm.avatars[0].blendshapes.shape == (30, 52) and calm.avatars[1].blendshapes is None
    angry = chunk(("bo", "listen", "angry"), count=60)
    stage.process(angry)
    faces = angry.avatars[0].blendshapes
    assert np.abs(faces[-1] - calm.avatars[0].blendshapes[-1]).max() > 0.05  # another face after the blend


# ---------------------------------------------------------------- heads


def test_head_masks_move_every_avatar_drawn_or_not(models):
    first = {name: np.load(models.bundle.root / models.bundle.identity(name).first_mask).astype(np.float32)
             for name in ("ada", "bo")}  # fmt: skip
    stage = HeadMasks(models.head_masks, first, np.random.default_rng(0))
    work = chunk(("ada", "speak", "neutral"), ("bo", "listen", "neutral"), count=5)
    work.avatars[1].drawn = False
    stage.process(work)
    assert all(a.masks.shape == (5, 64, 64) for a in work.avatars)


def test_head_poses_measure_the_mask_and_turn_yaw_and_pitch():
    disc = np.zeros((64, 64), np.float32)
    ys, xs = np.mgrid[:64, :64]
    disc[(xs - 32) ** 2 / 14**2 + (ys - 30) ** 2 / 20**2 < 1] = 1
    stage = HeadPoses({"ada": MaskReference.from_mask(disc), "bo": MaskReference.from_mask(disc)},
                      np.random.default_rng(0))  # fmt: skip
    shifted = np.roll(disc, 6, axis=1)
    work = chunk(("ada", "speak", "neutral"), count=100)
    work.avatars[0].masks = np.stack([shifted] * 100)
    stage.process(work)
    poses = work.avatars[0].poses
    assert all(p.tx == pytest.approx(6 / 64, abs=1e-3) for p in poses)  # position from the mask
    yaws = np.array([p.yaw_deg for p in poses])
    assert np.ptp(yaws) > 1 and np.abs(yaws).max() < 25  # yaw moves, inside the model's limits
    assert max(abs(p.pitch_deg) for p in poses) < 15


# ---------------------------------------------------------------- drawing and output


def test_motion_images_and_render_batch_the_drawn_avatars(models):
    rigs = {
        name: FaceRig(RigParams.load(models.bundle.root / models.bundle.identity(name).rig)) for name in ("ada", "bo")
    }
    work = chunk(("ada", "speak", "happy"), ("bo", "listen", "happy"), count=3)
    for avatar in work.avatars:
        avatar.blendshapes = np.zeros((3, 52), np.float32)
        avatar.masks = np.ones((3, 64, 64), np.float32) * (0.25 if avatar.avatar == "ada" else 0.5)
        avatar.poses = [HeadPose()] * 3
    work.avatars[1].drawn = False
    MotionImages(rigs, 64).process(work)
    assert work.avatars[0].controls.shape == (3, 4, 64, 64) and work.avatars[1].controls is None
    assert work.avatars[0].controls[:, 1:].max() > 0  # E_t has lines
    renderer = FakeRenderer(64)
    Render(renderer, {"ada": 0, "bo": 1}).process(work)
    assert renderer.batches == [3] and work.avatars[1].rgba is None
    small = FakeRenderer(64)
    Render(small, {"ada": 0, "bo": 1}, max_batch=2).process(work)
    assert small.batches == [2, 1]
    assert work.avatars[0].rgba.shape == (3, 64, 64, 4) and work.avatars[0].rgba[0, 0, 0, 0] == 16  # 0.25 / 4


@pytest.mark.parametrize("fps", [10, 25, 60])
def test_encode_at_any_rate_without_gaps(fps):
    spec = OutputSpec(image_encoding="png", width=32, height=32, fps=fps, include_head_pose=False)
    stage, frames = Encode(spec), []
    for start in range(0, 50, 7):
        count = min(7, 50 - start)
        work = chunk(("ada", "speak", "happy"), count=count, first=start)
        avatar = work.avatars[0]
        avatar.rgba = np.full((count, 64, 64, 4), 200, np.uint8)
        avatar.blendshapes = np.zeros((count, 52), np.float32)
        avatar.poses = [HeadPose()] * count
        stage.process(work)
        frames += work.frames
    assert [f.index for f in frames] == list(range(len(frames))) and len(frames) == 50 * fps // 25
    assert all(f.presentation_ms == f.index * 1000 // fps and f.head_pose is None for f in frames)
    image = Image.open(io.BytesIO(frames[0].image))
    assert image.size == (32, 32) and image.mode == "RGBA"
    assert output_indices(24, 60) == range(58, 60)


def test_encode_leaves_out_what_is_off():
    spec = OutputSpec(include_images=False, include_blendshapes=False)
    work = chunk(("ada", "speak", "happy"), ("bo", "listen", "happy"), count=2)
    work.avatars[1].drawn = False
    for avatar in work.avatars:
        avatar.blendshapes = np.zeros((2, 52), np.float32)
        avatar.poses = [HeadPose()] * 2
    Encode(spec).process(work)
    assert [(f.avatar, f.image, f.blendshapes) for f in work.frames] == [("ada", b"", None)] * 2


def test_upsample_gives_the_plain_bilinear_formulas_values_bit_for_bit():
    from eai_avatar.runtime.pipeline.stages import upsample

    def plain(mask, size):  # the formula as first written: every output row, then every output column
        h = mask.shape[0]
        coords = (np.arange(size, dtype=np.float32) + 0.5) * h / size - 0.5
        low = np.clip(np.floor(coords).astype(int), 0, h - 1)
        high = np.clip(low + 1, 0, h - 1)
        weight = np.clip(coords - low, 0.0, 1.0)
        rows = mask[low] * (1 - weight)[:, None] + mask[high] * weight[:, None]
        return (rows[:, low] * (1 - weight)[None] + rows[:, high] * weight[None]).astype(np.float32)

    rng = np.random.default_rng(3)
    for h, size in ((64, 256), (64, 128), (32, 256)):
        for dtype in (np.float32, np.float16):
            mask = rng.random((h, h)).astype(dtype)
            assert upsample(mask, size).tobytes() == plain(mask, size).tobytes()
    same = rng.random((64, 64)).astype(np.float32)
    assert upsample(same, 64).tobytes() == same.tobytes()
