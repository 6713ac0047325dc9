# mypy: disable-error-code="import-not-found"
"""prow's RealWorld (Conduit) example (examples/conduit) as it ships, on its own database.

The realistic endpoints: the article list (a page of 20 with author profiles, tags, favorite
counts and the signed-in reader's favorited/following flags), one article by slug, and posting a
comment (a validated write with its foreign keys). The database, its rows and the reader's token
are shared with the peers' RealWorld apps: ``bench/apps/_realworld.py``. Every request the
benchmark sends is signed in as user 1 (``_realworld.AUTHORIZATION``, a token the Conduit's
``Auth`` accepts).
"""

from __future__ import annotations

from bench.apps import _realworld as rw

__all__ = ["app"]

_url = rw.prepare()  # also puts the example on sys.path

from conduit.app import create_app  # noqa: E402

from prow.settings import Settings  # noqa: E402

# Settings given, not put in os.environ: importing the bench app changes nothing for others.
app = create_app(Settings(database_url=_url, secret_key=rw.SECRET, debug=False))
