"""Wire messages -> the runtime's requests and commands, and back: the service's whole job besides statuses.

Checks here are the wire's own (a oneof left empty, an enum value the contract does not define, a number out of
its documented range, audio bytes that are not PCM16); what a value means for a session is checked where it is
used (the session manager, the session stream).
"""

from __future__ import annotations

from eai_avatar.runtime.audio.pcm import decode_pcm16
from eai_avatar.runtime.config import Limits
from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput
from eai_avatar.runtime.itt.serialization import tree_to_proto
from eai_avatar.runtime.pipeline import OutputSpec, TurnRequest
from eai_avatar.runtime.sessions import (
    Advance,
    CharacterSpec,
    Command,
    EndStream,
    EndUtterance,
    HearAudio,
    Interrupt,
    Rejected,
    Say,
    SessionRequest,
    SpeakLine,
)
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.v1 import common_pb2, converse_pb2, session_pb2, tree_pb2
from eai_avatar.vocabulary import EMOTIONS, SAMPLE_RATE

MODES = {session_pb2.MODE_UNSPECIFIED: "agent_agent", session_pb2.MODE_AGENT_AGENT: "agent_agent",
         session_pb2.MODE_HUMAN_AGENT: "human_agent"}  # fmt: skip
_MODE_VALUES = {"agent_agent": session_pb2.MODE_AGENT_AGENT, "human_agent": session_pb2.MODE_HUMAN_AGENT}
_ENCODING_NAMES = {common_pb2.IMAGE_ENCODING_UNSPECIFIED: "jpeg", common_pb2.IMAGE_ENCODING_JPEG: "jpeg",
                   common_pb2.IMAGE_ENCODING_PNG: "png", common_pb2.IMAGE_ENCODING_RAW_RGB: "raw_rgb",
                   common_pb2.IMAGE_ENCODING_RAW_RGBA: "raw_rgba"}  # fmt: skip
_ENCODING_VALUES = {name: value for value, name in _ENCODING_NAMES.items() if value}
#: OutputOptions numbers: (default, lowest, highest), as session.proto documents them.
OUTPUT_RANGES = {"width": (256, 64, 1024), "height": (256, 64, 1024), "fps": (25, 1, 60), "jpeg_quality": (85, 1, 100)}
#: OutputOptions switches and their defaults when unset.
OUTPUT_SWITCHES = {
    "include_images": True,
    "include_audio": True,
    "include_blendshapes": True,
    "include_head_pose": True,
    "include_listener_frames": True,
    "include_human_avatar": False,
}


# ---------------------------------------------------------------- sessions


def output_spec(options: session_pb2.OutputOptions | None) -> OutputSpec:
    """OutputOptions with the contract's defaults filled in; out-of-range values refused (InvalidInput)."""
    options = options or session_pb2.OutputOptions()
    if options.image_encoding not in _ENCODING_NAMES:
        raise InvalidInput(f"output.image_encoding {options.image_encoding} is not an ImageEncoding")
    if options.pacing not in session_pb2.Pacing.values():
        raise InvalidInput(f"output.pacing {options.pacing} is not a Pacing")
    numbers = {}
    for name, (default, low, high) in OUTPUT_RANGES.items():
        value = getattr(options, name) or default
        if not low <= value <= high:
            raise InvalidInput(f"output.{name} must lie in {low}..{high}, got {value}")
        numbers[name] = value
    switches = {name: getattr(options, name) if options.HasField(name) else default
                for name, default in OUTPUT_SWITCHES.items()}  # fmt: skip
    return OutputSpec(
        image_encoding=_ENCODING_NAMES[options.image_encoding],
        real_time=options.pacing != session_pb2.PACING_AS_FAST_AS_POSSIBLE,
        **numbers,
        **switches,
    )


def output_options(spec: OutputSpec) -> session_pb2.OutputOptions:
    """The resolved OutputSpec as the wire's OutputOptions (every field set)."""
    pacing = session_pb2.PACING_REAL_TIME if spec.real_time else session_pb2.PACING_AS_FAST_AS_POSSIBLE
    return session_pb2.OutputOptions(
        image_encoding=_ENCODING_VALUES[spec.image_encoding],
        pacing=pacing,
        **{name: getattr(spec, name) for name in (*OUTPUT_RANGES, *OUTPUT_SWITCHES)},
    )


_BARGE_IN = {
    session_pb2.BARGE_IN_UNSPECIFIED: "stop",
    session_pb2.BARGE_IN_STOP: "stop",
    session_pb2.BARGE_IN_FINISH_SENTENCE: "finish_sentence",
    session_pb2.BARGE_IN_IGNORE: "ignore",
}
_BARGE_IN_VALUES = {name: value for value, name in _BARGE_IN.items() if value}


