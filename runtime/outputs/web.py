"""The browser output: `serve --web HOST:PORT` serves a page that shows both avatars live over WebRTC.

Each browser that opens the page makes its own HUMAN_AGENT session (the person is characters[0], drawn, so both
avatars are on screen) and one WebRTC connection to this process (aiortc), which carries:

    video track    both avatars side by side (the human's character left, the agent right), 25 frames/s; between
                   turns the last picture is held, so the stream never stalls
    audio track    the avatars' voices, resampled from the runtime's 16 kHz to WebRTC's 48 kHz (Opus); silence
                   between turns
    data channel   "events", JSON both ways. To the page: started, turn_started, caption (a line's words, or a
                   transcript of the person's voice), emotion (an avatar's face changed its emotion), turn_ended,
                   human_speech, notice, ended. From the page: {"type": "say", "text": ...}, interrupt, advance,
                   mic_on, mic_off (mic_off ends the person's utterance).
    microphone     the page's audio transceiver is send-and-receive from the start; its button puts the
                   microphone's track on it (no renegotiation), and what arrives goes to the session as the
                   human's voice (`HearAudio`), as a gRPC client's UserAudioChunks do.

The session is driven by the same `SessionStream` as a gRPC Converse call: this module only translates its typed
events (frames into pictures, audio into 48 kHz samples, the rest into JSON), so the runtime's pacing, barge-in and
storage are the ones every other output sees, and the server's other outputs (ZeroMQ, Live Link) mirror these
sessions too. A session ends, and is deleted, when its browser goes away. Every asset is served from this package
(`webpage/`): the page needs nothing from the internet, and ICE uses no STUN server (a page across a NAT needs a
TURN server this module does not configure).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import importlib.util
import json
import logging
import re
import time
from collections import deque
from pathlib import Path

import numpy as np

from eai_avatar.runtime.audio.resample import StreamingResampler
from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput, NotFound, Unavailable
from eai_avatar.runtime.pipeline.events import (
    AudioOut,
    FrameOut,
    HumanSpeech,
    Notice,
    StreamEnded,
    StreamFailed,
    StreamStarted,
    TurnEnded,
    TurnStarted,
)
from eai_avatar.runtime.pipeline.frames import OutputSpec
from eai_avatar.runtime.sessions.commands import Advance, EndUtterance, HearAudio, Interrupt, Rejected, Say
from eai_avatar.runtime.sessions.leases import LeaseKeeper
from eai_avatar.runtime.sessions.manager import CharacterSpec, SessionRequest
from eai_avatar.runtime.sessions.stream import SessionStream
from eai_avatar.vocabulary import FPS, SAMPLE_RATE

logger = logging.getLogger(__name__)

PAGE_FOLDER = Path(__file__).resolve().parent / "webpage"
#: The page's files by URL path, with their content types: nothing else is served.
ASSETS = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
          "/style.css": ("style.css", "text/css")}  # fmt: skip
WEBRTC_AUDIO_RATE = 48_000  # Opus's clock: browsers play WebRTC audio at 48 kHz
AUDIO_FRAME_SAMPLES = WEBRTC_AUDIO_RATE // 50  # 20 ms, Opus's usual packet
VIDEO_CLOCK = 90_000  # RTP's video clock (RFC 3551): frame timestamps count in 1/90000 s
MIC_CHUNK_S = 0.1  # the microphone reaches the session in 100 ms pieces (a few Opus packets each)
#: The picture size a page may ask for (the contract's OutputOptions bounds); 0 or none: the renderer's own.
SIZE_RANGE = (64, 1024)
MAX_OFFER_BYTES = 64 * 1024
_ADDRESS = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/]+):(?P<port>\d{1,5})$")


def is_web_available() -> bool:
    """aiortc (WebRTC) and aiohttp (the page and the offer), the `web` extra."""
    return all(importlib.util.find_spec(name) is not None for name in ("aiortc", "aiohttp", "av"))


def require_web() -> None:
    if not is_web_available():
        raise FailedPrecondition("--web needs aiortc and aiohttp: pip install 'eai-avatar[web]'")


def parse_address(value: str) -> tuple[str, int]:
    """HOST:PORT to listen on (an IPv6 host in brackets; port 0: any free one) as (host, port), or a ValueError
    that names the value and the form."""
    form = "HOST:PORT, e.g. 127.0.0.1:8080 (0.0.0.0:8080 for every interface; port 0: any free one)"
    match = _ADDRESS.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"bad web address {value!r}: expected {form}")
    port = int(match["port"])
    if not 0 <= port <= 65535:
        raise ValueError(f"bad web address {value!r}: port {port} is outside 0..65535")
    return match["host"].strip("[]"), port


# ---------------------------------------------------------------------------------------------- pictures and sound


class SideBySide:
    """The picture the video track sends: each avatar's latest frame, side by side in `order`. An avatar with no
    frame yet is a dark square. Frames arrive paced at their presentation time, so the latest one is the one to
    show now."""

    BACKGROUND = (24, 26, 31)

    def __init__(self, order: tuple[str, ...], size: int):
        self.order, self.size = order, size
        self.canvas = np.empty((size, size * len(order), 3), np.uint8)
        self.canvas[:] = self.BACKGROUND
        self.frames_drawn = 0

    def update(self, avatar: str, encoding: str, width: int, height: int, image: bytes) -> None:
        if avatar not in self.order or not image:
            return
        if encoding != "raw_rgb" or (width, height) != (self.size, self.size):
            raise ValueError(f"the web output asks for raw_rgb {self.size}x{self.size} frames, got {encoding} "
                             f"{width}x{height}")  # fmt: skip
        left = self.order.index(avatar) * self.size
        self.canvas[:, left : left + self.size] = np.frombuffer(image, np.uint8).reshape(height, width, 3)
        self.frames_drawn += 1

    def picture(self) -> np.ndarray:
        return self.canvas.copy()  # the encoder works on it in another thread while the next frame arrives


class SoundQueue:
    """The avatars' voices as WebRTC wants them: 48 kHz int16, handed out 20 ms at a time, silence when nothing
    waits. Pieces arrive at their presentation time (the stream paces them), so playing them as they come keeps
    them with the pictures."""

    def __init__(self):
        self._resampler = StreamingResampler(SAMPLE_RATE, WEBRTC_AUDIO_RATE, np.float32)
        self._pieces: deque[np.ndarray] = deque()
        self._offset = 0  # samples of the first piece already handed out
        self.samples_queued = 0

    def add(self, samples: np.ndarray) -> None:
        resampled = self._resampler.push(samples.astype(np.float32))
        if len(resampled):
            self._pieces.append(np.clip(np.rint(resampled), -32768, 32767).astype(np.int16))
            self.samples_queued += len(resampled)

    def take(self, count: int) -> np.ndarray:
        out = np.zeros(count, np.int16)
        filled = 0
        while filled < count and self._pieces:
            piece = self._pieces[0]
            n = min(count - filled, len(piece) - self._offset)
            out[filled : filled + n] = piece[self._offset : self._offset + n]
            filled += n
            self._offset += n
            if self._offset == len(piece):
                self._pieces.popleft()
                self._offset = 0
        return out


def _tracks():
    """The aiortc track classes, defined on first use so that importing this module needs no aiortc."""
    import av
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class PacedTrack(MediaStreamTrack):
        """Hands out frame n at start + n * period, with timestamps that count the frames (not the wall clock), so
        a late frame is sent at once and the browser still plays them evenly."""

        period_s = 1.0
        clock = 1

        def __init__(self):
            super().__init__()
            self._start: float | None = None
            self._sent = 0

        async def _next_timestamp(self) -> int:
            if self.readyState != "live":
                raise MediaStreamError
            if self._start is None:
                self._start = time.monotonic()
            else:
                self._sent += 1
                wait = self._start + self._sent * self.period_s - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            return round(self._sent * self.period_s * self.clock)

    class AvatarVideoTrack(PacedTrack):
        kind = "video"
        period_s, clock = 1 / FPS, VIDEO_CLOCK

        def __init__(self, pictures: SideBySide):
            super().__init__()
            self.pictures = pictures

        async def recv(self):
            pts = await self._next_timestamp()
            frame = av.VideoFrame.from_ndarray(self.pictures.picture(), format="rgb24")
            frame.pts, frame.time_base = pts, fractions.Fraction(1, VIDEO_CLOCK)
            return frame

    class AvatarAudioTrack(PacedTrack):
        kind = "audio"
        period_s, clock = AUDIO_FRAME_SAMPLES / WEBRTC_AUDIO_RATE, WEBRTC_AUDIO_RATE

        def __init__(self, sound: SoundQueue):
            super().__init__()
            self.sound = sound

        async def recv(self):
            pts = await self._next_timestamp()
            samples = self.sound.take(AUDIO_FRAME_SAMPLES)
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.pts, frame.sample_rate = pts, WEBRTC_AUDIO_RATE
            frame.time_base = fractions.Fraction(1, WEBRTC_AUDIO_RATE)
            return frame

    return AvatarVideoTrack, AvatarAudioTrack, MediaStreamError


def mono_int16(frame) -> np.ndarray:
    """A decoded WebRTC audio frame (PyAV AudioFrame, s16 packed or planar, any channel count) as mono int16:
    its first channel (a browser's microphone track carries the same signal in each)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        first = data[0]
    else:
        first = data.reshape(-1, channels)[:, 0]
    if first.dtype != np.int16:  # a float decoder: -1..1
        first = np.clip(np.rint(first * 32767), -32768, 32767).astype(np.int16)
    return first


# ------------------------------------------------------------------------------------------------ one browser


def page_command(text: str, limit: int):
    """A data-channel message from the page as the session command it asks for: None for mic_on (the call then
    passes the microphone on), a `Rejected` for anything it cannot be (the page hears why, as a notice)."""
    if len(text) > limit:
        return Rejected(InvalidInput(f"a page message must be at most {limit} characters"))
    try:
        message = json.loads(text)
    except json.JSONDecodeError as err:
        return Rejected(InvalidInput(f"a page message is not JSON: {err}"))
    kind = message.get("type") if isinstance(message, dict) else None
    match kind:
        case "say":
            words = message.get("text")
            if not isinstance(words, str):
                return Rejected(InvalidInput("say needs its text as a string"))
            return Say(words)
        case "interrupt":
            return Interrupt()
        case "advance":
            return Advance(1)
        case "mic_on":
            return None
        case "mic_off":
            return EndUtterance()
    return Rejected(InvalidInput(f"unknown page message type {kind!r}; known: say, interrupt, advance, mic_on, "
                                 "mic_off"))  # fmt: skip


class BrowserCall:
    """One browser: its RTCPeerConnection, its session, the stream driving it and the tracks and channel it feeds."""

    def __init__(self, server: WebServer, session, stream_limits, size: int):
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.server, self.session = server, session
        settings = session.settings
        self.human, self.agent = settings.human, settings.agent
        self.pictures = SideBySide(settings.characters, size)
        self.sound = SoundQueue()
        video_track, audio_track, self._media_error = _tracks()
        self.video, self.audio = video_track(self.pictures), audio_track(self.sound)
        # No STUN server: the machine is offline, and aiortc's default (a public STUN server) would hold up every
        # answer while it times out. Host candidates serve localhost and a LAN; a NAT needs a TURN server.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = None
        self._outgoing: list[str] = []  # messages made before the channel opened
        self._commands: asyncio.Queue = asyncio.Queue()
        self._mic_on = False
        self._emotions: dict[str, str] = {}
        self._tasks: set[asyncio.Task] = set()
        self._driving = False
        self._closed = False
        self.stream = SessionStream(session, self._command_iterator(), stream_limits, server.executor,
                                    server.mirrors, LeaseKeeper(server.manager.store, session,
                                                                server.manager.lease_ttl_s))  # fmt: skip
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    # ------------------------------------------------------------------ signalling

    async def answer(self, sdp: str) -> str:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        kinds = {t.kind for t in self.pc.getTransceivers()}
        if not {"audio", "video"} <= kinds:
            raise InvalidInput("the offer must receive video and audio (the page adds both transceivers)")
        self.pc.addTrack(self.video)
        self.pc.addTrack(self.audio)
        await self.pc.setLocalDescription(await self.pc.createAnswer())  # gathers every candidate (no trickle)
        return self.pc.localDescription.sdp

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and not self._driving:
            # Only now: sound made before the tracks flow would wait in the queue and play late ever after.
            self._driving = True
            self._spawn(self._drive())
        elif state in ("failed", "closed"):
            self._spawn(self.close("browser gone"))

    # ------------------------------------------------------------------ page -> session

    def _on_datachannel(self, channel) -> None:
        self.channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._spawn(self.close("browser gone")))
        if channel.readyState == "open":
            self._flush()
        else:
            channel.on("open", self._flush)

    def _on_message(self, text) -> None:
        if not isinstance(text, str):
            self._commands.put_nowait(Rejected(InvalidInput("page messages are JSON text, not binary")))
            return
        command = page_command(text, self.server.limits.text_chars * 6 + 64)
        if command is None:  # mic_on: the microphone's audio goes to the session from now on
            self._mic_on = True
            return
        if isinstance(command, EndUtterance):
            if not self._mic_on:
                return
            self._mic_on = False
        self._commands.put_nowait(command)

    def _on_track(self, track) -> None:
        if track.kind == "audio":
            self._spawn(self._hear_microphone(track))

    async def _hear_microphone(self, track) -> None:
        """The person's microphone, in 100 ms pieces, while the page says it is on."""
        pending: list[np.ndarray] = []
        pending_samples, rate = 0, WEBRTC_AUDIO_RATE
        while not self._closed:
            try:
                frame = await track.recv()
            except self._media_error:
                return
            if not self._mic_on:
                pending, pending_samples = [], 0
                continue
            samples = mono_int16(frame)
            if frame.sample_rate != rate:
                pending, pending_samples, rate = [], 0, frame.sample_rate
            pending.append(samples)
            pending_samples += len(samples)
            if pending_samples >= rate * MIC_CHUNK_S:
                self._commands.put_nowait(HearAudio(np.concatenate(pending), rate))
                pending, pending_samples = [], 0

    async def _command_iterator(self):
        while True:
            command = await self._commands.get()
            if command is None:
                return
            yield command

    # ------------------------------------------------------------------ session -> page

    async def _drive(self) -> None:
        """Run the session's stream and translate every event for the page; the agent greets first, so the page
        has something to show as soon as it connects."""
        self._commands.put_nowait(Advance(1))
        try:
            async for event in self.stream.events():
                self._translate(event)
        except Exception:  # a bug in one call must not take the server down; logged, and this browser is told
            logger.exception("the web session %s failed", self.session.id)
            self._send({"type": "ended", "reason": "the server failed on this session (logged)"})
        await self.close("stream ended")

    def _translate(self, event) -> None:
        match event:
            case FrameOut(frame=f):
                self.pictures.update(f.avatar, f.encoding, f.width, f.height, f.image)
                if self._emotions.get(f.avatar) != f.emotion:
                    self._emotions[f.avatar] = f.emotion
                    self._send({"type": "emotion", "avatar": f.avatar, "emotion": f.emotion, "role": f.role})
            case AudioOut(piece=piece):
                self.sound.add(piece.samples)
            case TurnStarted(plan=plan):
                self._send({"type": "turn_started", "round": plan.round, "speaker": plan.speaker,
                            "listener": plan.listener, "text": plan.text, "start_ms": plan.start_ms,
                            "emotions": {plan.speaker: plan.speaker_accumulated.label,
                                         plan.listener: plan.listener_accumulated.label}})  # fmt: skip
                if plan.text:
                    self._send({"type": "caption", "round": plan.round, "speaker": plan.speaker, "text": plan.text,
                                "final": True})  # fmt: skip
            case TurnEnded(summary=s):
                self._send({"type": "turn_ended", "round": s.round, "interrupted": s.interrupted,
                            "duration_ms": s.duration_ms, "spoken_text": s.spoken_text})  # fmt: skip
            case HumanSpeech():
                self._send({"type": "human_speech", "round": event.round, "speaker": event.speaker,
                            "transcript": event.transcript})  # fmt: skip
                if event.transcript:
                    self._send({"type": "caption", "round": event.round, "speaker": event.speaker,
                                "text": event.transcript, "final": False})  # fmt: skip
            case Notice(level=level, message=message):
                self._send({"type": "notice", "level": level, "message": message})
            case StreamStarted():
                self._send({"type": "started", "session_id": event.session_id, "human": self.human,
                            "agent": self.agent, "characters": list(event.characters), "fps": FPS})  # fmt: skip
            case StreamEnded(reason=reason):
                self._send({"type": "ended", "reason": reason})
            case StreamFailed(error=error):
                self._send({"type": "ended", "reason": f"failed: {error}"})

    def _send(self, message: dict) -> None:
        text = json.dumps(message, separators=(",", ":"))
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)
        else:
            self._outgoing.append(text)

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        for text in outgoing:
            self.channel.send(text)

    # ------------------------------------------------------------------ ending

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, reason: str) -> None:
        """End the stream (its turn closes, its clock is stored), delete the session, close the connection.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stream.stop(reason)
        self._commands.put_nowait(None)
        await self.stream.finished()
        self.video.stop()
        self.audio.stop()
        await self.pc.close()
        with contextlib.suppress(NotFound):  # closed already (the server stopping closes every call)
            await self.server.manager.close(self.session.id, self.server.run)
        self.server.calls.discard(self)


# ------------------------------------------------------------------------------------------------ the server


class WebServer:
    """The page, its assets and the WebRTC offer (POST /offer) on an aiohttp server in the runtime's event loop.

    Args:
        manager: sessions and their store (each browser gets a session of its own).
        executor: where model work runs (the gRPC servicer's workers, so the two share the machine's cores).
        mirrors: the server's other outputs, which see these sessions' events too.
    """

    def __init__(self, manager, executor=None, mirrors=()):
        require_web()
        # aioice logs every ICE candidate pair's every state at INFO: a dozen lines per browser, nothing to act on.
        logging.getLogger("aioice").setLevel(max(logging.WARNING, logging.getLogger("aioice").level))
        self.manager, self.executor, self.mirrors = manager, executor, list(mirrors)
        self.limits = manager.config.limits
        self.calls: set[BrowserCall] = set()
        self._runner = None

    async def run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def start(self, address: str) -> int:
        """Listen on HOST:PORT; returns the port (the one chosen, for port 0)."""
        from aiohttp import web

        host, port = parse_address(address)
        app = web.Application(client_max_size=MAX_OFFER_BYTES)
        for path in ASSETS:
            app.router.add_get(path, self._asset)
        app.router.add_get("/identities", self._identities)
        app.router.add_post("/offer", self._offer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            raise OSError(f"cannot serve the web page on {address!r}: {err.strerror or err}") from err
        return self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every browser's call (each stream ends, each session is deleted), then stop listening."""
        await asyncio.gather(*(call.close("server stopping") for call in list(self.calls)), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _asset(self, request):
        from aiohttp import web

        name, content_type = ASSETS[request.path]
        body = (PAGE_FOLDER / name).read_bytes()
        return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})

    async def _identities(self, request):
        from aiohttp import web

        return web.json_response({"identities": list(self.manager.models.bundle.identities)})

    async def _offer(self, request):
        """The page's SDP offer -> a new session and the answer: {"sdp", "type": "answer", "session_id"}."""
        from aiohttp import web

        try:
            body = await request.json()
            sdp, characters, size = _offer_fields(body, self.manager.models.bundle.identities,
                                                  self.manager.models.image_size)  # fmt: skip
        except (json.JSONDecodeError, ValueError) as err:
            return web.json_response({"error": str(err)}, status=400)
        output = OutputSpec(image_encoding="raw_rgb", width=size, height=size, include_blendshapes=False,
                            include_head_pose=False, include_human_avatar=True)  # fmt: skip
        request_ = SessionRequest(tuple(CharacterSpec(name) for name in characters), mode="human_agent",
                                  output=output)  # fmt: skip
        try:
            session_id, _ = await self.run(self.manager.create, request_)
            session = await self.run(self.manager.take, session_id)
        except (InvalidInput, ValueError) as err:
            return web.json_response({"error": str(err)}, status=400)
        except NotFound as err:
            return web.json_response({"error": str(err)}, status=404)
        except (FailedPrecondition, Unavailable) as err:
            return web.json_response({"error": str(err)}, status=503)
        from aiortc.exceptions import InvalidAccessError, InvalidStateError

        call = BrowserCall(self, session, self.limits, size)
        self.calls.add(call)
        try:
            sdp_answer = await call.answer(sdp)
        except (InvalidInput, ValueError, InvalidAccessError, InvalidStateError) as err:
            await call.close("bad offer")
            return web.json_response({"error": f"the offer cannot be answered: {err}"}, status=400)
        return web.json_response({"sdp": sdp_answer, "type": "answer", "session_id": session_id})


def _offer_fields(body, identities, native_size: int) -> tuple[str, tuple[str, str], int]:
    """(sdp, (human, agent), picture size) from the page's POST /offer body, or a ValueError naming the bad field."""
    if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
        raise ValueError('the body must be {"type": "offer", "sdp": "..."}')
    names = list(identities)
    characters = body.get("characters") or names[:2]
    if (not isinstance(characters, list) or len(characters) != 2
            or not all(isinstance(name, str) for name in characters)):  # fmt: skip
        raise ValueError(f"characters must be two identity names, e.g. {names[:2]}")
    size = body.get("size") or native_size
    low, high = SIZE_RANGE
    if not isinstance(size, int) or isinstance(size, bool) or not low <= size <= high:
        raise ValueError(f"size must be a whole number of pixels in {low}..{high}, got {size!r}")
    return body["sdp"], (characters[0], characters[1]), size
