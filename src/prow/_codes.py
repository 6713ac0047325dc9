"""The registry of prow's error codes: each code defined once, with a one-line summary.

A code names one mistake for good: users search for it, tests assert on it, and
``docs/errors.md`` explains it under the anchor :func:`docs_link` gives (``#prow-e007``). A
new check takes the next free number of its area and gets a line here and a row in the
page's "Error codes" tables; ``tests/test_error_codes.py`` fails when a code raised in
``src/`` is missing from either, or appears twice. A number whose meaning is retired is not
given a new meaning.

========  ===================================================================
numbers   area
========  ===================================================================
E0xx      routing, parameters, middleware, OpenAPI (the core)
E1xx      secret key and hosts (E10x), sessions (E12x), rate limits (E14x),
          auth (E16x), templates (E18x), forms (E19x)
E2xx      admin (E20x-E22x), tasks (E23x-E25x), their taskiq broker backends (E26x),
          mail (E27x)
E3xx      cache (E300-E319), observability (E320-E339), channels (E34x)
E4xx      static files
E5xx      database (E50x), Resource and listings (E51x)
E6xx      settings and logging
E7xx      project apps (``settings.apps``)
E8xx      ``prow check`` findings
E9xx      GraphQL
========  ===================================================================
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["CODES", "DOCS_PAGE", "ErrorCode", "docs_link"]

#: The page that explains every code, as a path a reader of the repository can open.
DOCS_PAGE: Final = "docs/errors.md"


class ErrorCode(NamedTuple):
    """One registered code and what it means, in a few words."""

    code: str
    summary: str

    @property
    def anchor(self) -> str:
        """The code's anchor on :data:`DOCS_PAGE`: ``prow.E007`` -> ``prow-e007``."""
        return self.code.lower().replace(".", "-")


