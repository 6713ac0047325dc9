"""prow's log output, for setting up logging without ``prow.settings`` or in a server's config.

::

    from prow.logging import configure_logging

    configure_logging("json", "INFO")  # one JSON object per line on stderr

:class:`JSONFormatter` and :class:`TextFormatter` are plain ``logging.Formatter`` classes, so a
server's logging configuration can name them (``"()": "prow.logging.JSONFormatter"``). Neither
lets logged text forge log lines: the text one escapes control characters, the JSON one
writes each record as one line.
"""

from prow._logging import (
    JSONFormatter,
    LogFormat,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
)

__all__ = ["JSONFormatter", "LogFormat", "RequestIdFilter", "TextFormatter", "configure_logging"]
