"""Choosing a broker backend by URL: the argument, the ``tasks_url`` setting, its options."""

from __future__ import annotations

import sys

import pytest

from prow import App, ConfigurationError
from prow.apps import create_app
from prow.db import Database
from prow.settings import Settings
from prow.tasks import DatabaseBackend, Tasks

URLS = {
    "redis://127.0.0.1:6379/0": "RedisBackend",
    "rediss://cache.example:6380/1?prefix=shop:tasks": "RedisBackend",
    "amqp://guest:guest@127.0.0.1:5672/": "AmqpBackend",
    "nats://127.0.0.1:4222?stream=shop": "NatsBackend",
}


@pytest.mark.parametrize(("url", "kind"), URLS.items())
def test_the_url_scheme_chooses_the_backend(url: str, kind: str) -> None:
    assert type(Tasks(url).backend).__name__ == kind


@pytest.mark.parametrize(("url", "kind"), URLS.items())
def test_prow_tasks_url_chooses_it_for_tasks_without_a_backend(
    url: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROW_TASKS_URL", url)
    tasks = Tasks()
    App(extensions=[Database("sqlite:///:memory:"), tasks]).build()
    assert type(tasks.backend).__name__ == kind


def test_the_settings_tasks_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROW_TASKS_URL", raising=False)
    tasks = Tasks()
    settings = Settings(tasks_url="nats://127.0.0.1:4222", database_url="sqlite:///:memory:")
    create_app(settings, extensions=[tasks]).build()
    assert type(tasks.backend).__name__ == "NatsBackend"
    default = Tasks()
    App(extensions=[Database("sqlite:///:memory:"), default]).build()
    assert isinstance(default.backend, DatabaseBackend)


def test_a_wrong_option_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigurationError) as error:
        Tasks("redis://127.0.0.1:6379/0?result_ttl=soon").backend  # noqa: B018
    assert error.value.code == "prow.E261"
    assert "result_ttl='soon'" in str(error.value)


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("redis://127.0.0.1/0", "taskiq_redis", "tasks-redis"),
        ("amqp://127.0.0.1/", "taskiq_aio_pika", "tasks-rabbitmq"),
        ("nats://127.0.0.1:4222", "taskiq_nats", "tasks-nats"),
    ],
)
def test_a_missing_extra_names_it(
    url: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ConfigurationError) as error:
        Tasks(url).backend  # noqa: B018
    assert error.value.code == "prow.E260"
    assert f"pip install 'prow[{extra}]'" in str(error.value)
