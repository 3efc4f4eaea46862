"""Session leases, on SQLite and on PostgreSQL alike: one replica drives a session at a time, another is refused
until the lease runs out (or is let go), and a replica that lost its lease can never write again (fencing), not even
a write it began before the takeover."""

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.store import Lease, LeaseLost, SessionLeased, SessionNotFoundError, SessionRecord
from eai_avatar.runtime.store.base import decide_lease
from tests.runtime.store.conftest import PostgresBackend

TTL_S = 0.6


def _created(store, session_id="s1"):
    store.create_session(SessionRecord(session_id, ("ada", "bo"), 0, {}))
    return store


def _next_round(store, session_id, text):
    tree = store.load_tree(session_id)
    return list(tree.add_round("ada" if tree.rounds % 2 else "bo", text, EmotionEstimate.certain("happy")))


def test_a_live_lease_refuses_another_replica_until_it_runs_out(backend):
    with _created(backend.open()) as replica_a, backend.open() as replica_b:
        assert replica_a.read_lease("s1") == Lease()  # never held
        held = replica_a.acquire_lease("s1", "a", TTL_S)
        assert (held.holder, held.epoch, held.taken) == ("a", 1, True)
        with pytest.raises(SessionLeased, match=r"session 's1' is driven by replica 'a' \(its lease runs until") as no:
            replica_b.acquire_lease("s1", "b", TTL_S)
        assert no.value.holder == "a" and 0 < no.value.retry_after_ms <= TTL_S * 1000
        assert replica_b.read_lease("s1") == Lease("a", 1, held.expires_unix_ms)  # the refusal changed nothing
        time.sleep(no.value.retry_after_ms / 1000 + 0.05)
        taken = replica_b.acquire_lease("s1", "b", TTL_S)
        assert (taken.holder, taken.epoch, taken.taken) == ("b", 2, True)
        with pytest.raises(SessionNotFoundError):
            replica_b.acquire_lease("nope", "b", TTL_S)


def test_a_replica_carries_its_own_hold_on_and_a_restarted_one_takes_it_back_at_once(backend):
    with _created(backend.open()) as store:
        held = store.acquire_lease("s1", "a", 30)
        again = store.acquire_lease("s1", "a", 30, held_epoch=held.epoch)  # a second attach in the same process
        assert (again.epoch, again.taken) == (1, False) and again.expires_unix_ms >= held.expires_unix_ms
        # The same replica id without the hold's epoch: a restarted process (or a second copy of the session). It may
        # take the session at once, and takes a new epoch, which fences whatever the old one still tries to write.
        restarted = store.acquire_lease("s1", "a", 30)
        assert (restarted.epoch, restarted.taken) == (2, True)
        with pytest.raises(LeaseLost):
            store.set_clock("s1", 40, lease=held)


def test_after_a_takeover_the_old_holder_writes_nothing(backend):
    with _created(backend.open()) as replica_a, backend.open() as replica_b:
        lease_a = replica_a.acquire_lease("s1", "a", TTL_S)
        replica_a.append_nodes("s1", _next_round(replica_a, "s1", "from a"), clock_ms=100, lease=lease_a)
        speak_a_later = _next_round(replica_a, "s1", "a, too late")  # prepared while a still held the lease
        time.sleep(TTL_S + 0.1)  # a stops renewing (paused, partitioned, killed)
        lease_b = replica_b.acquire_lease("s1", "b", TTL_S)
        for late_write in (
            lambda: replica_a.append_nodes("s1", speak_a_later, clock_ms=999, lease=lease_a),
            lambda: replica_a.set_clock("s1", 999, lease=lease_a),
            lambda: replica_a.mark_interrupted("s1", 1, "from", clock_ms=999, lease=lease_a),
            lambda: replica_a.renew_lease("s1", lease_a, TTL_S),
        ):
            with pytest.raises(LeaseLost, match="replica 'b' took session 's1' over"):
                late_write()
        replica_a.release_lease("s1", lease_a)  # letting go of a lost hold changes nothing
        assert replica_b.read_lease("s1") == Lease("b", 2, lease_b.expires_unix_ms)
        assert [n.text for n in replica_b.load_nodes("s1")] == ["from a", "from a"]
        assert replica_b.get_session("s1").clock_ms == 100 and not replica_b.load_nodes("s1")[0].interrupted
        replica_b.append_nodes("s1", _next_round(replica_b, "s1", "from b"), clock_ms=200, lease=lease_b)
        assert [n.id for n in replica_b.load_tree("s1")] == [1, 2, 3, 4]


