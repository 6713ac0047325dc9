from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from prow import App, ConfigurationError
from prow.settings import CommaList, Settings, app_kwargs, load_settings, setup_logging


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test starts in an empty folder with no PROW_* variables set."""
    for name in list(os.environ):
        if name.upper().startswith("PROW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# -- reading values --------------------------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings()
    assert settings.debug is False
    assert settings.secret_key is None
    assert settings.database_url is None
    assert settings.log_format == "auto"
    assert settings.log_level == "INFO"
    assert settings.env == "development"
    assert "localhost" in settings.allowed_hosts


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_DEBUG", "true")
    monkeypatch.setenv("PROW_SECRET_KEY", "s3cret-value")
    monkeypatch.setenv("PROW_DATABASE_URL", "sqlite+aiosqlite:///app.db")
    monkeypatch.setenv("PROW_LOG_FORMAT", "json")
    monkeypatch.setenv("prow_log_level", "warning")  # names and levels in any letter case
    settings = load_settings()
    assert settings.debug is True
    assert isinstance(settings.secret_key, SecretStr)
    assert settings.secret_key.get_secret_value() == "s3cret-value"
    assert settings.database_url == "sqlite+aiosqlite:///app.db"
    assert settings.log_format == "json"
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.com,b.com", ["a.com", "b.com"]),
        (" a.com , b.com ,", ["a.com", "b.com"]),
        ("single.example", ["single.example"]),
        ('["json.example", "x.example"]', ["json.example", "x.example"]),
        ("", []),
    ],
)
def test_allowed_hosts_comma_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("PROW_ALLOWED_HOSTS", value)
    assert load_settings().allowed_hosts == expected


def test_allowed_hosts_as_a_python_list() -> None:
    assert Settings(allowed_hosts=["x.example"]).allowed_hosts == ["x.example"]


def test_dotenv_file(clean_environment: Path) -> None:
    write(
        clean_environment / ".env", "PROW_DEBUG=1\nPROW_ALLOWED_HOSTS=a.com,b.com\nOTHER_TOOL=x\n"
    )
    settings = load_settings()
    assert settings.debug is True
    assert settings.allowed_hosts == ["a.com", "b.com"]


def test_environment_variable_beats_dotenv(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_environment / ".env", "PROW_DEBUG=true\n")
    monkeypatch.setenv("PROW_DEBUG", "false")
    assert load_settings().debug is False


def test_per_environment_file_overrides_dotenv(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_environment / ".env", "PROW_DEBUG=true\nPROW_LOG_LEVEL=debug\n")
    write(clean_environment / ".env.production", "PROW_DEBUG=false\n")
    monkeypatch.setenv("PROW_ENV", "production")
    settings = load_settings()
    assert settings.env == "production"
    assert settings.debug is False  # from .env.production
    assert settings.log_level == "DEBUG"  # still from .env


def test_environment_chosen_by_keyword(clean_environment: Path) -> None:
    write(clean_environment / ".env.staging", "PROW_DATABASE_URL=postgresql://staging/db\n")
    assert load_settings(env="staging").database_url == "postgresql://staging/db"
    assert load_settings().database_url is None


def test_missing_environment_file_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_ENV", "test")
    assert load_settings().env == "test"


def test_dotenv_can_be_switched_off(clean_environment: Path) -> None:
    write(clean_environment / ".env", "PROW_DEBUG=true\n")
    assert load_settings(_env_file=None).debug is False


def test_overrides_in_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_DEBUG", "false")
    assert Settings(debug=True).debug is True
    assert load_settings(debug=True).debug is True
    settings = load_settings()
    copy = settings.model_copy(update={"debug": True, "allowed_hosts": ["t.example"]})
    assert copy.debug is True and copy.allowed_hosts == ["t.example"]
    assert settings.debug is False


class ProjectSettings(Settings):
    api_token: SecretStr
    page_size: int = 20
    features: dict[str, bool] = Field(default_factory=dict)
    apps: CommaList = Field(default_factory=list)


def test_subclass_adds_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_API_TOKEN", "tok")
    monkeypatch.setenv("PROW_PAGE_SIZE", "50")
    monkeypatch.setenv("PROW_FEATURES", '{"beta": true}')
    monkeypatch.setenv("PROW_DEBUG", "yes")
    monkeypatch.setenv("PROW_APPS", "shop.orders, shop.billing")
    settings = load_settings(ProjectSettings)
    assert settings.apps == ["shop.orders", "shop.billing"]
    assert isinstance(settings, ProjectSettings)
    assert settings.api_token.get_secret_value() == "tok"
    assert settings.page_size == 50
    assert settings.features == {"beta": True}
    assert settings.debug is True


def test_secrets_and_database_url_stay_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_SECRET_KEY", "top-secret-key")
    monkeypatch.setenv("PROW_DATABASE_URL", "postgresql://user:hunter2@db/app")
    shown = repr(load_settings()) + str(load_settings())
    assert "top-secret-key" not in shown
    assert "hunter2" not in shown


# -- errors name the variable ------------------------------------------------------------------


def error_for(cls: type[Settings] = Settings) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        load_settings(cls)
    assert info.value.code == "prow.E601"
    return info.value


def test_bad_boolean_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_DEBUG", "maybe")
    error = error_for()
    assert "PROW_DEBUG: Input should be a valid boolean" in error.message
    assert str(error).startswith("prow.E601: ")


def test_bad_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_LOG_FORMAT", "xml")
    monkeypatch.setenv("PROW_LOG_LEVEL", "loud")
    message = error_for().message
    assert "PROW_LOG_FORMAT: Input should be 'auto', 'text' or 'json'" in message
    assert "PROW_LOG_LEVEL: Input should be 'DEBUG'" in message


def test_every_bad_variable_gets_its_own_line(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_environment / ".env", "PROW_PAGE_SIZE=many\n")
    monkeypatch.setenv("PROW_DEBUG", "maybe")
    lines = error_for(ProjectSettings).message.splitlines()
    assert lines[0] == "invalid settings"
    names = sorted(line.split(":")[0].strip() for line in lines[1:])
    assert names == ["PROW_API_TOKEN", "PROW_DEBUG", "PROW_PAGE_SIZE"]
    assert any("PROW_API_TOKEN: Field required" in line for line in lines)


def test_bad_json_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_API_TOKEN", "tok")
    monkeypatch.setenv("PROW_FEATURES", "{not json")
    message = error_for(ProjectSettings).message
    assert "PROW_FEATURES: not valid JSON" in message


def test_bad_list_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_ALLOWED_HOSTS", "[broken")
    assert "PROW_ALLOWED_HOSTS: Input should be a valid list" in error_for().message


def test_environment_name_cannot_be_a_path(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = clean_environment / "outside"
    outside.mkdir()
    write(outside / "evil", "PROW_DEBUG=true\n")
    monkeypatch.chdir(outside)
    monkeypatch.setenv("PROW_ENV", "/../evil")
    assert "PROW_ENV: String should match pattern" in error_for().message


def test_errors_never_repeat_the_rejected_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_API_TOKEN", "tok")
    monkeypatch.setenv("PROW_PAGE_SIZE", "hunter2-password")
    message = error_for(ProjectSettings).message
    assert "PROW_PAGE_SIZE" in message
    assert "hunter2" not in message


# -- wiring ----------------------------------------------------------------------------------


def test_app_kwargs_builds_an_app() -> None:
    settings = Settings(debug=True, database_url="sqlite+aiosqlite://")
    assert app_kwargs(settings) == {
        "debug": True,
        "database_url": "sqlite+aiosqlite://",
        "secret_key": None,
        "allowed_hosts": ["localhost", "127.0.0.1", "::1", "testserver"],
    }
    app = App(**app_kwargs(settings))
    assert app.debug is True
    assert app.database_url == "sqlite+aiosqlite://"
    assert App(**app_kwargs(Settings(title="Shop")), title="Mine").title == "Mine"


def test_setup_logging_follows_settings() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(Settings(log_format="auto", log_level="WARNING", debug=False))
        handler = next(h for h in root.handlers if h.get_name() == "prow")
        assert root.level == logging.WARNING
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("project").warning("hello")
        assert json.loads(stream.getvalue())["message"] == "hello"
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


def test_import_prow_does_not_load_pydantic_settings() -> None:
    code = "import sys, prow; print('pydantic_settings' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
