"""The Unreal Live Link output, checked by a decoder written here from the format's public description.

The decoder follows Unreal's AppleARKitFaceSupport listener (AppleARKitLiveLinkSource.cpp, packet version 6) and
the public decoders github.com/think-biq/LLV and github.com/JimWest/PyLiveLinkFace: a uint8 version, a device id and
a subject name each as an int32 length and UTF-8 bytes, the frame time (int32 frame, float32 subframe, int32 rate
numerator and denominator), a uint8 count of 61, then 61 float32 in the order of Unreal's EARFaceBlendShape; every
multi-byte field big-endian. It imports nothing from the encoder, so the two cannot agree by sharing a mistake.
Head angles are Unreal's "-180..180 mapped to -1..1" (degrees / 180).
"""

import asyncio
import logging
import socket
import struct
import threading
import time

import numpy as np
import pytest

# EARFaceBlendShape, typed out in its enum order (Unreal's AugmentedReality module; ARKit's 52, then head and eyes).
UNREAL_CURVES = """
EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft EyeWideLeft
EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight EyeSquintRight EyeWideRight
JawForward JawLeft JawRight JawOpen
MouthClose MouthFunnel MouthPucker MouthLeft MouthRight MouthSmileLeft MouthSmileRight MouthFrownLeft MouthFrownRight
MouthDimpleLeft MouthDimpleRight MouthStretchLeft MouthStretchRight MouthRollLower MouthRollUpper MouthShrugLower
MouthShrugUpper MouthPressLeft MouthPressRight MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft
MouthUpperUpRight
BrowDownLeft BrowDownRight BrowInnerUp BrowOuterUpLeft BrowOuterUpRight
CheekPuff CheekSquintLeft CheekSquintRight NoseSneerLeft NoseSneerRight TongueOut
HeadYaw HeadPitch HeadRoll LeftEyeYaw LeftEyePitch LeftEyeRoll RightEyeYaw RightEyePitch RightEyeRoll
""".split()
EYE_ANGLES = UNREAL_CURVES[-6:]


def decode(datagram: bytes) -> dict:
    """One Live Link Face packet as a dict; raises on anything out of place, including bytes left over."""
    offset = 0

    def take(fmt: str):
        nonlocal offset
        size = struct.calcsize(fmt)
        if offset + size > len(datagram):
            raise ValueError(f"packet ends at {len(datagram)} bytes, reading {fmt} at {offset}")
        values = struct.unpack_from(fmt, datagram, offset)
        offset += size
        return values

    def string() -> str:
        (length,) = take(">i")
        if not 0 <= length <= len(datagram) - offset:
            raise ValueError(f"bad string length {length}")
        return take(f">{length}s")[0].decode("utf-8")

    (version,) = take(">B")
    device_id, subject = string(), string()
    frame, subframe, numerator, denominator = take(">ifii")
    (count,) = take(">B")
    values = take(f">{count}f")
    if offset != len(datagram):
        raise ValueError(f"{len(datagram) - offset} bytes left over")
    curves = dict(zip(UNREAL_CURVES, values, strict=True))
    return {"version": version, "device_id": device_id, "subject": subject, "frame": frame, "subframe": subframe,
            "rate": (numerator, denominator), "count": count, "curves": curves}  # fmt: skip


def arkit_name(curve: str) -> str:
    return curve[0].lower() + curve[1:]


