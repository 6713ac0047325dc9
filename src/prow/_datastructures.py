"""Small immutable views over ASGI scope data: headers, query strings, URLs, state."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

__all__ = ["URL", "Address", "Headers", "MultiDict", "MutableHeaders", "QueryParams", "State"]


_V = TypeVar("_V")


class MultiDict(Mapping[str, _V]):
    """An immutable mapping that keeps every value of a repeated key.

    ``m[key]`` gives the last value (as most frameworks do); ``m.getlist(key)`` gives all.
    """

    __slots__ = ("_dict", "_list")

    def __init__(self, items: Iterable[tuple[str, _V]] | Mapping[str, _V] = ()) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        self._list: list[tuple[str, _V]] = pairs
        self._dict: dict[str, _V] = dict(pairs)

    def getlist(self, key: str) -> list[_V]:
        """Every value sent under ``key``, in order."""
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, _V]]:
        """Every ``(name, value)`` pair, in the order the client sent them."""
        return list(self._list)

    def __getitem__(self, key: str) -> _V:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._list, key=repr) == sorted(other._list, key=repr)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable contents: not hashable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class QueryParams(MultiDict[str]):
    """The decoded query string of a request."""

    __slots__ = ()

    def __init__(
        self, query: str | bytes | Iterable[tuple[str, str]] | Mapping[str, str] = ""
    ) -> None:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            super().__init__(_parse_query(query))
        else:
            super().__init__(query)

    def __str__(self) -> str:
        return urlencode(self._list)


def _parse_query(query: str) -> list[tuple[str, str]]:
    """Split a query string; plain ones (no escapes) skip the general decoder."""
    if not query:
        return []
    if "%" in query or "+" in query or ";" in query:
        return parse_qsl(query, keep_blank_values=True)
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only HTTP headers backed by the raw ASGI list of byte pairs."""

    __slots__ = ("_raw",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        if raw is not None:
            self._raw = raw
        elif scope is not None:
            self._raw = list(scope["headers"])
        elif headers is not None:
            self._raw = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
        else:
            self._raw = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._raw

    def getlist(self, key: str) -> list[str]:
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._raw if k == name]

    def get(self, key: str, default: Any = None) -> Any:
        name = key.lower().encode("latin-1")
        for k, v in self._raw:
            if k == name:
                return v.decode("latin-1")
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = key.lower().encode("latin-1")
        return any(k == name for k, _ in self._raw)

    def __iter__(self) -> Iterator[str]:
        seen: list[str] = []
        for k, _ in self._raw:
            key = k.decode("latin-1")
            if key not in seen:
                seen.append(key)
        return iter(seen)

    def __len__(self) -> int:
        return len({k for k, _ in self._raw})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[(k.decode(), v.decode()) for k, v in self._raw]!r})"


class MutableHeaders(Headers):
    """Headers that a response or a middleware may change in place."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw[:] = [(k, v) for k, v in self._raw if k != name]
        self._raw.append((name, value.encode("latin-1")))

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw[:] = [(k, v) for k, v in self._raw if k != name]

    def append(self, key: str, value: str) -> None:
        self._raw.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def setdefault(self, key: str, value: str) -> str:
        existing = self.get(key)
        if existing is None:
            self.append(key, value)
            return value
        return str(existing)

    def update(self, other: Mapping[str, str]) -> None:
        for key, value in other.items():
            self[key] = value


class URL:
    """A parsed URL; built from a scope or a string."""

    __slots__ = ("_split", "_url")

    def __init__(self, url: str = "", *, scope: Mapping[str, Any] | None = None) -> None:
        if scope is not None:
            url = _url_from_scope(scope)
        self._url = url
        self._split: SplitResult | None = None

    @property
    def components(self) -> SplitResult:
        if self._split is None:
            self._split = urlsplit(self._url)
        return self._split

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        return URL(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **params: Any) -> URL:
        query = dict(parse_qsl(self.query, keep_blank_values=True))
        query.update({k: str(v) for k, v in params.items()})
        return self.replace(query=urlencode(query))

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"URL({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)


def _url_from_scope(scope: Mapping[str, Any]) -> str:
    scheme = scope.get("scheme", "http")
    path = (
        scope.get("root_path", "") + scope["path"] if not _path_has_root(scope) else scope["path"]
    )
    query = scope.get("query_string", b"")
    host = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
            break
    if host is None:
        server = scope.get("server")
        if server is None:
            host = ""
        else:
            name, port = server
            default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
            host = name if port == default else f"{name}:{port}"
    url = f"{scheme}://{host}{path}"
    if query:
        url += "?" + query.decode("latin-1")
    return url


def _path_has_root(scope: Mapping[str, Any]) -> bool:
    root: str = scope.get("root_path", "")
    path: str = scope["path"]
    return not root or path.startswith(root)


class Address:
    """A ``(host, port)`` pair for the client or server end of a connection."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __iter__(self) -> Iterator[Any]:
        return iter((self.host, self.port))

    def __repr__(self) -> str:
        return f"Address(host={self.host!r}, port={self.port!r})"


class State:
    """An attribute bag (``app.state``, ``request.state``) that names the missing attribute."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        super().__setattr__("_values", {} if values is None else values)

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"state has no attribute {name!r}") from None

    def __delattr__(self, name: str) -> None:
        del self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values
