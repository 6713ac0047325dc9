"""What a route's ``cache=`` option says: keep its answers (``CachePolicy``) or drop others'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prow._exceptions import ConfigurationError

__all__ = ["CachePolicy", "Invalidates", "policy_of"]


@dataclass(frozen=True)
class CachePolicy:
    """How a ``GET`` route's answers are cached: ``@app.get("/items", cache=CachePolicy(60))``.

    ``cache=60`` is ``CachePolicy(60)``. An answer is kept ``ttl`` seconds (``0``: never
    kept, but still given an ``ETag`` so that ``If-None-Match`` gets a 304). Entries vary on
    the path, the query string (in any order), ``Accept`` and the request headers named in
    ``vary``. ``tags`` name the entry for :meth:`Cache.invalidate`; ``{name}`` in a tag is
    filled with that path parameter (``"item:{item_id}"``).

    Credentials: a route that can read them (it takes the request, a cookie, an
    ``Authorization`` or ``X-API-Key`` header, or a dependency that does) is not cached for
    a request that carries any, unless ``per_user=True`` (each set of credentials gets its
    own entries) or ``shared=True`` (you state the answer is the same for everyone).
    An answer that sets a cookie, says ``Cache-Control: no-store`` or ``private``, is not a
    200, or streams, is never kept.
    """

    ttl: float
    vary: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    per_user: bool = False
    shared: bool = False
    #: Set by prow: the lower-cased ``vary`` headers as bytes, for the request's lookup.
    vary_bytes: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int | float) or self.ttl < 0:
            raise ConfigurationError(
                "prow.E304",
                f"cache= takes seconds (a number >= 0) or a CachePolicy, not {self.ttl!r}",
            )
        if self.per_user and self.shared:
            raise ConfigurationError(
                "prow.E305", "CachePolicy: per_user=True and shared=True contradict each other"
            )
        object.__setattr__(self, "vary", tuple(self.vary))
        object.__setattr__(self, "tags", tuple(self.tags))
        names = tuple(sorted({name.lower() for name in self.vary} - {"accept"}))
        object.__setattr__(self, "vary_bytes", tuple(n.encode("latin-1") for n in names))


@dataclass(frozen=True)
class Invalidates:
    """On a write route: after a successful (2xx) answer, drop the entries with these tags.

    ``@app.patch("/items/{item_id}", cache=Invalidates("items", "item:{item_id}"))``.
    """

    tags: tuple[str, ...]

    def __init__(self, *tags: str) -> None:
        if not tags:
            raise ConfigurationError("prow.E306", "Invalidates() needs at least one tag")
        object.__setattr__(self, "tags", tags)


def policy_of(option: object, where: str) -> CachePolicy | Invalidates:
    """The route option ``cache=`` as a policy; ``prow.E304`` for what it cannot be."""
    if isinstance(option, CachePolicy | Invalidates):
        return option
    if isinstance(option, int | float) and not isinstance(option, bool):
        return CachePolicy(option)
    raise ConfigurationError(
        "prow.E304",
        f"{where}: cache= takes seconds, a CachePolicy or Invalidates(...), not {option!r}",
    )


def fill_tags(tags: Iterable[str], params: dict[str, object]) -> list[str]:
    """Tags with ``{name}`` placeholders filled from the path parameters."""
    return [tag.format_map(params) if "{" in tag else tag for tag in tags]
