"""Routing through the public API: decorators, routers, converters, 404/405, HEAD, slashes."""

import uuid

import pytest

from prow import App, ConfigurationError, Depends, HTTPError, Request, Router
from prow.testing import TestClient

PROBLEM = "application/problem+json"


def client_for(app: App, **options: object) -> TestClient:
    return TestClient(app, **options)  # type: ignore[arg-type]


# -- decorators ------------------------------------------------------------------------


def test_every_method_decorator_registers_its_method() -> None:
    app = App()

    @app.get("/r")
    async def get_() -> dict[str, str]:
        return {"m": "get"}

    @app.post("/r")
    async def post_() -> dict[str, str]:
        return {"m": "post"}

    @app.put("/r")
    async def put_() -> dict[str, str]:
        return {"m": "put"}

    @app.patch("/r")
    async def patch_() -> dict[str, str]:
        return {"m": "patch"}

    @app.delete("/r")
    async def delete_() -> dict[str, str]:
        return {"m": "delete"}

    @app.options("/r")
    async def options_() -> dict[str, str]:
        return {"m": "options"}

    @app.head("/h")
    async def head_() -> None:
        return None

    client = client_for(app)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = client.request(method, "/r")
        assert response.status_code == 200, method
        assert response.json() == {"m": method.lower()}
    head = client.head("/h")
    assert head.status_code == 200
    assert head.content == b""
    assert client.get("/h").status_code == 405


def test_route_with_several_methods() -> None:
    app = App()

    @app.route("/both", methods=["GET", "POST"])
    async def both(request: Request) -> dict[str, str]:
        return {"method": request.method}

    client = client_for(app)
    assert client.get("/both").json() == {"method": "GET"}
    assert client.post("/both").json() == {"method": "POST"}
    response = client.put("/both")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_sync_handler_works() -> None:
    app = App()

    @app.get("/sync")
    def sync_handler() -> dict[str, bool]:
        return {"sync": True}

    assert client_for(app).get("/sync").json() == {"sync": True}


# -- routers ---------------------------------------------------------------------------


def test_router_prefix_tags_and_dependencies() -> None:
    calls: list[str] = []

    def audit(request: Request) -> None:
        calls.append(request.url.path)

    router = Router(prefix="/api", tags=["api"], dependencies=[Depends(audit)])

    @router.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    @router.get("/")
    async def root() -> str:
        return "root"

    app = App()
    app.include(router)
    client = client_for(app)
    assert client.get("/api/items").json() == [1, 2]
    assert client.get("/api").json() == "root"
    assert calls == ["/api/items", "/api"]
    route = next(r for r in app.routes if getattr(r, "name", None) == "items")
    assert route.path == "/api/items"
    assert app.openapi()["paths"]["/api/items"]["get"]["tags"] == ["api"]


def test_nested_routers_compose_prefixes_and_include_prefix() -> None:
    inner = Router(prefix="/inner")

    @inner.get("/leaf/{id:int}")
    async def leaf(id: int) -> dict[str, int]:
        return {"id": id}

    middle = Router(prefix="/middle")
    middle.include(inner)
    app = App()
    app.include(middle, prefix="/v1")
    client = client_for(app)
    assert client.get("/v1/middle/inner/leaf/7").json() == {"id": 7}
    assert client.get("/middle/inner/leaf/7").status_code == 404


def test_router_prefix_must_be_well_formed() -> None:
    with pytest.raises(ConfigurationError, match=r"^prow\.E010"):
        Router(prefix="api")
    with pytest.raises(ConfigurationError, match=r"^prow\.E010"):
        Router(prefix="/api/")


def test_route_only_options_rejected_on_router() -> None:
    with pytest.raises(ConfigurationError) as info:
        Router(prefix="/x", status_code=201)
    assert info.value.code == "prow.E012"


def test_router_cannot_include_itself() -> None:
    router = Router()
    with pytest.raises(ConfigurationError, match=r"^prow\.E011"):
        router.include(router)


# -- converters ------------------------------------------------------------------------


