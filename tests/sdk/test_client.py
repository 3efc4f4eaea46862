"""The Python SDK against a small fake AvatarService: typed events, image decoding, tokens, errors, save_mp4."""

import asyncio
import io
import threading

import grpc
import numpy as np
import pytest
from PIL import Image

from eai_avatar.client import (
    SESSION_METADATA_KEY,
    AsyncAvatarClient,
    AudioChunk,
    AuthenticationError,
    AvatarClient,
    Frame,
    Header,
    InvalidRequestError,
    Status,
    StreamEnd,
    TurnEnded,
    TurnStarted,
    from_proto,
    save_mp4,
)
from eai_avatar.v1 import common_pb2, converse_pb2, service_pb2_grpc, session_pb2, tree_pb2

W, H, FPS, FRAMES, RATE = 32, 24, 25, 10, 16_000
SPEAKER_COLOR = (200, 40, 40)
LISTENER_BASE = (30, 90, 200)


def speaker_image(index: int) -> np.ndarray:
    """Solid colour, a little different each frame: survives JPEG nearly exactly."""
    return np.full((H, W, 3), (SPEAKER_COLOR[0], SPEAKER_COLOR[1] + index, SPEAKER_COLOR[2]), dtype=np.uint8)


def listener_image(index: int) -> np.ndarray:
    """A gradient that tells rows from columns, so a transposed RAW decode would show."""
    image = np.empty((H, W, 3), dtype=np.uint8)
    image[..., 0] = LISTENER_BASE[0] + np.arange(W)[None, :] // 4
    image[..., 1] = LISTENER_BASE[1] + np.arange(H)[:, None] // 4
    image[..., 2] = LISTENER_BASE[2] + index
    return image


def tone(count: int, start: int) -> bytes:
    t = (np.arange(count) + start) / RATE
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