# In number order. A code appears once: the test counts the entries against CODES.
REGISTRY: Final = (
    ErrorCode("prow.E002", "a type annotation cannot be resolved"),
    ErrorCode("prow.E003", "dependencies form a cycle"),
    ErrorCode("prow.E004", "a websocket handler declares a body parameter"),
    ErrorCode("prow.E005", "a path parameter has no placeholder, or has a default"),
    ErrorCode("prow.E006", "a route mixes JSON body and form/file parameters"),
    ErrorCode("prow.E007", "a method is registered twice on the same path"),
    ErrorCode("prow.E008", "a path template is malformed"),
    ErrorCode("prow.E010", "a route path or router prefix does not start with '/'"),
    ErrorCode("prow.E011", "a router includes itself"),
    ErrorCode("prow.E012", "a route-only option is given to a router, include or app"),
    ErrorCode("prow.E020", "middleware is added after the app started"),
    ErrorCode("prow.E021", "an extension is installed (or replaced) after the app was built"),
    ErrorCode("prow.E022", "a route, router or mount is added after the app was built"),
    ErrorCode("prow.E023", "two extensions of one kind are installed"),
    ErrorCode("prow.E024", "something that is not an Extension is installed"),
    ErrorCode("prow.E025", "app.extension(Kind) asks for an extension the app does not have"),
    ErrorCode("prow.E026", "extensions require each other in a cycle"),
    ErrorCode("prow.E030", "App(openapi=...) has a key the document does not know"),
    ErrorCode("prow.E031", "a path placeholder is taken by no parameter"),
    ErrorCode("prow.E032", "a plain 'def' takes the async database session"),
    ErrorCode("prow.E100", "the secret key is missing, short or a placeholder"),
    ErrorCode("prow.E101", "allowed_hosts is one string instead of a list"),
    ErrorCode("prow.E102", "SecurityHeaders(extra=...) names a header responses set"),
    ErrorCode("prow.E121", "a session cookie option is malformed"),
    ErrorCode("prow.E122", 'same_site="none" without https_only'),
    ErrorCode("prow.E123", "the session store is not a SessionStore"),
    ErrorCode("prow.E140", "a rate limit does not parse"),
    ErrorCode("prow.E141", 'a rate limit key is not "ip", "user" or a function'),
    ErrorCode("prow.E142", "a rate-limit store is not a store"),
    ErrorCode("prow.E161", "Auth(app) is called twice for one app"),
    ErrorCode("prow.E162", "auth is used on an app without Auth(app)"),
    ErrorCode("prow.E163", "an API key is created while API keys are off"),
    ErrorCode("prow.E164", "the user or API key model has the wrong base class"),
    ErrorCode("prow.E165", "login() on an app without a session middleware"),
    ErrorCode("prow.E166", "token_schemes is empty or names a bad scheme"),
    ErrorCode("prow.E167", "login_field is not a unique column"),
    ErrorCode("prow.E180", "a templates directory does not exist"),
    ErrorCode("prow.E181", "template autoescaping is switched off"),
    ErrorCode("prow.E182", "a templates app cannot be found"),
    ErrorCode("prow.E183", 'static() is used but no mount is named "static"'),
    ErrorCode("prow.E190", "Widget(name) names an unknown widget"),
    ErrorCode("prow.E191", "a form model is not a pydantic model"),
    ErrorCode("prow.E192", "a form option names a field the form lacks"),
    ErrorCode("prow.E200", "admin.register() was given no model or no ModelAdmin"),
    ErrorCode("prow.E201", "an admin model has a composite primary key"),
    ErrorCode("prow.E202", "two admin models would have the same URL"),
    ErrorCode("prow.E203", "a ModelAdmin option names a field the model lacks"),
    ErrorCode("prow.E204", "the Admin prefix is not a path"),
    ErrorCode("prow.E205", "an inline has no model or no foreign key to its parent"),
    ErrorCode("prow.E230", "a task's options are invalid"),
    ErrorCode("prow.E231", "a task's signature cannot be planned"),
    ErrorCode("prow.E232", "enqueue() with no running app that has Tasks"),
    ErrorCode("prow.E233", "the task backend cannot be made"),
    ErrorCode("prow.E234", "result() of a task that keeps no result"),
    ErrorCode("prow.E260", "a task broker backend's libraries are not installed"),
    ErrorCode("prow.E261", "a task broker URL has a wrong option"),
    ErrorCode("prow.E270", "send_mail() is used on an app without the Mail extension"),
    ErrorCode("prow.E271", "a mail URL does not parse or names an unknown backend"),
    ErrorCode("prow.E272", "Mail(backend=...) is neither a mail URL nor a MailBackend"),
    ErrorCode("prow.E273", "mail.outbox is read while the backend is not the memory one"),
    ErrorCode("prow.E274", "the SMTP mail backend is used without aiosmtplib installed"),
    ErrorCode("prow.E275", "an e-mail template is rendered but no Templates are available"),
    ErrorCode("prow.E300", "Cache(on_error=...) is not 'bypass' or 'fail'"),
    ErrorCode("prow.E301", "a Cache timeout or lock time is not a positive number"),
    ErrorCode("prow.E302", "a cache URL is not redis://, rediss://, unix:// or memory://"),
    ErrorCode("prow.E303", "Cache(backend=...) is not a cache backend"),
    ErrorCode("prow.E304", "a route's cache= is not seconds, a CachePolicy or Invalidates"),
    ErrorCode("prow.E305", "a CachePolicy is both per_user and shared"),
    ErrorCode("prow.E306", "Invalidates() names no tag"),
    ErrorCode("prow.E320", "Observability(metrics_url=...) does not start with /"),
    ErrorCode("prow.E321", "Observability(ready_timeout=...) is not a positive number"),
    ErrorCode("prow.E340", "Channels got an unknown backend URL scheme or object"),
    ErrorCode("prow.E341", "Channels(history=) is not a positive int"),
    ErrorCode("prow.E342", "Channels(timeout=, queue_size=) is not positive"),
    ErrorCode("prow.E401", "a StaticFiles package is not installed"),
    ErrorCode("prow.E402", "a StaticFiles package is a module"),
    ErrorCode("prow.E403", "a StaticFiles package has no static folder"),
    ErrorCode("prow.E404", "StaticFiles has neither a directory nor packages"),
    ErrorCode("prow.E405", "the StaticFiles directory does not exist"),
    ErrorCode("prow.E501", "the database URL does not parse"),
    ErrorCode("prow.E502", "the database URL names an unknown database"),
    ErrorCode("prow.E503", "the database driver is not installed"),
    ErrorCode("prow.E504", "the database refuses the engine options"),
    ErrorCode("prow.E505", "the database cannot be used with these settings (start-up)"),
    ErrorCode("prow.E506", "a database timeout is not a positive number of seconds"),
    ErrorCode("prow.E510", "a listing's default_limit is outside 1..max_limit"),
    ErrorCode("prow.E511", "a listing option names an unknown or sensitive column"),
    ErrorCode("prow.E512", "Resource load= names an unknown relationship"),
    ErrorCode("prow.E513", "a Resource model has no single-column primary key"),
    ErrorCode("prow.E514", "Resource actions= or permissions= names an unknown action"),
    ErrorCode("prow.E515", "a Resource has no model"),
    ErrorCode("prow.E516", "a Resource hook is not async def"),
    ErrorCode("prow.E517", "read_only_fields names a field a custom write schema accepts"),
    ErrorCode("prow.E601", "settings have invalid values"),
    ErrorCode("prow.E602", "the log format is not auto, text or json"),
    ErrorCode("prow.E603", "the log level is not a level name"),
    ErrorCode("prow.E604", "request_id_header is not a header name"),
    ErrorCode("prow.E701", "a listed app module does not exist"),
    ErrorCode("prow.E702", "importing an app module raised"),
    ErrorCode("prow.E703", "an app's router is not a prow Router"),
    ErrorCode("prow.E704", "an app's commands are not click commands"),
    ErrorCode("prow.E705", "an app's hook or setup is not callable"),
    ErrorCode("prow.E706", "an app is listed twice"),
    ErrorCode("prow.E707", "apps is not a list of module names"),
    ErrorCode("prow.E801", "prow check --deploy: debug is on"),
    ErrorCode("prow.E802", "prow check --deploy: no secret key"),
    ErrorCode("prow.E803", "prow check --deploy: the secret key is weak"),
    ErrorCode("prow.E804", "prow check --deploy: no allowed hosts"),
    ErrorCode("prow.E805", 'prow check --deploy: "*" among the allowed hosts'),
    ErrorCode("prow.E806", "prow check --deploy: a secure-cookie setting is off"),
    ErrorCode("prow.E807", "prow check: migrations not applied"),
    ErrorCode("prow.E808", "prow check: the migration state cannot be read"),
    ErrorCode("prow.E809", "prow check --deploy: allowed hosts are only this machine's"),
    ErrorCode("prow.E810", "prow check: the database server cannot be reached now"),
    ErrorCode("prow.E811", "prow check: the models changed without a migration"),
    ErrorCode("prow.E812", "prow check: a dependency in use whose extra is not declared"),
    ErrorCode("prow.E900", "a GraphQL option has an invalid value"),
    ErrorCode("prow.E901", "a model is exposed twice on one GraphQL endpoint"),
    ErrorCode("prow.E903", "a GraphQL field is defined twice"),
    ErrorCode("prow.E904", "GraphQL is changed after its schema was built"),
    ErrorCode("prow.E905", "a GraphQL endpoint has no query"),
    ErrorCode("prow.E906", "a GraphQL resolver asks for a dependency it cannot get"),
)

#: Every registered code by its name.
CODES: Final = {entry.code: entry for entry in REGISTRY}


def docs_link(code: str) -> str | None:
    """Where ``code`` is explained (``docs/errors.md#prow-e007``); ``None`` if unregistered."""
    entry = CODES.get(code)
    return None if entry is None else f"{DOCS_PAGE}#{entry.anchor}"
