"""The Unreal Live Link output: every avatar's face as Live Link Face UDP packets, one subject per identity.

Epic's Live Link Face iPhone app streams an ARKit face to Unreal as one UDP datagram per frame; Unreal's Apple ARKit
Face Support plugin listens for them (port 11111 by default) and publishes each sender as a Live Link subject that a
MetaHuman's face Animation Blueprint reads. This output sends the same datagrams, so Unreal takes the avatars as if
they were phones: `serve --livelink HOST:PORT`.

Packet (version 6), every multi-byte field big-endian (network byte order):

    uint8    version         6
    int32    length, bytes   device id, UTF-8 (`[server] livelink_device`, default "eai-avatar")
    int32    length, bytes   subject name, UTF-8: the identity's name ("ada"), so each avatar is its own subject
    int32    frame number    the frame's output index on the session clock (no gaps, continues across restarts)
    float32  subframe        0
    int32    rate numerator  the session's output frame rate (25 unless the session asked for another)
    int32    rate denominator  1
    uint8    curve count     61
    float32  x 61            the 52 ARKit blendshapes, then HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw,
                             LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch, RightEyeRoll

The 61 are in the order of Unreal's `EARFaceBlendShape` enum (`FACE_CURVES` below). Its first 52 happen to match
`ARKIT_BLENDSHAPES`, but the weights are mapped by name (eyeBlinkLeft -> EyeBlinkLeft), so neither order can drift
from the other unnoticed. Weights go out unchanged, 0..1, Left meaning the character's own left as in the runtime.

Head and eye angles are what Unreal's ARKit face code writes: the rotation in degrees divided by 180 (so -1..1).
From the runtime's `HeadPose` (yaw > 0 turns toward the character's left, pitch > 0 looks up, roll > 0 tilts toward
the left shoulder), worked through Unreal's conversion of ARKit's face transform for the case that keeps ARKit's
Left/Right names as they are: HeadYaw = -yaw_deg / 180, HeadPitch = -pitch_deg / 180, HeadRoll = roll_deg / 180.
The eye angles are sent as 0: the runtime has no eye rotation, and the gaze already travels in the eyeLook*
blendshapes, which are what a MetaHuman's ARKit mapping reads; an eye angle made up from them would be a guess.

Sources (public): Unreal Engine's AppleARKitFaceSupport plugin, `AppleARKitLiveLinkSource.cpp` (the packet
versions, the publisher and the listener: the fields above in this order, read with `FNboSerializeFromBuffer`,
whose strings are an int32 length and UTF-8 bytes; a count other than `EARFaceBlendShape::MAX` = 61 is dropped),
`AppleARKitFaceSupportImpl`'s `ToBlendShapeMap` ("Map the -180..180 range to -1..1": FRotator / 180, yaw and roll
negated when the face is not mirrored) and `AppleARKitConversion.h` (ARKit to Unreal axes); the packet as decoded
by github.com/think-biq/LLV (`src/llv/gesicht.py`: uint8 version 6, length-prefixed device id and subject, frame
number int32, subframe float32, rate int32/int32, uint8 count, floats) and github.com/JimWest/PyLiveLinkFace
(`FaceBlendShape`, the 61 curves in this order; its "$" before the device id is the low byte of a length of 36).

Sending never blocks the pipeline: the socket is non-blocking and unconnected (an unreachable host or a closed port
cannot turn into an error on a later send), the host is resolved once at start, and a datagram the kernel cannot
take is dropped and counted. The first send error is logged, the rest only counted (`dropped`), and the totals are
logged at close. Like the ZeroMQ output it is a `SessionStream` mirror, called in the event loop.
"""

from __future__ import annotations

import logging
import re
import socket
import struct

import numpy as np

from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, FPS

logger = logging.getLogger(__name__)

PACKET_VERSION = 6
DEFAULT_PORT = 11111  # where Unreal's Live Link Face listener binds unless its settings say otherwise
DEFAULT_DEVICE_ID = "eai-avatar"
# Unreal's receive buffer holds 256 characters for each of the two strings (AppleARKitLiveLinkSource.cpp); a packet
# past it is cut and then dropped as an overflow, so a longer name would vanish silently on the far side.
MAX_NAME_BYTES = 256

#: Unreal's EARFaceBlendShape, in enum order: the order of the 61 floats in a packet.
FACE_CURVES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft", "EyeSquintLeft",
    "EyeWideLeft",
    "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight",
    "EyeWideRight",
    "JawForward", "JawLeft", "JawRight", "JawOpen",
    "MouthClose", "MouthFunnel", "MouthPucker", "MouthLeft", "MouthRight", "MouthSmileLeft", "MouthSmileRight",
    "MouthFrownLeft", "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft",
    "MouthStretchRight", "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
    "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight",
    "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight",
    "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
FACE_BLENDSHAPE_COUNT = 52


def _runtime_index_of_each_face_blendshape() -> np.ndarray:
    """For each of the packet's 52 blendshapes, its index in the runtime's ARKIT_BLENDSHAPES (mapped by name)."""
    indices = []
    for curve in FACE_CURVES[:FACE_BLENDSHAPE_COUNT]:
        name = curve[0].lower() + curve[1:]
        if name not in BLENDSHAPE_INDEX:
            raise LookupError(f"Live Link curve {curve} has no ARKit blendshape {name!r} in the vocabulary")
        indices.append(BLENDSHAPE_INDEX[name])
    if sorted(indices) != list(range(len(ARKIT_BLENDSHAPES))):
        raise LookupError("the Live Link curves and the vocabulary's ARKit blendshapes are not the same 52")
    return np.array(indices)


