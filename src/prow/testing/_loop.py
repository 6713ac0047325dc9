"""The event loop a test client runs its app on: one per app, in a daemon thread.

A ``TestClient`` is synchronous, so the app runs on an event loop in another thread. Every
client of one app shares that loop while any of them is open (inside ``with`` or used
without it and not yet closed): what the app keeps per loop — a database pool, a Redis
client — is then made once, and connections never cross loops. The thread is a daemon: a
client nobody closed cannot keep the interpreter from exiting. A client dropped without
being closed gives its loop back when it is garbage-collected (the next client made does
the stopping, from a thread that can wait for it), so a test suite full of
``TestClient(app).get(...)`` keeps no thread per app.
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal

__all__ = ["Lease", "SharedLoop", "loop_for"]

# Keyed by the app itself, so two apps never share (or close) each other's loop.
_LOOPS: weakref.WeakKeyDictionary[Any, SharedLoop] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_THREAD_NAME = "prow-testclient-loop"
# Leases of clients collected while still holding their loop; released by the next loop_for.
_ABANDONED: list[Lease] = []


class Lease:
    """One client's hold on a shared loop; :meth:`release` gives it back once."""

    __slots__ = ("_loop", "portal")

    def __init__(self, loop: SharedLoop, portal: BlockingPortal) -> None:
        self._loop: SharedLoop | None = loop
        self.portal = portal

    def release(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.release()

    def abandon(self) -> None:
        """Called when the client is collected: release later, from a safe thread."""
        if self._loop is not None:
            _ABANDONED.append(self)  # list.append is atomic: GC may run in any thread


class SharedLoop:
    """An event loop in a daemon thread, reached through a ``BlockingPortal``; counted users."""

    def __init__(self, app: Any, backend: str, options: dict[str, Any] | None) -> None:
        self._app = weakref.ref(app)
        self._backend = backend
        self._options = options
        self._users = 0
        self._portal: BlockingPortal | None = None
        self._thread: threading.Thread | None = None

    def acquire(self) -> Lease:
        """A hold on the loop (its portal), starting the loop for its first user."""
        with _LOCK:
            if self._portal is None:
                self._portal, self._thread = _start(self._backend, self._options)
            self._users += 1
            return Lease(self, self._portal)

    def release(self) -> None:
        """One user less; the last one stops the loop (its tasks are cancelled)."""
        with _LOCK:
            self._users -= 1
            if self._users > 0 or self._portal is None:
                return
            portal, thread, self._portal, self._thread = self._portal, self._thread, None, None
        app = self._app()
        release = getattr(app, "release", None)
        if release is not None:
            # What the app opened on this loop (pools, clients) cannot outlive it.
            portal.call(release)
        portal.call(portal.stop)
        if thread is not None:
            thread.join()


def loop_for(app: Any, backend: str, options: dict[str, Any] | None) -> SharedLoop:
    """The shared loop of ``app`` (made, not started, on first request)."""
    if _ABANDONED and threading.current_thread().name != _THREAD_NAME:
        while _ABANDONED:
            _ABANDONED.pop().release()
    with _LOCK:
        found = _LOOPS.get(app)
        if found is None:
            found = _LOOPS[app] = SharedLoop(app, backend, options)
        return found


def _start(backend: str, options: dict[str, Any] | None) -> tuple[BlockingPortal, threading.Thread]:
    handover: queue.Queue[BlockingPortal | BaseException] = queue.Queue()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            handover.put(portal)
            await portal.sleep_until_stopped()

    def run() -> None:
        try:
            anyio.run(serve, backend=backend, backend_options=options)
        except BaseException as exc:  # reported to the thread that waits for the portal
            handover.put(exc)

    thread = threading.Thread(target=run, name=_THREAD_NAME, daemon=True)
    thread.start()
    found = handover.get()
    if isinstance(found, BaseException):
        raise found
    return found, thread
