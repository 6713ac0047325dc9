"""schemathesis against a prow app, in-process: every check, every phase, seeded.

::

    from _schemathesis import run_schemathesis

    def test_the_api_keeps_its_document(app) -> None:
        report = run_schemathesis(app, headers={"Authorization": "Bearer ..."})
        assert not report.failures, report.summary()

This is ``schemathesis run --checks all`` with its four phases (examples, coverage, fuzzing,
stateful) through schemathesis's Python API on the ASGI app itself (no server, no port):
every response must be no server error, have a documented status, content type and headers,
and match its documented schema; schema-valid requests must be accepted and invalid ones
refused. Generation is deterministic and seeded, without hypothesis's example database, so a
run is the same every time; ``max_examples`` keeps it short.

``allow`` lists per-operation statuses that a *valid* request may still get for a reason the
schema cannot express (``{"POST /auth/token": [400]}``: RFC 6749 answers wrong credentials
400 ``invalid_grant``). Use it sparingly, with a comment saying why.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import events, from_schema  # noqa: E402

__all__ = ["Failure", "Report", "run_schemathesis"]

PHASES = ("examples", "coverage", "fuzzing", "stateful")
#: What schemathesis accepts for a schema-valid request by default, to extend per operation.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed check: where, which check, and the request that reproduces it."""

    phase: str
    operation: str
    check: str
    title: str
    message: str
    status: int | None
    reproduce: str

    def __str__(self) -> str:
        return (
            f"[{self.phase}] {self.operation}: {self.check} ({self.title}), "
            f"answered {self.status}\n  {self.message.strip()[:600]}\n  {self.reproduce[:600]}"
        )


@dataclasses.dataclass
class Report:
    """What a run found; ``failures`` is empty when the app keeps its document."""

    failures: list[Failure] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    scenarios: int = 0
    stateful_links: int = 0
    #: Each check that ran, with how many responses it judged.
    checks: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    #: Each phase that ran at least one scenario.
    phases: set[str] = dataclasses.field(default_factory=set)

    def summary(self) -> str:
        unique = list(dict.fromkeys(str(failure) for failure in self.failures))
        lines = [f"{len(unique)} distinct failure(s), {len(self.errors)} error(s)"]
        return "\n".join([*lines, *unique, *self.errors])


def run_schemathesis(
    app: Any,
    *,
    headers: Mapping[str, str] | None = None,
    max_examples: int = 10,
    seed: int = 1,
    phases: Sequence[str] = PHASES,
    allow: Mapping[str, Sequence[int | str]] | None = None,
    openapi_url: str = "/openapi.json",
) -> Report:
    """Run every schemathesis check on ``app``; return what failed."""
    config = SchemathesisConfig.from_dict(_settings(headers, max_examples, seed, phases, allow))
    schema = schemathesis.openapi.from_asgi(openapi_url, app, config=config)
    report = Report()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.scenarios += 1
            report.phases.add(str(event.phase.value))
            report.checks.update(c.name for cs in event.recorder.checks.values() for c in cs)
            report.failures.extend(_failures(event))
        elif isinstance(event, events.PhaseStarted) and event.payload is not None:
            report.stateful_links = event.payload.transitions_selected
        elif isinstance(event, events.NonFatalError | events.FatalError):
            report.errors.append(f"{type(event).__name__}: {event.info.message}")
    return report


def _settings(
    headers: Mapping[str, str] | None,
    max_examples: int,
    seed: int,
    phases: Sequence[str],
    allow: Mapping[str, Sequence[int | str]] | None,
) -> dict[str, Any]:
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise ValueError(f"unknown phase(s) {sorted(unknown)}; phases are {PHASES}")
    operations = [
        {
            "include-name": name,
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [*ACCEPTED, *(str(s) for s in statuses)]
                }
            },
        }
        for name, statuses in (allow or {}).items()
    ]
    settings: dict[str, Any] = {
        "seed": seed,
        "continue-on-failure": True,
        "headers": dict(headers or {}),
        "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
        "phases": {phase: {"enabled": phase in phases} for phase in PHASES},
        "checks": {"enabled": True},
        # No .schemathesis/ state left in the checkout: a run depends on nothing but its seed.
        "cache": {"enabled": False},
    }
    if operations:
        settings["operations"] = operations
    return settings


def _failures(event: Any) -> list[Failure]:
    found = []
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            found.append(
                Failure(
                    phase=str(event.phase.value),
                    operation=_operation(recorder, case_id),
                    check=check.name,
                    title=str(getattr(info.failure, "title", "")),
                    message=str(getattr(info.failure, "message", "")),
                    status=response.status_code if response is not None else None,
                    reproduce=info.code_sample or "",
                )
            )
    return found


def _operation(recorder: Any, case_id: str) -> str:
    node = recorder.cases.get(case_id)
    case = getattr(node, "value", None)
    operation = getattr(case, "operation", None)
    return str(getattr(operation, "label", None) or recorder.label)
