"""Tests for the OpenAPI 3.1 document built from the compiled route plans."""

import datetime
import enum
import json
import uuid
from typing import Annotated, Any, Literal

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field, computed_field

from prow import (
    App,
    Body,
    ConfigurationError,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    HTMLResponse,
    Path,
    Query,
    Request,
    Router,
    UploadFile,
)


def pointer(document: dict[str, Any], path: str) -> Any:
    """Resolve a JSON pointer such as ``/paths/~1items/get`` inside ``document``."""
    node: Any = document
    for raw in path.lstrip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def build(app: App) -> dict[str, Any]:
    """The app's document, checked against the OpenAPI 3.1 specification."""
    document = app.openapi()
    validate(document)
    json.dumps(document)  # must be plain JSON data
    return document


def params_by_name(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", [])}


# -- models ------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Tag(BaseModel):
    label: str


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)
    tags: list[Tag] = []


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str


class Account(BaseModel):
    first: str
    last: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


# -- parameters ---------------------------------------------------------------------------


def params_app() -> App:
    app = App(title="Shop", version="2.0", description="A shop.")

    @app.get("/items/{item_id}")
    async def read_item(
        item_id: Annotated[int, Path(ge=1, description="The item's id", examples=[7])],
        q: Annotated[str | None, Query(max_length=50, description="Search text")] = None,
        limit: Annotated[int, Query(le=100, title="Page size")] = 10,
        x_token: Annotated[str, Header(examples=["abc", "def"])] = "none",
        session: Annotated[str | None, Cookie(deprecated=True)] = None,
        secret: Annotated[str | None, Query(include_in_schema=False)] = None,
    ) -> dict[str, Any]:
        return {}

    @app.get("/search")
    async def search(
        ids: Annotated[list[int], Query()],
        color: Color = Color.RED,
        mode: Literal["fast", "slow"] = "fast",
        token: uuid.UUID | None = None,
        since: datetime.datetime | None = None,
    ) -> list[Item]:
        return []

    @app.get("/files/{file_id:int}/{rest:path}")
    async def by_converter(file_id: str, rest: str) -> None:
        return None

    @app.get("/ignored/{slug}")
    async def reads_path_by_hand(request: Request) -> None:  # request.path_params["slug"]
        return None

    return app


def test_info_and_document_is_valid() -> None:
    document = build(params_app())
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Shop", "version": "2.0", "description": "A shop."}


def test_path_query_header_cookie_parameters() -> None:
    operation = pointer(build(params_app()), "/paths/~1items~1{item_id}/get")
    params = params_by_name(operation)
    assert set(params) == {"item_id", "q", "limit", "x-token", "session"}  # secret hidden
    item_id = params["item_id"]
    assert item_id["in"] == "path" and item_id["required"] is True
    assert item_id["schema"] == {"type": "integer", "minimum": 1}
    assert item_id["description"] == "The item's id"
    assert item_id["example"] == 7
    assert params["q"]["required"] is False
    assert params["q"]["schema"] == {"type": "string", "maxLength": 50}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "maximum": 100,
        "title": "Page size",
        "default": 10,
    }
    header = params["x-token"]
    assert header["in"] == "header"
    assert header["examples"] == {"example1": {"value": "abc"}, "example2": {"value": "def"}}
    assert "example" not in header
    assert params["session"]["in"] == "cookie" and params["session"]["deprecated"] is True


def test_list_enum_literal_uuid_datetime_parameters() -> None:
    document = build(params_app())
    params = params_by_name(pointer(document, "/paths/~1search/get"))
    ids = params["ids"]
    assert ids["required"] is True
    assert ids["schema"] == {"type": "array", "items": {"type": "integer"}}
    assert ids["style"] == "form" and ids["explode"] is True
    assert params["color"]["schema"] == {"$ref": "#/components/schemas/Color", "default": "red"}
    assert pointer(document, "/components/schemas/Color/enum") == ["red", "blue"]
    assert params["mode"]["schema"]["enum"] == ["fast", "slow"]
    assert params["token"]["schema"] == {"type": "string", "format": "uuid"}
    assert params["since"]["schema"] == {"type": "string", "format": "date-time"}


