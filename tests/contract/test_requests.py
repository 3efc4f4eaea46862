"""Unary calls and the server's edges: CreateSession checks everything it is given, statuses are the contract's
(never UNKNOWN), reflection v1 and v1alpha, tokens that cannot turn authentication off by accident."""

import asyncio
import os
import subprocess
import sys

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2

from eai_avatar.v1 import common_pb2, converse_pb2, session_pb2, tree_pb2
from tests.contract.conftest import FAST, Stream, create, of, running


def _request(**fields):
    characters = fields.pop("characters", ("ada", "bo"))
    return session_pb2.CreateSessionRequest(characters=[c if isinstance(c, session_pb2.Character) else
                                                        session_pb2.Character(identity=c) for c in characters],
                                            output=fields.pop("output", FAST), **fields)  # fmt: skip


BAD_REQUESTS = [
    (dict(characters=("ada", "nobody")), grpc.StatusCode.NOT_FOUND, "unknown identity 'nobody'"),
    (dict(characters=("ada", "ada")), grpc.StatusCode.INVALID_ARGUMENT, "different identities"),
    (dict(characters=("ada",)), grpc.StatusCode.INVALID_ARGUMENT, "exactly two"),
    (dict(characters=(session_pb2.Character(identity="ada", voice="klingon-robot"), "bo")), grpc.StatusCode.NOT_FOUND,
     "unknown voice 'klingon-robot'"),
    (dict(dialogue_backend="gpt-9"), grpc.StatusCode.INVALID_ARGUMENT, "not one of scripted, openai, local"),
    (dict(dialogue_topic="no-such-dialogue"), grpc.StatusCode.INVALID_ARGUMENT, "unknown scripted dialogue"),
    (dict(dialogue_backend="local"), grpc.StatusCode.FAILED_PRECONDITION, "local dialogue backend is not usable"),
    (dict(output=session_pb2.OutputOptions(fps=61)), grpc.StatusCode.INVALID_ARGUMENT, "fps must lie in 1..60"),
    (dict(output=session_pb2.OutputOptions(width=32)), grpc.StatusCode.INVALID_ARGUMENT, "width must lie in 64..1024"),
    (dict(output=session_pb2.OutputOptions(image_encoding=9)), grpc.StatusCode.INVALID_ARGUMENT,
     "not an ImageEncoding"),
    (dict(output=session_pb2.OutputOptions(include_human_avatar=True)), grpc.StatusCode.INVALID_ARGUMENT,
     "needs a HUMAN_AGENT session"),
    (dict(mode=7), grpc.StatusCode.INVALID_ARGUMENT, "not a Mode"),
]  # fmt: skip


def test_create_session_checks_everything_it_is_given(models, tmp_path, monkeypatch):
    monkeypatch.delenv("EAI_AVATAR_LOCAL_MODEL", raising=False)

    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, manager, *_):
            failures = []
            for fields, _, _ in BAD_REQUESTS:
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await stub.CreateSession(_request(**dict(fields)))
                failures.append((failure.value.code(), failure.value.details()))
            scottish = session_pb2.Character(identity="ada", voice="en-gb-scotland")
            good = await stub.CreateSession(_request(characters=(scottish, "bo"), dialogue_topic="last-train"))
            stored = await asyncio.to_thread(manager.store.list_sessions)
            return failures, good, stored

    failures, good, stored = asyncio.run(scenario())
    for (code, details), (_, want_code, want_text) in zip(failures, BAD_REQUESTS, strict=True):
        assert code == want_code and want_text in details, (code, details)
    assert [s.session_id for s in stored] == [good.session_id]  # nothing refused was stored
    assert good.characters[0].voice == "en-gb-scotland" and good.output.fps == 25 and good.output.width == 256
    assert (good.mode, good.dialogue_backend, good.dialogue_topic) == (session_pb2.MODE_AGENT_AGENT, "scripted",
                                                                       "last-train") and good.seed != 0  # fmt: skip
    assert good.output.HasField("include_human_avatar") and not good.output.include_human_avatar  # defaults, said