class FakeAvatarService(service_pb2_grpc.AvatarServiceServicer):
    """Emits one scripted turn per Advance: 'ada' speaks (JPEG), 'bo' listens (RAW_RGB)."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.authorizations: list[str | None] = []
        self.session_headers: list[str | None] = []  # the affinity metadata of each call (deploy/README.md)
        self.received: list[str] = []  # the oneof names of client events, in order
        self.sent_images: dict[tuple[str, int], bytes] = {}
        self.create_requests: list[session_pb2.CreateSessionRequest] = []

    async def _check_token(self, context):
        authorization = dict(context.invocation_metadata()).get("authorization")
        self.authorizations.append(authorization)
        self.session_headers.append(dict(context.invocation_metadata()).get(SESSION_METADATA_KEY))
        if self.token is not None and authorization != f"Bearer {self.token}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    async def ListIdentities(self, request, context):  # noqa: N802
        await self._check_token(context)
        return session_pb2.ListIdentitiesResponse(
            identities=[session_pb2.Identity(name="ada", display_name="Ada"), session_pb2.Identity(name="bo")],
            emotions=["happy", "neutral"],
        )

    async def CreateSession(self, request, context):  # noqa: N802
        await self._check_token(context)
        self.create_requests.append(request)
        output = session_pb2.OutputOptions()
        output.CopyFrom(request.output)
        output.width, output.height, output.fps = W, H, FPS
        return session_pb2.CreateSessionResponse(session_id="sess-1", characters=request.characters, output=output)

    async def GetTree(self, request, context):  # noqa: N802
        await self._check_token(context)
        if request.session_id != "sess-1":
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no session {request.session_id!r}")
        return tree_pb2.TalkingTree(session_id="sess-1", characters=["ada", "bo"])

    async def CloseSession(self, request, context):  # noqa: N802
        await self._check_token(context)
        return session_pb2.CloseSessionResponse(rounds=1)

    def _turn(self):
        yield converse_pb2.ServerEvent(
            turn_started=converse_pb2.TurnStarted(
                round=1,
                speaker="ada",
                listener="bo",
                text="Hello there!",
                speaker_recognized=common_pb2.Emotion(
                    label="happy", confidence=0.8, distribution={"happy": 0.8, "neutral": 0.2}
                ),
                speaker_accumulated=common_pb2.Emotion(label="happy", confidence=0.7),
                speak_node_id=1,
                listen_node_id=2,
            )
        )
        for index in range(FRAMES):
            ms = index * 1000 // FPS
            buffer = io.BytesIO()
            Image.fromarray(speaker_image(index)).save(buffer, format="JPEG", quality=95)
            images = {
                "ada": (common_pb2.IMAGE_ENCODING_JPEG, buffer.getvalue(), common_pb2.ROLE_SPEAK),
                "bo": (common_pb2.IMAGE_ENCODING_RAW_RGB, listener_image(index).tobytes(), common_pb2.ROLE_LISTEN),
            }
            for avatar, (encoding, data, role) in images.items():
                self.sent_images[avatar, index] = data
                yield converse_pb2.ServerEvent(
                    frame=converse_pb2.Frame(
                        avatar=avatar,
                        index=index,
                        presentation_ms=ms,
                        role=role,
                        emotion="happy" if avatar == "ada" else "neutral",
                        width=W,
                        height=H,
                        encoding=encoding,
                        image=data,
                        blendshapes={"jawOpen": index / 10},
                        head_pose=common_pb2.HeadPose(yaw_deg=index, scale=1.0),
                    )
                )
            # ada speaks for frames 0-4, nobody for 5-6, bo for 7-9: the MP4 must keep the gap silent.
            speaker = "ada" if index < 5 else "bo" if index >= 7 else None
            if speaker:
                audio = common_pb2.Pcm16Audio(samples=tone(640, index * 640), sample_rate=RATE)
                yield converse_pb2.ServerEvent(
                    audio=converse_pb2.AudioChunk(avatar=speaker, presentation_ms=ms, audio=audio)
                )
        yield converse_pb2.ServerEvent(
            turn_ended=converse_pb2.TurnEnded(round=1, frames=FRAMES, duration_ms=FRAMES * 1000 // FPS)
        )

    async def Converse(self, request_iterator, context):  # noqa: N802
        await self._check_token(context)
        requests = request_iterator.__aiter__()
        first = await requests.__anext__()
        if first.WhichOneof("event") != "attach":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first event must be attach")
        self.received.append("attach")
        yield converse_pb2.ServerEvent(
            header=converse_pb2.StreamHeader(
                session_id=first.attach.session_id,
                contract_version="v1",
                fps=FPS,
                sample_rate=RATE,
                width=W,
                height=H,
                image_encoding=common_pb2.IMAGE_ENCODING_JPEG,
                characters=["ada", "bo"],
            )
        )
        async for event in requests:
            kind = event.WhichOneof("event")
            self.received.append(kind)
            if kind == "advance":
                for message in self._turn():
                    yield message
            elif kind == "interrupt":
                yield converse_pb2.ServerEvent(
                    status=common_pb2.Status(code=common_pb2.Status.CODE_INFO, message="nothing to interrupt")
                )
            elif kind == "end":
                yield converse_pb2.ServerEvent(end=converse_pb2.StreamEnd(reason="client ended"))
                return


@pytest.fixture
def serve():
    """Start a FakeAvatarService on port 0 in a background event loop; yields a function(token) -> (port, fake)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers = []

    def start(token=None):
        fake = FakeAvatarService(token)

        async def boot():
            server = grpc.aio.server()
            service_pb2_grpc.add_AvatarServiceServicer_to_server(fake, server)
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            return server, port

        server, port = asyncio.run_coroutine_threadsafe(boot(), loop).result(10)
        servers.append(server)
        return port, fake

    yield start
    for server in servers:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def drive_sync(conversation):
    """Write the client events, read until StreamEnd, interrupting after the turn and ending after the status."""
    conversation.say("hi")
    conversation.user_audio(np.zeros(int(1.5 * RATE), dtype=np.int16))  # 1.5 s -> two chunks
    conversation.user_utterance_end("hi")
    conversation.scripted_line("ada", "Hello there!", emotion="happy")
    conversation.advance(1)
    events = []
    for event in conversation:
        events.append(event)
        if isinstance(event, TurnEnded):
            conversation.interrupt()
        elif isinstance(event, Status):
            conversation.end()
    return events


EXPECTED_RECEIVED = [
    "attach",
    "user_text",
    "user_audio",
    "user_audio",
    "user_utterance_end",
    "scripted_line",
    "advance",
    "interrupt",
    "end",
]


