"""The ASGI shapes every piece of prow shares, for annotating your own middleware and apps.

::

    from prow.types import ASGIApp, Receive, Scope, Send


    class Timing:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)
"""

from prow._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]
