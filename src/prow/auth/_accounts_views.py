"""The handlers of :class:`~prow.auth.Accounts`' pages: one GET (the form) and one POST each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from prow._request import Request
from prow._routing._router import Router
from prow.auth._accounts import email_or_none, new_password_problems, safe_next
from prow.auth._current import CurrentUser, keep_login, login, logout
from prow.auth._identity import AccountError
from prow.db import DBSession
from prow.responses import RedirectResponse, Response
from prow.templating import flash

if TYPE_CHECKING:
    from prow.auth._accounts import Accounts

__all__ = ["accounts_router"]

_CHECK_MAIL = (
    "If an account uses this address, we sent it a link. Check your mailbox (and the spam folder)."
)


async def _fields(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {key: form.get(key) for key in form}


def accounts_router(accounts: Accounts) -> Router:
    """The pages of ``accounts``, named ``accounts_login``, ``accounts_register``..."""
    router = Router(accounts.prefix, tags=["accounts"], include_in_schema=False)
    post: dict[str, Any] = {"dependencies": _limits(accounts)}
    _login_routes(router, accounts, post)
    if accounts.registration:
        _register_routes(router, accounts, post)
    _reset_routes(router, accounts, post)
    _change_routes(router, accounts, post)
    return router


def _limits(accounts: Accounts) -> list[Any]:
    if accounts.rate_limit is None:
        return []
    from prow.ratelimit import rate_limit

    return [rate_limit(accounts.rate_limit, key="ip", name="prow.accounts")]


def _login_routes(router: Router, accounts: Accounts, post: dict[str, Any]) -> None:
    label = "E-mail address" if accounts.auth.login_field == "email" else "Username"

    async def login_form(request: Request) -> Response:
        nxt = safe_next(request.query_params.get("next"))
        return accounts.page(request, "login.html", {"next": nxt, "login_label": label})

    async def login_submit(request: Request, db: DBSession) -> Response:
        fields = await _fields(request)
        name, password = str(fields.get("username") or ""), str(fields.get("password") or "")
        nxt = safe_next(fields.get("next"))
        user = await accounts.auth.authenticate(db, name, password) if name and password else None
        if user is None:
            context = {
                "error": "Wrong username or password.",
                "username": name,
                "next": nxt,
                "login_label": label,
            }
            return accounts.page(request, "login.html", context, status_code=400)
        login(request, user)
        return RedirectResponse(nxt or accounts.login_redirect, status_code=303)

    async def logout_form(request: Request) -> Response:
        return accounts.page(request, "logout.html")

    async def logout_submit(request: Request) -> Response:
        logout(request)
        flash(request, "You are logged out.")
        return RedirectResponse(accounts.logout_redirect, status_code=303)

    router.add_route("/login", login_form, ["GET"], name="accounts_login")
    # Login CSRF: "strict" checks the origin even without cookies (see prow._csrf).
    router.add_route("/login", login_submit, ["POST"], csrf="strict", **post)
    router.add_route("/logout", logout_form, ["GET"], name="accounts_logout")
    router.add_route("/logout", logout_submit, ["POST"], csrf="strict")


def _register_routes(router: Router, accounts: Accounts, post: dict[str, Any]) -> None:
    async def register_form(request: Request) -> Response:
        return accounts.page(request, "register.html", {"values": {}})

    async def register_submit(request: Request, db: DBSession) -> Response:
        fields = await _fields(request)
        username = str(fields.get("username") or "").strip()
        email = email_or_none(fields.get("email"))
        errors = [] if username else ["Choose a username."]
        if email is None:
            errors.append("Enter a valid e-mail address.")
        errors += new_password_problems(fields, username)
        values = {"username": username, "email": fields.get("email") or ""}
        if errors:
            context = {"errors": errors, "values": values}
            return accounts.page(request, "register.html", context, status_code=400)
        assert email is not None
        return await _register(request, db, accounts, username, email, str(fields["password1"]))

    async def verify(request: Request, token: str, db: DBSession) -> Response:
        user = await accounts.user_for_verify(db, token)
        if user is None:
            text = "This link is invalid, already used or expired. Log in, or sign up again."
            context = {"heading": "Link not valid", "text": text}
            return accounts.page(request, "message.html", context, status_code=400)
        user.is_active = True
        flash(request, "Your e-mail address is confirmed: you can log in.")
        return RedirectResponse(request.app.url_for("accounts_login"), status_code=303)

    router.add_route("/register", register_form, ["GET"], name="accounts_register")
    router.add_route("/register", register_submit, ["POST"], **post)
    router.add_route("/verify/{token}", verify, ["GET"], name="accounts_verify")


async def _register(
    request: Request, db: Any, accounts: Accounts, username: str, email: str, password: str
) -> Response:
    auth = accounts.auth
    model: Any = auth.user_model
    owner = (await db.scalars(select(model).where(model.email == email).limit(1))).first()
    if owner is not None:
        # No enumeration: the page says the same as for a new address; the owner is told.
        link = request.url_for("accounts_password_reset")
        await accounts.mail_user(
            request, owner, "Your account", "already_registered", {"reset_link": str(link)}
        )
        return _check_mail_page(request, accounts)
    try:
        user = await auth.create_user(
            db, username, password, email=email, is_active=not accounts.verify_email
        )
    except AccountError as exc:
        context = {"errors": [str(exc.detail)], "values": {"username": username, "email": email}}
        return accounts.page(request, "register.html", context, status_code=400)
    if not accounts.verify_email:
        login(request, user)
        return RedirectResponse(accounts.login_redirect, status_code=303)
    link = request.url_for("accounts_verify", token=accounts.verify_token(user))
    days = max(1, accounts.verify_max_age.days)
    await accounts.mail_user(
        request, user, "Confirm your e-mail address", "verify", {"link": str(link), "days": days}
    )
    return _check_mail_page(request, accounts)


def _check_mail_page(request: Request, accounts: Accounts) -> Response:
    text = "We sent a link to your e-mail address: open it to activate your account."
    return accounts.page(request, "message.html", {"heading": "Check your mail", "text": text})


def _reset_routes(router: Router, accounts: Accounts, post: dict[str, Any]) -> None:
    async def reset_form(request: Request) -> Response:
        return accounts.page(request, "password_reset.html")

    async def reset_submit(request: Request, db: DBSession) -> Response:
        fields = await _fields(request)
        email = email_or_none(fields.get("email"))
        model: Any = accounts.auth.user_model
        users = []
        if email is not None:
            query = select(model).where(model.email == email, model.is_active.is_(True))
            users = list(await db.scalars(query))
        hours = max(1, int(accounts.reset_max_age.total_seconds() // 3600))
        for user in users:
            link = request.url_for(
                "accounts_password_reset_confirm", token=accounts.reset_token(user)
            )
            context = {"link": str(link), "hours": hours}
            await accounts.mail_user(request, user, "Reset your password", "reset", context)
        # The same page whether or not the address has an account (no enumeration).
        context = {"heading": "Check your mail", "text": _CHECK_MAIL}
        return accounts.page(request, "message.html", context)

    async def confirm_form(request: Request, token: str, db: DBSession) -> Response:
        if await accounts.user_for_reset(db, token) is None:
            return _bad_link(request, accounts)
        return accounts.page(request, "password_set.html", _set_context(request, "New password"))

    async def confirm_submit(request: Request, token: str, db: DBSession) -> Response:
        user = await accounts.user_for_reset(db, token)
        if user is None:
            return _bad_link(request, accounts)
        fields = await _fields(request)
        errors = new_password_problems(fields, user.username)
        if errors:
            context = {**_set_context(request, "New password"), "errors": errors}
            return accounts.page(request, "password_set.html", context, status_code=400)
        await accounts.auth.set_password(user, str(fields["password1"]), validate=False)
        flash(request, "Your password is changed: log in with the new one.")
        return RedirectResponse(request.app.url_for("accounts_login"), status_code=303)

    router.add_route("/password/reset", reset_form, ["GET"], name="accounts_password_reset")
    router.add_route("/password/reset", reset_submit, ["POST"], **post)
    path = "/password/reset/{token}"
    router.add_route(path, confirm_form, ["GET"], name="accounts_password_reset_confirm")
    router.add_route(path, confirm_submit, ["POST"], **post)


def _set_context(request: Request, heading: str, ask_old: bool = False) -> dict[str, Any]:
    return {"heading": heading, "action": request.url.path, "ask_old": ask_old}


def _bad_link(request: Request, accounts: Accounts) -> Response:
    text = "This link is invalid, already used or expired: ask for a new one."
    context = {"heading": "Link not valid", "text": text}
    return accounts.page(request, "message.html", context, status_code=400)


def _change_routes(router: Router, accounts: Accounts, post: dict[str, Any]) -> None:
    async def change_form(request: Request, user: CurrentUser) -> Response:
        context = _set_context(request, "Change your password", ask_old=True)
        return accounts.page(request, "password_set.html", context)

    async def change_submit(request: Request, user: CurrentUser, db: DBSession) -> Response:
        fields = await _fields(request)
        errors = new_password_problems(fields, user.username)
        old = str(fields.get("old_password") or "")
        if not await user.acheck_password(old):
            errors.insert(0, "The current password is wrong.")
        if errors:
            context = {**_set_context(request, "Change your password", True), "errors": errors}
            return accounts.page(request, "password_set.html", context, status_code=400)
        stored = await db.merge(user)
        await accounts.auth.set_password(stored, str(fields["password1"]), validate=False)
        keep_login(request, stored)  # this browser stays logged in; the others are not
        flash(request, "Your password is changed.")
        return RedirectResponse(accounts.login_redirect, status_code=303)

    path = "/password/change"
    router.add_route(path, change_form, ["GET"], name="accounts_password_change")
    router.add_route(path, change_submit, ["POST"], **post)
