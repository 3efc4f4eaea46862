"""The main job: two avatars hold a conversation, recorded as an MP4 with their voices and captions.

It runs the product as a user would: the gRPC server in this process on the shipped bundle, and the Python SDK
talking to it over loopback. Each video frame is both avatars side by side (the speaker framed in green, the
listener in grey, each labelled with the emotion its face shows: Q of its node in the Interactive Talking Tree)
above a caption band with the line being spoken. `interactive_lines` makes it a human-agent conversation instead:
each line is the human's, the agent listens and answers.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from eai_avatar.media import Mp4Writer
from eai_avatar.vocabulary import FPS, SAMPLE_RATE

CAPTION_HEIGHT = 64
BORDER = 4
SPEAKING, LISTENING, BAND = (60, 179, 113), (150, 150, 150), (24, 24, 28)


@dataclass
class Caption:
    round: int
    speaker: str
    listener: str
    text: str
    emotions: dict[str, str]  # identity -> the label its face shows (Q)
    frames: int = 0


@dataclass
class DemoReport:
    path: Path
    frames: int
    seconds: float
    captions: list[Caption] = field(default_factory=list)


def _font(size: int):
    return ImageFont.load_default(size=size)  # Pillow's bundled font: no system font needed


def compose(images: dict[str, np.ndarray], order: list[str], caption: Caption | None,
            names: dict[str, str]) -> np.ndarray:  # fmt: skip
    """Both avatars' RGB frames side by side above the caption band, as one (H + band, W * n, 3) uint8 image."""
    height, width = next(iter(images.values())).shape[:2]
    canvas = Image.new("RGB", (width * len(order), height + CAPTION_HEIGHT), BAND)
    draw = ImageDraw.Draw(canvas)
    label_font, text_font = _font(13), _font(15)
    for slot, name in enumerate(order):
        left = slot * width
        if name in images:
            canvas.paste(Image.fromarray(images[name]), (left, 0))
        speaking = caption is not None and caption.speaker == name
        draw.rectangle([left, 0, left + width - 1, height - 1], outline=SPEAKING if speaking else LISTENING,
                       width=BORDER)  # fmt: skip
        role = "speaking" if speaking else "listening"
        emotion = caption.emotions.get(name, "neutral") if caption else "neutral"
        label = f"{names.get(name, name)} · {role} · {emotion}"
        box = draw.textbbox((left + 10, 8), label, font=label_font)
        draw.rectangle([box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3], fill=(0, 0, 0))
        draw.text((left + 10, 8), label, fill=SPEAKING if speaking else (230, 230, 230), font=label_font)
    if caption is not None:
        line = f"{names.get(caption.speaker, caption.speaker)}: {caption.text}"
        wrapped = textwrap.wrap(line, width=max(20, (width * len(order)) // 9))[:2]
        for row, text in enumerate(wrapped):
            draw.text((12, height + 10 + row * 22), text, fill=(240, 240, 240), font=text_font)
    return np.asarray(canvas)


async def _converse(client, session_id: str, turns: int, lines, on_event, microphone_s: float = 0.0) -> None:
    """Agent-agent: `turns` turns. Human-agent: each line of `lines` (read as it comes, so a person can type
    while watching), then the agent's answer."""
    async with client.converse(session_id) as conversation:
        stream = aiter(conversation)

        async def until_ended(count: int) -> None:
            ended = 0
            while ended < count:
                event = await anext(stream)
                on_event(event)
                ended += type(event).__name__ == "TurnEnded"

        if microphone_s:
            await _listen_to_the_microphone(conversation, stream, on_event, microphone_s)
        elif lines is None:
            await conversation.advance(turns)
            await until_ended(turns)
        else:
            source = iter(lines)
            while (line := await asyncio.to_thread(next, source, None)) is not None:
                line = line.strip()
                if line.lower().endswith(".wav"):  # a recorded line: heard, recognized, answered
                    samples, rate = read_wav(Path(line))
                    await conversation.user_audio(samples, rate)
                    await conversation.user_audio(np.zeros(rate * 6 // 10, np.int16), rate)  # the pause after it
                    await conversation.user_utterance_end()
                    await until_ended(2)
                elif line:
                    await conversation.say(line)
                    await until_ended(2)  # the human's round, then the agent's answer
        await conversation.end()


async def _listen_to_the_microphone(conversation, stream, on_event, seconds: float) -> None:
    """The computer's microphone, live, for `seconds`: the server hears each line, writes it down and answers."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise ImportError(
            f"a microphone needs the sounddevice package and PortAudio ({exc}): pip install "
            "'eai-avatar[microphone]' (and libportaudio2 on Linux), or give lines as text or WAV files"
        ) from None
    loop, chunks = asyncio.get_running_loop(), asyncio.Queue()

    def heard(indata, frames, when, status) -> None:  # sounddevice's thread
        loop.call_soon_threadsafe(chunks.put_nowait, indata[:, 0].copy())

    async def send() -> None:
        while True:
            await conversation.user_audio(await chunks.get(), SAMPLE_RATE)

    async def show() -> None:
        async for event in stream:
            on_event(event)

    try:
        with sounddevice.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16", blocksize=SAMPLE_RATE // 50,
                                     callback=heard):  # fmt: skip
            tasks = [asyncio.ensure_future(send()), asyncio.ensure_future(show())]
            await asyncio.sleep(seconds)
    except sounddevice.PortAudioError as exc:
        raise OSError(f"no microphone to listen to ({exc}); give lines as text or WAV files") from None
    for task in tasks:
        task.cancel()


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A PCM16 WAV file as mono int16 samples and its rate; ValueError naming the file otherwise."""
    import wave

    if not path.is_file():
        raise FileNotFoundError(f"no such WAV file: {path}")
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                bits = 8 * wav.getsampwidth()
                raise ValueError(f"{path}: only 16-bit PCM WAV files are read, this one has {bits} bits")
            channels, rate = wav.getnchannels(), wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.int16)
    except wave.Error as exc:
        raise ValueError(f"{path} is not a WAV file: {exc}") from None
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples, rate


def run_demo(out: Path, turns: int = 6, dialogue: str = "scripted", seed: int = 1,
             characters: tuple[str, str] = ("ada", "bo"), interactive_lines: Iterable[str] | None = None,
             bundle: Path | None = None, threads: int = 2, progress: Callable | None = None, microphone_s: float = 0.0,
             on_frame: Callable[[np.ndarray], None] | None = None) -> DemoReport:  # fmt: skip
    """Hold the conversation and write it to `out` (and hand each composed frame to `on_frame`, e.g. a window);
    returns what was said, with the emotions shown. `interactive_lines` is read lazily: it may be stdin."""
    from eai_avatar.client import AsyncAvatarClient
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.pipeline import Models
    from eai_avatar.runtime.server import AvatarServicer, create_server
    from eai_avatar.runtime.sessions import SessionManager
    from eai_avatar.runtime.store import SqliteStore

    if not 1 <= turns <= 100:
        raise ValueError(f"--turns must be 1..100, got {turns}")
    lines = interactive_lines if not microphone_s else iter(())
    loaded = Bundle(bundle or default_bundle_path())
    names = {name: loaded.identity(name).display_name for name in characters}
    bar = progress(total=turns if lines is None else None, desc="conversation", unit="turn") if progress else None
    state = {"caption": None, "pending": {}, "writer": None, "order": list(characters)}
    audio = np.zeros(0, np.int16)
    report = DemoReport(Path(out), 0, 0.0)

    def on_event(event) -> None:
        nonlocal audio
        kind = type(event).__name__
        if kind == "Header":
            state["order"] = list(event.characters) if lines is None else [event.characters[1]]
        elif kind == "HumanSpeech" and event.transcript:  # the words as they are recognized, while heard
            state["caption"] = Caption(event.round, event.speaker, "", event.transcript + " ...", {})
        elif kind == "TurnStarted":
            caption = Caption(event.round, event.speaker, event.listener, event.text,
                              {event.speaker: event.speaker_accumulated.label,
                               event.listener: event.listener_accumulated.label})  # fmt: skip
            state["caption"] = caption
            report.captions.append(caption)
        elif kind == "Frame":
            pending = state["pending"].setdefault(event.index, {})
            pending[event.avatar] = event.image[..., :3]
            if set(pending) >= set(state["order"]):
                image = compose(state["pending"].pop(event.index), state["order"], state["caption"], names)
                if state["writer"] is None:
                    state["writer"] = Mp4Writer(out, FPS, image.shape[1], image.shape[0], SAMPLE_RATE)
                state["writer"].add(image)
                if on_frame is not None:
                    on_frame(image)
                if state["caption"] is not None:
                    state["caption"].frames += 1
        elif kind == "AudioChunk":
            start = event.presentation_ms * SAMPLE_RATE // 1000
            end = start + len(event.samples)
            if end > len(audio):
                audio = np.concatenate([audio, np.zeros(end - len(audio), np.int16)])
            audio[start:end] = event.samples
        elif kind == "TurnEnded" and bar:
            bar.update(1)

    async def scenario() -> None:
        manager = SessionManager(Models(loaded, threads=threads), SqliteStore(":memory:"))
        server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager, workers=threads))
        await server.start()
        client = AsyncAvatarClient(f"127.0.0.1:{port}")
        try:
            # A live microphone is heard in real time; lines given in advance are made as fast as possible.
            output = {"pacing": "real_time" if microphone_s else "as_fast_as_possible", "image_encoding": "raw_rgb"}
            mode = "agent_agent" if lines is None else "human_agent"
            session = await client.create_session(list(characters), mode=mode, dialogue_backend=dialogue,
                                                  output=output, seed=seed)  # fmt: skip
            await _converse(client, session.session_id, turns, lines, on_event, microphone_s)
        finally:
            await client.close()
            await server.stop(None)
            manager.store.close()

    asyncio.run(scenario())
    if bar:
        bar.close()
    writer = state["writer"]
    if writer is None:
        raise ValueError("the conversation produced no frames (an interactive demo needs at least one line)")
    frames = writer.frames
    audio = np.concatenate([audio, np.zeros(max(0, frames * SAMPLE_RATE // FPS - len(audio)), np.int16)])
    writer.close(audio[: frames * SAMPLE_RATE // FPS])
    report.frames, report.seconds = frames, frames / FPS
    return report
