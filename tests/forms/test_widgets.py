"""How each field type is drawn: input types, limits, choices, labels and ARIA."""

from __future__ import annotations

import datetime
import decimal
import enum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, SecretStr

from prow import ConfigurationError, UploadFile
from prow.forms import Widget, blank_form


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Everything(BaseModel):
    name: str = Field(min_length=2, max_length=20, description="Shown to customers")
    age: int | None = Field(None, ge=0, le=130)
    price: float = Field(gt=0, le=1000)
    cost: decimal.Decimal = decimal.Decimal("1.5")
    active: bool = True
    born: datetime.date
    meets: datetime.datetime | None = None
    opens: datetime.time | None = None
    color: Color = Color.GREEN
    size: Literal["s", "m", "l"]
    tags: list[Color] = []
    photo: UploadFile | None = None
    scans: list[UploadFile] = []
    secret: SecretStr | None = None
    notes: Annotated[str, Widget("textarea", rows=3)] = ""


def html(name: str, model: type[BaseModel] = Everything) -> str:
    return str(blank_form(model)[name].render())


def test_text_has_label_limits_required_and_help() -> None:
    out = html("name")
    assert '<label for="id_name">Name</label>' in out
    assert '<input type="text" id="id_name" name="name"' in out
    assert 'minlength="2" maxlength="20"' in out
    assert " required" in out
    assert 'aria-describedby="id_name-help"' in out
    assert '<p class="field-help" id="id_name-help">Shown to customers</p>' in out


def test_numbers_have_min_max_and_step() -> None:
    age = html("age")
    assert 'type="number"' in age and 'step="1" min="0" max="130"' in age
    assert " required" not in age  # optional
    price = html("price")
    assert 'step="any" min="0" max="1000"' in price
    assert 'type="number"' in html("cost")  # Decimal is a number too
    assert 'value="1.5"' in html("cost")


def test_checkbox_comes_before_its_label_and_shows_the_default() -> None:
    out = html("active")
    assert out.index("<input") < out.index("<label")
    assert 'type="checkbox" id="id_active" name="active" value="true" checked' in out
    assert " required" not in out  # unticked is a valid answer: False


def test_dates_and_times() -> None:
    assert '<input type="date" id="id_born"' in html("born")
    assert '<input type="datetime-local" id="id_meets"' in html("meets")
    assert '<input type="time" id="id_opens"' in html("opens")
    form = blank_form(
        Everything,
        initial={
            "born": datetime.date(2000, 1, 2),
            "meets": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
            "opens": datetime.time(9, 30),
        },
    )
    assert 'value="2000-01-02"' in str(form["born"].render())
    assert 'value="2024-05-06T07:08"' in str(form["meets"].render())
    assert 'value="09:30:00"' in str(form["opens"].render())


def test_enum_and_literal_are_selects() -> None:
    color = html("color")
    assert '<select id="id_color" name="color">' in color
    assert '<option value="green" selected>green</option>' in color
    size = html("size")
    assert '<select id="id_size" name="size" required>' in size
    assert '<option value="">—</option>' in size
    assert '<option value="m">m</option>' in size


def test_list_of_enum_is_a_multiple_select_or_checkboxes() -> None:
    form = blank_form(Everything, initial={"tags": [Color.RED]})
    out = str(form["tags"].render())
    assert '<select id="id_tags" name="tags" multiple>' in out
    assert '<option value="red" selected>' in out
    assert '<option value="">' not in out
    boxes = str(form["tags"].render("checkboxes"))
    assert "<fieldset" in boxes and "<legend>Tags</legend>" in boxes
    assert '<input type="checkbox" id="id_tags_0" name="tags" value="red" checked>' in boxes
    assert '<label for="id_tags_1">' in boxes


def test_radio_buttons_for_a_single_choice() -> None:
    out = str(blank_form(Everything)["size"].render("radio"))
    assert out.count('type="radio"') == 3
    assert '<label for="id_size_0"><input type="radio" id="id_size_0" name="size"' in out
    assert "required" in out


def test_file_fields_and_multipart_enctype() -> None:
    form = blank_form(Everything)
    assert '<input type="file" id="id_photo" name="photo">' in str(form["photo"].render())
    assert 'name="scans" multiple' in str(form["scans"].render())
    assert form.enctype == "multipart/form-data"
    assert 'enctype="multipart/form-data"' in str(form.render())


def test_password_value_is_never_sent_back() -> None:
    form = blank_form(Everything, initial={"secret": SecretStr("hunter2")})
    out = str(form["secret"].render())
    assert 'type="password"' in out
    assert "hunter2" not in out and "value=" not in out