@pytest.fixture
def converter_client() -> TestClient:
    app = App()

    @app.get("/int/{id:int}")
    async def by_int(id: int) -> dict[str, object]:
        return {"id": id, "type": type(id).__name__}

    @app.get("/float/{x:float}")
    async def by_float(x: float) -> dict[str, float]:
        return {"x": x}

    @app.get("/uuid/{u:uuid}")
    async def by_uuid(u: uuid.UUID) -> dict[str, str]:
        return {"u": str(u), "type": type(u).__name__}

    @app.get("/files/{rest:path}")
    async def by_path(rest: str) -> dict[str, str]:
        return {"rest": rest}

    @app.get("/hello/{name}")
    async def by_name(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/docs/{name}.{ext}")
    async def mixed(name: str, ext: str) -> dict[str, str]:
        return {"name": name, "ext": ext}

    return client_for(app)


def test_int_converter(converter_client: TestClient) -> None:
    assert converter_client.get("/int/42").json() == {"id": 42, "type": "int"}
    response = converter_client.get("/int/abc")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_float_converter(converter_client: TestClient) -> None:
    assert converter_client.get("/float/2.5").json() == {"x": 2.5}
    assert converter_client.get("/float/3").json() == {"x": 3.0}
    assert converter_client.get("/float/x").status_code == 404


def test_uuid_converter(converter_client: TestClient) -> None:
    value = uuid.uuid4()
    assert converter_client.get(f"/uuid/{value}").json() == {"u": str(value), "type": "UUID"}
    assert converter_client.get("/uuid/not-a-uuid").status_code == 404


def test_path_converter_keeps_slashes(converter_client: TestClient) -> None:
    assert converter_client.get("/files/a/b/c.txt").json() == {"rest": "a/b/c.txt"}


def test_plain_and_mixed_segments(converter_client: TestClient) -> None:
    assert converter_client.get("/hello/ada").json() == {"name": "ada"}
    assert converter_client.get("/docs/report.pdf").json() == {"name": "report", "ext": "pdf"}
    assert converter_client.get("/docs/report").status_code == 404


def test_annotation_converts_untyped_placeholder() -> None:
    app = App()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    client = client_for(app)
    assert client.get("/items/5").json() == {"item_id": 5}
    response = client.get("/items/abc")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 422
    assert [e["loc"] for e in body["errors"]] == [["path", "item_id"]]
    assert body["errors"][0]["type"] == "int_parsing"


def test_unknown_converter_is_a_configuration_error() -> None:
    app = App()
    with pytest.raises(ConfigurationError, match=r"^prow\.E008"):

        @app.get("/x/{id:bogus}")
        async def bogus(id: str) -> None: ...


def test_path_must_start_with_slash() -> None:
    app = App()
    with pytest.raises(ConfigurationError, match=r"^prow\.E010"):

        @app.get("nope")
        async def nope() -> None: ...


# -- precedence, 404, 405, HEAD ---------------------------------------------------------


def test_static_route_beats_dynamic_whatever_the_order() -> None:
    app = App()

    @app.get("/users/{id}")
    async def user(id: str) -> dict[str, str]:
        return {"user": id}

    @app.get("/users/me")
    async def me() -> dict[str, str]:
        return {"user": "me!"}

    client = client_for(app)
    assert client.get("/users/me").json() == {"user": "me!"}
    assert client.get("/users/42").json() == {"user": "42"}


def test_typed_placeholder_tried_before_text_placeholder() -> None:
    app = App()

    @app.get("/things/{name}")
    async def by_name(name: str) -> str:
        return "name"

    @app.get("/things/{id:int}")
    async def by_id(id: int) -> str:
        return "id"

    client = client_for(app)
    assert client.get("/things/12").json() == "id"
    assert client.get("/things/twelve").json() == "name"


def test_not_found_is_problem_json() -> None:
    app = App()
    response = client_for(app).get("/missing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert "/missing" in body["detail"]


def test_method_not_allowed_lists_methods() -> None:
    app = App()

    @app.get("/thing")
    async def read() -> str:
        return "r"

    @app.delete("/thing")
    async def remove() -> str:
        return "d"

    response = client_for(app).post("/thing")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 405


def test_method_not_allowed_on_dynamic_route() -> None:
    app = App()

    @app.get("/thing/{id:int}")
    async def read(id: int) -> int:
        return id

    response = client_for(app).put("/thing/3")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_head_is_answered_by_get_without_body() -> None:
    app = App()

    @app.get("/data")
    async def data() -> dict[str, str]:
        return {"hello": "world"}

    client = client_for(app)
    get = client.get("/data")
    head = client.head("/data")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


# -- trailing slashes -------------------------------------------------------------------


def test_trailing_slash_redirect_both_directions_keeps_query() -> None:
    app = App()

    @app.get("/a")
    async def a(q: str = "") -> dict[str, str]:
        return {"route": "a", "q": q}

    @app.get("/b/")
    async def b(q: str = "") -> dict[str, str]:
        return {"route": "b", "q": q}

    client = client_for(app, follow_redirects=False)
    response = client.get("/a/?q=1")
    assert response.status_code == 307
    assert response.headers["location"] == "/a?q=1"
    response = client.get("/b?q=2")
    assert response.status_code == 307
    assert response.headers["location"] == "/b/?q=2"
    following = client_for(app)
    assert following.get("/a/?q=x").json() == {"route": "a", "q": "x"}
    assert following.get("/b?q=y").json() == {"route": "b", "q": "y"}
    assert following.get("/c/").status_code == 404


def test_redirect_slashes_can_be_disabled() -> None:
    app = App(redirect_slashes=False)

    @app.get("/a")
    async def a() -> str:
        return "a"

    assert client_for(app, follow_redirects=False).get("/a/").status_code == 404


def test_redirect_cannot_escape_to_another_host() -> None:
    app = App()

    @app.get("//evil.example/")
    async def odd() -> str:
        return "odd"

    # A protocol-relative Location (``//evil.example/``) would send the browser elsewhere.
    response = client_for(app, follow_redirects=False).get("http://testserver//evil.example")
    assert response.status_code == 307
    assert response.headers["location"] == "/evil.example/"


# -- names and URLs ----------------------------------------------------------------------


def test_routes_listing_and_url_for() -> None:
    app = App(openapi_url=None, health_url=None, ready_url=None)

    @app.get("/items/{item_id:int}", name="item")
    async def read_item(item_id: int, request: Request) -> dict[str, str]:
        return {"self": str(request.url_for("item", item_id=item_id))}

    @app.get("/files/{rest:path}")
    async def files(rest: str) -> str:
        return rest

    paths = [(r.path, r.name) for r in app.routes]
    assert paths == [("/items/{item_id:int}", "item"), ("/files/{rest:path}", "files")]
    assert app.url_for("item", item_id=3) == "/items/3"
    assert app.url_for("files", rest="a/b c") == "/files/a/b%20c"
    with pytest.raises(LookupError, match="no route is named 'nope'"):
        app.url_for("nope")
    with pytest.raises(ValueError, match="missing"):
        app.url_for("item")
    response = client_for(app).get("/items/3")
    assert response.json() == {"self": "http://testserver/items/3"}


def test_duplicate_route_fails_at_first_request() -> None:
    app = App()

    @app.get("/dup")
    async def first() -> str:
        return "1"

    @app.get("/dup")
    async def second() -> str:
        return "2"

    with pytest.raises(ConfigurationError) as info:
        client_for(app).get("/dup")
    assert info.value.code == "prow.E007"
    assert str(info.value).startswith("prow.E007: GET /dup")


def test_duplicate_route_fails_at_startup() -> None:
    app = App()
    router = Router(prefix="/x")

    @router.post("/y")
    async def one() -> None: ...

    @app.post("/x/y")
    async def two() -> None: ...

    app.include(router)
    with pytest.raises(ConfigurationError, match=r"^prow\.E007"), TestClient(app):
        pass


def test_http_error_raised_in_handler() -> None:
    app = App()

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPError(418, "short and stout")

    response = client_for(app).get("/teapot")
    assert response.status_code == 418
    assert response.json()["detail"] == "short and stout"


def test_unknown_route_option_is_refused_at_once() -> None:
    app = App()
    with pytest.raises(TypeError, match="'status'"):
        app.get("/", status=201)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="database_uri"):
        App(database_uri="sqlite://")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="tag"):
        Router(prefix="/x", tag=["a"])  # type: ignore[call-arg]
