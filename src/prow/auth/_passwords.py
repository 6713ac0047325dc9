"""Password hashing (argon2id) and strength rules.

Threat: a stolen database. Passwords are stored only as argon2id hashes (memory-hard, so
guessing them on GPUs is slow), each with its own salt. When prow's hashing parameters are
raised, a hash made with the old ones is replaced at the user's next login
(``needs_rehash``), as only then is the password known.

Threat: a stalled server. argon2id takes a large fraction of a second on purpose; run on the
event loop it would hold up every other request meanwhile (and a flood of logins would stop
the server). So hashing and verifying refuse to run in a thread whose event loop is running:
async code awaits ``auth.set_password``, ``user.aset_password`` or ``user.acheck_password``,
which hash in a worker thread. Scripts, the shell and plain ``def`` handlers call them as is.

Threat: guessable passwords. ``validate_password`` refuses short, all-digit and common
passwords and those close to the username, listing every problem at once.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from prow._exceptions import HTTPError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PasswordError",
    "hash_password",
    "needs_rehash",
    "password_problems",
    "set_password_hasher",
    "validate_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 8

# argon2-cffi's defaults follow RFC 9106's second recommended profile (argon2id, 64 MiB,
# 3 passes, 4 lanes): strong for a web login, and updated by the library over time.
_DEFAULT_HASHER = _HASHER = PasswordHasher()


def set_password_hasher(hasher: PasswordHasher | None) -> PasswordHasher:
    """Hash and verify passwords with ``hasher`` from now on (``None``: prow's default);
    returns the one it replaces.

    Process-wide, as Django's ``PASSWORD_HASHERS``: a hash must verify in every app and
    script that reads the same users. Raise the parameters as hardware gets faster (hashes
    made with the old ones are replaced at each user's next login), or, in a test suite
    only, lower them: ``PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)``.
    """
    global _HASHER  # the one process-wide setting, as argued above
    previous, _HASHER = _HASHER, hasher or _DEFAULT_HASHER
    return previous


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    # A hash to verify against when the user does not exist, so that "no such user" takes
    # as long as "wrong password" and response times do not reveal which usernames exist.
    # Made on first need (hashing is slow on purpose), once per hasher.
    key = id(_HASHER)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _HASHER.hash("prow: a password nobody has")
    return _dummy_hashes[key]


#: The most used passwords of public breach lists (lower case); any of them is refused.
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "p@ssword",
        "p@ssw0rd",
        "12345678",
        "123456789",
        "1234567890",
        "qwerty",
        "qwertyui",
        "qwertyuiop",
        "qwerty123",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "zaq12wsx",
        "abc12345",
        "abcd1234",
        "iloveyou",
        "princess",
        "sunshine",
        "football",
        "baseball",
        "basketball",
        "superman",
        "batman",
        "trustno1",
        "letmein1",
        "letmein123",
        "welcome1",
        "welcome123",
        "monkey123",
        "dragon123",
        "master123",
        "admin123",
        "administrator",
        "changeme",
        "changeme123",
        "secret123",
        "qazwsxedc",
        "asdfghjk",
        "asdfghjkl",
        "zxcvbnm1",
        "11111111",
        "00000000",
        "88888888",
        "12341234",
        "87654321",
        "computer",
        "internet",
        "whatever",
        "starwars",
        "pokemon1",
        "michael1",
        "jennifer",
        "charlie1",
        "shadow12",
        "mustang1",
        "liverpool",
        "chelsea1",
        "arsenal1",
        "freedom1",
        "hello123",
        "google123",
        "loveyou1",
        "myspace1",
        "access14",
        "football1",
        "welcome",
    ]
)


class PasswordError(ValueError):
    """A password breaks one or more strength rules; ``problems`` lists them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def http_error(self) -> HTTPError:
        """The 422 answer naming every problem."""
        return HTTPError(
            422,
            f"the password is too weak: {self}",
            title="Weak password",
            extra={"problems": self.problems},
        )


def refuse_on_event_loop(what: str) -> None:
    """Raise ``RuntimeError`` when called on a running event loop's thread (see above)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # a script, a worker thread or a sync handler: blocking is fine here
    raise RuntimeError(
        f"{what} runs argon2id, which takes a large fraction of a second on purpose, and "
        "would stall every request of this event loop: await auth.set_password(user, ...), "
        "user.aset_password(...) or user.acheck_password(...) instead, or run it in a worker "
        "thread with anyio.to_thread.run_sync"
    )


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; a different string every call).

    Blocking: refused on a running event loop (see the module's docstring).
    """
    refuse_on_event_loop("hash_password()")
    return _HASHER.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """Whether ``password`` matches ``hashed``; ``False`` for an empty or malformed hash.

    Blocking: refused on a running event loop (see the module's docstring).
    """
    refuse_on_event_loop("verify_password()")
    if not hashed:
        # Still do the work, so a user without a password answers as slowly as others.
        _verify_quietly(_dummy_hash(), password)
        return False
    return _verify_quietly(hashed, password)


def spend_verification_time(password: str) -> None:
    """Verify against a dummy hash: for "no such user", to take as long as a real check."""
    refuse_on_event_loop("spend_verification_time()")
    _verify_quietly(_dummy_hash(), password)


def _verify_quietly(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether ``hashed`` was made with other parameters than today's (rehash at login)."""
    try:
        return _HASHER.check_needs_rehash(hashed)
    except (InvalidHashError, ValueError):
        return True


def password_problems(password: str, *, username: str = "") -> list[str]:
    """Every strength rule ``password`` breaks, as sentences; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"it must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.isdigit():
        problems.append("it must not be only digits")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("it is a commonly used password")
    if username and _too_similar(password, username):
        problems.append("it is too similar to the username")
    return problems


def validate_password(password: str, *, username: str = "") -> None:
    """Raise :class:`PasswordError` listing every rule ``password`` breaks."""
    problems = password_problems(password, username=username)
    if problems:
        raise PasswordError(problems)


def _too_similar(password: str, username: str) -> bool:
    lowered, name = password.lower(), username.lower()
    # The username inside a long passphrase is fine; what is left without it must still be
    # a password on its own ("alice2024" is not, "alice likes green tea" is).
    if len(name) >= 3 and (
        lowered in name or (name in lowered and len(lowered.replace(name, "")) < 8)
    ):
        return True
    return difflib.SequenceMatcher(a=lowered, b=name).quick_ratio() >= 0.7 and (
        difflib.SequenceMatcher(a=lowered, b=name).ratio() >= 0.7
    )
