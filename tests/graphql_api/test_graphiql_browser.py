"""GraphiQL at ``/graphql``, rendered by headless Chromium with no internet, running a query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from _browser import OfflinePage, serve_app
from prow import App
from prow.db import Database, Model
from prow.graphql import GraphQL

SCREENSHOT = Path(__file__).resolve().parent.parent.parent / "build" / "graphiql.png"


class Comet(Model):
    __tablename__ = "gql_comet"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


def make_app(tmp_path: Path) -> App:
    gql = GraphQL()
    gql.expose(Comet)
    app = App(extensions=[Database(f"sqlite:///{tmp_path / 'comets.sqlite3'}"), gql])

    @app.on_startup
    async def fill() -> None:
        db = app.extension(Database)
        await db.create_all(Comet)
        async with db.session() as session:
            await session.execute(sa.insert(Comet), [{"name": "Halley"}, {"name": "Encke"}])
            await session.commit()

    return app


def test_graphiql_runs_a_query_offline(offline_page: OfflinePage, tmp_path: Path) -> None:
    page: Any = offline_page.page
    with serve_app(make_app(tmp_path), lifespan="on") as base:
        answer = page.goto(f"{base}/graphql")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        editor = page.locator(".graphiql-query-editor .CodeMirror").first
        editor.wait_for(timeout=20000)
        page.evaluate(
            """() => document.querySelector('.graphiql-query-editor .CodeMirror')
                .CodeMirror.setValue('{ comets { totalCount edges { node { name } } } }')"""
        )
        page.locator(".graphiql-execute-button").click()
        result = page.locator(".graphiql-response .CodeMirror-code")
        result.get_by_text("Halley").wait_for(timeout=15000)
        text = result.inner_text()
        assert '"totalCount": 2' in text and "Encke" in text
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    offline_page.assert_offline()
    offline_page.assert_no_errors()