def check_events(events, fake):
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Header", "TurnStarted"]
    assert kinds[-3:] == ["TurnEnded", "Status", "StreamEnd"]
    assert set(kinds[2:-3]) == {"Frame", "AudioChunk"}

    header = events[0]
    assert isinstance(header, Header)
    assert (header.session_id, header.fps, header.width, header.height) == ("sess-1", FPS, W, H)
    assert header.image_encoding == "jpeg" and header.characters == ("ada", "bo")

    turn = events[1]
    assert isinstance(turn, TurnStarted) and (turn.speaker, turn.listener, turn.text) == ("ada", "bo", "Hello there!")
    assert turn.speaker_recognized.label == "happy"
    assert turn.speaker_recognized.confidence == pytest.approx(0.8)
    assert turn.speaker_recognized.distribution == pytest.approx({"happy": 0.8, "neutral": 0.2})
    assert turn.listener_recognized is None  # unset on the wire

    frames = [e for e in events if isinstance(e, Frame)]
    assert len(frames) == 2 * FRAMES
    for frame in frames:
        assert frame.image.dtype == np.uint8 and frame.image.shape == (H, W, 3)
        assert frame.presentation_ms == frame.index * 40
        assert frame.blendshapes == pytest.approx({"jawOpen": frame.index / 10})
        assert frame.head_pose.yaw_deg == frame.index and frame.head_pose.scale == 1.0
        if frame.avatar == "ada":
            assert (frame.role, frame.encoding, frame.emotion) == ("speak", "jpeg", "happy")
            sent = np.asarray(Image.open(io.BytesIO(fake.sent_images["ada", frame.index])).convert("RGB"))
            np.testing.assert_array_equal(frame.image, sent)
            assert np.abs(frame.image.astype(int) - speaker_image(frame.index)).max() <= 3
        else:
            assert (frame.role, frame.encoding) == ("listen", "raw_rgb")
            np.testing.assert_array_equal(frame.image, listener_image(frame.index))

    chunks = [e for e in events if isinstance(e, AudioChunk)]
    assert [c.avatar for c in chunks] == ["ada"] * 5 + ["bo"] * 3
    assert all(c.samples.dtype == np.int16 and len(c.samples) == 640 and c.sample_rate == RATE for c in chunks)
    np.testing.assert_array_equal(chunks[0].samples, np.frombuffer(tone(640, 0), dtype="<i2"))

    assert events[-3] == TurnEnded(round=1, frames=FRAMES, duration_ms=400, interrupted=False)
    assert events[-2] == Status(code="info", message="nothing to interrupt", grpc_code=0)
    assert events[-1] == StreamEnd(reason="client ended")
    assert fake.received == EXPECTED_RECEIVED


def test_sync_client_round_trip(serve):
    port, fake = serve()
    with AvatarClient(f"127.0.0.1:{port}") as client:
        identities = client.list_identities()
        assert identities.names == ("ada", "bo") and identities.identities[0].display_name == "Ada"
        session = client.create_session(
            ["ada", {"identity": "bo", "persona": "a baker"}],
            output={"image_encoding": "raw_rgb", "pacing": "as_fast_as_possible", "include_audio": True},
            seed=7,
        )
        assert session.session_id == "sess-1"
        assert session.characters[1].persona == "a baker"
        assert session.output["image_encoding"] == "raw_rgb" and session.output["pacing"] == "as_fast_as_possible"
        assert session.output["include_listener_frames"] is True  # unset: the contract's default
        request = fake.create_requests[0]
        assert request.mode == session_pb2.MODE_AGENT_AGENT and request.dialogue_backend == "scripted"
        assert request.seed == 7 and request.output.pacing == session_pb2.PACING_AS_FAST_AS_POSSIBLE

        with client.converse(session.session_id) as conversation:
            events = drive_sync(conversation)
            assert conversation.header == events[0]
            with pytest.raises(RuntimeError, match="has ended"):
                conversation.say("too late")
        check_events(events, fake)

        assert client.get_tree("sess-1").characters == ["ada", "bo"]
        assert client.close_session("sess-1") == 1
    assert fake.authorizations == [None] * 5  # no token: no authorization metadata


