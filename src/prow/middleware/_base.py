"""The middleware spec an app turns into its stack once, at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Concatenate, ParamSpec

from prow._types import ASGIApp

__all__ = ["Middleware"]

P = ParamSpec("P")


class Middleware:
    """A middleware class and the options to build it with, applied later around an app.

    ``Middleware(CORSMiddleware, allow_origins=["https://example.com"])`` records what to build;
    the app calls :meth:`build` once when it assembles its stack, so a request never pays for
    configuration. The options are type-checked against the class's own signature.
    """

    __slots__ = ("args", "cls", "kwargs")

    def __init__(
        self,
        cls: Callable[Concatenate[ASGIApp, P], ASGIApp],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        self.cls: Callable[..., ASGIApp] = cls
        self.args: tuple[Any, ...] = args
        self.kwargs: dict[str, Any] = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def build(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app`` in this middleware and return the new ASGI callable."""
        return self.cls(app, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        name = getattr(self.cls, "__name__", repr(self.cls))
        options = [repr(arg) for arg in self.args]
        options += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"Middleware({', '.join([name, *options])})"