def test_textarea_from_a_widget_marker() -> None:
    out = str(blank_form(Everything, initial={"notes": "</textarea><script>"})["notes"].render())
    assert '<textarea id="id_notes" name="notes" rows="3">' in out
    assert "&lt;/textarea&gt;&lt;script&gt;</textarea>" in out


def test_email_field() -> None:
    pytest.importorskip("email_validator", reason="EmailStr needs the email-validator package")
    from pydantic import EmailStr

    class Contact(BaseModel):
        email: EmailStr

    assert '<input type="email" id="id_email" name="email"' in html("email", Contact)


def test_email_widget_override() -> None:
    class Contact(BaseModel):
        email: str

    form = blank_form(Contact, widgets={"email": "email"})
    assert 'type="email"' in str(form["email"].render())


def test_per_call_attributes_and_widget() -> None:
    field = blank_form(Everything)["name"]
    out = str(field.render(placeholder='say "hi"', class_="big", data_x=1, autofocus=True))
    assert 'placeholder="say &#34;hi&#34;"' in out
    assert 'class="big"' in out and 'data-x="1"' in out and " autofocus" in out
    assert 'type="search"' in str(field.render("search"))
    with pytest.raises(ValueError, match="not a valid HTML attribute name"):
        field.control(**{'x"><script': "1"})


def test_pieces_for_your_own_markup() -> None:
    field = blank_form(Everything, initial={"name": "Ada"})["name"]
    assert str(field.label_tag()) == '<label for="id_name">Name</label>'
    assert str(field.label_tag("Your name")) == '<label for="id_name">Your name</label>'
    assert str(field.control()).startswith('<input type="text" id="id_name"')
    assert str(field.errors_html()) == ""
    assert field.value == "Ada" and field.id == "id_name" and field.required


def test_aliases_name_the_inputs() -> None:
    class Aliased(BaseModel):
        first_name: str = Field(alias="first-name", title="First name")

    field = blank_form(Aliased)["first_name"]
    assert 'name="first-name"' in str(field.render())
    assert '<label for="id_first-name">First name</label>' in str(field.render())


def test_unknown_widget_and_unknown_field_and_non_models() -> None:
    with pytest.raises(ConfigurationError, match=r"prow\.E190.*'slider'"):
        Widget("slider")
    with pytest.raises(ConfigurationError, match=r"prow\.E192.*widgets names \[.nope.\]"):
        blank_form(Everything, widgets={"nope": "text"})
    with pytest.raises(ConfigurationError, match=r"prow\.E191"):
        blank_form(dict)  # type: ignore[type-var]


def test_every_field_renders_in_the_whole_form() -> None:
    out = str(blank_form(Everything).render("/save", submit="Save"))
    assert out.startswith('<form action="/save" method="post"')
    assert out.endswith('<button type="submit">Save</button></form>')
    for name in Everything.model_fields:
        assert f'id="id_{name}' in out


def test_run_time_choices_turn_a_field_into_a_select() -> None:
    class Pick(BaseModel):
        category_id: int
        size: Literal["s", "m"] = "s"

    rows = [(1, "Tools"), (2, "Snacks <b>")]
    form = blank_form(Pick, initial={"category_id": 2}, choices={"category_id": rows})
    out = str(form["category_id"].render())
    assert '<select id="id_category_id" name="category_id" required>' in out
    assert '<option value="2" selected>Snacks &lt;b&gt;</option>' in out
    radios = blank_form(Pick, widgets={"size": "radio"}, choices={"size": [("m", "Medium")]})
    assert 'value="m"' in str(radios["size"].render()) and "Medium" in str(radios["size"])
    with pytest.raises(ConfigurationError, match=r"prow\.E192.*choices names \[.nope.\]"):
        blank_form(Pick, choices={"nope": []})


def test_keyword_names_become_the_same_attribute_names_everywhere() -> None:
    class Note(BaseModel):
        text: Annotated[str, Widget("textarea", class_="wide", aria_label="Note", data_max_=9)]
        title: str

    expected = 'class="wide" aria-label="Note" data-max="9"'
    form = blank_form(Note)
    assert expected in str(form["text"].render())  # from Widget(...)
    assert expected in str(form["title"].render(class_="wide", aria_label="Note", data_max_=9))
    out = str(form.render(class_="wide", aria_label="Note", data_max_=9, **{"hx-post": "/n"}))
    assert out.startswith("<form ") and f'{expected} hx-post="/n">' in out
