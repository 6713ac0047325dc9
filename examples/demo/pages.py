"""Server-rendered pages of the demo: the item list and a form that adds an item.

The form is a pydantic model; ``bind_form`` reads the POSTed form, and when it is wrong the
same template draws it again with the values typed and a message under each bad field. A
valid form adds the row, flashes a message and redirects (post/redirect/get).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from examples.demo.app import Category, Item
from prow import RedirectResponse, Request, Router
from prow.auth import Auth, OptionalUser, has_perm, is_safe_redirect, login, logout
from prow.db import DBSession
from prow.forms import bind_form, blank_form
from prow.responses import HTMLResponse, Response
from prow.templating import Templates, flash, redirect_to

templates = Templates(Path(__file__).resolve().parent / "templates")
router = Router(tags=["pages"], include_in_schema=False)


class NewItem(BaseModel):
    """What the "Add an item" form asks for."""

    name: str = Field(min_length=1, max_length=100, title="Name")
    price: float = Field(gt=0, le=100_000, title="Price (€)")
    category_id: int = Field(title="Category")


@router.get("/items")
async def items_page(request: Request, session: DBSession) -> HTMLResponse:
    """Every item, newest first."""
    query = select(Item).options(selectinload(Item.category)).order_by(Item.id.desc())
    items = (await session.scalars(query)).all()
    return templates.render(request, "items.html", {"items": items})


@router.get("/items/new")
async def new_item_page(request: Request, session: DBSession, user: OptionalUser) -> Response:
    """The empty form (for users who may add items)."""
    refused = await _refuse_unless_may_add(request, session, user)
    if refused is not None:
        return refused
    choices = await _categories(session)
    form = blank_form(NewItem, request, choices={"category_id": choices})
    return templates.render(request, "item_form.html", {"form": form})


@router.post("/items/new")
async def create_item_page(request: Request, session: DBSession, user: OptionalUser) -> Response:
    """Add the item, or show the form again with its errors (422)."""
    refused = await _refuse_unless_may_add(request, session, user)
    if refused is not None:
        return refused
    choices = await _categories(session)
    form = await bind_form(NewItem, request, choices={"category_id": choices})
    if form.is_valid and form.data.category_id not in {pk for pk, _ in choices}:
        form.add_error("category_id", "Choose one of the categories")
    if not form.is_valid:
        return templates.render(request, "item_form.html", {"form": form}, status_code=422)
    item = Item(**form.data.model_dump())
    session.add(item)
    flash(request, f"Added “{item.name}”.", "success")
    return redirect_to(request, "items_page")


async def _refuse_unless_may_add(
    request: Request, session: DBSession, user: OptionalUser
) -> Response | None:
    """Anonymous visitors go to the login page; users without ``item.add`` get a 403 page."""
    if user is None:
        return RedirectResponse(f"{request.app.url_for('login_page')}?next=/items/new", 303)
    if not await has_perm(session, user, "item.add"):
        context = {"message": "You may not add items: that needs the item.add permission."}
        return templates.render(request, "refused.html", context, status_code=403)
    return None


async def _categories(session: DBSession) -> list[tuple[int, str]]:
    rows = await session.execute(select(Category.id, Category.name).order_by(Category.name))
    return [(pk, name) for pk, name in rows.all()]


# -- logging in: a page of our own around prow.auth's building blocks --------------------------


class LoginForm(BaseModel):
    """What the login page asks for."""

    username: str = Field(min_length=1, max_length=150, title="Username")
    password: SecretStr = Field(min_length=1, title="Password")


@router.get("/login")
async def login_page(request: Request, next: str = "/account") -> HTMLResponse:
    """The login form; ``next`` is where to go afterwards (a path on this site only)."""
    form = blank_form(LoginForm, request)
    return templates.render(request, "login.html", {"form": form, "next": _safe(next)})


@router.post("/login", csrf="strict")  # checked without cookies too: no login CSRF
async def login_submit(request: Request, auth: Auth, session: DBSession) -> Response:
    """Log in and go to ``next``, or show the form again saying what was wrong."""
    form = await bind_form(LoginForm, request)
    target = _safe((await request.form()).get("next"))
    if form.is_valid:
        password = form.data.password.get_secret_value()
        user = await auth.authenticate(session, form.data.username, password)
        if user is not None:
            login(request, user)
            flash(request, f"Welcome, {user.username}.", "success")
            return RedirectResponse(target, status_code=303)
        form.add_error(None, "Wrong username or password.")
    context = {"form": form, "next": target}
    return templates.render(request, "login.html", context, status_code=400)


@router.post("/logout", csrf="strict")
async def logout_submit(request: Request) -> Response:
    """Log out and go back to the items."""
    logout(request)
    flash(request, "You are logged out.")
    return redirect_to(request, "items_page")


@router.get("/account")
async def account_page(request: Request, user: OptionalUser, session: DBSession) -> Response:
    """Only for users who are logged in: the others are sent to the login page."""
    if user is None:
        return RedirectResponse(f"{request.app.url_for('login_page')}?next=/account", 303)
    can_discount = await has_perm(session, user, "item.change")
    context = {"account": user, "can_discount": can_discount}
    return templates.render(request, "account.html", context)


def _safe(target: object) -> str:
    # Threat: an open redirect (``next=https://evil.example``) after a real login.
    return target if isinstance(target, str) and is_safe_redirect(target) else "/account"
