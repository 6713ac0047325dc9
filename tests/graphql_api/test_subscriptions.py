"""Subscriptions over websockets (graphql-transport-ws), with prow's injections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa

from prow import Request
from prow.db import DBSession
from prow.graphql import GraphQL

PROTOCOL = "graphql-transport-ws"


def _setup(models: Any) -> Any:
    def setup(app: Any, gql: GraphQL) -> None:
        @gql.subscription
        async def countdown(start: int = 3) -> AsyncIterator[int]:
            for value in range(start, 0, -1):
                yield value
                await asyncio.sleep(0)

        @gql.subscription
        async def titles(db: DBSession, request: Request, below: int) -> AsyncIterator[str]:
            statement = sa.select(models.Poem.title).where(models.Poem.price < below)
            for title in (await db.scalars(statement.order_by(models.Poem.id))).all():
                yield f"{title} for {request.headers.get('x-user', '?')}"

    return setup


def _subscribe(ws: Any, query: str, variables: dict[str, Any] | None = None) -> list[Any]:
    ws.send_json({"type": "connection_init"})
    assert ws.receive_json() == {"type": "connection_ack"}
    ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    received = []
    while True:
        message = ws.receive_json()
        if message["type"] == "complete":
            return received
        assert message["type"] == "next", message
        received.append(message["payload"])


def test_a_subscription_streams_its_values(catalogue: Any, models: Any) -> None:
    api = catalogue(setup=_setup(models))
    assert "countdown(start: Int! = 3): Int!" in api.gql.sdl()
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        assert ws.accepted_subprotocol == PROTOCOL
        received = _subscribe(ws, "subscription { countdown(start: 3) }")
    assert received == [{"data": {"countdown": value}} for value in (3, 2, 1)]


def test_subscriptions_get_a_session_and_the_connection(catalogue: Any, models: Any) -> None:
    api = catalogue(setup=_setup(models))
    headers = {"x-user": "ann"}
    with api.client.websocket_connect("/graphql", [PROTOCOL], headers=headers) as ws:
        received = _subscribe(ws, "subscription($b: Int!) { titles(below: $b) }", {"b": 2})
    assert received == [
        {"data": {"titles": "poem 00 for ann"}},
        {"data": {"titles": "poem 01 for ann"}},
    ]


def test_a_bad_subscription_is_an_error_message(catalogue: Any, models: Any) -> None:
    api = catalogue(setup=_setup(models))
    with api.client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {"id": "9", "type": "subscribe", "payload": {"query": "subscription { nope }"}}
        )
        message = ws.receive_json()
    assert message["type"] == "error" and message["id"] == "9"
    assert "Cannot query field 'nope'" in message["payload"][0]["message"]
