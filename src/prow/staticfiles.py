"""Serve files from a directory or installed packages: ``app.mount("/static", StaticFiles(...))``.

Threat model: the URL path is attacker-controlled and must never reach a file outside
the served directories. Every request path is split into segments and rejected (404,
never 403 or 500, so nothing is revealed about what exists) when a segment is ``..``,
holds a NUL byte or a backslash (a separator on Windows, and never legitimate in a URL
path elsewhere), or carries a drive letter. Percent-encoded forms such as ``%2e%2e`` are
already decoded by the server in ``scope["path"]``, so they meet the same check. Finally
the real path (symlinks resolved) must lie inside the real directory, unless
``follow_symlink=True`` says links may point elsewhere on purpose.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread

from prow._exceptions import ConfigurationError, HTTPError
from prow._types import Receive, Scope, Send
from prow.responses import FileResponse, JSONResponse, RedirectResponse, Response

__all__ = ["StaticFiles"]

PACKAGE_SUBFOLDER = "static"
"""The folder of a package served when ``packages`` names only the package."""

_ALLOWED = "GET, HEAD"


def _problem(status: int, headers: dict[str, str] | None = None) -> Response:
    error = HTTPError(status)
    return JSONResponse(
        error.problem(), status, headers=headers, media_type="application/problem+json"
    )


def _safe_parts(path: str) -> list[str] | None:
    """The path's segments, or ``None`` when the path tries to leave the directory."""
    if "\0" in path or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    for part in parts:
        if part == ".." or os.path.splitdrive(part)[0]:
            return None
    return parts


def _package_directory(package: str | tuple[str, str]) -> Path:
    name, folder = (package, PACKAGE_SUBFOLDER) if isinstance(package, str) else package
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ConfigurationError("prow.E401", f"StaticFiles: package {name!r} is not installed.")
    if not spec.submodule_search_locations:
        raise ConfigurationError(
            "prow.E402", f"StaticFiles: {name!r} is a module, not a package with a folder."
        )
    for location in spec.submodule_search_locations:
        directory = Path(location, folder)
        if directory.is_dir():
            return directory
    raise ConfigurationError(
        "prow.E403",
        f"StaticFiles: package {name!r} has no {folder!r} folder; create it or pass "
        f"({name!r}, '<folder>') to name another.",
    )


class StaticFiles:
    """An ASGI app serving files under ``directory`` and then under each of ``packages``.

    ``packages`` items are a package name (its ``static`` folder is served) or a
    ``(package, folder)`` pair. With ``html=True`` a directory serves its
    ``index.html`` and a missing file serves ``404.html`` (status 404) when present.
    Only GET and HEAD are answered (405 otherwise). Files go out through
    :class:`~prow.responses.FileResponse`, so ETag, 304 and Range requests work.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        packages: Sequence[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
    ) -> None:
        self.html = html
        self.follow_symlink = follow_symlink
        self.directories = self._directories(directory, packages or (), check_dir)

    @staticmethod
    def _directories(
        directory: str | os.PathLike[str] | None,
        packages: Sequence[str | tuple[str, str]],
        check_dir: bool,
    ) -> list[Path]:
        if directory is None and not packages:
            raise ConfigurationError(
                "prow.E404", "StaticFiles needs a directory, packages, or both."
            )
        found: list[Path] = []
        if directory is not None:
            path = Path(directory)
            if check_dir and not path.is_dir():
                raise ConfigurationError(
                    "prow.E405",
                    f"StaticFiles directory {os.fspath(path)!r} does not exist "
                    "(create it, or pass check_dir=False to allow it to appear later).",
                )
            found.append(path)
        found.extend(_package_directory(package) for package in packages)
        # Resolved once: containment is checked against the real directory.
        return [path.resolve() for path in found]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            return
        response = await self._response(scope)
        await response(scope, receive, send)

    async def _response(self, scope: Scope) -> Response:
        if scope.get("method") not in ("GET", "HEAD"):
            return _problem(405, {"Allow": _ALLOWED})
        parts = _safe_parts(self._relative_path(scope))
        if parts is None:
            return _problem(404)
        return await anyio.to_thread.run_sync(self._lookup, parts, scope)

    @staticmethod
    def _relative_path(scope: Scope) -> str:
        """The part of the path under the mount: ``path`` minus the ``root_path`` prefix."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            return path[len(root_path) :]
        return path

    def _lookup(self, parts: list[str], scope: Scope) -> Response:
        """Find the file for ``parts`` (runs in a worker thread: it touches the disk)."""
        for root in self.directories:
            found = self._find(root, parts)
            if found is None:
                continue
            path, result = found
            if stat.S_ISREG(result.st_mode):
                return FileResponse(path, stat_result=result)
            if self.html and stat.S_ISDIR(result.st_mode):
                return self._directory_response(root, parts, scope)
        return self._not_found()

    def _directory_response(self, root: Path, parts: list[str], scope: Scope) -> Response:
        if not scope["path"].endswith("/"):
            # Relative links in index.html need the trailing slash. The target is rebuilt
            # from the checked segments, so "//evil.example" cannot become an open redirect.
            root_path = scope.get("root_path", "").rstrip("/")
            return RedirectResponse("/".join([root_path, *parts]) + "/")
        index = self._find(root, [*parts, "index.html"])
        if index is not None and stat.S_ISREG(index[1].st_mode):
            return FileResponse(index[0], stat_result=index[1])
        return self._not_found()

    def _not_found(self) -> Response:
        if self.html:
            for root in self.directories:
                page = self._find(root, ["404.html"])
                if page is not None and stat.S_ISREG(page[1].st_mode):
                    return FileResponse(page[0], status_code=404, stat_result=page[1])
        return _problem(404)

    def _find(self, root: Path, parts: list[str]) -> tuple[Path, os.stat_result] | None:
        """The file's path and stat under ``root``, or ``None`` if absent or outside it."""
        candidate = root.joinpath(*parts)
        if not self.follow_symlink:
            try:
                real = candidate.resolve()
            except (OSError, RuntimeError):  # RuntimeError: a symlink loop
                return None
            if not real.is_relative_to(root):
                return None  # a symlink inside the directory points outside it
        try:
            return candidate, candidate.stat()
        except (OSError, ValueError):
            return None