_RUNTIME_INDEX = _runtime_index_of_each_face_blendshape()
_HEADER_TAIL = struct.Struct(">ifiiB")  # frame number, subframe, rate numerator, rate denominator, curve count
_CURVES = struct.Struct(f">{len(FACE_CURVES)}f")
_TARGET = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/]+):(?P<port>\d{1,5})$")


def parse_target(value: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets) as (host, port), or a ValueError that names the value and the form."""
    form = "HOST:PORT, e.g. 127.0.0.1:11111 (Live Link Face's port is 11111; IPv6 as [::1]:11111)"
    match = _TARGET.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"bad Live Link target {value!r}: expected {form}")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"bad Live Link target {value!r}: port {port} is outside 1..65535")
    return match["host"].strip("[]"), port


def check_device_id(device_id: str) -> str:
    if not isinstance(device_id, str) or not device_id.strip():
        raise ValueError(f"the Live Link device id must be a non-empty string, got {device_id!r}")
    if len(device_id.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"the Live Link device id is longer than {MAX_NAME_BYTES} UTF-8 bytes: {device_id!r}")
    return device_id


def _length_prefixed(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def face_curves(blendshapes: np.ndarray | None, head_pose) -> np.ndarray:
    """The packet's 61 values from a frame's (52,) ARKit weights (runtime order) and `HeadPose` (None: zeros)."""
    curves = np.zeros(len(FACE_CURVES), np.float32)
    if blendshapes is not None:
        curves[:FACE_BLENDSHAPE_COUNT] = np.asarray(blendshapes, np.float32)[_RUNTIME_INDEX]
    if head_pose is not None:
        curves[FACE_BLENDSHAPE_COUNT : FACE_BLENDSHAPE_COUNT + 3] = (
            -head_pose.yaw_deg / 180.0,
            -head_pose.pitch_deg / 180.0,
            head_pose.roll_deg / 180.0,
        )
    return curves  # the six eye angles stay 0: see the module docstring


def encode_packet(device_id: str, subject: str, frame_number: int, fps: int, curves: np.ndarray) -> bytes:
    """One Live Link Face datagram (version 6, the layout in the module docstring)."""
    return b"".join((
        bytes((PACKET_VERSION,)),
        _length_prefixed(device_id),
        _length_prefixed(subject),
        _HEADER_TAIL.pack(frame_number, 0.0, fps, 1, len(FACE_CURVES)),
        _CURVES.pack(*curves.tolist()),
    ))  # fmt: skip


class LiveLinkOutput:
    """Sends each avatar frame of every session to `target` (HOST:PORT) as a Live Link Face packet whose subject is
    the avatar's identity. A mirror of a `SessionStream`: called with (session_id, event), never blocks, never
    raises for the network. `sent` and `dropped` count datagrams."""

    def __init__(self, target: str, device_id: str = DEFAULT_DEVICE_ID):
        host, port = parse_target(target)
        self.target = target
        self.device_id = check_device_id(device_id)
        try:
            # Resolved once, here: a name lookup on every frame would block the event loop.
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as err:
            raise ValueError(f"cannot resolve the Live Link host {host!r} in {target!r}: {err.strerror}") from err
        self.address = address
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self.sent = 0
        self.dropped = 0
        self._session_fps: dict[str, int] = {}
        self._sessions_without_blendshapes: set[str] = set()
        self._error_logged = False
        logger.debug("Live Link output sending to %s as device %r", address, device_id)

    @property
    def closed(self) -> bool:
        return self._socket.fileno() == -1

    def __call__(self, session_id: str, event) -> None:
        from eai_avatar.runtime.pipeline.events import FrameOut, StreamEnded, StreamFailed, StreamStarted

        match event:
            case StreamStarted(output=output):
                self._session_fps[session_id] = output.fps
            case FrameOut(frame=frame):
                if frame.blendshapes is None:
                    # The session asked for no blendshapes: there is no face to send, only a head pose.
                    if session_id not in self._sessions_without_blendshapes:
                        self._sessions_without_blendshapes.add(session_id)
                        logger.info("session %s streams no blendshapes: Live Link gets none of its frames", session_id)
                    return
                self.send(frame.avatar, frame.index, self._session_fps.get(session_id, FPS),
                          face_curves(frame.blendshapes, frame.head_pose))  # fmt: skip
            case StreamEnded() | StreamFailed():
                self._session_fps.pop(session_id, None)
                self._sessions_without_blendshapes.discard(session_id)

    def send(self, subject: str, frame_number: int, fps: int, curves: np.ndarray) -> bool:
        """Send one packet; False (counted in `dropped`) when it could not go out. Never blocks."""
        if len(subject.encode("utf-8")) > MAX_NAME_BYTES:
            self._failed(f"subject name longer than {MAX_NAME_BYTES} UTF-8 bytes: {subject[:40]!r}...")
            return False
        packet = encode_packet(self.device_id, subject, frame_number, fps, curves)
        try:
            self._socket.sendto(packet, self.address)
        except OSError as err:  # BlockingIOError (the kernel's buffer is full) included: a dropped frame
            self._failed(f"{type(err).__name__}: {err}")
            return False
        self.sent += 1
        return True

    def _failed(self, reason: str) -> None:
        self.dropped += 1
        if not self._error_logged:
            self._error_logged = True
            logger.warning("Live Link output to %s dropped a frame (%s); later drops are only counted",
                           self.target, reason)  # fmt: skip

    def close(self) -> None:
        """Close the socket. Idempotent."""
        if not self.closed:
            self._socket.close()
            if self.dropped:
                logger.info("Live Link output to %s dropped %d of %d frames", self.target, self.dropped,
                            self.dropped + self.sent)  # fmt: skip

    def __enter__(self) -> LiveLinkOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LiveLinkOutput({self.target!r}, sent={self.sent}, dropped={self.dropped})"
