"""A name imported from the wrong place says where it lives."""

import pytest

import prow


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("Resource", "from prow.db import Resource"),
        ("Model", "from prow.db import Model"),
        ("Session", "from prow.db import DBSession"),
        ("HTTPException", "from prow import HTTPError"),
        ("CurrentUser", "from prow.auth import CurrentUser"),
        ("FastAPI", "from prow import App"),
        ("APIRouter", "from prow import Router"),
        ("TestClient", "from prow.testing import TestClient"),
        ("Templates", "from prow.templating import Templates"),
        ("StaticFiles", "from prow.staticfiles import StaticFiles"),
        ("SessionMiddleware", "from prow.sessions import SessionMiddleware"),
        ("rate_limit", "from prow.ratelimit import rate_limit"),
        ("ModelForm", "from prow.forms import ModelForm"),
        ("Admin", "from prow.admin import Admin"),
        ("task", "from prow.tasks import task"),
        ("send_mail", "from prow.mail import send_mail"),
        ("Cache", "from prow.cache import Cache"),
        ("Channels", "from prow.channels import Channels"),
        ("GraphQL", "from prow.graphql import GraphQL"),
        ("Observability", "from prow.observability import Observability"),
        ("Accounts", "from prow.auth import Accounts"),
    ],
)
def test_from_prow_import_a_misplaced_name_says_where_it_lives(name: str, fix: str) -> None:
    with pytest.raises(ImportError) as info:
        exec(f"from prow import {name}")
    assert fix in str(info.value)
    with pytest.raises(AttributeError) as attribute:
        getattr(prow, name)
    assert fix in str(attribute.value)
    assert not hasattr(prow, name)
    exec(fix.split("  (", maxsplit=1)[0])  # the suggested import works


def test_an_unknown_name_is_the_usual_error() -> None:
    with pytest.raises(ImportError, match="cannot import name 'Nothing'"):
        exec("from prow import Nothing")
    assert not hasattr(prow, "Nothing")
