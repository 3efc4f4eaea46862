"""One conversation's turn pipeline (DESIGN.md section 3), on the models of an engine bundle.

    TurnRequest ─> EmotionRecognizer C ─> ITT round (speak + listen node) ─> Q per role     (plan_turn)
                ─> TTS or the client's audio ─> TurnPlan
    TurnPlan ─> per chunk of ~0.5 s:                                                       (turn_chunks)
                 speaker: Audio2Exp(audio, Q(speak))      listener: LEED[listener][Q(listen)]
                 both: CRHMG masks ─> pose from the mask ─> face rig E_t ─> renderer (one batch) ─> AvatarFrame

`Models` holds what every session shares (loaded once per server); `Conversation` holds one session's tree, head
mask streams, listening streams and clock. Every random choice draws from the session's seed, so a session
replays exactly. Nothing here blocks on the network or on a client: the server paces and sends what it yields.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.audio.resample import resample
from eai_avatar.runtime.bundle import Bundle, Identity
from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree, propagate
from eai_avatar.runtime.models.audio2exp import ExpressionGenerator, emotion_vector, engine_expression_generator
from eai_avatar.runtime.models.crhmg_onnx import engine_head_mask_generator
from eai_avatar.runtime.models.head_masks import DEFAULT_EPS, HeadMaskGenerator, MaskStreamState
from eai_avatar.runtime.models.leed import ListenerExpressionStream, ListeningDictionary
from eai_avatar.runtime.pipeline.frames import AudioPiece, AvatarFrame, TurnPlan, TurnRequest, TurnSummary
from eai_avatar.runtime.rig import FaceRig, MaskReference, RigParams, RigState, estimate_pose_from_mask
from eai_avatar.runtime.rig.motion_image import draw_motion_image
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.vocabulary import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

EMPTY_IMAGE = np.zeros((0, 0, 4), np.uint8)
CHUNK_FRAMES = 12  # about half a second at 25 fps: the first frames leave early, the renderer still batches
FIRST_CHUNK_FRAMES = 3  # a turn's first chunk is short so its first frame leaves sooner
MAX_TEXT = 2000


class Models:
    """The bundle's models, loaded once and shared by every session (all of them are stateless per call)."""

    def __init__(self, bundle: Bundle, threads: int | None = None, recognizer=None, tts=None):
        self.bundle = bundle
        options = {"threads": threads} if threads else {}
        self.head_masks: HeadMaskGenerator = engine_head_mask_generator(
            bundle.engine("crhmg_encoder", **options), bundle.engine("crhmg_generator", **options)
        )
        self.expressions: ExpressionGenerator = engine_expression_generator(bundle.engine("audio2exp", **options))
        self.leed = ListeningDictionary.load(bundle.path("leed"))
        self.renderer = bundle.engine("renderer", **options)
        self.image_size = next(s.shape[-1] for s in self.renderer.input_spec() if s.name == "control")
        self._recognizer, self._tts = recognizer, tts

    @property
    def recognizer(self):
        """The emotion recognizer C (MiniLM + the bundle's head), created on first use."""
        if self._recognizer is None:
            from eai_avatar.runtime.emotion import EmotionRecognizer

            self._recognizer = EmotionRecognizer(head=self.bundle.path("emotion_head"))
        return self._recognizer

    @property
    def tts(self):
        """The offline TTS (espeak-ng), created on first use; turns that bring their own audio never need it."""
        if self._tts is None:
            from eai_avatar.runtime.tts.espeak import EspeakBackend

            self._tts = EspeakBackend()
        return self._tts


@dataclass
class AvatarState:
    """One avatar across the session: its look, its head-mask stream, its listening face and its frame count."""

    identity: Identity
    rig: FaceRig
    reference: MaskReference
    masks: MaskStreamState
    listening: ListenerExpressionStream
    voice: str
    frames: int = 0


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text must be at most {MAX_TEXT} characters, got {len(text)}")
    return text.strip()


