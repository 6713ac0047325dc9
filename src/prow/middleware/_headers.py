"""Small edits on raw ASGI header lists, shared by the built-in middleware."""

from __future__ import annotations

from collections.abc import Iterable

RawHeaders = list[tuple[bytes, bytes]]


def copy_headers(headers: Iterable[tuple[bytes, bytes]] | None) -> RawHeaders:
    """A list we may edit: the app's own list may be shared with a cached response."""
    return list(headers) if headers else []


def set_header(headers: RawHeaders, name: bytes, value: bytes) -> None:
    """Replace every ``name`` header with one holding ``value``."""
    headers[:] = [item for item in headers if item[0].lower() != name]
    headers.append((name, value))


def remove_header(headers: RawHeaders, name: bytes) -> None:
    """Drop every ``name`` header."""
    headers[:] = [item for item in headers if item[0].lower() != name]


def add_vary(headers: RawHeaders, token: bytes) -> None:
    """Add ``token`` to the Vary header, merging with a value the app already set."""
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            tokens = {part.strip().lower() for part in value.split(b",")}
            if token.lower() not in tokens and b"*" not in tokens:
                headers[index] = (key, value + b", " + token)
            return
    headers.append((b"vary", token))