def test_async_client_round_trip(serve):
    port, fake = serve()

    async def scenario():
        async with AsyncAvatarClient(f"127.0.0.1:{port}") as client:
            assert (await client.list_identities()).names == ("ada", "bo")
            session = await client.create_session(["ada", "bo"], mode="human_agent")
            events = []
            async with client.converse(session.session_id) as conversation:
                await conversation.say("hi")
                await conversation.user_audio(np.zeros(int(1.5 * RATE), dtype=np.float32))
                await conversation.user_utterance_end("hi")
                await conversation.scripted_line("ada", "Hello there!", emotion="happy")
                await conversation.advance()
                async for event in conversation:
                    events.append(event)
                    if isinstance(event, TurnEnded):
                        await conversation.interrupt()
                    elif isinstance(event, Status):
                        await conversation.end()
            assert (await client.get_tree("sess-1")).session_id == "sess-1"
            return events

    events = asyncio.run(scenario())
    check_events(events, fake)
    assert fake.create_requests[0].mode == session_pb2.MODE_HUMAN_AGENT


def test_async_close_cancels_quietly(serve):
    port, fake = serve()

    async def scenario():
        async with AsyncAvatarClient(f"127.0.0.1:{port}") as client:
            conversation = client.converse("sess-1")
            first = await conversation.__anext__()
            await conversation.close()
            return first, [event async for event in conversation]

    first, rest = asyncio.run(scenario())
    assert isinstance(first, Header) and rest == []


def test_token_reaches_the_server_and_a_wrong_one_is_refused(serve):
    port, fake = serve(token="s3cret")
    with AvatarClient(f"127.0.0.1:{port}", token="s3cret") as client:
        assert client.list_identities().names == ("ada", "bo")
        with client.converse("sess-1") as conversation:
            conversation.end()
            assert [type(e) for e in conversation] == [Header, StreamEnd]
    assert fake.authorizations == ["Bearer s3cret"] * 2

    with AvatarClient(f"127.0.0.1:{port}", token="wrong") as client:
        with pytest.raises(AuthenticationError, match="UNAUTHENTICATED.*rejected the token") as caught:
            client.list_identities()
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
        with client.converse("sess-1") as conversation, pytest.raises(AuthenticationError):
            list(conversation)
    with AvatarClient(f"127.0.0.1:{port}") as client, pytest.raises(AuthenticationError, match="pass token="):
        client.create_session(["ada", "bo"])

    async def wrong_async():
        async with AsyncAvatarClient(f"127.0.0.1:{port}", token="wrong") as client:
            with pytest.raises(AuthenticationError):
                await client.list_identities()
            conversation = client.converse("sess-1")
            with pytest.raises(AuthenticationError):
                await conversation.__anext__()

    asyncio.run(wrong_async())
    assert fake.authorizations[2:] == ["Bearer wrong", "Bearer wrong", None, "Bearer wrong", "Bearer wrong"]


def test_calls_about_a_session_name_it_for_a_proxy(serve):
    """Converse, GetTree and CloseSession carry the session id as metadata (a proxy routes on it); the others none."""
    port, fake = serve()
    with AvatarClient(f"127.0.0.1:{port}") as client:
        client.list_identities()
        client.create_session(["ada", "bo"])
        with client.converse("sess-1") as conversation:
            conversation.end()
            list(conversation)
        client.get_tree("sess-1")
        client.close_session("sess-1")

    async def calls():
        async with AsyncAvatarClient(f"127.0.0.1:{port}") as client:
            await client.get_tree("sess-1")
            conversation = client.converse("sess-1")
            await conversation.end()
            [event async for event in conversation]

    asyncio.run(calls())
    assert fake.session_headers == [None, None] + ["sess-1"] * 5


def test_server_errors_and_bad_arguments(serve):
    port, _ = serve()
    with AvatarClient(f"127.0.0.1:{port}") as client:
        with pytest.raises(LookupError, match="NOT_FOUND.*no session 'nope'"):
            client.get_tree("nope")
        with pytest.raises(ValueError, match="exactly two characters, got 1"):
            client.create_session(["ada"])
        with pytest.raises(ValueError, match="unknown mode 'solo'"):
            client.create_session(["ada", "bo"], mode="solo")
        with pytest.raises(ValueError, match="unknown output option 'colour'"):
            client.create_session(["ada", "bo"], output={"colour": 1})
        with pytest.raises(ValueError, match="fps must be an integer in 1..60"):
            client.create_session(["ada", "bo"], output={"fps": 0})
        with client.converse("sess-1") as conversation:
            with pytest.raises(ValueError, match="1..100 turns"):
                conversation.advance(0)
            with pytest.raises(ValueError, match="unknown emotion 'glad'"):
                conversation.scripted_line("ada", "hi", emotion="glad")
            with pytest.raises(ValueError, match="mono"):
                conversation.user_audio(np.zeros((2, 10), dtype=np.int16))
    assert issubclass(InvalidRequestError, ValueError)
    with pytest.raises(ValueError, match="tls=True"):
        AvatarClient(root_certificates=b"-----BEGIN CERTIFICATE-----")