def test_a_hold_that_lapsed_but_nobody_took_still_writes_and_renews(backend):
    """The take is the fence, not the clock: a replica whose renewal came late has lost nothing while no other took
    the session (and one that takes it later loads what it wrote)."""
    with _created(backend.open()) as store:
        lease = store.acquire_lease("s1", "a", 0.1)
        time.sleep(0.2)
        store.append_nodes("s1", _next_round(store, "s1", "late but alone"), clock_ms=50, lease=lease)
        renewed = store.renew_lease("s1", lease, 30)
        assert (renewed.holder, renewed.epoch) == ("a", 1) and renewed.expires_unix_ms > lease.expires_unix_ms


def test_letting_go_hands_the_session_over_at_once_and_keeps_the_hold_for_its_replica(backend):
    with _created(backend.open()) as replica_a, backend.open() as replica_b:
        lease = replica_a.acquire_lease("s1", "a", 30)
        replica_a.release_lease("s1", lease)
        again = replica_a.acquire_lease("s1", "a", 30, held_epoch=lease.epoch)
        assert (again.epoch, again.taken) == (1, False)  # nobody took it in between: the same hold goes on
        replica_a.release_lease("s1", again)
        assert replica_b.acquire_lease("s1", "b", 30).epoch == 2  # at once, not 30 s later


def test_a_closed_session_ends_its_lease(backend):
    with _created(backend.open()) as replica_a, backend.open() as replica_b:
        lease = replica_a.acquire_lease("s1", "a", 30)
        replica_b.delete_session("s1")  # CloseSession on another replica
        with pytest.raises(SessionNotFoundError):
            replica_a.renew_lease("s1", lease, 30)
        with pytest.raises(SessionNotFoundError):
            replica_a.append_nodes("s1", [], clock_ms=5, lease=lease)
        replica_a.release_lease("s1", lease)  # nothing to let go of: no error


