"""Which ``pip install 'prow[...]'`` extra brings an optional dependency, read from prow's
own package metadata (so a new extra needs no table here).

A battery turns the ``ModuleNotFoundError`` of what it needs into :func:`missing_extra`, so a
missing dependency says which extra to install instead of ``No module named 'jwt'``;
``prow check`` uses :func:`extras_providing` to report a dependency in use that the project
does not declare.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re

__all__ = ["canonical", "extras_providing", "installed_by", "missing_extra", "requirement"]

# Extras for prow's own development, never the one to suggest to a project.
_NOT_FOR_PROJECTS = frozenset(("dev", "bench"))
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them: ``PyJWT`` -> ``pyjwt``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(line: str) -> tuple[str, frozenset[str]] | None:
    """A requirement's distribution and extras: ``prow[db, auth]>=0.1`` -> ``prow``, both."""
    found = _REQUIREMENT.match(line)
    if found is None:
        return None
    extras = frozenset(extra.strip() for extra in (found[2] or "").split(",") if extra.strip())
    return canonical(found[1]), extras


def missing_extra(battery: str, exc: ModuleNotFoundError) -> ModuleNotFoundError:
    """The error for a battery whose dependency is missing, naming the extra to install."""
    module = exc.name or "?"
    extras = extras_providing(_distribution_of(module))
    hint = f"pip install 'prow[{extras[0]}]'" if extras else f"pip install {module}"
    if len(extras) > 1:
        hint += f" (also in prow[{']/['.join(extras[1:])}])"
    return ModuleNotFoundError(f"{battery} needs {module}: {hint}", name=module)


@functools.cache
def _closure() -> dict[str, frozenset[str]]:
    """Each extra of prow and every distribution it installs, through ``prow[other]`` too."""
    direct: dict[str, set[str]] = {}
    included: dict[str, set[str]] = {}
    try:
        requirements = importlib.metadata.requires("prow") or []
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - prow not installed
        requirements = []
    for line in requirements:
        marker = _EXTRA_MARKER.search(line)
        found = requirement(line)
        if marker is None or found is None:
            continue
        extra, (name, extras) = marker[1], found
        if name == "prow":
            included.setdefault(extra, set()).update(extras)
        else:
            direct.setdefault(extra, set()).add(name)

    def expand(extra: str, seen: frozenset[str]) -> set[str]:
        names = set(direct.get(extra, ()))
        for other in included.get(extra, ()):
            if other not in seen:
                names |= expand(other, seen | {other})
        return names

    return {
        extra: frozenset(expand(extra, frozenset((extra,))))
        for extra in direct.keys() | included.keys()
    }


def extras_providing(distribution: str) -> list[str]:
    """The extras a project may ask for to get ``distribution``, smallest first."""
    name = canonical(distribution)
    closure = _closure()
    found = [e for e, names in closure.items() if name in names and e not in _NOT_FOR_PROJECTS]
    # An extra named after the distribution first (redis -> prow[redis]), then the smallest.
    return sorted(found, key=lambda extra: (extra != name, len(closure[extra]), extra))


def installed_by(extras: set[str]) -> frozenset[str]:
    """Every distribution the given extras of prow install."""
    closure = _closure()
    return frozenset().union(*(closure.get(extra, frozenset()) for extra in extras))


def _distribution_of(module: str) -> str:
    owners = importlib.metadata.packages_distributions().get(module.partition(".")[0])
    return owners[0] if owners else module
