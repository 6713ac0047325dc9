"""docs/tutorial.md, step by step: every command runs and every file is written, in order.

A ``console`` block's ``$`` lines are commands (``cd`` moves on), the lines after one are
output it must print; a block under ``<!-- not-run: ... -->`` is skipped. A block under
``<!-- no-test: file PATH -->`` is written to PATH, and one under ``<!-- no-test: edit PATH -->``
replaces the lines of PATH that start like its own (up to the ``=``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
MARKER = re.compile(r"^<!--\s*(no-test|not-run):?\s*(file|edit)?\s*(\S*).*-->$")


def steps(text: str) -> list[tuple[str, str, str]]:
    """(kind, target, body) per fenced block: kind is console, file, edit or skip."""
    found: list[tuple[str, str, str]] = []
    lines = text.splitlines()
    index, marker = 0, None
    while index < len(lines):
        line = lines[index]
        if line.startswith("<!--"):
            marker = MARKER.match(line.strip())
        fence = re.match(r"^```(\w*)$", line)
        if fence:
            end = lines.index("```", index + 1)
            body = "\n".join(lines[index + 1 : end]) + "\n"
            if marker and marker[1] == "not-run":
                found.append(("skip", "", body))
            elif marker and marker[2]:
                found.append((marker[2], marker[3], body))
            elif fence[1] == "console":
                found.append(("console", "", body))
            marker, index = None, end
        elif line.strip() and not line.startswith("<!--"):
            marker = None
        index += 1
    return found


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    here = tmp_path
    kinds = []
    for kind, target, body in steps(TUTORIAL.read_text(encoding="utf-8")):
        kinds.append(kind)
        if kind == "file":
            path = here / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        elif kind == "edit":
            path = here / target
            lines = path.read_text(encoding="utf-8").splitlines()
            for new in body.splitlines():
                start = new.split("=")[0]
                assert any(old.startswith(start) for old in lines), f"{target}: no {start!r}"
                lines = [new if old.startswith(start) else old for old in lines]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        elif kind == "console":
            here = run_console(body, here, env)
    assert kinds.count("file") >= 5 and "edit" in kinds and kinds.count("console") >= 5


def run_console(body: str, cwd: Path, env: dict[str, str]) -> Path:
    commands: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif line.strip():
            commands[-1][1].append(line)
    for command, expected in commands:
        if command.startswith("cd "):
            cwd = cwd / command[3:]
            continue
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"$ {command}\n{output}"
        for line in expected:
            assert line in output, f"$ {command} did not print {line!r}:\n{output}"
    return cwd