def test_replicas_racing_for_a_free_session_get_one_hold(backend):
    """Six stores (six connections: replicas) take the same free session at once: exactly one holds it."""
    _created(backend.open()).close()
    held, refused, errors = [], [], []
    start = threading.Barrier(6)

    def take(replica):
        with backend.open() as store:
            start.wait()
            try:
                held.append(store.acquire_lease("s1", f"r{replica}", 30))
            except SessionLeased as exc:
                refused.append(exc.holder)
            except Exception as exc:  # collected and re-raised in the main thread
                errors.append(exc)

    threads = [threading.Thread(target=take, args=(r,)) for r in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(held) == 1 and len(refused) == 5
    assert set(refused) == {held[0].holder} and held[0].epoch == 1


LATE_WRITER = textwrap.dedent(
    """
    import sys
    from eai_avatar.runtime.itt import EmotionEstimate
    from eai_avatar.runtime.store import LeaseLost, open_store

    location, schema = sys.argv[1], sys.argv[2]
    store = open_store(location, schema=schema)
    lease = store.acquire_lease("s1", "a", float(sys.argv[3]))
    tree = store.load_tree("s1")
    store.append_nodes("s1", list(tree.add_round("bo", "a's first", EmotionEstimate.certain("sad"))), 40, lease=lease)
    late = list(tree.add_round("ada", "a's late one", EmotionEstimate.certain("sad")))
    sys.stdout.write("committed\\n")
    sys.stdout.flush()
    sys.stdin.readline()  # a pause as long as the test likes: no renewal meanwhile
    try:
        store.append_nodes("s1", late, 80, lease=lease)
        sys.stdout.write("written\\n")
    except LeaseLost as lost:
        sys.stdout.write(f"refused: {lost}\\n")
    """
)


def test_a_paused_process_that_lost_its_lease_cannot_write_after_the_takeover(backend):
    """Replica a (another process) commits a round, then stops renewing; b takes the session over once the lease has
    run out and commits its own round; a wakes up and tries the round it had ready: refused, nothing written."""
    with _created(backend.open()) as replica_b:
        command = [sys.executable, "-c", LATE_WRITER, backend.location, backend.schema, str(TTL_S)]
        paused = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
        assert paused.stdout.readline().strip() == "committed"
        deadline = time.monotonic() + 10
        while True:
            try:
                lease_b = replica_b.acquire_lease("s1", "b", 30)
                break
            except SessionLeased:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        replica_b.append_nodes("s1", _next_round(replica_b, "s1", "b's reply"), clock_ms=90, lease=lease_b)
        answer, _ = paused.communicate("\n", timeout=30)
        assert answer.startswith("refused: replica 'b' took session 's1' over"), answer
        nodes = replica_b.load_tree("s1").nodes
        assert [n.text for n in nodes] == ["a's first", "a's first", "b's reply", "b's reply"]
        assert replica_b.get_session("s1").clock_ms == 90


@pytest.mark.parametrize(
    "stored, holder, held_epoch, now, expected",
    [
        (Lease(), "a", None, 0, Lease("a", 1, 1000, True)),  # never held: taken
        (Lease("a", 3, 500), "a", 3, 0, Lease("a", 3, 1000, False)),  # its own hold: carried on
        (Lease("a", 3, 500), "a", 3, 700, Lease("a", 3, 1700, False)),  # lapsed, nobody took it: carried on
        (Lease("a", 3, 500), "a", None, 0, Lease("a", 4, 1000, True)),  # same replica, another process: taken
        (Lease("a", 3, 500), "a", 2, 0, Lease("a", 4, 1000, True)),  # an older copy of the session: taken
        (Lease("b", 3, 500), "a", None, 500, Lease("a", 4, 1500, True)),  # run out exactly now: taken
        (Lease("b", 3, 500), "a", 3, 600, Lease("a", 4, 1600, True)),  # another's epoch number is no hold of a's
    ],
)
def test_what_every_store_decides(stored, holder, held_epoch, now, expected):
    assert decide_lease("s1", stored, holder, held_epoch, now, 1.0) == expected


def test_a_live_lease_of_another_is_refused_by_decision():
    with pytest.raises(SessionLeased) as refused:
        decide_lease("s1", Lease("b", 3, 500), "a", 3, 499, 1.0)
    assert refused.value.retry_after_ms == 1
    with pytest.raises(ValueError, match="needs a holder"):
        decide_lease("s1", Lease(), "", None, 0, 1.0)


def test_the_config_names_the_replica_and_the_leases_time_to_live(tmp_path):
    from eai_avatar.runtime.config import RuntimeConfig

    defaults = RuntimeConfig.load(env={})
    assert defaults.store.lease_ttl_s == 10.0 and defaults.server.replica_id == ""  # "": the host's name
    file = tmp_path / "runtime.toml"
    file.write_text('[store]\nlease_ttl_s = 2\n[server]\nreplica_id = "from-file"\n')
    config = RuntimeConfig.load(file, env={"EAI_AVATAR_REPLICA_ID": "runtime-b"})
    assert config.store.lease_ttl_s == 2.0 and config.server.replica_id == "runtime-b"
    assert RuntimeConfig.load(file, env={}, overrides={"server.replica_id": "flag"}).server.replica_id == "flag"
    for text, message in (("[store]\nlease_ttl_s = 0.01", "lease_ttl_s must be at least 0.1 s"),
                          ("[server]\nreplica_id = ' a '", "has spaces around it")):  # fmt: skip
        file.write_text(text)
        with pytest.raises(ValueError, match=message):
            RuntimeConfig.load(file, env={})


def test_a_postgres_layout_from_before_leases_is_upgraded_in_place(postgres_url, postgres_schema):
    """Layout 1 gains the lease columns, every stored session's lease never held, and its sessions go on. (SQLite's
    upgrade from its version 1 is tested in test_sqlite.py.)"""
    backend = PostgresBackend(postgres_url, postgres_schema)
    _created(backend.open()).close()
    for column in ("lease_holder", "lease_epoch", "lease_expires_unix_ms"):
        backend.execute(f"ALTER TABLE sessions DROP COLUMN {column}")
    backend.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with backend.open() as store:
        assert store.read_lease("s1") == Lease()
        assert store.acquire_lease("s1", "a", 30).epoch == 1
    with backend._connect() as connection:
        assert connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
