"""Typed server events of the Converse stream, and `save_mp4` to turn a stream into a video with sound.

`from_proto(ServerEvent)` gives one of `Header`, `TurnStarted`, `HumanSpeech`, `Frame`, `AudioChunk`,
`TurnEnded`, `Status` or `StreamEnd`, or None for an event this client does not know (a newer server's
addition; the conversation skips it). Enums become lower-case strings ("speak", "jpeg", "warning"), images
become numpy arrays and audio becomes int16 numpy samples, so a caller never touches protobuf.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from eai_avatar import vocabulary
from eai_avatar.v1 import common_pb2, converse_pb2

logger = logging.getLogger(__name__)

_ROLES = {common_pb2.ROLE_UNSPECIFIED: "", common_pb2.ROLE_SPEAK: "speak", common_pb2.ROLE_LISTEN: "listen"}
ENCODINGS: dict[int, str] = {
    common_pb2.IMAGE_ENCODING_UNSPECIFIED: "",
    common_pb2.IMAGE_ENCODING_RAW_RGB: "raw_rgb",
    common_pb2.IMAGE_ENCODING_RAW_RGBA: "raw_rgba",
    common_pb2.IMAGE_ENCODING_JPEG: "jpeg",
    common_pb2.IMAGE_ENCODING_PNG: "png",
}
_STATUS_CODES = {
    common_pb2.Status.CODE_UNSPECIFIED: "",
    common_pb2.Status.CODE_OK: "ok",
    common_pb2.Status.CODE_INFO: "info",
    common_pb2.Status.CODE_WARNING: "warning",
    common_pb2.Status.CODE_ERROR: "error",
}


@dataclass(frozen=True)
class EmotionInfo:
    """An emotion as the recognizer or the propagation Q sees it: one of the 8 labels, its confidence, all scores."""

    label: str
    confidence: float
    distribution: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HeadPose:
    """Rigid head pose in image space: angles in degrees, offsets as fractions of the image, scale 1 = neutral."""

    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    tx: float
    ty: float
    scale: float


@dataclass(frozen=True)
class Header:
    """First event of every stream."""

    session_id: str
    contract_version: str
    fps: int
    sample_rate: int
    width: int
    height: int
    image_encoding: str  # "jpeg", "png", "raw_rgb", "raw_rgba" or "" (server default, JPEG)
    characters: tuple[str, ...]
    rounds_so_far: int
    clock_ms: int = 0  # the session's presentation clock at attach: the next turn starts here


@dataclass(frozen=True)
class TurnStarted:
    """A round begins: who speaks, what, and the emotions of both nodes (None where the server left one unset)."""

    round: int
    speaker: str
    listener: str
    text: str
    speaker_recognized: EmotionInfo | None
    speaker_accumulated: EmotionInfo | None
    listener_recognized: EmotionInfo | None
    listener_accumulated: EmotionInfo | None
    speak_node_id: int
    listen_node_id: int
    start_ms: int


# eq=False: numpy arrays have no single truth value, so field-wise == would raise.
@dataclass(frozen=True, eq=False)
class Frame:
    """One video frame of one avatar. `image` is (H, W, 3) or (H, W, 4) uint8, or None when images are off."""

    avatar: str
    index: int
    presentation_ms: int
    role: str  # "speak", "listen" or ""
    emotion: str
    width: int
    height: int
    image: np.ndarray | None
    blendshapes: dict[str, float] = field(default_factory=dict)
    head_pose: HeadPose | None = None
    encoding: str = ""  # how the image travelled: "jpeg", "png", "raw_rgb", "raw_rgba"


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """A chunk of the speaking avatar's voice: mono int16 samples whose first sample plays at `presentation_ms`."""

    avatar: str
    presentation_ms: int
    samples: np.ndarray
    sample_rate: int

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.samples) / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class HumanSpeech:
    """A human began an utterance: frames from `start_ms` on belong to the round it becomes."""

    round: int
    speaker: str
    start_ms: int
    transcript: str = ""


