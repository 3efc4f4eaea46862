"""Audio2Face-3D's ProcessAudioStream on our server, driven by a client built only from NVIDIA's PyPI stubs
(tests/runtime/service/a2f_nvidia_client.py, in a process of its own that never imports eai_avatar)."""

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the spoken line comes from espeak-ng (pip install 'eai-avatar[tts]')")

from eai_avatar.runtime.bundle import Bundle, default_bundle_path  # noqa: E402
from eai_avatar.runtime.models.audio2exp import engine_expression_generator  # noqa: E402
from eai_avatar.runtime.server import AvatarServicer, create_server  # noqa: E402
from eai_avatar.runtime.service.a2f import A2F_BLENDSHAPE_NAMES, A2F_SERVICE_NAME, A2FControllerServicer  # noqa: E402
from eai_avatar.runtime.service.a2f_wire.nvidia_ace import animation_pb2, audio_pb2, status_pb2  # noqa: E402
from eai_avatar.runtime.service.a2f_wire.nvidia_audio2face_3d import audio2face_pb2, messages_pb2  # noqa: E402
from eai_avatar.runtime.tts.espeak import EspeakBackend  # noqa: E402

CLIENT = Path(__file__).with_name("a2f_nvidia_client.py")
#: NVIDIA's stubs, installed once beside the checkout (.cache/ is gitignored): their wheels pin grpcio<=1.67.1,
#: which our venv's grpcio cannot meet, so they are not installed into it.
NVIDIA_STUBS = Path(__file__).resolve().parents[3] / ".cache" / "nvidia-a2f-client"
NVIDIA_PACKAGES = ("nvidia-ace==1.0.0", "nvidia-audio2face-3d==1.3.0")
LEAD_S, TAIL_S = 0.6, 0.8
JAW = A2F_BLENDSHAPE_NAMES.index("JawOpen")
SMILE = A2F_BLENDSHAPE_NAMES.index("MouthSmileLeft")


@pytest.fixture(scope="module")
def nvidia_stubs() -> Path:
    if not (NVIDIA_STUBS / "nvidia_audio2face_3d" / "audio2face_pb2_grpc.py").is_file():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(NVIDIA_STUBS),
                        *NVIDIA_PACKAGES], check=True, timeout=300)  # fmt: skip
    return NVIDIA_STUBS


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> dict[str, Path]:
    """A spoken line with silence around it, at 16 kHz and (resampled by repetition) at 48 kHz, mono PCM16."""
    speech = EspeakBackend().synthesize("Hello there, this is a test of the face.", "en-us")
    samples = np.concatenate([np.zeros(int(LEAD_S * 16000), np.int16), speech.samples.astype(np.int16),
                              np.zeros(int(TAIL_S * 16000), np.int16)])  # fmt: skip
    folder = tmp_path_factory.mktemp("a2f")
    paths = {}
    for rate, pcm in ((16000, samples), (48000, np.repeat(samples, 3))):
        paths[rate] = folder / f"line_{rate}.wav"
        with wave.open(str(paths[rate]), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm.astype("<i2").tobytes())
    return paths


def _serve_and_run(scenarios: list[dict], stubs: Path, tmp_path: Path) -> dict:
    generator = engine_expression_generator(Bundle(default_bundle_path()).engine("audio2exp", threads=1))

    async def scenario():
        server, port = await create_server("127.0.0.1:0", AvatarServicer(), a2f=A2FControllerServicer(generator))
        await server.start()
        try:
            listed = await _reflected_services(port)
            garbage = await _send_garbage(port)
            spec = tmp_path / "scenarios.json"
            spec.write_text(json.dumps(scenarios))
            env = {**os.environ, "PYTHONPATH": str(stubs)}
            client = await asyncio.create_subprocess_exec(sys.executable, str(CLIENT), str(port), str(spec), env=env,
                                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
            out, err = await asyncio.wait_for(client.communicate(), 300)
            assert client.returncode == 0, err.decode()
            return {**json.loads(out), "listed": listed, "garbage": garbage}
        finally:
            await server.stop(None)

    return asyncio.run(scenario())


async def _send_garbage(port: int) -> tuple[str, str]:
    """Bytes that are no AudioWithEmotionStream: the call's code and details."""
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.stream_stream(f"/{A2F_SERVICE_NAME}/ProcessAudioStream")(iter([b"\xff\xff\xff"]))
        try:
            async for _ in call:
                pass
        except grpc.aio.AioRpcError as error:
            return error.code().name, error.details()
    return "OK", ""


async def _reflected_services(port: int) -> list[str]:
    import grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        async for reply in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])):
            return [service.name for service in reply.list_services_response.service]
    return []


