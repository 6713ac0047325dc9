"""Registration, login, the current user, and profiles (follow, unfollow)."""

from __future__ import annotations

from typing import Annotated, Any

from sqlalchemy import Integer, Table, bindparam, delete, exists, insert, select
from sqlalchemy.orm import with_expression

from prow import Body, Depends, HTTPError, Request, Router
from prow.auth import Auth, current_user, optional_user
from prow.db import DBSession
from prow.ratelimit import rate_limit

from .models import User, follows
from .schemas import Login, NewUser, Profile, UserOut, UserUpdate

router = Router(prefix="/api", tags=["users"])
#: The spec wraps every body in an object: ``{"user": {...}}``, ``{"article": {...}}``...
Embed = Body(embed=True)
#: The user making the request, typed as this project's ``User``: 401, or ``None``, if anonymous.
Me = Annotated[User, Depends(current_user)]
MaybeMe = Annotated[User | None, Depends(optional_user)]


def fail(status: int, field: str, message: str) -> HTTPError:
    """An error the app answers as ``{"errors": {field: [message]}}`` (see ``app.py``)."""
    return HTTPError(status, message, extra={"field": field})


#: SQL: whether the user ``:me`` follows ``User`` (never, when ``:me`` is NULL: anonymous).
following_me = exists().where(
    follows.c.follower_id == bindparam("me", None, type_=Integer), follows.c.followed_id == User.id
)
PROFILE = (
    select(User)
    .where(User.username == bindparam("username"))
    .options(with_expression(User.following, following_me))
    .execution_options(populate_existing=True)
)


async def link(session: DBSession, table: Table, on: bool, **key: Any) -> None:
    """Add (``on``) or remove the row ``key`` of a link table; twice is the same as once."""
    await session.execute(delete(table).filter_by(**key))
    if on:
        await session.execute(insert(table).values(**key))


def signed_in(request: Request, user: User) -> dict[str, UserOut]:
    """The answer of register, login and /user: the user with a new token."""
    token = Auth.of(request.app).create_access_token(user)
    fields = {name: getattr(user, name) for name in ("email", "username", "bio", "image")}
    return {"user": UserOut(token=token, **fields)}


@router.post("/users", status_code=201)
async def register(
    user: Annotated[NewUser, Embed], request: Request, session: DBSession
) -> dict[str, UserOut]:
    # The schema holds the password rules (NIST's: 8 characters or more); no others here.
    auth = Auth.of(request.app)
    new = await auth.create_user(
        session, user.username, user.password, email=user.email, validate=False
    )
    return signed_in(request, new)


@router.post(
    "/users/login",
    dependencies=[rate_limit("10/minute")],  # password guessing
    responses={401: {"description": "Unauthorized: no user has this email and password"}},
)
async def login(
    user: Annotated[Login, Embed], request: Request, session: DBSession
) -> dict[str, UserOut]:
    # By email (Auth's login_field); an unknown email takes as long as a wrong password.
    found = await Auth.of(request.app).authenticate(session, user.email, user.password)
    if not isinstance(found, User):
        raise fail(401, "credentials", "invalid")  # the spec's words: not which one was wrong
    return signed_in(request, found)


@router.get("/user")
async def get_user(me: Me, request: Request) -> dict[str, UserOut]:
    return signed_in(request, me)


@router.put("/user")
async def update_user(
    user: Annotated[UserUpdate, Embed], me: Me, request: Request, session: DBSession
) -> dict[str, UserOut]:
    for name, value in user.model_dump(exclude_unset=True).items():
        if name == "password":  # a new hash: the tokens issued before stop working
            await Auth.of(request.app).set_password(me, value, validate=False)
        else:
            setattr(me, name, value)
    await session.flush()  # a taken username or email is refused here (409)
    return signed_in(request, me)


async def find_profile(session: DBSession, username: str, me: User | None) -> User:
    values = {"username": username, "me": me.id if me else None}
    profile = await session.scalar(PROFILE, values)
    if profile is None:
        raise fail(404, "profile", "not found")
    return profile


def profile(user: User) -> dict[str, Profile]:
    return {"profile": Profile.model_validate(user)}


@router.get("/profiles/{username}")
async def get_profile(username: str, me: MaybeMe, session: DBSession) -> dict[str, Profile]:
    return profile(await find_profile(session, username, me))


@router.post("/profiles/{username}/follow")
async def follow(username: str, me: Me, session: DBSession) -> dict[str, Profile]:
    found = await find_profile(session, username, me)
    await link(session, follows, True, follower_id=me.id, followed_id=found.id)
    found.following = True
    return profile(found)


@router.delete("/profiles/{username}/follow")
async def unfollow(username: str, me: Me, session: DBSession) -> dict[str, Profile]:
    found = await find_profile(session, username, me)
    await link(session, follows, False, follower_id=me.id, followed_id=found.id)
    found.following = False
    return profile(found)