def test_unreachable_server_names_the_target():
    with AvatarClient("127.0.0.1:1", timeout=5) as client, pytest.raises(Exception, match="127.0.0.1:1") as caught:
        client.list_identities()
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


def test_from_proto_decodes_png_rgba_and_rejects_a_short_raw_image():
    rgba = np.random.default_rng(0).integers(0, 256, (H, W, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    for encoding, data in ((common_pb2.IMAGE_ENCODING_PNG, buffer.getvalue()), (2, rgba.tobytes())):
        event = converse_pb2.ServerEvent(frame=converse_pb2.Frame(width=W, height=H, encoding=encoding, image=data))
        np.testing.assert_array_equal(from_proto(event).image, rgba)
    no_image = from_proto(converse_pb2.ServerEvent(frame=converse_pb2.Frame(avatar="ada", width=W, height=H)))
    assert no_image.image is None and no_image.head_pose is None
    short = converse_pb2.ServerEvent(
        frame=converse_pb2.Frame(avatar="ada", width=W, height=H, encoding=1, image=b"\0" * 10)
    )
    with pytest.raises(ValueError, match=f"'ada'.*raw_rgb image of {W}x{H} needs {W * H * 3} bytes, got 10"):
        from_proto(short)
    # an event this client does not know (a newer server's addition arrives as an empty oneof here) is skipped
    assert from_proto(converse_pb2.ServerEvent()) is None


def test_save_mp4_places_avatars_side_by_side_with_one_audio_track(serve, tmp_path):
    av = pytest.importorskip("av", reason="PyAV is optional: pip install av")
    port, _ = serve()
    with AvatarClient(f"127.0.0.1:{port}") as client, client.converse("sess-1") as conversation:
        conversation.advance(1)
        conversation.end()
        summary = save_mp4(conversation, tmp_path / "talk.mp4")

    assert summary.frames == FRAMES and summary.avatars == ("ada", "bo")
    assert (summary.width, summary.height, summary.fps) == (2 * W, H, FPS)
    assert summary.duration_s == pytest.approx(FRAMES / FPS)
    assert summary.audio_samples == FRAMES * 640

    with av.open(str(summary.path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (2 * W, H)
        assert audio.codec_context.name == "aac" and audio.codec_context.sample_rate == RATE
        assert audio.codec_context.layout.nb_channels == 1
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(pictures) == FRAMES
    left, right = pictures[0][:, :W].reshape(-1, 3).mean(0), pictures[0][:, W:].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(left, speaker_image(0).reshape(-1, 3).mean(0), atol=12)
    np.testing.assert_allclose(right, listener_image(0).reshape(-1, 3).mean(0), atol=12)

    with av.open(str(summary.path)) as container:
        decoded = [frame for frame in container.decode(audio=0)]
        start = decoded[0].pts * decoded[0].time_base
        samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in decoded]).astype(np.float64)
        duration = float(container.duration) / 1e6
    assert duration == pytest.approx(FRAMES / FPS, abs=0.1)
    # Align to the file's clock (the AAC encoder's priming shifts the first decoded frame).
    offset = int(round(-float(start) * RATE))
    samples = samples[offset:] if offset > 0 else samples
    if samples.max() > 2:  # s16 planar comes back as int16, fltp as floats in [-1, 1]
        samples = samples / 32768

    def rms(ms_from, ms_to):
        window = samples[ms_from * 16 : ms_to * 16]
        return float(np.sqrt(np.mean(window**2)))

    assert rms(20, 180) > 0.15  # ada's tone: amplitude 8000 / 32768 ~ 0.24, RMS ~ 0.17
    assert rms(215, 265) < 0.03  # nobody speaks between 200 and 280 ms
    assert rms(300, 380) > 0.15  # bo's tone
