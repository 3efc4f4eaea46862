"""The server on the PostgreSQL store: what one server stores, another on the same database reads at once, and a
server started again on it goes on with the conversation, tree and clock intact."""

import asyncio
from dataclasses import replace

from eai_avatar.v1 import tree_pb2
from tests.contract.conftest import Stream, create, of, running


def test_a_conversation_on_postgres_is_read_by_a_second_server_and_goes_on_after_a_restart(
    models, postgres_url, postgres_schema
):
    config = replace(models.config, store=replace(models.config.store, path=postgres_url, schema=postgres_schema))

    async def first_server():
        async with running(models, None, config, store=config.open_store()) as (stub, *_):
            session_id = await create(stub)
            stream = await Stream(stub, session_id).attach()
            await stream.line("ada", "Before the restart.")
            await stream.line("bo", "Still before it.")
            await stream.until("turn_ended", 2)
            tree = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            async with running(models, None, config, store=config.open_store()) as (replica, *_):
                seen = await replica.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            return session_id, stream.events, tree, seen

    session_id, events, tree, seen_by_replica = asyncio.run(first_server())
    assert [n.id for n in tree.nodes] == [1, 2, 3, 4] and seen_by_replica == tree

    async def restarted_server():
        async with running(models, None, config, store=config.open_store()) as (stub, *_):
            pages, after = [], 0
            while not pages or pages[-1].more:
                request = tree_pb2.GetTreeRequest(session_id=session_id, after_node=after, max_nodes=3)
                pages.append(await stub.GetTree(request))
                after = pages[-1].nodes[-1].id
            stream = await Stream(stub, session_id).attach()
            header = (await stream.until("header"))[0].header
            await stream.line("ada", "After the restart.")
            await stream.until("turn_ended")
            whole = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            return pages, header, stream.events, whole

    pages, header, resumed, whole = asyncio.run(restarted_server())
    assert [[n.id for n in page.nodes] for page in pages] == [[1, 2, 3], [4]]
    assert [n for page in pages for n in page.nodes] == list(tree.nodes)  # every field, as stored before
    played = sum(e.duration_ms for e in of(events, "turn_ended"))
    assert header.rounds_so_far == 2 and header.clock_ms == played
    started = of(resumed, "turn_started")[0]
    assert (started.round, started.text, started.start_ms) == (3, "After the restart.", played)
    assert [n.id for n in whole.nodes] == [1, 2, 3, 4, 5, 6]
    kept = [(n.id, n.text, n.emotion, n.confidence, n.parent, n.left_sibling, n.depth) for n in whole.nodes[:4]]
    assert kept == [(n.id, n.text, n.emotion, n.confidence, n.parent, n.left_sibling, n.depth) for n in tree.nodes]
    assert whole.nodes[4].parent == 4 and whole.nodes[4].depth == 3  # the new round hangs off the stored tree