class Conversation:
    """One session: two characters, their tree, and the pipeline state of both avatars.

    Args:
        models: the shared models.
        characters: the two identity names, in session order.
        tree: the session's tree (a new one, or one rebuilt from the store after a restart).
        seed: every random choice of the session.
        voices: TTS voice per character (default: the identity's).
        rendered: the characters whose frames are drawn (a human's side in HUMAN_AGENT mode is not).
        render_images: False skips the renderer (a client that wants only blendshapes and head poses, e.g. a game
            driving its own character); frames then carry an empty image.
    """

    def __init__(self, models: Models, characters: tuple[str, str], tree: InteractiveTalkingTree | None = None,
                 seed: int = 0, voices: dict[str, str] | None = None, rendered: tuple[str, ...] | None = None,
                 chunk_frames: int = CHUNK_FRAMES, render_images: bool = True):  # fmt: skip
        if len(characters) != 2 or characters[0] == characters[1]:
            raise ValueError(f"a conversation has two different characters, got {characters}")
        self.models, self.characters = models, tuple(characters)
        self.tree = tree or InteractiveTalkingTree(self.characters)
        self.rng = np.random.default_rng(seed)
        self.chunk_frames = chunk_frames
        self.render_images = render_images
        self.rendered = tuple(rendered if rendered is not None else characters)
        self.clock_frames = 0  # the session's video clock: frames since its start
        self.avatars = {name: self._avatar(name, (voices or {}).get(name)) for name in characters}

    def _avatar(self, name: str, voice: str | None) -> AvatarState:
        bundle = self.models.bundle
        identity = bundle.identity(name)  # KeyError naming the known identities
        rig = FaceRig(RigParams.load(bundle.root / identity.rig))
        first_mask = np.load(bundle.root / identity.first_mask).astype(np.float32)
        listening = ListenerExpressionStream(self.models.leed, name, "neutral", self.rng)
        return AvatarState(identity, rig, MaskReference.from_mask(first_mask),
                           self.models.head_masks.start(first_mask), listening, voice or identity.voice)  # fmt: skip

    # ------------------------------------------------------------------ planning

    def plan_turn(self, request: TurnRequest, recognized: EmotionEstimate | None = None) -> TurnPlan:
        """Recognize the emotion, grow the tree by one round, and get the turn's audio. Nothing is drawn yet."""
        if request.speaker not in self.characters:
            raise KeyError(f"{request.speaker!r} is not in this conversation ({', '.join(self.characters)})")
        text = _check_text(request.text)
        if recognized is None:
            if request.emotion_override:
                recognized = EmotionEstimate.certain(request.emotion_override)
            else:
                recognized = self.models.recognizer.recognize(text)
        speech = self._speech(request, text)
        speak, listen = self.tree.add_round(request.speaker, text, recognized, source=request.source)
        speak_q, listen_q = propagate(self.tree, speak.id), propagate(self.tree, listen.id)
        frames = max(1, math.ceil(len(speech.samples) / SAMPLES_PER_FRAME))
        return TurnPlan(round=speak.depth, speaker=request.speaker, listener=listen.character,
                        text=text, speaker_recognized=recognized, speaker_accumulated=speak_q,
                        listener_recognized=listen.estimate, listener_accumulated=listen_q,
                        speak_node_id=speak.id, listen_node_id=listen.id, speech=speech,
                        start_ms=self.clock_ms, frames=frames, render_speaker=request.render_speaker)  # fmt: skip

    def _speech(self, request: TurnRequest, text: str) -> SpeechAudio:
        if request.audio is None:
            return self.models.tts.synthesize(text, self.avatars[request.speaker].voice)
        audio = request.audio
        samples = np.asarray(audio.samples)
        if audio.sample_rate != SAMPLE_RATE:
            floats = resample(samples.astype(np.float32) / 32768.0, audio.sample_rate, SAMPLE_RATE)
            samples = np.clip(np.round(floats * 32767.0), -32768, 32767).astype(np.int16)
        if len(samples) < SAMPLES_PER_FRAME:
            raise ValueError(f"a turn's audio must last at least one frame (40 ms), got {len(samples)} samples")
        return SpeechAudio(samples, SAMPLE_RATE, text=text)

    @property
    def clock_ms(self) -> int:
        return self.clock_frames * 1000 // FPS

    # ------------------------------------------------------------------ drawing

    def turn_chunks(self, plan: TurnPlan) -> Iterator[tuple[list[AudioPiece], list[AvatarFrame]]]:
        """The turn's media, chunk by chunk: (audio pieces, frames of every drawn avatar)."""
        samples = plan.speech.samples
        padded = np.zeros(plan.frames * SAMPLES_PER_FRAME, np.int16)
        padded[: len(samples)] = samples
        emotion = emotion_vector(plan.speaker_accumulated.scores)
        speaking = self.models.expressions.whole(padded, SAMPLE_RATE, emotion)  # 0.8 ms per second of audio
        self.avatars[plan.listener].listening.set_emotion(plan.listener_accumulated.label)
        starts = [0, *range(min(FIRST_CHUNK_FRAMES, self.chunk_frames), plan.frames, self.chunk_frames)]
        for start, end in zip(starts, [*starts[1:], plan.frames], strict=True):
            count = end - start
            if count <= 0:
                break
            piece = padded[start * SAMPLES_PER_FRAME : (start + count) * SAMPLES_PER_FRAME]
            audio = [AudioPiece(plan.speaker, self.clock_ms, piece)]
            faces = {plan.speaker: speaking[start : start + count],
                     plan.listener: self.avatars[plan.listener].listening.next(count)}  # fmt: skip
            roles = {plan.speaker: ("speak", plan.speaker_accumulated.label),
                     plan.listener: ("listen", plan.listener_accumulated.label)}  # fmt: skip
            drawn = {n for n in self.rendered if n != plan.speaker or plan.render_speaker}
            yield audio, self._draw(count, faces, roles, drawn)

    def listen_chunk(self, listener: str, emotion: str, frames: int | None = None) -> list[AvatarFrame]:
        """`listener` listening (LEED at `emotion`) while someone outside the tree speaks: a human in
        HUMAN_AGENT mode before their words are known."""
        count = frames or self.chunk_frames
        state = self.avatars[listener]
        state.listening.set_emotion(emotion)
        faces = {listener: state.listening.next(count)}
        return self._draw(count, faces, {listener: ("listen", emotion)}, {listener})

    def _draw(self, count: int, faces: dict[str, np.ndarray], roles: dict[str, tuple[str, str]],
              drawn: set[str]) -> list[AvatarFrame]:  # fmt: skip
        """`count` frames of every avatar in `faces`; only those in `drawn` are rendered, but every avatar's mask
        stream moves on, so a head keeps its motion whether or not it was on screen."""
        size = self.models.image_size
        controls, identities, meta = [], [], []
        for name in self.characters:
            if name not in faces:
                continue
            state = self.avatars[name]
            role, emotion = roles[name]
            masks = self.models.head_masks.next(state.masks, count, DEFAULT_EPS[role], self.rng)
            if name not in drawn:
                continue
            for offset in range(count):
                mask = _upsample(masks[offset], size)
                pose = estimate_pose_from_mask(masks[offset], state.reference)  # moments at 64x64: 14x cheaper
                if self.render_images:
                    motion = draw_motion_image(state.rig, RigState(faces[name][offset], pose), (size, size))
                    controls.append(np.concatenate([mask[None], motion.transpose(2, 0, 1).astype(np.float32) / 255]))
                    identities.append(state.identity.renderer_index)
                meta.append((name, offset, role, emotion, faces[name][offset], pose))
        frames = []
        if not self.render_images:
            for name, offset, role, emotion, weights, pose in meta:
                index = self.clock_frames + offset
                frames.append(AvatarFrame(name, index, index * 1000 // FPS, role, emotion, EMPTY_IMAGE,
                                          np.asarray(weights, np.float32), pose))  # fmt: skip
        elif controls:
            rgba = self.models.renderer.run({"control": np.stack(controls).astype(np.float32),
                                             "identity": np.array(identities, np.int64)})["rgba"]  # fmt: skip
            images = (np.clip(rgba, 0.0, 1.0).transpose(0, 2, 3, 1) * 255.0 + 0.5).astype(np.uint8)
            for image, (name, offset, role, emotion, weights, pose) in zip(images, meta, strict=True):
                index = self.clock_frames + offset
                frames.append(AvatarFrame(name, index, index * 1000 // FPS, role, emotion, image,
                                          np.asarray(weights, np.float32), pose))  # fmt: skip
        for name in faces:
            self.avatars[name].frames = self.clock_frames + count
        self.clock_frames += count
        return frames

    def summary(self, plan: TurnPlan, frames_done: int, interrupted: bool) -> TurnSummary:
        return TurnSummary(plan.round, frames_done, frames_done * 1000 // FPS, interrupted)


def _upsample(mask: np.ndarray, size: int) -> np.ndarray:
    """A CRHMG mask (h, h) in [0, 1] -> (size, size) by bilinear interpolation (the renderer's soft edge)."""
    h = mask.shape[0]
    if h == size:
        return mask.astype(np.float32)
    coords = (np.arange(size, dtype=np.float32) + 0.5) * h / size - 0.5
    low = np.clip(np.floor(coords).astype(int), 0, h - 1)
    high = np.clip(low + 1, 0, h - 1)
    weight = np.clip(coords - low, 0.0, 1.0)
    rows = mask[low] * (1 - weight)[:, None] + mask[high] * weight[:, None]
    return (rows[:, low] * (1 - weight)[None] + rows[:, high] * weight[None]).astype(np.float32)
