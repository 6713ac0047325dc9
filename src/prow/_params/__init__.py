"""Parameter planning and extraction (private engine; the markers are public via ``prow``)."""

from prow._params._markers import Body, Cookie, Depends, File, Form, Header, Param, Path, Query

__all__ = ["Body", "Cookie", "Depends", "File", "Form", "Header", "Param", "Path", "Query"]