@dataclass(frozen=True)
class TurnEnded:
    round: int
    frames: int  # frames per avatar in the turn
    duration_ms: int
    interrupted: bool
    spoken_text: str = ""  # of an interrupted turn: the words said before it stopped


@dataclass(frozen=True)
class Status:
    """A status inside the stream: a WARNING or ERROR reports a rejected client event; the stream goes on."""

    code: str  # "ok", "info", "warning", "error" or ""
    message: str
    grpc_code: int  # the matching gRPC status code number, 0 if none
    client_event: int = 0  # the client event it answers, counting from 1 after the attach; 0 if none


@dataclass(frozen=True)
class StreamEnd:
    """Last event of every stream."""

    reason: str


Event = Header | TurnStarted | HumanSpeech | Frame | AudioChunk | TurnEnded | Status | StreamEnd


def _emotion(message: common_pb2.Emotion, present: bool) -> EmotionInfo | None:
    if not present:
        return None
    return EmotionInfo(message.label, float(message.confidence), dict(message.distribution))


def decode_image(data: bytes, encoding: str, width: int, height: int) -> np.ndarray | None:
    """Decode a Frame's image bytes into (H, W, 3|4) uint8; None for an empty image (images switched off).

    `encoding` is one of ENCODINGS' names; "" (unspecified) is told apart by the bytes themselves.
    """
    if not data:
        return None
    if not encoding:
        # The contract makes JPEG the server default; sniff so a frame that left the field unset still decodes.
        if data[:3] == b"\xff\xd8\xff":
            encoding = "jpeg"
        elif data[:8] == b"\x89PNG\r\n\x1a\n":
            encoding = "png"
        elif len(data) == width * height * 3:
            encoding = "raw_rgb"
        elif len(data) == width * height * 4:
            encoding = "raw_rgba"
        else:
            raise ValueError(f"cannot tell the encoding of a {len(data)}-byte image of {width}x{height}")
    if encoding in ("raw_rgb", "raw_rgba"):
        channels = 3 if encoding == "raw_rgb" else 4
        if width <= 0 or height <= 0 or len(data) != width * height * channels:
            raise ValueError(
                f"{encoding} image of {width}x{height} needs {width * height * channels} bytes, got {len(data)}"
            )
        # .copy(): frombuffer over bytes is read-only; callers expect an ordinary array.
        return np.frombuffer(data, dtype=np.uint8).reshape(height, width, channels).copy()
    if encoding in ("jpeg", "png"):
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            has_alpha = "A" in image.getbands() or "transparency" in image.info
            return np.asarray(image.convert("RGBA" if has_alpha else "RGB"), dtype=np.uint8)
    names = ", ".join(name for name in ENCODINGS.values() if name)
    raise ValueError(f"unknown image encoding {encoding!r}; expected one of {names}")


