"""`prow new` projects have the admin: `prow createsuperuser` makes a user who logs in there."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from cli.test_cli_project import child_env, cli, invoke

PASSWORD = "a long admin phrase for tests 42"


def test_a_superuser_of_a_new_project_logs_in_to_the_admin(tmp_path: Path) -> None:
    project = tmp_path / "kiosk"
    assert invoke("new", "kiosk", "--directory", str(project)).exit_code == 0
    database = {"PROW_DATABASE_URL": "sqlite:///./kiosk.sqlite3"}
    assert cli(project, "migrate", env=database).returncode == 0
    made = cli(
        project,
        "createsuperuser",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        "--no-input",
        env={**database, "PROW_SUPERUSER_PASSWORD": PASSWORD},
    )
    assert "Superuser 'admin' created." in made.stdout, made.stderr
    script = textwrap.dedent(
        f"""
        import re
        from prow.testing import TestClient
        from kiosk.main import app

        with TestClient(app) as client:
            page = client.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            form = {{"username": "admin", "password": {PASSWORD!r}, "csrf_token": token}}
            home = client.post("/admin/login", data=form)
            assert home.status_code == 200, home.text
            assert 'href="/admin/example/note"' in home.text
            assert 'href="/admin/auth/user"' in home.text
            assert client.get("/admin/example/note/add").status_code == 200
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={**child_env(project), **database},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip() == "ok", done.stdout + done.stderr
