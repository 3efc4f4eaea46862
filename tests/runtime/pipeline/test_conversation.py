"""The Conversation: tree, Q, persistence and clock, and a human talking, on fake models and a real store."""

import numpy as np
import pytest

from eai_avatar.runtime.config import RuntimeConfig, StoreConfig
from eai_avatar.runtime.itt import propagate
from eai_avatar.runtime.pipeline import Conversation, OutputSpec, TurnRequest
from eai_avatar.runtime.store import SessionRecord, SqliteStore, StoreUnavailable
from tests.runtime.pipeline.fakes import JAW, FakeModels

QUICK_RETRIES = RuntimeConfig(store=StoreConfig(retries=1, retry_backoff_s=0.0))


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "conv.db")
    store.create_session(SessionRecord("s", ("ada", "bo"), 0, {}))
    yield store
    store.close()


def conversation(store=None, **kwargs):
    return Conversation(FakeModels(), ("ada", "bo"), seed=1, store=store, session_id="s", config=QUICK_RETRIES,
                        **kwargs)  # fmt: skip


def run_turn(conv, speaker, text):
    plan = conv.plan_turn(TurnRequest(speaker, text))
    chunks = list(conv.turn_chunks(plan))
    return plan, chunks, conv.finish_turn(plan, sum(c.count for c in chunks), False)


def test_a_turn_commits_its_round_and_the_clock_before_any_media(store):
    conv = conversation(store)
    plan = conv.plan_turn(TurnRequest("ada", "happy to see you"))
    assert [n.id for n in store.load_nodes("s")] == [1, 2]
    assert store.get_session("s").clock_ms == plan.frames * 40  # where the turn will end
    assert plan.speaker_accumulated == propagate(conv.tree, 1) and plan.listener_accumulated == propagate(conv.tree, 2)
    chunks = list(conv.turn_chunks(plan))
    assert [c.count for c in chunks][0] == 3 and sum(c.count for c in chunks) == plan.frames
    assert all(len(c.frames) == 2 * c.count for c in chunks)  # both avatars, every frame


def test_a_store_that_stays_unavailable_leaves_memory_equal_to_the_store(store, monkeypatch):
    conv = conversation(store)
    run_turn(conv, "ada", "first line")
    calls = []

    def locked(*args, **kwargs):
        calls.append(args)
        raise StoreUnavailable("another process holds the store's write lock")

    monkeypatch.setattr(store, "append_nodes", locked)
    with pytest.raises(StoreUnavailable):
        conv.plan_turn(TurnRequest("bo", "second line"))
    assert len(calls) == 2  # tried, then retried once
    assert len(conv.tree) == 2 and len(conv.q) == 2 and conv.tree.node(2).child == 0  # taken back whole
    monkeypatch.undo()
    plan = conv.plan_turn(TurnRequest("bo", "second line"))
    assert (plan.speak_node_id, plan.round) == (3, 2)
    assert [n.id for n in store.load_tree("s")] == [1, 2, 3, 4]  # no gap, ever


def test_the_clock_continues_after_a_restart_and_an_interrupted_turn_sets_it_back(store):
    conv = conversation(store)
    plan, chunks, summary = run_turn(conv, "ada", "a line of some length")
    assert summary.frames == plan.frames and conv.clock_ms == plan.frames * 40
    second = conv.plan_turn(TurnRequest("bo", "a much longer second line, that we will interrupt"))
    first_chunk = next(conv.turn_chunks(second))
    conv.finish_turn(second, first_chunk.count, interrupted=True)
    assert store.get_session("s").clock_ms == conv.clock_ms == (plan.frames + 3) * 40
    reborn = Conversation(FakeModels(), ("ada", "bo"), store.load_tree("s"), seed=2, store=store, session_id="s",
                          clock_ms=store.get_session("s").clock_ms)  # fmt: skip
    third = reborn.plan_turn(TurnRequest("ada", "and on"))
    assert third.start_ms == (plan.frames + 3) * 40 and third.round == 3