def from_proto(event: converse_pb2.ServerEvent) -> Event | None:
    """Convert a ServerEvent into its typed event; None for an event this client does not know. Raises ValueError
    for an undecodable image or audio."""
    kind = event.WhichOneof("event")
    if kind == "header":
        h = event.header
        return Header(
            session_id=h.session_id,
            contract_version=h.contract_version,
            fps=h.fps,
            sample_rate=h.sample_rate,
            width=h.width,
            height=h.height,
            image_encoding=ENCODINGS.get(h.image_encoding, ""),
            characters=tuple(h.characters),
            rounds_so_far=h.rounds_so_far,
            clock_ms=h.clock_ms,
        )
    if kind == "human_speech":
        m = event.human_speech
        return HumanSpeech(m.round, m.speaker, m.start_ms, m.transcript)
    if kind == "turn_started":
        t = event.turn_started
        return TurnStarted(
            round=t.round,
            speaker=t.speaker,
            listener=t.listener,
            text=t.text,
            speaker_recognized=_emotion(t.speaker_recognized, t.HasField("speaker_recognized")),
            speaker_accumulated=_emotion(t.speaker_accumulated, t.HasField("speaker_accumulated")),
            listener_recognized=_emotion(t.listener_recognized, t.HasField("listener_recognized")),
            listener_accumulated=_emotion(t.listener_accumulated, t.HasField("listener_accumulated")),
            speak_node_id=t.speak_node_id,
            listen_node_id=t.listen_node_id,
            start_ms=t.start_ms,
        )
    if kind == "frame":
        f = event.frame
        encoding = ENCODINGS.get(f.encoding, "")
        pose = None
        if f.HasField("head_pose"):
            p = f.head_pose
            pose = HeadPose(p.yaw_deg, p.pitch_deg, p.roll_deg, p.tx, p.ty, p.scale)
        try:
            image = decode_image(f.image, encoding, f.width, f.height)
        except (ValueError, OSError) as err:  # OSError: Pillow's "cannot identify image file"
            raise ValueError(f"frame {f.index} of {f.avatar!r}: {err}") from err
        return Frame(
            avatar=f.avatar,
            index=f.index,
            presentation_ms=f.presentation_ms,
            role=_ROLES.get(f.role, ""),
            emotion=f.emotion,
            width=f.width,
            height=f.height,
            image=image,
            blendshapes=dict(f.blendshapes),
            head_pose=pose,
            encoding=encoding,
        )
    if kind == "audio":
        a = event.audio
        if len(a.audio.samples) % 2:
            raise ValueError(f"audio chunk of {a.avatar!r} has an odd byte count {len(a.audio.samples)}; PCM16 needs 2")
        samples = np.frombuffer(a.audio.samples, dtype="<i2").astype(np.int16)
        return AudioChunk(a.avatar, a.presentation_ms, samples, a.audio.sample_rate or vocabulary.SAMPLE_RATE)
    if kind == "turn_ended":
        e = event.turn_ended
        return TurnEnded(e.round, e.frames, e.duration_ms, e.interrupted, e.spoken_text)
    if kind == "status":
        s = event.status
        return Status(_STATUS_CODES.get(s.code, ""), s.message, s.grpc_code, s.client_event)
    if kind == "end":
        return StreamEnd(event.end.reason)
    logger.debug("skipping a server event this client does not know (a newer server?)")
    return None


# ---------------------------------------------------------------- MP4


@dataclass(frozen=True)
class SavedVideo:
    """What `save_mp4` wrote."""

    path: Path
    frames: int  # video frames written
    duration_s: float  # of the longer of video and audio
    avatars: tuple[str, ...]  # left to right
    width: int
    height: int
    fps: int
    audio_samples: int  # at 16 kHz; 0 when the file has no audio track


# Frames may arrive slightly out of presentation order (two avatars rendered by two workers); a time's
# side-by-side picture is written once no frame older than this can still come.
_REORDER_MS = 1000


