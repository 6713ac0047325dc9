"""Reading forms: validation, errors and submitted values kept for the next render."""

from __future__ import annotations

import datetime
import enum
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, Request
from prow.db import Model, schema_for
from prow.forms import ModelForm, bind_form, blank_form
from prow.responses import HTMLResponse
from prow.templating import Templates
from prow.testing import TestClient

HOSTILE = "\"'><script>alert(1)</script>"


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Event(BaseModel):
    title: str = Field(min_length=3, max_length=50)
    seats: int = Field(ge=1, le=500)
    public: bool = False
    day: datetime.date
    starts: datetime.datetime | None = None
    colors: list[Color] = []
    note: str | None = None

    @model_validator(mode="after")
    def weekend_is_public(self) -> Event:
        if self.day.weekday() == 6 and not self.public:
            raise ValueError("Sunday events must be public")
        return self


def form_app() -> tuple[App, list[ModelForm[Event]]]:
    """An app whose POST /events binds an Event form; the forms are kept for inspection."""
    app = App(csrf=False)
    seen: list[ModelForm[Event]] = []

    @app.post("/events")
    async def create(request: Request) -> HTMLResponse:
        form = await bind_form(Event, request)
        seen.append(form)
        status = 200 if form.is_valid else 422
        return HTMLResponse(form.render(), status_code=status)

    @app.get("/search")
    async def search(request: Request) -> dict[str, Any]:
        form = await bind_form(Event, request)
        return {"valid": form.is_valid, "errors": form.errors}

    return app, seen


GOOD = {"title": "Launch", "seats": "20", "day": "2024-06-03", "colors": ["red", "blue"]}


def test_valid_form_gives_the_model() -> None:
    app, seen = form_app()
    data = {**GOOD, "public": "true", "starts": "2024-06-03T18:30"}
    response = TestClient(app).post("/events", data=data)
    assert response.status_code == 200
    form = seen[0]
    assert form.is_valid and form.is_bound
    assert form.data == Event(
        title="Launch",
        seats=20,
        public=True,
        day=datetime.date(2024, 6, 3),
        starts=datetime.datetime(2024, 6, 3, 18, 30),
        colors=[Color.RED, Color.BLUE],
    )


def test_unchecked_checkbox_is_false_and_empty_optional_is_none() -> None:
    app, seen = form_app()
    TestClient(app).post("/events", data={**GOOD, "note": "", "starts": ""})
    assert seen[0].data.public is False
    assert seen[0].data.note is None and seen[0].data.starts is None


def test_extra_keys_such_as_the_csrf_field_are_ignored() -> None:
    app, seen = form_app()
    TestClient(app).post("/events", data={**GOOD, "csrf_token": "x", "submit": "Save"})
    assert seen[0].is_valid


def test_invalid_form_keeps_values_and_shows_errors() -> None:
    app, seen = form_app()
    data = {"title": "ab", "seats": "many", "day": "2024-06-03", "colors": ["red", "pink"]}
    response = TestClient(app).post("/events", data=data)
    assert response.status_code == 422
    form = seen[0]
    assert not form.is_valid
    assert form.errors == {
        "title": ["String should have at least 3 characters"],
        "seats": ["Input should be a valid integer, unable to parse string as an integer"],
        "colors": ["Input should be 'red', 'green' or 'blue'"],
    }
    assert form.values["title"] == "ab" and form.values["colors"] == ["red", "pink"]
    page = response.text
    assert 'value="ab"' in page and 'value="many"' in page
    assert 'aria-invalid="true" aria-describedby="id_title-errors"' in page
    assert '<ul class="field-errors" id="id_title-errors">' in page
    assert "<li>String should have at least 3 characters</li>" in page
    assert '<option value="red" selected>' in page
    assert 'class="field field-text field-invalid"' in page


def test_missing_required_fields_say_so() -> None:
    app, seen = form_app()
    TestClient(app).post("/events", data={"title": "", "public": "true"})
    assert seen[0].errors == {
        "title": ["Field required"],
        "seats": ["Field required"],
        "day": ["Field required"],
    }