class Receiver:
    """A UDP socket on 127.0.0.1 (Unreal's side) that reads in a thread, so no datagram waits in a full buffer."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.target = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                self.datagrams.append(self.sock.recv(65536))
            except TimeoutError:
                continue

    def stop(self, settle_s: float = 0.3) -> list[dict]:
        time.sleep(settle_s)
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return [decode(d) for d in self.datagrams]


def _frame(avatar, index, weights, pose):
    from eai_avatar.runtime.pipeline.frames import EncodedFrame

    return EncodedFrame(avatar, index, index * 40, "speak", "neutral", 8, 8, "jpeg", b"", weights, pose)


def _started(session_id="s", fps=25):
    from eai_avatar.runtime.pipeline.events import StreamStarted
    from eai_avatar.runtime.pipeline.frames import OutputSpec

    return StreamStarted(session_id, ("ada", "bo"), OutputSpec(fps=fps), 0, 0)


def test_every_field_of_a_packet_with_each_blendshape_mapped_by_name():
    from eai_avatar.runtime.outputs.livelink import LiveLinkOutput
    from eai_avatar.runtime.pipeline.events import FrameOut, StreamEnded
    from eai_avatar.runtime.rig import HeadPose
    from eai_avatar.vocabulary import ARKIT_BLENDSHAPES

    weights = (np.arange(1, 53, dtype=np.float32) / 64).astype(np.float32)  # every weight different
    pose = HeadPose(yaw_deg=18.0, pitch_deg=-9.0, roll_deg=4.5, tx=0.1, ty=-0.05, scale=1.1)
    receiver = Receiver()
    with LiveLinkOutput(receiver.target, device_id="stage-left") as output:
        output("s", _started(fps=30))
        for index in (120, 121, 122):
            output("s", FrameOut(_frame("ada", index, weights, pose)))
        output("s", FrameOut(_frame("bo", 7, weights, None)))
        output("s", StreamEnded("client ended"))
        output("t", FrameOut(_frame("ada", 0, weights, pose)))  # a stream whose start this output never saw
    packets = receiver.stop()

    assert output.sent == 5 and output.dropped == 0 and output.closed
    assert [(p["subject"], p["frame"], p["rate"]) for p in packets] == [
        ("ada", 120, (30, 1)), ("ada", 121, (30, 1)), ("ada", 122, (30, 1)), ("bo", 7, (30, 1)), ("ada", 0, (25, 1))
    ]  # fmt: skip
    for packet in packets:
        assert packet["version"] == 6 and packet["device_id"] == "stage-left"
        assert packet["subframe"] == 0.0 and packet["count"] == 61
        curves = packet["curves"]
        for curve in UNREAL_CURVES[:52]:
            assert curves[curve] == weights[ARKIT_BLENDSHAPES.index(arkit_name(curve))], curve
        assert all(curves[name] == 0.0 for name in EYE_ANGLES)
    ada = packets[0]["curves"]
    assert ada["JawOpen"] == weights[ARKIT_BLENDSHAPES.index("jawOpen")]
    np.testing.assert_allclose([ada["HeadYaw"], ada["HeadPitch"], ada["HeadRoll"]], [-0.1, 0.05, 0.025], rtol=1e-6)
    bo = packets[3]["curves"]
    assert bo["HeadYaw"] == bo["HeadPitch"] == bo["HeadRoll"] == 0.0  # no pose in the frame: a level head


def test_frames_without_blendshapes_are_not_sent_and_said_once(caplog):
    from eai_avatar.runtime.outputs.livelink import LiveLinkOutput
    from eai_avatar.runtime.pipeline.events import FrameOut
    from eai_avatar.runtime.rig import HeadPose

    receiver = Receiver()
    with caplog.at_level(logging.INFO, logger="eai_avatar.runtime.outputs.livelink"):
        with LiveLinkOutput(receiver.target) as output:
            for index in range(3):
                output("s", FrameOut(_frame("ada", index, None, HeadPose())))
    assert receiver.stop(settle_s=0.1) == [] and output.sent == output.dropped == 0
    assert sum("no blendshapes" in record.getMessage() for record in caplog.records) == 1


def test_send_errors_never_reach_the_pipeline_and_are_logged_once(caplog):
    from eai_avatar.runtime.outputs.livelink import LiveLinkOutput
    from eai_avatar.runtime.pipeline.events import FrameOut

    weights = np.zeros(52, np.float32)
    # The broadcast address without SO_BROADCAST: every send fails at once (EACCES), as a send to a network this
    # machine has no route to fails (ENETUNREACH).
    with caplog.at_level(logging.WARNING, logger="eai_avatar.runtime.outputs.livelink"):
        output = LiveLinkOutput("255.255.255.255:11111")
        start = time.perf_counter()
        for index in range(500):
            output("s", FrameOut(_frame("ada", index, weights, None)))
        elapsed = time.perf_counter() - start
        output.close()
        output.close()  # idempotent
    assert output.sent == 0 and output.dropped == 500
    assert sum("later drops are only counted" in r.getMessage() for r in caplog.records) == 1
    assert elapsed < 1.0, f"500 failed sends took {elapsed:.2f} s"

    # A host that is not listening (a closed port): datagrams leave and are lost, nothing blocks or raises.
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with LiveLinkOutput(f"127.0.0.1:{port}") as output:
        start = time.perf_counter()
        for index in range(2000):
            output("s", FrameOut(_frame("ada", index, weights, None)))
        assert time.perf_counter() - start < 1.0
    assert output.sent + output.dropped == 2000


@pytest.mark.parametrize(
    "value, message",
    [
        ("127.0.0.1", "expected HOST:PORT"),
        ("udp://127.0.0.1:11111", "expected HOST:PORT"),
        ("127.0.0.1:", "expected HOST:PORT"),
        (":11111", "expected HOST:PORT"),
        ("127.0.0.1:99999", "outside 1..65535"),
        ("127.0.0.1:0", "outside 1..65535"),
        ("no-such-host.invalid:11111", "cannot resolve"),
    ],
)
def test_bad_targets_fail_clearly(value, message):
    from eai_avatar.runtime.outputs.livelink import LiveLinkOutput

    with pytest.raises(ValueError, match=message):
        LiveLinkOutput(value)


def test_ipv6_and_names_resolve():
    from eai_avatar.runtime.outputs.livelink import LiveLinkOutput, parse_target

    assert parse_target("[::1]:11111") == ("::1", 11111)
    with LiveLinkOutput("localhost:11111") as output:
        assert output.address[1] == 11111
    with pytest.raises(ValueError, match="device id"):
        LiveLinkOutput("127.0.0.1:11111", device_id=" ")


def test_config_and_the_serve_flag(tmp_path, capsys):
    from eai_avatar.cli import main
    from eai_avatar.runtime.config import RuntimeConfig

    assert RuntimeConfig.load(env={}).server.livelink == ""
    config = RuntimeConfig.load(env={"EAI_AVATAR_LIVELINK": "10.0.0.5:11111"})
    assert config.server.livelink == "10.0.0.5:11111" and config.server.livelink_device == "eai-avatar"
    file = tmp_path / "runtime.toml"
    file.write_text('[server]\nlivelink = "127.0.0.1:7000"\nlivelink_device = "booth"\n')
    assert RuntimeConfig.load(file, env={}).server.livelink_device == "booth"
    file.write_text('[server]\nlivelink = "127.0.0.1"\n')
    with pytest.raises(ValueError, match="bad Live Link target '127.0.0.1'"):
        RuntimeConfig.load(file, env={})

    assert main(["serve", "--livelink", "unreal-box", "--db", ":memory:"]) == 2
    error = capsys.readouterr().err
    assert "eai-avatar serve: error: bad Live Link target 'unreal-box': expected HOST:PORT" in error


def test_a_running_server_sends_each_avatar_as_a_subject(tmp_path):
    """Real packets from a server's real frames, compared with the frames its gRPC client got."""
    pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")
    from eai_avatar.client import AsyncAvatarClient
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.outputs.livelink import LiveLinkOutput
    from eai_avatar.runtime.pipeline import Models
    from eai_avatar.runtime.server import AvatarServicer, create_server
    from eai_avatar.runtime.sessions import SessionManager
    from eai_avatar.runtime.store import SqliteStore

    receiver = Receiver()
    output = LiveLinkOutput(receiver.target)

    async def scenario():
        models = Models(Bundle(default_bundle_path()), threads=1)
        manager = SessionManager(models, SqliteStore(tmp_path / "s.db"))
        server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager, mirrors=[output]))
        await server.start()
        client = AsyncAvatarClient(f"127.0.0.1:{port}")
        output_spec = {"pacing": "as_fast_as_possible", "include_images": False}
        session = await client.create_session(["ada", "bo"], output=output_spec, seed=11)
        frames = []
        async with client.converse(session.session_id) as conversation:
            await conversation.scripted_line("ada", "Hello there, Bo.")
            async for event in conversation:
                if type(event).__name__ == "Frame":
                    frames.append(event)
                if type(event).__name__ == "TurnEnded":
                    break
        await client.close()
        await server.stop(None)
        models.close()
        return frames

    frames = asyncio.run(scenario())
    output.close()
    packets = receiver.stop()

    assert output.dropped == 0 and len(packets) == len(frames) == output.sent > 0
    assert {p["subject"] for p in packets} == {"ada", "bo"}  # one subject per identity
    by_frame = {(f.avatar, f.index): f for f in frames}
    for subject in ("ada", "bo"):
        numbers = [p["frame"] for p in packets if p["subject"] == subject]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # one packet a frame, in order
    for packet in packets:
        assert packet["version"] == 6 and packet["device_id"] == "eai-avatar" and packet["count"] == 61
        assert packet["rate"] == (25, 1) and packet["subframe"] == 0.0
        frame = by_frame[packet["subject"], packet["frame"]]
        curves = packet["curves"]
        assert curves["JawOpen"] == frame.blendshapes["jawOpen"]
        assert all(curves[curve] == frame.blendshapes[arkit_name(curve)] for curve in UNREAL_CURVES[:52])
        pose = frame.head_pose
        np.testing.assert_allclose(
            [curves["HeadYaw"], curves["HeadPitch"], curves["HeadRoll"]],
            [-pose.yaw_deg / 180, -pose.pitch_deg / 180, pose.roll_deg / 180],
            rtol=1e-6,
            atol=1e-7,
        )
        assert all(curves[name] == 0.0 for name in EYE_ANGLES)
    assert max(p["curves"]["JawOpen"] for p in packets if p["subject"] == "ada") > 0.1  # the speaker's mouth moves