class _Mp4Writer:
    def __init__(self, path: Path, fps: int | None):
        self.path = path
        self.fps = fps
        self.header: Header | None = None
        self.groups: dict[int, dict[str, np.ndarray]] = {}  # presentation_ms -> avatar -> RGB image
        self.slots: list[str] = []  # avatars in order of first appearance
        self.held: dict[str, np.ndarray] = {}  # each avatar's latest image, shown while it has no new one
        self.audio: list[tuple[int, np.ndarray]] = []  # (presentation_ms, 16 kHz samples)
        self.origin: int | None = None
        self.container = None
        self.video = None
        self.sound = None
        self.size: tuple[int, int] | None = None  # (width, height) of one slot
        self.last_pts = -1
        self.frames = 0
        self.late = 0
        self.newest: int | None = None
        self.flushed_ms: int | None = None  # presentation time of the last picture written
        self.n_slots = 0  # places side by side, fixed when the video starts

    def add(self, event) -> None:
        if isinstance(event, converse_pb2.ServerEvent):
            event = from_proto(event)
        if isinstance(event, Header):
            self.header = event
        elif isinstance(event, Frame) and event.image is not None:
            if event.avatar not in self.slots:
                if self.video is not None and len(self.slots) >= self.n_slots:
                    logger.warning("save_mp4: frames of %r began after the video did; they are left out", event.avatar)
                    return
                self.slots.append(event.avatar)
            if self.video is not None and event.presentation_ms <= self.flushed_ms:
                self.late += 1
                return
            image = event.image[..., :3]  # alpha is the head mask, for compositing in an engine; a video has none
            self.groups.setdefault(event.presentation_ms, {})[event.avatar] = image
            self.newest = event.presentation_ms if self.newest is None else max(self.newest, event.presentation_ms)
            self._flush(self.newest - _REORDER_MS)
        elif isinstance(event, AudioChunk) and len(event.samples):
            self.audio.append((event.presentation_ms, _resample(event.samples, event.sample_rate)))

    def _slot_count(self) -> int:
        return max(len(self.slots), len(self.header.characters) if self.header else 0)

    def _start(self) -> None:
        import av

        starts = [t for t in self.groups] + [t for t, _ in self.audio]
        self.origin = min(starts) if starts else 0
        if self.fps is None:
            self.fps = self._guess_fps()
        first = self.groups[min(self.groups)]
        sample = next(iter(first.values()))
        self.size = (sample.shape[1], sample.shape[0])
        self.n_slots = self._slot_count()
        width, height = self.size[0] * self.n_slots, self.size[1]
        self.container = av.open(str(self.path), "w")
        self.video = self.container.add_stream("libx264", rate=self.fps, options={"crf": "20", "preset": "veryfast"})
        # H.264 in yuv420p needs even sizes; the canvas gets a black edge rather than a resample.
        self.video.width, self.video.height, self.video.pix_fmt = width + width % 2, height + height % 2, "yuv420p"
        self.sound = self.container.add_stream("aac", rate=vocabulary.SAMPLE_RATE, layout="mono")
        self.flushed_ms = self.origin - 1

    def _guess_fps(self) -> int:
        if self.header is not None and self.header.fps:
            return self.header.fps
        times = sorted(self.groups)
        steps = np.diff(times)
        steps = steps[steps > 0]
        if len(steps):
            return max(1, round(1000 / float(np.median(steps))))
        return vocabulary.FPS

    def _flush(self, until_ms: float) -> None:
        ready = sorted(t for t in self.groups if t <= until_ms)
        if not ready:
            return
        if self.video is None:
            self._start()
        import av

        for t in ready:
            group = self.groups.pop(t)
            self.flushed_ms = t
            self.held.update(group)
            pts = round((t - self.origin) * self.fps / 1000)
            if pts <= self.last_pts:
                continue  # a lower fps than the stream's: keep the first picture of each output frame
            self.last_pts = pts
            frame = av.VideoFrame.from_ndarray(self._canvas(), format="rgb24")
            frame.pts = pts
            frame.time_base = Fraction(1, self.fps)
            for packet in self.video.encode(frame):
                self.container.mux(packet)
            self.frames += 1

    def _canvas(self) -> np.ndarray:
        w, h = self.size
        canvas = np.zeros((self.video.height, self.video.width, 3), dtype=np.uint8)
        for slot, avatar in enumerate(self.slots[: self.n_slots]):
            image = self.held.get(avatar)
            if image is None:
                continue
            if image.shape[:2] != (h, w):
                from PIL import Image

                image = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
            canvas[:h, slot * w : (slot + 1) * w] = image
        return canvas

    def finish(self) -> SavedVideo:
        import av

        if self.groups:
            self._flush(float("inf"))
        if self.container is None:
            if not self.audio:
                raise ValueError("save_mp4: the events hold no frames with images and no audio; nothing to write")
            self.origin = min(t for t, _ in self.audio)
            self.container = av.open(str(self.path), "w")
            self.sound = self.container.add_stream("aac", rate=vocabulary.SAMPLE_RATE, layout="mono")
        try:
            if self.video is not None:
                for packet in self.video.encode():
                    self.container.mux(packet)
            video_s = (self.last_pts + 1) / self.fps if self.video is not None else 0.0
            track = self._mix(round(video_s * vocabulary.SAMPLE_RATE))
            for start in range(0, len(track), 1024):
                block = track[start : start + 1024].reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                frame.sample_rate = vocabulary.SAMPLE_RATE
                frame.pts = start
                frame.time_base = Fraction(1, vocabulary.SAMPLE_RATE)
                for packet in self.sound.encode(frame):
                    self.container.mux(packet)
            for packet in self.sound.encode():
                self.container.mux(packet)
        finally:
            self.container.close()
        if self.late:
            logger.warning("save_mp4: %d frames came more than %d ms late and were left out", self.late, _REORDER_MS)
        return SavedVideo(
            path=self.path,
            frames=self.frames,
            duration_s=max(video_s, len(track) / vocabulary.SAMPLE_RATE),
            avatars=tuple(self.slots[: self.n_slots]),
            width=self.video.width if self.video is not None else 0,
            height=self.video.height if self.video is not None else 0,
            fps=self.fps or 0,
            audio_samples=len(track),
        )

    def _mix(self, min_samples: int) -> np.ndarray:
        """One mono track: every chunk at its presentation time, summed where voices overlap, silence elsewhere."""
        per_ms = vocabulary.SAMPLE_RATE / 1000
        placed = [(max(0, round((t - self.origin) * per_ms)), s) for t, s in self.audio]
        length = max([min_samples] + [start + len(s) for start, s in placed])
        track = np.zeros(length, dtype=np.int32)
        for start, samples in placed:
            track[start : start + len(samples)] += samples
        return np.clip(track, -32768, 32767).astype(np.int16)


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.int16)
    if rate == vocabulary.SAMPLE_RATE or len(samples) == 0:
        return samples
    # Linear interpolation: enough for a preview video; the runtime itself streams at 16 kHz.
    count = max(1, round(len(samples) * vocabulary.SAMPLE_RATE / rate))
    positions = np.arange(count) * (rate / vocabulary.SAMPLE_RATE)
    return np.interp(positions, np.arange(len(samples)), samples).round().astype(np.int16)