def test_list_identities_names_what_a_session_may_ask_for(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            listing = await stub.ListIdentities(session_pb2.ListIdentitiesRequest())
            chosen = await stub.CreateSession(_request(characters=(
                session_pb2.Character(identity="ada", voice=listing.voices[-1]), "bo"),
                dialogue_topic=listing.dialogues[0]))  # fmt: skip
            return listing, chosen

    listing, chosen = asyncio.run(scenario())
    assert {"ada", "bo", "cyra", "dev"} <= {i.name for i in listing.identities} and len(listing.blendshape_names) == 52
    assert "en-us" in listing.voices and "last-train" in listing.dialogues
    assert chosen.dialogue_topic == listing.dialogues[0] and chosen.characters[0].voice == listing.voices[-1]


def test_undecodable_requests_are_invalid_argument_and_unknown_sessions_not_found(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, _, _, channel):
            codes = []
            for method in ("CreateSession", "GetTree", "CloseSession", "ListIdentities"):
                raw = channel.unary_unary(f"/eai_avatar.v1.AvatarService/{method}", request_serializer=None,
                                          response_deserializer=None)  # fmt: skip
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await raw(b"\xff\xff\xff\xff")
                codes.append(failure.value.code())
            for call in (stub.GetTree(tree_pb2.GetTreeRequest(session_id="nope")),
                         stub.CloseSession(session_pb2.CloseSessionRequest(session_id="nope"))):  # fmt: skip
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await call
                codes.append(failure.value.code())
            stream = Stream(stub, "nope")
            await stream.send(advance=converse_pb2.Advance())  # not an attach
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await stream.read()
            codes.append(failure.value.code())
            return codes

    codes = asyncio.run(scenario())
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 4 + [grpc.StatusCode.NOT_FOUND] * 2 + [
        grpc.StatusCode.INVALID_ARGUMENT
    ]


def test_a_store_locked_at_create_session_is_unavailable(models, tmp_path):
    db = tmp_path / "s.db"

    async def scenario():
        async with running(models, db, lock_timeout_s=0.1) as (stub, manager, *_):
            manager.store._db.execute("SELECT 1")  # the store is open; now another connection takes the lock
            import sqlite3

            other = sqlite3.connect(db, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await stub.CreateSession(_request())
            other.execute("ROLLBACK")
            other.close()
            return failure.value

    error = asyncio.run(scenario())
    assert error.code() == grpc.StatusCode.UNAVAILABLE and "write lock" in error.details()


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_v1_and_v1alpha_list_and_describe_the_service(models, tmp_path, version):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (_, _, _, channel):
            request, response = reflection_pb2.ServerReflectionRequest, reflection_pb2.ServerReflectionResponse
            call = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                         request_serializer=request.SerializeToString,
                                         response_deserializer=response.FromString)()  # fmt: skip
            await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
            listed = await call.read()
            await call.write(
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="eai_avatar.v1.AvatarService")
            )
            described = await call.read()
            await call.done_writing()
            return listed, described

    listed, described = asyncio.run(scenario())
    names = {s.name for s in listed.list_services_response.service}
    assert {"eai_avatar.v1.AvatarService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"} <= names  # fmt: skip
    assert described.file_descriptor_response.file_descriptor_proto  # the .proto files, for grpcurl describe


def test_frames_carry_a_real_head_pose_and_every_blendshape(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub)).attach()
            await stream.line("ada", "Let me tell you about the longest day I ever had at the market.")
            await stream.until("turn_ended")
            return stream.events

    frames = of(asyncio.run(scenario()), "frame")
    yaw = np.array([f.head_pose.yaw_deg for f in frames])
    pitch = np.array([f.head_pose.pitch_deg for f in frames])
    assert np.ptp(yaw) > 1 and np.ptp(pitch) > 0.5  # the head turns and nods
    assert np.abs(yaw).max() <= 45 and np.abs(pitch).max() <= 30  # within common.proto's ranges
    assert all(len(f.blendshapes) == 52 for f in frames)


def test_a_voice_line_without_words_is_not_given_an_emotion_it_does_not_show(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub)).attach()
            rng = np.random.default_rng(0)
            for index in range(3):
                noise = (rng.standard_normal(16000 + 4000 * index) * 3000).astype("<i2").tobytes()
                await stream.line("ada", "", audio=common_pb2.Pcm16Audio(samples=noise, sample_rate=16000))
            await stream.line("bo", "I am so happy you came back!")
            await stream.until("turn_ended", 4)
            return stream.events

    started = of(asyncio.run(scenario()), "turn_started")
    unknown = [t.speaker_recognized for t in started[:3]]
    assert all(e.label == "neutral" and e.confidence < 0.5 for e in unknown) and started[0].text == "(voice line)"
    assert started[3].speaker_recognized.label == "happy"  # words are recognized as before


def _serve(*arguments, env=None):
    return subprocess.run([sys.executable, "-m", "eai_avatar", "serve", "--port", "0", *arguments],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})  # fmt: skip


def test_an_empty_token_is_refused_wherever_it_comes_from(tmp_path):
    empty = tmp_path / "token"
    empty.write_text("\n")
    for arguments, env, says in ((("--token", ""), {}, "--token is empty"),
                                 (("--token-file", str(empty)), {}, "is empty"),
                                 ((), {"EAI_AVATAR_TOKEN": " "}, "EAI_AVATAR_TOKEN is set but empty")):  # fmt: skip
        done = _serve("--db", str(tmp_path / "s.db"), *arguments, env=env)
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_the_token_from_a_file_is_required(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db", token="s3cret") as (stub, *_):
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await stub.ListIdentities(session_pb2.ListIdentitiesRequest())
            ok = await stub.ListIdentities(session_pb2.ListIdentitiesRequest(),
                                           metadata=(("authorization", "Bearer s3cret"),))  # fmt: skip
            return failure.value.code(), ok

    code, ok = asyncio.run(scenario())
    assert code == grpc.StatusCode.UNAUTHENTICATED and "ada" in [i.name for i in ok.identities]
