"""``prow wheel``: a wheel of the prow that is running, for projects to install offline.

Until prow is on a package index, a project made by ``prow new`` could not be installed in an
environment of its own (``No matching distribution found for prow``). prow packs itself
instead: the files of the installed package and its metadata (the same ``Requires-Dist`` and
extras, the ``prow`` command, the pytest plugin) into a standard pure-Python wheel (PEP 427).
No build tool and no network are needed, and the wheel is the same bytes every time for the
same files. ``prow new`` puts one in the project's ``vendor/`` folder, and the project's
README installs with ``pip install --find-links vendor``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import click

import prow
from prow.cli._errors import CLIError

__all__ = ["build_wheel", "wheel"]

_WHEEL = "Wheel-Version: 1.0\nGenerator: prow\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
_SKIPPED = frozenset((".pyc", ".pyo"))
# A fixed date: the same files give the same wheel (zip entries carry a timestamp).
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_wheel(folder: Path) -> Path:
    """Write ``prow-<version>-py3-none-any.whl`` into ``folder`` (made if needed)."""
    try:
        distribution = importlib.metadata.distribution("prow")
    except importlib.metadata.PackageNotFoundError:
        raise CLIError(
            "prow's package metadata is missing (prow is imported from a folder, not "
            "installed): install it with pip first"
        ) from None
    version = distribution.version
    info = f"prow-{version}.dist-info"
    entries: list[tuple[str, bytes]] = []
    package = Path(prow.__file__).parent
    for path in sorted(package.rglob("*")):
        if _packed(path):
            entries.append((f"prow/{path.relative_to(package).as_posix()}", path.read_bytes()))
    entries.append((f"{info}/METADATA", _text(distribution, "METADATA")))
    entries.append((f"{info}/WHEEL", _WHEEL.encode()))
    entry_points = distribution.read_text("entry_points.txt")
    if entry_points:
        entries.append((f"{info}/entry_points.txt", entry_points.encode()))
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{info}/RECORD", (record + f"{info}/RECORD,,\n").encode()))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"prow-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return target


def _packed(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix not in _SKIPPED


def _text(distribution: importlib.metadata.Distribution, name: str) -> bytes:
    text = distribution.read_text(name)
    if text is None:
        raise CLIError(f"prow's installed metadata has no {name}: reinstall prow with pip")
    return text.encode()


def _digest(data: bytes) -> str:
    encoded = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={encoded.decode()}"


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dist"),
    show_default=True,
    help="The folder to write the wheel into.",
)
def wheel(out: Path) -> None:
    """Pack the prow that is running into a wheel, to install it where there is no index.

    A project made by `prow new` already has one in vendor/; refresh it after upgrading
    prow with `prow wheel --out vendor`.

    \b
    Examples:
      prow wheel                     # dist/prow-<version>-py3-none-any.whl
      pip install --find-links dist 'prow[db,server]'
    """
    click.echo(str(build_wheel(out)))