def test_dialogue_context_is_bounded_but_knows_its_position():
    conv = conversation()
    for i in range(60):
        conv.commit(conv.prepare(TurnRequest(("ada", "bo")[i % 2], f"line {i}")))
    context = conv.dialogue_context(None, {}, "")
    assert len(context.history) == 50 and context.position == 60 and context.next_speaker == "ada"
    assert context.history[-1].text == "line 59"
    assert conv.dialogue_context("bo", {}, "").next_speaker == "bo"


def test_a_humans_own_avatar_moves_with_their_voice():
    conv = conversation(human="ada", output=OutputSpec(include_images=False, include_human_avatar=True))
    speech = (np.sin(np.arange(16000) * 2 * np.pi * 200 / 16000) * 8000).astype(np.int16)
    audio = np.concatenate([np.zeros(16000, np.int16), speech])  # 1 s silent, 1 s talking
    conv.start_human_voice()
    frames = []
    for start in range(0, len(audio), 1600):
        frames += [f for chunk in conv.listen(4, True, audio[start : start + 1600]) for f in chunk.frames]
    frames += [f for chunk in conv.listen(0, True, None, final=True) for f in chunk.frames]
    human = [f for f in frames if f.avatar == "ada"]
    assert len(human) == 80 and [f.index for f in human] == list(range(80))  # every frame, owed ones at the end
    jaw = np.array([f.blendshapes[JAW] for f in human])
    assert jaw[5:20].max() < 0.2 and jaw[30:45].min() > 0.5  # the mouth follows the voice
    assert all(f.role == "speak" for f in human) and {f.avatar for f in frames} == {"ada", "bo"}


def test_a_humans_round_starts_where_their_speech_did():
    conv = conversation(human="ada", output=OutputSpec(include_images=False))
    run_turn(conv, "bo", "happy to meet you")
    start = conv.clock_frames
    conv.start_human_voice()
    shown = sum(chunk.count for chunk in conv.listen(30, True))
    plan, summary = conv.commit_human_round("nice to meet you too", np.ones(19200, np.int16) * 900, start, shown)
    assert plan.start_ms == start * 40 and summary.frames == 30 and summary.duration_ms == 1200
    assert plan.speaker == "ada" and plan.text == "nice to meet you too" and conv.clock_frames == start + 30
    unknown, _ = conv.commit_human_round("", np.ones(800, np.int16), conv.clock_frames, 1)
    assert unknown.text == "(inaudible)" and unknown.speaker_recognized.confidence < 0.5


def test_sessions_beyond_the_idle_limit_leave_memory_and_come_back_from_the_store(tmp_path, monkeypatch):
    from eai_avatar.runtime.config import Limits
    from eai_avatar.runtime.sessions import SessionManager, SessionRequest, manager
    from eai_avatar.runtime.sessions.manager import CharacterSpec

    store = SqliteStore(tmp_path / "many.db")
    config = RuntimeConfig(limits=Limits(idle_sessions=2))
    sessions = SessionManager(FakeModels(config=config), store, config)
    request = SessionRequest((CharacterSpec("ada"), CharacterSpec("bo")))
    monkeypatch.setattr(manager, "IDLE_AFTER_S", 0.0)  # everything unused counts as idle at once
    ids = [sessions.create(request)[0] for _ in range(4)]
    assert sessions.loaded(ids[0]) is None and sessions.loaded(ids[3]) is not None  # the oldest left memory
    again = sessions.get(ids[0])
    assert again.id == ids[0] and again.conversation.rounds == 0  # and came back from the store
    monkeypatch.setattr(manager, "IDLE_AFTER_S", 3600.0)  # just used: never dropped
    for _ in range(3):
        sessions.create(request)
    assert sessions.loaded(ids[0]) is again
    store.close()
