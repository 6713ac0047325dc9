"""What makes two usernames (or two e-mail addresses) the same account, and which are refused.

Threat: impersonation and duplicate accounts. Unicode lets one name be written many ways
that look alike or identical: ``Alice`` and ``alice``, ``é`` as one code point or as ``e``
plus an accent (NFC/NFD), fullwidth letters (U+FF21 for ``A``...), a Cyrillic ``a``
(U+0430) among Latin letters, a zero-width space or a right-to-left override that shows
nothing, a trailing space. Had each made its own account, anyone could register a
look-alike of an admin's name.

So, as Django and most sites do:

- a username keeps the form it was typed in, after NFKC normalization (fullwidth and
  compatibility characters become the plain ones, accents are composed): that is what is
  shown. Its *canonical form* (:func:`canonical_username`: NFKC, case-folded) is stored
  beside it in ``username_key``, which is unique, so ``Alice`` and ``alice`` are one account
  even for two registrations racing each other, and a login in either case finds it;
- a username is refused (:class:`AccountError`, answered 422 naming the field) when it is
  empty, starts or ends with a space, holds an invisible or control character, a character
  other than letters, marks, digits and ``. _ - @ +``, or letters of two scripts (Latin
  with Cyrillic or Greek...; Japanese, Chinese and Korean may mix Han with their own
  scripts and Latin, as they are written);
- an e-mail address is stored NFKC-normalized and in lower case (:func:`normalize_email`),
  so addresses differing only in case are one address, unique where the column is, and a
  login names it in any case. (The part before ``@`` is case-sensitive by the letter of
  RFC 5321, but no mail provider in use treats it so, and two accounts for one mailbox are
  a takeover risk.)
"""

from __future__ import annotations

import unicodedata

from prow._exceptions import RequestValidationError

__all__ = [
    "AccountError",
    "canonical_username",
    "normalize_email",
    "normalize_username",
    "username_problem",
]

#: Punctuation a username may contain besides letters, marks and digits (Django's set).
USERNAME_PUNCTUATION = frozenset("._-@+")

# Categories that draw nothing or control the text: controls, formats (zero-width, bidi
# overrides), surrogates, private use, unassigned, line and paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Unicode's Default_Ignorable_Code_Point characters outside those categories: letters and
# marks that render as nothing (Hangul fillers, variation selectors, the combining grapheme
# joiner...), so "admin" followed by one looks exactly like "admin".
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
# Scripts that one language writes together (UTS #39 "highly restrictive" sets), each
# possibly with Latin: Japanese, Chinese with Bopomofo, Korean.
_SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Shared by every script: digits 0-9, punctuation; marks take the script of their letter.
_NO_SCRIPT = frozenset({"COMMON", "INHERITED"})


class AccountError(RequestValidationError):
    """A username or an e-mail address prow refuses; answered 422 naming ``field``, with
    ``reason`` saying why.

    A validation error like any other (``errors[0]["loc"]`` ends with the field's name), so
    an app's handler for :class:`~prow.RequestValidationError` formats it too.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__([{"loc": ["body", field], "msg": reason, "type": f"{field}_invalid"}])


def normalize_username(name: str, *, max_length: int | None = None) -> str:
    """The form of ``name`` that is stored and shown (NFKC), or :class:`AccountError`."""
    normal = unicodedata.normalize("NFKC", name)
    problem = username_problem(normal)
    if problem is None and max_length is not None:
        longest = max(len(normal), len(canonical_username(normal)))
        if longest > max_length:
            problem = f"the username must have at most {max_length} characters"
    if problem is not None:
        raise AccountError("username", problem)
    return normal


def canonical_username(name: str) -> str:
    """The form two usernames are compared in: NFKC, case-folded (fullwidth ``ALICE`` -> ``alice``).

    Never raises: use it to look a user up, whatever was typed.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    return unicodedata.normalize("NFKC", folded)  # folding can undo the normal form


def username_problem(name: str) -> str | None:
    """Why ``name`` (NFKC-normalized) cannot be a username, or ``None`` when it can."""
    if not name:
        return "the username must not be empty"
    if name != name.strip():
        return "the username must not start or end with a space"
    for char in name:
        if _is_invisible(char):
            return (
                "the username must not contain invisible or control characters "
                f"(U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
            )
    for char in name:
        if not (_is_word_character(char) or char in USERNAME_PUNCTUATION):
            return f"the username may contain only letters, digits and . _ - @ + (not {char!r})"
    scripts = _scripts(name)
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS):
        names = " and ".join(sorted(script.title() for script in scripts))
        return f"the username must not mix characters of different scripts ({names})"
    return None


def normalize_email(address: str) -> str:
    """The stored form of an e-mail address: NFKC, lower case; :class:`AccountError` if it
    holds spaces or invisible characters. ``""`` (no address) stays ``""``."""
    normal = unicodedata.normalize("NFKC", address)
    if any(char.isspace() or _is_invisible(char) for char in normal):
        raise AccountError(
            "email", "the email address must not contain spaces or invisible characters"
        )
    return normal.lower()


def _is_invisible(char: str) -> bool:
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _is_word_character(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def _scripts(name: str) -> frozenset[str]:
    from confusable_homoglyphs import categories  # type: ignore[import-untyped]

    found = {categories.alias(char) for char in name}
    return frozenset(found - _NO_SCRIPT)
