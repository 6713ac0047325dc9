"""The containers a request is read through: headers, query parameters, URL, client address, state.

``request.headers`` is a :class:`Headers` (``response.headers`` a :class:`MutableHeaders`),
``request.query_params`` a :class:`QueryParams` (a :class:`MultiDict`, as a form is),
``request.url`` a :class:`URL`, ``request.client`` an :class:`Address`, ``app.state`` and
``request.state`` a :class:`State`: import them from here to annotate your own code.
"""

from prow._datastructures import (
    URL,
    Address,
    Headers,
    MultiDict,
    MutableHeaders,
    QueryParams,
    State,
)

__all__ = ["URL", "Address", "Headers", "MultiDict", "MutableHeaders", "QueryParams", "State"]