def test_an_nvidia_client_gets_animation_refusals_and_the_server_keeps_serving(nvidia_stubs, wavs, tmp_path):
    speech = {"wav": str(wavs[16000]), "emotion": {"joy": 1.0}, "face": {"lowerFaceSmoothing": 0.006}}
    scenarios = [
        speech,
        {"wav": str(wavs[16000]), "multipliers": {"JawOpen": 0.0}, "offsets": {"mouthSmileLeft": 0.5}, "clamp": True},
        {"wav": str(wavs[16000]), "channels": 2},  # the header says stereo: refused before any animation
        {"wav": str(wavs[16000]), "multipliers": {"Tail": 2.0}},  # not an ARKit name: refused
        {"wav": str(wavs[48000])},  # the server still serves; 48 kHz is resampled
    ]
    got = _serve_and_run(scenarios, nvidia_stubs, tmp_path)
    main, scaled, stereo, unknown, resampled = got["results"]

    assert got["project_modules"] == []  # the client really is NVIDIA's stubs alone
    ours = {m.DESCRIPTOR.name: hashlib.sha256(m.DESCRIPTOR.serialized_pb).hexdigest()
            for m in (animation_pb2, audio_pb2, status_pb2, messages_pb2, audio2face_pb2)}  # fmt: skip
    assert got["descriptors"] == ours  # our vendored protos are NVIDIA's, byte for byte
    assert A2F_SERVICE_NAME in got["listed"]

    # The header names the 52 ARKit shapes; one frame per 40 ms covers the whole clip, time codes increasing.
    assert main["code"] == "OK" and main["names"] == list(A2F_BLENDSHAPE_NAMES) and len(main["names"]) == 52
    with wave.open(str(wavs[16000])) as wav:
        duration = wav.getnframes() / wav.getframerate()
    codes = np.array(main["time_codes"])
    assert len(codes) == int(np.ceil(duration * 25)) and np.allclose(np.diff(codes), 0.04) and codes[0] == 0
    assert main["audio_bytes"] == len(codes) * 640 * 2 and main["echo_rate"] == 16000
    # jawOpen moves while speaking and rests in the silence before and after.
    jaw = np.array(main["weights"])[:, JAW]
    lead, tail = jaw[codes < LEAD_S - 0.2], jaw[codes > duration - TAIL_S + 0.3]
    talking = jaw[(codes > LEAD_S + 0.2) & (codes < duration - TAIL_S - 0.2)]
    assert talking.max() > 0.2 and talking.std() > 0.04, (talking.max(), talking.std())
    assert lead.max() < 0.5 * talking.max() and tail.max() < 0.5 * talking.max(), (lead.max(), tail.max())
    # The client's emotion drives the face at NVIDIA's default strength; face params are named as ignored.
    assert main["emotions"][0] == {"input": {"joy": 1.0}, "used": pytest.approx({"joy": 0.6})}
    assert main["events"] == ["END_OF_A2F_AUDIO_PROCESSING"]
    assert main["statuses"][-1][0] == "WARNING" and "face_params.lowerFaceSmoothing" in main["statuses"][-1][1]

    # Multipliers and offsets are honoured (names in either spelling), clamping too.
    weights = np.array(scaled["weights"])
    assert scaled["code"] == "OK" and scaled["statuses"][-1][0] == "SUCCESS"
    assert np.all(weights[:, JAW] == 0.0)
    assert weights[:, SMILE].min() >= 0.5 and weights.max() <= 1.0 and weights.min() >= 0.0

    # Refusals: a Status ERROR that says why, then INVALID_ARGUMENT; no animation.
    assert stereo["code"] == "INVALID_ARGUMENT" and "mono" in stereo["details"]
    assert stereo["statuses"] == [["ERROR", stereo["details"]]] and not stereo["time_codes"]
    assert unknown["code"] == "INVALID_ARGUMENT" and "'Tail'" in unknown["details"]
    assert got["garbage"][0] == "INVALID_ARGUMENT" and "not a valid message" in got["garbage"][1]

    assert resampled["code"] == "OK" and abs(len(resampled["time_codes"]) - len(codes)) <= 1
    assert resampled["emotions"][0] == {"input": {}, "used": {}}  # no client emotion: neutral
    # The client's joy shows: the smile is wider than with the neutral face on the same line.
    smile_joy, smile_neutral = np.array(main["weights"])[:, SMILE], np.array(resampled["weights"])[:, SMILE]
    assert smile_joy.mean() > smile_neutral.mean() + 0.03, (smile_joy.mean(), smile_neutral.mean())


def test_emotions_map_onto_meads_and_the_header_is_checked():
    from eai_avatar.runtime.service.a2f import A2FRefusal, applied_emotion, mead_mixture, parse_header

    header = messages_pb2.AudioWithEmotionStreamHeader(
        audio_header=audio_pb2.AudioHeader(channel_count=1, samples_per_second=22050, bits_per_sample=16),
        emotion_post_processing_params=messages_pb2.EmotionPostProcessingParameters(
            emotion_strength=1.0, max_emotions=2
        ),  # fmt: skip
    )
    settings = parse_header(header)
    assert settings.sample_rate == 22050 and not settings.ignored
    applied = applied_emotion({"joy": 0.5, "grief": 0.3, "fear": 0.1}, settings)
    assert applied == pytest.approx({"joy": 0.5, "grief": 0.3})  # the strongest two, at full strength
    assert mead_mixture(applied) == pytest.approx({"happy": 0.5, "sad": 0.3, "neutral": 0.2})
    for change, refused in [({"bits_per_sample": 24}, "16-bit"), ({"samples_per_second": 96000}, "8000..48000")]:
        bad = messages_pb2.AudioWithEmotionStreamHeader()
        bad.CopyFrom(header)
        for name, value in change.items():
            setattr(bad.audio_header, name, value)
        with pytest.raises(A2FRefusal, match=refused):
            parse_header(bad)
    bad = messages_pb2.AudioWithEmotionStreamHeader()
    bad.CopyFrom(header)
    bad.emotion_params.beginning_emotion["glee"] = 0.5
    with pytest.raises(A2FRefusal, match="unknown emotion 'glee'"):
        parse_header(bad)