def save_mp4(events: Iterable, path: str | Path, fps: int | None = None) -> SavedVideo:
    """Write a stream's frames and audio to an H.264 + AAC MP4 at `path`; needs PyAV (`pip install av`).

    `events` are typed events (or ServerEvent messages), e.g. a live conversation: it is consumed as it comes,
    so a long stream is never held in memory. Frames of several avatars at one presentation time stand side by
    side, in order of first appearance (as many places as the stream header names characters); an avatar
    without a new frame keeps its last one. Audio of every avatar goes into one mono 16 kHz track at its
    presentation time, with silence where nobody speaks. Time 0 of the file is the stream's first frame or
    audio sample. `fps` defaults to the header's (else the frames' spacing). Alpha is dropped.
    """
    try:
        import av  # noqa: F401 - only to fail early with the hint below
    except ImportError as err:
        raise ImportError("save_mp4 needs PyAV, an optional dependency of the eai-avatar SDK: pip install av") from err
    if fps is not None and (not isinstance(fps, int) or not 1 <= fps <= 240):
        raise ValueError(f"fps must be an integer in 1..240, got {fps!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _Mp4Writer(path, fps)
    try:
        for event in events:
            writer.add(event)
    except BaseException:
        if writer.container is not None:
            writer.container.close()
        raise
    return writer.finish()
