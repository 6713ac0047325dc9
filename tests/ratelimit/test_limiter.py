"""rate_limit() on routes, routers and apps, through App and TestClient."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated

import pytest

from prow import App, ConfigurationError, Depends, Request, Router
from prow.ratelimit import (
    RATE_LIMITED_RESPONSE,
    MemoryStore,
    RateLimitResult,
    RateLimits,
    client_address,
    rate_limit,
    use_rate_limit_store,
)
from prow.testing import TestClient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app_with_clock() -> tuple[App, Clock]:
    clock = Clock()
    app = App()
    app.install(RateLimits(MemoryStore(clock=clock)))
    return app, clock


def statuses(client: TestClient, path: str, count: int, **kwargs: object) -> list[int]:
    return [client.get(path, **kwargs).status_code for _ in range(count)]  # type: ignore[arg-type]


def test_429_problem_and_headers() -> None:
    app, _ = app_with_clock()

    @app.get("/login", dependencies=[rate_limit("5/minute")])
    async def login() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)
    assert statuses(client, "/login", 5) == [200] * 5
    response = client.get("/login")
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://prow.dev/problems/rate-limit-exceeded",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Rate limit exceeded: 5 per 1 minute",
    }
    assert response.headers["retry-after"] == "12"
    assert response.headers["ratelimit-limit"] == "5"
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-reset"] == "12"


def test_retry_after_is_at_least_one_second() -> None:
    app, _ = app_with_clock()

    @app.get("/fast", dependencies=[rate_limit("10/second")])
    async def fast() -> None:
        return None

    client = TestClient(app)
    statuses(client, "/fast", 10)
    response = client.get("/fast")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "Rate limit exceeded: 10 per 1 second"


def test_window_refills_with_the_store_clock() -> None:
    app, clock = app_with_clock()

    @app.get("/x", dependencies=[rate_limit("20/5 minutes")])
    async def x() -> None:
        return None

    client = TestClient(app)
    assert statuses(client, "/x", 21) == [200] * 20 + [429]
    clock.now += 15  # 300 s / 20 = one request back every 15 s
    assert statuses(client, "/x", 2) == [200, 429]
    clock.now += 300
    assert statuses(client, "/x", 21) == [200] * 20 + [429]


def test_limits_are_per_client_address() -> None:
    app, _ = app_with_clock()

    @app.get("/x", dependencies=[rate_limit("2/minute")])
    async def x() -> None:
        return None

    first = TestClient(app, client=("203.0.113.1", 4000))
    second = TestClient(app, client=("203.0.113.2", 4000))
    assert statuses(first, "/x", 3) == [200, 200, 429]
    assert statuses(second, "/x", 3) == [200, 200, 429]


def test_ipv6_clients_are_grouped_by_64() -> None:
    app, _ = app_with_clock()

    @app.get("/x", dependencies=[rate_limit("2/minute")])
    async def x() -> None:
        return None

    assert statuses(TestClient(app, client=("2001:db8:1:2::1", 1)), "/x", 2) == [200, 200]
    assert statuses(TestClient(app, client=("2001:db8:1:2::99", 1)), "/x", 1) == [429]
    assert statuses(TestClient(app, client=("2001:db8:1:3::1", 1)), "/x", 1) == [200]


def test_forwarded_for_is_not_trusted() -> None:
    app, _ = app_with_clock()

    @app.get("/x", dependencies=[rate_limit("1/minute")])
    async def x() -> None:
        return None

    client = TestClient(app)
    assert client.get("/x", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert client.get("/x", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 429


async def fake_login(request: Request) -> None:
    """Stands in for prow.auth: puts the user (or None) in scope["user"]."""
    name = request.headers.get("x-user")
    request.scope["user"] = None if name is None else SimpleNamespace(id=name)


def test_per_user_limits_fall_back_to_the_address_when_anonymous() -> None:
    app, _ = app_with_clock()

    @app.get("/me", dependencies=[Depends(fake_login), rate_limit("2/minute", key="user")])
    async def me() -> None:
        return None

    client = TestClient(app)
    assert statuses(client, "/me", 3, headers={"x-user": "alice"}) == [200, 200, 429]
    assert statuses(client, "/me", 2, headers={"x-user": "bob"}) == [200, 200]
    # Anonymous requests are limited by address, apart from the users' budgets.
    assert statuses(client, "/me", 3) == [200, 200, 429]


def test_user_with_pk_and_anonymous_user_objects() -> None:
    app, _ = app_with_clock()
    users = {"pk": SimpleNamespace(pk=7), "anon": SimpleNamespace(id=1, is_authenticated=False)}

    async def set_user(request: Request) -> None:
        request.scope["user"] = users[request.headers["x-kind"]]

    @app.get("/x", dependencies=[Depends(set_user), rate_limit("1/minute", key="user")])
    async def x() -> None:
        return None

    client = TestClient(app)
    assert statuses(client, "/x", 2, headers={"x-kind": "pk"}) == [200, 429]
    assert statuses(client, "/x", 2, headers={"x-kind": "anon"}) == [200, 429]


def test_custom_key_sync_and_async() -> None:
    app, _ = app_with_clock()

    def by_api_key(request: Request) -> str | None:
        return request.headers.get("x-api-key")

    async def by_tenant(request: Request) -> str:
        return "tenant:" + request.path_params["tenant"]

    @app.get("/keyed", dependencies=[rate_limit("1/minute", key=by_api_key)])
    async def keyed() -> None:
        return None

    @app.get("/t/{tenant}", dependencies=[rate_limit("1/minute", key=by_tenant)])
    async def tenant(tenant: str) -> None:
        return None

    client = TestClient(app)
    assert statuses(client, "/keyed", 2, headers={"x-api-key": "a"}) == [200, 429]
    assert statuses(client, "/keyed", 1, headers={"x-api-key": "b"}) == [200]
    assert statuses(client, "/keyed", 2) == [200, 429]  # no key: by address
    assert statuses(client, "/t/acme", 2) == [200, 429]
    assert statuses(client, "/t/other", 1) == [200]


def test_router_and_app_level_limits() -> None:
    app, _ = app_with_clock()
    app_wide = App(dependencies=[rate_limit("2/minute")])
    api = Router(prefix="/api", dependencies=[rate_limit("3/minute")])

    @api.get("/a")
    async def a() -> None:
        return None

    @api.get("/b")
    async def b() -> None:
        return None

    app.include(api)

    @app_wide.get("/one")
    async def one() -> None:
        return None

    @app_wide.get("/two")
    async def two() -> None:
        return None

    client = TestClient(app)
    # One rate_limit(...) is one budget, shared by every route it covers.
    assert [client.get(p).status_code for p in ("/api/a", "/api/b", "/api/a", "/api/b")] == [
        200,
        200,
        200,
        429,
    ]
    other = TestClient(app_wide)
    assert [other.get(p).status_code for p in ("/one", "/two", "/one")] == [200, 200, 429]


def test_separate_limits_have_separate_budgets_and_stack() -> None:
    app, _ = app_with_clock()
    burst = rate_limit("5/second")

    @app.get("/a", dependencies=[rate_limit("1/minute")])
    async def a() -> None:
        return None

    @app.get("/b", dependencies=[rate_limit("1/minute")])
    async def b() -> None:
        return None

    @app.get("/c", dependencies=[burst, rate_limit("2/minute")])
    async def c() -> None:
        return None

    client = TestClient(app)
    assert statuses(client, "/a", 2) == [200, 429]
    assert statuses(client, "/b", 2) == [200, 429]
    response = [client.get("/c") for _ in range(3)][-1]
    assert response.status_code == 429
    assert response.json()["detail"] == "Rate limit exceeded: 2 per 1 minute"


def test_as_a_parameter_and_success_headers() -> None:
    app, _ = app_with_clock()

    @app.get("/quota")
    async def quota(
        status: Annotated[RateLimitResult, rate_limit("3/minute", headers=True)],
    ) -> dict[str, int]:
        return {"remaining": status.remaining}

    client = TestClient(app)
    first = client.get("/quota")
    assert first.json() == {"remaining": 2}
    assert first.headers["ratelimit-limit"] == "3"
    assert first.headers["ratelimit-remaining"] == "2"
    assert first.headers["ratelimit-reset"] == "20"
    assert client.get("/quota").json() == {"remaining": 1}


def test_success_headers_are_off_by_default() -> None:
    app, _ = app_with_clock()

    @app.get("/x", dependencies=[rate_limit("3/minute")])
    async def x() -> None:
        return None

    assert "ratelimit-limit" not in TestClient(app).get("/x").headers


def test_apps_do_not_share_the_default_store() -> None:
    def make() -> App:
        app = App()

        @app.get("/x", dependencies=[rate_limit("1/minute")])
        async def x() -> None:
            return None

        return app

    first, second = TestClient(make()), TestClient(make())
    assert statuses(first, "/x", 2) == [200, 429]
    assert statuses(second, "/x", 1) == [200]


def test_explicit_store_wins_over_the_app_store() -> None:
    app, _ = app_with_clock()
    own = MemoryStore()

    @app.get("/x", dependencies=[rate_limit("1/minute", store=own)])
    async def x() -> None:
        return None

    client = TestClient(app)
    assert statuses(client, "/x", 2) == [200, 429]
    assert len(own) == 1


def test_reset_forgets_the_client_and_overrides_switch_a_limit_off() -> None:
    app, _ = app_with_clock()
    login_limit = rate_limit("2/minute", name="login")
    ping_limit = rate_limit("1/minute")

    @app.post("/login", dependencies=[login_limit])
    async def login(request: Request, ok: bool = False) -> None:
        if ok:
            await login_limit.dependency.reset(request)

    @app.get("/ping", dependencies=[ping_limit])
    async def ping() -> None:
        return None

    client = TestClient(app)
    assert client.post("/login").status_code == 200
    assert client.post("/login?ok=true").status_code == 200
    assert [client.post("/login").status_code for _ in range(3)] == [200, 200, 429]
    app.dependency_overrides[ping_limit.dependency] = lambda: None
    assert statuses(client, "/ping", 3) == [200] * 3


def test_limiter_declares_its_429_for_openapi() -> None:
    limiter = rate_limit("1/minute").dependency
    assert limiter.__openapi_responses__[429] == RATE_LIMITED_RESPONSE


def test_openapi_documents_429_through_responses_option() -> None:
    app = App()

    @app.get("/x", dependencies=[rate_limit("1/minute")], responses={429: RATE_LIMITED_RESPONSE})
    async def x() -> None:
        return None

    operation = TestClient(app).get("/openapi.json").json()["paths"]["/x"]["get"]
    assert operation["responses"]["429"]["description"] == "Rate limit exceeded"
    assert "Retry-After" in operation["responses"]["429"]["headers"]


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        (lambda: rate_limit("5 a minute"), "prow.E140", "'5/minute'"),
        (lambda: rate_limit("5/minute", key="address"), "prow.E141", "'ip', 'user'"),
        (lambda: rate_limit("5/minute", store=object()), "prow.E142", "RedisRateLimitStore(url)"),
        (lambda: use_rate_limit_store(App(), object()), "prow.E142", "MemoryRateLimitStore()"),  # type: ignore[arg-type]
    ],
)
def test_configuration_mistakes_fail_at_definition(call: object, code: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        call()  # type: ignore[operator]
    assert info.value.code == code
    assert words in info.value.message


def test_ipv4_clients_on_a_dual_stack_socket_are_counted_apart() -> None:
    """::ffff:a.b.c.d are IPv4 clients: one of them must not exhaust the others' budget."""
    app = App()

    @app.get("/x", dependencies=[rate_limit("2/minute")])
    async def x() -> str:
        return "ok"

    attacker = TestClient(app, client=("::ffff:198.51.100.1", 1))
    assert statuses(attacker, "/x", 3) == [200, 200, 429]
    assert statuses(TestClient(app, client=("::ffff:192.0.2.99", 1)), "/x", 1) == [200]
    # The same IPv4 client seen over IPv4 and as a mapped address is one client.
    assert statuses(TestClient(app, client=("198.51.100.1", 1)), "/x", 1) == [429]
    assert client_address_of("::ffff:198.51.100.1") == "ip:198.51.100.1"
    assert client_address_of("::1") == "ip:::1"


def client_address_of(host: str) -> str:
    return client_address(Request({"type": "http", "client": (host, 1), "headers": []}))