def test_errors_match_the_json_body_structure() -> None:
    app, seen = form_app()

    @app.post("/api/events")
    async def api(event: Event) -> Event:
        return event

    client = TestClient(app)
    bad = {"title": "ab", "seats": 0, "day": "2024-06-03"}
    as_json = client.post("/api/events", json=bad).json()["errors"]
    client.post("/events", data={**bad, "seats": "0"})
    form = seen[0]
    strip = [{k: e[k] for k in ("loc", "msg", "type")} for e in as_json]
    assert [{k: e[k] for k in ("loc", "msg", "type")} for e in form.error_entries] == strip
    assert form.validation_error().status == 422


def test_model_level_errors_are_form_errors() -> None:
    app, seen = form_app()
    response = TestClient(app).post("/events", data={**GOOD, "day": "2024-06-02"})
    assert seen[0].non_field_errors == ["Sunday events must be public"]
    assert '<ul class="form-errors" role="alert"><li>Sunday events must be public</li>' in (
        response.text
    )


def test_hostile_values_are_escaped_when_shown_again() -> None:
    app, _ = form_app()
    response = TestClient(app).post("/events", data={"title": HOSTILE, "note": HOSTILE})
    assert "<script>" not in response.text
    assert 'value="&#34;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text


def test_hostile_field_errors_are_escaped() -> None:
    from pydantic import field_validator

    class Named(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def known(cls, value: str) -> str:
            raise ValueError(f"{value} is not a known name")

    app = App(csrf=False)

    @app.post("/")
    async def post(request: Request) -> HTMLResponse:
        return HTMLResponse((await bind_form(Named, request)).render())

    out = TestClient(app).post("/", data={"name": HOSTILE}).text
    assert "<script>" not in out
    assert "<li>&#34;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt; is not a known name</li>" in out


def test_get_forms_read_the_query_string() -> None:
    app, _ = form_app()
    client = TestClient(app)
    ok = client.get("/search", params={"title": "Party", "seats": "3", "day": "2024-06-03"})
    assert ok.json() == {"valid": True, "errors": {}}
    bad = client.get("/search", params={"title": "Party", "seats": "0"})
    assert set(bad.json()["errors"]) == {"seats", "day"}


def test_add_error_after_validation() -> None:
    app, seen = form_app()
    TestClient(app).post("/events", data=GOOD)
    form = seen[0]
    form.add_error("title", "Already taken")
    form.add_error(None, "Try again")
    assert not form.is_valid
    assert form.errors["title"] == ["Already taken"]
    assert form.non_field_errors == ["Try again"]
    assert form.error_entries[-2]["loc"] == ["body", "title"]
    assert "<li>Already taken</li>" in str(form["title"].render())


def test_blank_form_shows_defaults_or_initial_object() -> None:
    blank = blank_form(Event)
    assert not blank.is_bound and not blank.is_valid
    assert blank["public"].checked is False
    existing = Event(title="Old", seats=5, public=True, day=datetime.date(2024, 1, 1))
    edit = blank_form(Event, initial=existing)
    assert edit["title"].value == "Old" and edit["seats"].value == "5"
    assert edit["public"].checked is True
    assert edit.title.value == "Old"  # attribute access, as templates use it


# -- files ------------------------------------------------------------------------------------


def test_file_fields_from_multipart(tmp_path: Path) -> None:
    from prow import UploadFile

    class Document(BaseModel):
        caption: str
        photo: UploadFile | None = None
        scans: list[UploadFile] = []

    app = App(csrf=False)

    @app.post("/docs")
    async def upload(request: Request) -> dict[str, Any]:
        form = await bind_form(Document, request)
        if not form.is_valid:
            return {"errors": form.errors, "values": form.values}
        doc = form.data
        photo = None if doc.photo is None else (doc.photo.filename, await doc.photo.read())
        return {"photo": photo, "scans": [s.filename for s in doc.scans]}

    client = TestClient(app)
    files = [
        ("photo", ("cat.png", b"PNG", "image/png")),
        ("scans", ("a.pdf", b"A", "application/pdf")),
        ("scans", ("b.pdf", b"B", "application/pdf")),
    ]
    got = client.post("/docs", data={"caption": "c"}, files=files).json()
    assert got == {"photo": ["cat.png", "PNG"], "scans": ["a.pdf", "b.pdf"]}
    # A file input left empty sends a part with no file name: that is "no file".
    empty = client.post("/docs", data={"caption": "c"}, files=[("photo", ("", b"", "x/y"))])
    assert empty.json() == {"photo": None, "scans": []}
    missing = client.post("/docs", files=[("photo", ("p.png", b"P", "image/png"))]).json()
    assert missing["errors"] == {"caption": ["Field required"]}
    assert missing["values"]["photo"] is None  # files are never echoed


# -- data-layer models ----------------------------------------------------------------------


class FormGadget(Model):
    # A table name of its own: every test module shares Model's metadata.
    __tablename__ = "forms_test_gadget"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    price: Mapped[float]
    in_stock: Mapped[bool] = mapped_column(default=True)


def test_forms_from_schema_for_a_model() -> None:
    GadgetIn = schema_for(FormGadget, mode="create")
    form = blank_form(GadgetIn)
    assert [f.name for f in form] == ["name", "price", "in_stock"]
    assert 'maxlength="30"' in str(form["name"].render())
    assert 'type="checkbox"' in str(form["in_stock"].render())

    app = App(csrf=False)

    @app.post("/gadgets")
    async def create(request: Request) -> dict[str, Any]:
        bound = await bind_form(GadgetIn, request)
        return bound.data.model_dump() if bound.is_valid else {"errors": bound.errors}

    client = TestClient(app)
    # The create schema forbids unknown keys; the CSRF field must not trip it.
    data = {"name": "Lamp", "price": "9.5", "csrf_token": "t"}
    assert client.post("/gadgets", data=data).json() == {
        "name": "Lamp",
        "price": 9.5,
        "in_stock": False,
    }
    long = client.post("/gadgets", data={"name": "x" * 31, "price": "1"}).json()
    assert long["errors"]["name"] == ["String should have at most 30 characters"]


# -- templates and CSRF ---------------------------------------------------------------------

PAGE = """<h1>New event</h1>{{ form.render(url_for("create"), submit="Create") }}
<div>{% for field in form %}{{ field.name }}={{ field.value }}:{{ field.errors|join(";") }}|\
{% endfor %}</div>"""


def test_template_rendered_form_carries_csrf_and_round_trips(tmp_path: Path) -> None:
    (tmp_path / "new.html").write_text(PAGE)
    templates = Templates(tmp_path)
    app = App()  # CSRF protection on

    @app.get("/events/new")
    async def new(request: Request) -> HTMLResponse:
        return templates.render(request, "new.html", {"form": blank_form(Event, request)})

    @app.post("/events/new")
    async def create(request: Request) -> HTMLResponse:
        form = await bind_form(Event, request)
        status = 201 if form.is_valid else 422
        return templates.render(request, "new.html", {"form": form}, status_code=status)

    client = TestClient(app)
    page = client.get("/events/new").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert '<form action="http://testserver/events/new" method="post"' in page
    bad = client.post("/events/new", data={"csrf_token": token.group(1), "title": HOSTILE})
    assert bad.status_code == 422
    assert "<script>" not in bad.text
    assert "seats=None:Field required|" in bad.text  # own markup from field.value/errors
    assert 'name="csrf_token"' in bad.text  # the re-rendered form has a token again
    good = client.post("/events/new", data={**GOOD, "csrf_token": token.group(1)})
    assert good.status_code == 201
    refused = client.post("/events/new", data=GOOD)
    assert refused.status_code == 403
