"""Subscriptions fed by ``prow.channels``: a mutation publishes, every subscriber is told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry

from prow.channels import Channels
from prow.graphql import GraphQL

PROTOCOL = "graphql-transport-ws"


@strawberry.type
class Note:
    text: str
    by: str


def setup(app: Any, gql: GraphQL) -> None:
    app.install(Channels("memory://"))

    @gql.mutation
    async def post_note(channels: Channels, text: str) -> bool:
        await channels.publish("notes", {"text": text, "by": "graphql"})
        return True

    @gql.subscription
    async def notes(channels: Channels) -> AsyncIterator[Note | None]:
        async with channels.subscribe("notes") as messages:
            yield None  # subscribed: what is published from now on arrives
            async for message in messages:
                yield Note(**message.data)


def test_a_mutation_publishes_and_the_subscription_delivers(catalogue: Any) -> None:
    api = catalogue(setup=setup)
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        query = "subscription { notes { text by } }"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        assert ws.receive_json()["payload"] == {"data": {"notes": None}}
        for text in ("first", "second"):
            answer = api.query("mutation($t: String!) { postNote(text: $t) }", {"t": text})
            assert answer == {"data": {"postNote": True}}
            message = ws.receive_json()
            assert message == {
                "id": "1",
                "type": "next",
                "payload": {"data": {"notes": {"text": text, "by": "graphql"}}},
            }
        ws.send_json({"id": "1", "type": "complete"})


def test_model_changes_are_published_once_committed(catalogue: Any) -> None:
    def with_channels(app: Any, gql: GraphQL) -> None:
        app.install(Channels("memory://"))

    api = catalogue(GraphQL(changes=True), setup=with_channels)
    assert "poemChanges: PoemChange!" in api.gql.sdl()
    query = "subscription { poemChanges { action id node { title anthology { name } } } }"
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "7", "type": "subscribe", "payload": {"query": query}})
        # the subscription starts listening at once; give it a query's time to do so
        api.query("{ poem(id: 1) { id } }")
        created = api.query(
            'mutation { createPoem(data: {title: "new", price: 1, anthologyId: 2}) { id } }'
        )["data"]["createPoem"]["id"]
        api.query("mutation($id: Int!) { deletePoem(id: $id) }", {"id": created})
        refused = api.query(
            'mutation { createPoem(data: {title: "x", price: -1, anthologyId: 1}) { id } }'
        )
        assert refused["errors"]  # nothing was stored: nothing is announced
        first, second = ws.receive_json(), ws.receive_json()
    assert first["payload"]["data"]["poemChanges"] == {
        "action": "created",
        "id": created,
        "node": {"title": "new", "anthology": {"name": "novel"}},
    }
    assert second["payload"]["data"]["poemChanges"] == {
        "action": "deleted",
        "id": created,
        "node": None,
    }


def test_changes_need_channels(models: Any) -> None:
    import pytest

    from prow import App
    from prow.db import Database

    gql = GraphQL(changes=True)
    gql.expose(models.Motif)
    app = App(extensions=[Database("sqlite:///:memory:"), gql])
    with pytest.raises(Exception, match=r"prow\.E907"):
        app.build()