def session_request(request: session_pb2.CreateSessionRequest) -> SessionRequest:
    if request.mode not in MODES:
        raise InvalidInput(f"mode {request.mode} is not a Mode")
    characters = tuple(CharacterSpec(c.identity, c.voice, c.persona) for c in request.characters)
    output = output_spec(request.output if request.HasField("output") else None)
    hearing = request.human_input
    if hearing.barge_in not in _BARGE_IN:
        raise InvalidInput(f"human_input.barge_in {hearing.barge_in} is not a BargeIn")
    recognize = hearing.recognize_speech if hearing.HasField("recognize_speech") else None
    return SessionRequest(characters, MODES[request.mode], request.dialogue_backend, request.dialogue_topic, output,
                          request.seed, recognize, _BARGE_IN[hearing.barge_in], hearing.end_of_speech_ms)  # fmt: skip


def session_response(session_id: str, settings) -> session_pb2.CreateSessionResponse:
    characters = [session_pb2.Character(identity=name, voice=settings.voices[name], persona=settings.personas[name])
                  for name in settings.characters]  # fmt: skip
    return session_pb2.CreateSessionResponse(session_id=session_id, characters=characters,
                                             output=output_options(settings.output),
                                             mode=_MODE_VALUES[settings.mode], dialogue_backend=settings.backend,
                                             dialogue_topic=settings.topic, seed=settings.seed,
                                             human_input=session_pb2.HumanInput(
                                                 recognize_speech=settings.hearing.recognize_speech,
                                                 barge_in=_BARGE_IN_VALUES[settings.hearing.barge_in],
                                                 end_of_speech_ms=settings.hearing.end_of_speech_ms))  # fmt: skip


def tree_page(tree, accumulated, session_id: str, request: tree_pb2.GetTreeRequest,
              limits: Limits) -> tree_pb2.TalkingTree:  # fmt: skip
    """A page of the session's tree, with each node's Q (`accumulated`) as computed when the node was added."""
    page = min(request.max_nodes or limits.tree_page_nodes, limits.tree_page_nodes)
    return tree_to_proto(tree, session_id, accumulated=accumulated, after_node=request.after_node,
                         max_nodes=page)  # fmt: skip


# ---------------------------------------------------------------- commands


def command(event: converse_pb2.ClientEvent, limits: Limits) -> Command:
    """A client event as a command; an event that cannot be one becomes `Rejected` (the client is told why)."""
    try:
        return _command(event, limits)
    except (InvalidInput, FailedPrecondition) as error:
        return Rejected(error)


def _command(event: converse_pb2.ClientEvent, limits: Limits) -> Command:
    match event.WhichOneof("event"):
        case None:
            raise InvalidInput("empty ClientEvent: set one of its events")
        case "attach":
            raise FailedPrecondition("this stream is already attached")
        case "advance":
            turns = event.advance.turns or 1
            if not 1 <= turns <= limits.advance_turns:
                raise InvalidInput(f"advance.turns must be 1..{limits.advance_turns}, got {turns}")
            return Advance(turns)
        case "scripted_line":
            return SpeakLine(_scripted_line(event.scripted_line, limits))
        case "user_text":
            return Say(event.user_text.text)
        case "user_audio":
            audio = event.user_audio.audio
            rate = audio.sample_rate or SAMPLE_RATE
            chunk = event.user_audio
            return HearAudio(decode_pcm16(audio.samples, rate, limits.audio_chunk_s, "user_audio"), rate,
                             chunk.contains_playback, max(0, chunk.captured_at_ms))  # fmt: skip
        case "user_utterance_end":
            return EndUtterance(event.user_utterance_end.transcript)
        case "interrupt":
            return Interrupt()
        case "end":
            return EndStream("client ended")


def _scripted_line(line: converse_pb2.ScriptedLine, limits: Limits) -> TurnRequest:
    audio = None
    if line.HasField("audio"):
        rate = line.audio.sample_rate or SAMPLE_RATE
        samples = decode_pcm16(line.audio.samples, rate, limits.voice_line_s, "scripted_line.audio")
        audio = SpeechAudio(samples, rate)
    text = line.text
    if not text.strip() and audio is None:
        raise InvalidInput("scripted_line needs text or audio")
    if line.emotion_override and line.emotion_override not in EMOTIONS:
        raise InvalidInput(f"scripted_line.emotion_override {line.emotion_override!r} is not one of "
                           f"{', '.join(EMOTIONS)}")  # fmt: skip
    return TurnRequest(line.character, text.strip() or "(voice line)", audio, line.emotion_override or None,
                       "scripted", transcript_known=bool(text.strip()))  # fmt: skip