def test_path_converter_types_plain_str_parameters_and_is_stripped() -> None:
    document = build(params_app())
    assert "/files/{file_id}/{rest}" in document["paths"]
    params = params_by_name(pointer(document, "/paths/~1files~1{file_id}~1{rest}/get"))
    assert params["file_id"]["schema"] == {"type": "integer"}
    assert params["rest"]["schema"] == {"type": "string"}


def test_path_placeholders_are_always_declared() -> None:
    operation = pointer(build(params_app()), "/paths/~1ignored~1{slug}/get")
    assert operation["parameters"] == [
        {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    assert "422" not in operation["responses"]


def test_hidden_path_parameter_is_still_declared() -> None:
    app = App()

    @app.get("/orgs/{org:int}")
    async def org(org: Annotated[str, Path(include_in_schema=False, description="x")]) -> str:
        return org

    params = pointer(build(app), "/paths/~1orgs~1{org}/get/parameters")
    assert params == [
        {"name": "org", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]


def test_websockets_and_mounts_are_not_documented() -> None:
    app = App()
    other = App(openapi_url=None)

    @app.websocket("/ws")
    async def ws() -> None:
        return None

    app.mount("/sub", other)
    assert build(app)["paths"] == {}


def test_dependency_parameters_are_documented_once() -> None:
    app = App()

    def tenant(x_tenant: Annotated[str, Header(description="Tenant")]) -> str:
        return x_tenant

    def also_tenant(x_tenant: Annotated[str, Header()]) -> str:
        return x_tenant

    @app.get("/t", dependencies=[Depends(also_tenant)])
    async def handler(t: Annotated[str, Depends(tenant)], page: int = 1) -> str:
        return t

    params = pointer(build(app), "/paths/~1t/get/parameters")
    assert [p["name"] for p in params] == ["x-tenant", "page"]
    # The first plan seen wins: the route-level dependency runs first.
    assert "description" not in params[0]


# -- bodies --------------------------------------------------------------------------------


def body_app() -> App:
    app = App()

    @app.post("/items", status_code=201)
    async def create_item(item: Item) -> Item:
        return item

    @app.put("/pair")
    async def update_pair(
        item: Item, importance: Annotated[int, Body(gt=0, description="How much")]
    ) -> None:
        return None

    @app.post("/upload")
    async def upload(
        title: Annotated[str, Form(max_length=20)],
        document: Annotated[UploadFile, File(description="The file")],
        extras: Annotated[list[UploadFile], File()] = [],  # noqa: B006
    ) -> dict[str, str]:
        return {}

    @app.post("/login")
    async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> None:
        return None

    @app.post("/optional")
    async def optional_body(item: Item | None = None) -> None:
        return None

    return app


def test_json_body_model_with_nested_model() -> None:
    document = build(body_app())
    body = pointer(document, "/paths/~1items/post/requestBody")
    assert body == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
        "required": True,
    }
    item = pointer(document, "/components/schemas/Item")
    assert item["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/Tag"}
    assert item["properties"]["price"]["exclusiveMinimum"] == 0
    assert "Tag" in document["components"]["schemas"]
    assert pointer(document, "/paths/~1items/post/responses/201/content/application~1json") == {
        "schema": {"$ref": "#/components/schemas/Item"}
    }


def test_optional_body_is_not_required() -> None:
    body = pointer(build(body_app()), "/paths/~1optional/post/requestBody")
    assert body["required"] is False


def test_several_body_parameters_are_embedded() -> None:
    document = build(body_app())
    ref = pointer(document, "/paths/~1pair/put/requestBody/content/application~1json/schema/$ref")
    name = ref.rsplit("/", 1)[1]
    assert name.startswith("Body_") and "update_pair" in name
    schema = pointer(document, f"/components/schemas/{name}")
    assert set(schema["required"]) == {"item", "importance"}
    assert schema["properties"]["item"] == {"$ref": "#/components/schemas/Item"}
    assert schema["properties"]["importance"]["exclusiveMinimum"] == 0
    assert schema["properties"]["importance"]["description"] == "How much"


def test_form_and_file_uploads_are_multipart() -> None:
    document = build(body_app())
    content = pointer(document, "/paths/~1upload/post/requestBody/content")
    assert list(content) == ["multipart/form-data"]
    name = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = pointer(document, f"/components/schemas/{name}/properties")
    assert properties["title"]["maxLength"] == 20
    assert properties["document"]["type"] == "string"
    assert properties["document"]["format"] == "binary"
    assert properties["document"]["description"] == "The file"
    assert properties["extras"]["items"] == {"type": "string", "format": "binary"}
    login = pointer(document, "/paths/~1login/post/requestBody/content")
    assert list(login) == ["application/x-www-form-urlencoded"]


# -- responses ---------------------------------------------------------------------------


def response_app() -> App:
    app = App()

    @app.get("/items")
    async def list_items() -> list[Item]:
        return []

    @app.delete("/items/{item_id}", status_code=204)
    async def delete_item(item_id: int) -> None:
        return None

    @app.get("/items/{item_id}", responses={404: {"description": "No such item", "model": Problem}})
    async def get_item(item_id: int) -> Item:
        raise NotImplementedError

    @app.get("/page", response_class=HTMLResponse, include_in_schema=True)
    async def page() -> str:
        return "<p>hi</p>"

    @app.get("/browser-page", response_class=HTMLResponse)
    async def browser_page() -> str:
        return "<p>for people</p>"

    @app.get("/annotated-page")
    async def annotated_page() -> HTMLResponse:
        return HTMLResponse("<p>for people</p>")

    @app.get("/account", response_model=Account)
    async def account() -> dict[str, str]:
        return {"first": "a", "last": "b"}

    @app.post("/account")
    async def save_account(account: Account) -> Account:
        return account

    @app.post("/check", responses={422: {"model": Problem}})
    async def check(n: int) -> None:
        return None

    @app.get(
        "/raw",
        responses={
            "4XX": {"description": "Client error"},
            "200": {"headers": {"X-Rate": {"schema": {"type": "integer"}}}},
            409: {"model": Problem, "media_type": "application/problem+json"},
        },
    )
    async def raw():  # type: ignore[no-untyped-def]
        return {}

    return app


def test_list_and_model_responses() -> None:
    document = build(response_app())
    schema = pointer(document, "/paths/~1items/get/responses/200/content/application~1json/schema")
    assert schema == {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
    assert pointer(document, "/paths/~1items/get/responses/200/description") == "OK"
    assert "422" not in pointer(document, "/paths/~1items/get/responses")


def test_no_content_response() -> None:
    responses = pointer(build(response_app()), "/paths/~1items~1{item_id}/delete/responses")
    assert responses["204"] == {"description": "No Content"}
    assert responses["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }


def test_validation_problem_component() -> None:
    problem = pointer(build(response_app()), "/components/schemas/ValidationProblem")
    # Input validation lists errors; a database constraint names the violation instead.
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "violation", "fields", "constraint"} <= set(problem["properties"])
    entry = problem["properties"]["errors"]["items"]
    assert set(entry["required"]) == {"loc", "msg", "type"}
    assert entry["properties"]["loc"]["items"] == {
        "anyOf": [{"type": "string"}, {"type": "integer"}]
    }
    assert "input" in entry["properties"]


def test_extra_responses_option() -> None:
    document = build(response_app())
    responses = pointer(document, "/paths/~1items~1{item_id}/get/responses")
    assert set(responses) == {"200", "404", "422"}
    # An error answer's model is sent as a problem document, unless error_responses says.
    assert responses["404"] == {
        "description": "No such item",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    raw = pointer(document, "/paths/~1raw/get/responses")
    # prow's shared Problem schema; the app's own model called Problem keeps its name.
    assert raw["4XX"] == {
        "description": "Client error",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem2"}}
        },
    }
    assert raw["200"]["description"] == "OK"
    assert raw["200"]["content"] == {"application/json": {"schema": {}}}
    assert raw["200"]["headers"]["X-Rate"]["schema"] == {"type": "integer"}
    assert raw["409"]["description"] == "Conflict"
    assert list(raw["409"]["content"]) == ["application/problem+json"]


def test_extra_response_for_a_generated_status_keeps_its_description() -> None:
    response = pointer(build(response_app()), "/paths/~1check/post/responses/422")
    assert response["description"] == "Validation Error"
    # The route's own model replaces the generated schema: one shape is what is sent.
    assert response["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


def test_response_class_media_type() -> None:
    content = pointer(build(response_app()), "/paths/~1page/get/responses/200/content")
    assert list(content) == ["text/html"]


def test_html_pages_stay_out_unless_asked() -> None:
    paths = build(response_app())["paths"]
    assert "/page" in paths  # include_in_schema=True
    assert "/browser-page" not in paths and "/annotated-page" not in paths


def test_input_and_output_schemas_can_differ() -> None:
    document = build(response_app())
    schemas = document["components"]["schemas"]
    assert "full" in schemas["Account-Output"]["properties"]
    assert "full" not in schemas["Account-Input"]["properties"]
    out = "/paths/~1account/get/responses/200/content/application~1json/schema"
    assert pointer(document, out) == {"$ref": "#/components/schemas/Account-Output"}
    body = "/paths/~1account/post/requestBody/content/application~1json/schema"
    assert pointer(document, body) == {"$ref": "#/components/schemas/Account-Input"}


# -- operation metadata ---------------------------------------------------------------------


def metadata_app() -> App:
    app = App(tags=["root"])
    users = Router(prefix="/users", tags=["users"])
    admin = Router(prefix="/admin", tags=["admin"], deprecated=True)
    hidden = Router(prefix="/internal", include_in_schema=False)

    @users.get("/")
    async def listing() -> list[str]:
        """List the users.

        Sorted by name.
        \f
        Internal note that must not be published.
        """
        return []

    @admin.get("/")
    async def listing_admin() -> list[str]:
        return []

    @users.get("/{user_id}", name="listing")
    async def get_user(user_id: int) -> str:
        return ""

    @admin.get("/{user_id}", name="listing")
    async def get_admin(user_id: int) -> str:
        return ""

    @users.post("/", summary="Create a user", description="Makes one.", operation_id="newUser")
    async def create_user() -> None:
        return None

    @users.get("/secret", include_in_schema=False)
    async def secret() -> None:
        return None

    @users.get("/old", deprecated=True, tags=["legacy"])
    async def old_way() -> None:
        return None

    @hidden.get("/health")
    async def health() -> None:
        return None

    @users.route("/both", ["GET", "POST"])
    async def both() -> None:
        return None

    @users.head("/probe")
    async def probe() -> None:
        return None

    app.include(users)
    app.include(admin)
    app.include(hidden)
    return app


def test_summary_description_and_tags() -> None:
    document = build(metadata_app())
    operation = pointer(document, "/paths/~1users/get")
    assert operation["summary"] == "Listing"
    assert operation["description"] == "List the users.\n\nSorted by name."
    assert operation["tags"] == ["root", "users"]
    created = pointer(document, "/paths/~1users/post")
    assert created["summary"] == "Create a user"
    assert created["description"] == "Makes one."
    assert created["operationId"] == "newUser"
    assert pointer(document, "/paths/~1users~1old/get/tags") == ["root", "users", "legacy"]


def test_deprecated_at_route_and_router_level() -> None:
    document = build(metadata_app())
    assert pointer(document, "/paths/~1users~1old/get/deprecated") is True
    assert pointer(document, "/paths/~1admin/get/deprecated") is True
    assert "deprecated" not in pointer(document, "/paths/~1users/get")


def test_include_in_schema_false_at_route_and_router_level() -> None:
    paths = build(metadata_app())["paths"]
    assert "/users/secret" not in paths
    assert "/internal/health" not in paths
    assert "/openapi.json" not in paths and "/docs" not in paths


def test_operation_ids_are_unique() -> None:
    document = build(metadata_app())
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ]
    assert len(ids) == len(set(ids))
    # Routes named alike get a numeric suffix, in registration order.
    assert pointer(document, "/paths/~1users/get/operationId") == "listing_get"
    assert pointer(document, "/paths/~1users~1{user_id}/get/operationId") == "listing_get_2"
    assert pointer(document, "/paths/~1admin/get/operationId") == "listing_admin_get"
    assert pointer(document, "/paths/~1admin~1{user_id}/get/operationId") == "listing_get_3"
    assert pointer(document, "/paths/~1users~1both/post/operationId") == "both_post"


def test_methods_documented() -> None:
    paths = build(metadata_app())["paths"]
    assert set(paths["/users/both"]) == {"get", "post"}
    assert set(paths["/users"]) == {"get", "post"}  # no automatic HEAD
    assert set(paths["/users/probe"]) == {"head"}


def test_operation_ids_with_two_handlers_of_the_same_name() -> None:
    app = App()
    first = Router(prefix="/a")
    second = Router(prefix="/b")

    @first.get("/")
    async def index() -> None:
        return None

    @second.get("/", operation_id="index_get")
    async def index_b() -> None:
        return None

    @second.get("/x")  # type: ignore[no-redef]
    async def index() -> None:  # noqa: F811
        return None

    app.include(first)
    app.include(second)
    document = build(app)
    assert pointer(document, "/paths/~1a/get/operationId") == "index_get"
    assert pointer(document, "/paths/~1b/get/operationId") == "index_get_2"
    assert pointer(document, "/paths/~1b~1x/get/operationId") == "index_get_3"


def test_openapi_extra_is_merged_last() -> None:
    app = App()

    @app.get(
        "/x",
        openapi_extra={
            "x-internal": True,
            "responses": {"200": {"description": "Fine"}},
            "summary": "Overridden",
        },
    )
    async def x(q: int = 0) -> int:
        return q

    operation = pointer(build(app), "/paths/~1x/get")
    assert operation["x-internal"] is True
    assert operation["summary"] == "Overridden"
    assert operation["responses"]["200"]["description"] == "Fine"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "integer"
    }


# -- security ------------------------------------------------------------------------------


BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
API_KEY = {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class ScopedUser:
    """A class-based dependency: the hook sits on an instance."""

    def __init__(self, *scopes: str) -> None:
        self.__openapi_security__ = [("bearer", BEARER, list(scopes))]

    def __call__(self) -> str:
        return "user"


def security_app() -> App:
    app = App(
        openapi={
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "security": [{"basic": []}],
            "servers": [{"url": "https://api.example.com"}],
            "tags": [{"name": "users", "description": "People"}],
            "info": {"license": {"name": "MIT", "identifier": "MIT"}},
            "x-logo": {"url": "/logo.png"},
        }
    )

    def api_key() -> str:
        return "key"

    api_key.__openapi_security__ = [("apiKey", API_KEY, [])]  # type: ignore[attr-defined]

    @app.get("/me")
    async def me(user: Annotated[str, Depends(ScopedUser("read"))]) -> str:
        return user

    @app.get("/either", dependencies=[Depends(api_key)])
    async def either(
        user: Annotated[str, Depends(ScopedUser("read", "write"))],
        other: Annotated[str, Depends(ScopedUser("write", "admin"))],
    ) -> str:
        return user

    @app.get("/open", security=[{"basic": []}, {}])
    async def open_route() -> str:
        return ""

    return app


def test_security_hook_adds_schemes_and_requirements() -> None:
    document = build(security_app())
    schemes = pointer(document, "/components/securitySchemes")
    assert schemes == {
        "apiKey": API_KEY,
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": BEARER,
    }
    assert pointer(document, "/paths/~1me/get/security") == [{"bearer": ["read"]}]
    assert pointer(document, "/paths/~1either/get/security") == [
        {"apiKey": []},
        {"bearer": ["read", "write", "admin"]},
    ]
    assert pointer(document, "/paths/~1open/get/security") == [{"basic": []}, {}]


def test_app_openapi_settings() -> None:
    document = build(security_app())
    assert document["security"] == [{"basic": []}]
    assert document["servers"] == [{"url": "https://api.example.com"}]
    assert document["tags"] == [{"name": "users", "description": "People"}]
    assert document["info"]["license"] == {"name": "MIT", "identifier": "MIT"}
    assert document["info"]["title"] == "prow"
    assert document["x-logo"] == {"url": "/logo.png"}


def test_unknown_openapi_setting_is_a_configuration_error() -> None:
    app = App(openapi={"server": [{"url": "/"}]})
    with pytest.raises(ConfigurationError) as info:
        app.openapi()
    assert info.value.code == "prow.E030"
    assert "'server'" in str(info.value)


def test_components_setting_is_deep_merged() -> None:
    app = App(openapi={"components": {"schemas": {"Extra": {"type": "string"}}}})

    @app.post("/items")
    async def create(item: Item) -> None:
        return None

    schemas = build(app)["components"]["schemas"]
    assert {"Extra", "Item", "Tag", "ValidationProblem"} <= set(schemas)


# -- components ----------------------------------------------------------------------------


def _model_named_item(field: str) -> type[BaseModel]:
    namespace: dict[str, Any] = {"__annotations__": {field: str}, "__module__": f"mod_{field}"}
    return type("Item", (BaseModel,), namespace)


def test_models_with_the_same_name_get_distinct_components() -> None:
    app = App()
    first = _model_named_item("alpha")
    second = _model_named_item("beta")

    @app.post("/one")
    async def one(body: first) -> None:  # type: ignore[valid-type]
        return None

    @app.post("/two")
    async def two(body: second) -> None:  # type: ignore[valid-type]
        return None

    document = build(app)
    refs = [
        pointer(document, f"/paths/~1{name}/post/requestBody/content/application~1json/schema/$ref")
        for name in ("one", "two")
    ]
    assert refs[0] != refs[1]
    fields = [set(pointer(document, ref.lstrip("#"))["properties"]) for ref in refs]
    assert fields == [{"alpha"}, {"beta"}]


def test_user_model_named_validation_problem_is_not_overwritten() -> None:
    app = App()

    class ValidationProblem(BaseModel):
        mine: int

    @app.post("/v")
    async def v(body: ValidationProblem) -> None:
        return None

    document = build(app)
    schemas = document["components"]["schemas"]
    assert "mine" in schemas["ValidationProblem"]["properties"]
    ref = pointer(document, "/paths/~1v/post/responses/422/content/application~1problem+json")
    assert ref == {"schema": {"$ref": "#/components/schemas/ValidationProblem2"}}
    assert "errors" in schemas["ValidationProblem2"]["properties"]


def test_document_is_deterministic_and_sorted() -> None:
    first = json.dumps(body_app().openapi())
    second = json.dumps(body_app().openapi())
    assert first == second
    names = list(json.loads(first)["components"]["schemas"])
    assert names == sorted(names)


def test_app_without_routes() -> None:
    document = build(App(openapi_url="/schema.json"))
    assert document["paths"] == {}
    assert "components" not in document


# -- over HTTP -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_openapi_json_over_http() -> None:
    app = params_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    validate(document)
    assert document == json.loads(json.dumps(app.openapi()))
    assert "/items/{item_id}" in document["paths"]
