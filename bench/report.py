"""Turn the raw results into ``RESULTS.md`` and a bar chart of ratios to the bare ASGI app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DB_TARGETS", "TARGETS", "write_report"]

# prow's targets from the benchmark issue, in instructions per request.
TARGETS = {"plaintext": 48_000, "json": 54_000, "users": 90_000, "items": 130_000}
# ... and as a ratio to the bare ASGI app (with SQLAlchemy core) on the same database.
DB_TARGETS = {"db": 1.1, "db_orm": 1.1}
DB_ENDPOINTS = ("db", "db_orm", "db_list")
TE_ENDPOINTS = ("queries", "updates", "fortunes", "cached")
RW_ENDPOINTS = ("rw_list", "rw_article", "rw_comment")
# The req/s targets on every TechEmpower type and realistic endpoint (granian, one
# worker): prow at least this many times each peer's framework; /fortunes by instructions.
HTTP_DB_TARGETS = {"django": 1.5, "fastapi": 2.0}
FORTUNES_BARE = 1.2
# Which framework an app measures (an app's first required package) when it is not its name.
_FRAMEWORK_ALIASES = {"ninja": "django"}

COMMAND = "python -m bench"


def _k(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    return f"{value / 1000:.1f}k"


def _instructions_table(raw: dict[str, Any]) -> list[str]:
    counts: dict[str, dict[str, int]] = raw["instructions"]
    apps = list(counts)
    bare = counts.get("bare", {})
    lines = [
        "| endpoint | " + " | ".join(apps) + " | prow target | prow |",
        "|---|" + "---|" * (len(apps) + 2),
    ]
    for endpoint, target in TARGETS.items():
        cells = []
        for app in apps:
            value = counts[app].get(endpoint)
            if value is None:
                cells.append("—")
            elif app != "bare" and endpoint in bare:
                cells.append(f"{_k(value)} ({value / bare[endpoint]:.1f}×)")  # noqa: RUF001
            else:
                cells.append(_k(value))
        prow = counts.get("prow", {}).get(endpoint)
        verdict = "—" if prow is None else ("**pass**" if prow <= target else "**FAIL**")
        if prow is not None and prow > target:
            verdict += f" (+{(prow / target - 1) * 100:.0f}%)"
        lines.append(f"| {endpoint} | " + " | ".join(cells) + f" | ≤ {_k(target)} | {verdict} |")
    return lines


def _db_verdict(endpoint: str, prow: int | None, bare: int | None) -> tuple[str, str]:
    """The target cell and the pass/fail cell of one database endpoint."""
    bound = DB_TARGETS.get(endpoint)
    if bound is None:
        return "—", "—"
    target = f"≤ {bound:g}× bare"  # noqa: RUF001
    if prow is None or not bare:
        return target, "—"
    ratio = prow / bare
    if ratio <= bound:
        return target, "**pass**"
    return target, f"**FAIL** ({ratio:.2f}×, +{(ratio / bound - 1) * 100:.0f}%)"  # noqa: RUF001


def _db_tables(raw: dict[str, Any]) -> list[str]:
    measured: dict[str, dict[str, dict[str, int]]] = raw.get("db_instructions") or {}
    if not measured:
        return ["Not measured in this run (`python -m bench --measures db`)."]
    lines: list[str] = []
    for database, counts in measured.items():
        apps = list(counts)
        bare = counts.get("bare", {})
        lines += [f"**{database}**", ""]
        lines += ["| endpoint | " + " | ".join(apps) + " | prow target | prow |"]
        lines.append("|---|" + "---|" * (len(apps) + 2))
        for endpoint in DB_ENDPOINTS:
            cells = []
            for app in apps:
                value = counts[app].get(endpoint)
                if value is None:
                    cells.append("—")
                elif app != "bare" and bare.get(endpoint):
                    cells.append(f"{_k(value)} ({value / bare[endpoint]:.2f}×)")  # noqa: RUF001
                else:
                    cells.append(_k(value))
            prow = counts.get("prow", {}).get(endpoint)
            target, verdict = _db_verdict(endpoint, prow, bare.get(endpoint))
            lines.append(f"| {endpoint} | " + " | ".join(cells) + f" | {target} | {verdict} |")
        absent = [app for app in next(iter(measured.values())) if app not in counts]
        if absent:
            lines += [
                "",
                f"Not measured on {database} (driver not installed): {', '.join(absent)}.",
            ]
        lines.append("")
    return lines


def _process_table(raw: dict[str, Any]) -> list[str]:
    columns = (
        ("import_ms", "import (ms)", "{:.0f}"),
        ("startup_ms", "200-route app: import + build + first answer (ms)", "{:.0f}"),
        ("rss_mb", "RSS after 10,000 requests in-process (MB)", "{:.1f}"),
    )
    present = [c for c in columns if raw.get(c[0])]
    if not present:
        return ["Not measured in this run (`python -m bench --measures process`)."]
    apps = list(raw[present[0][0]])
    lines = ["| framework | " + " | ".join(c[1] for c in present) + " |"]
    lines.append("|---|" + "---|" * len(present))
    for app in apps:
        cells = [fmt.format(raw[key][app]) if app in raw[key] else "—" for key, _, fmt in present]
        lines.append(f"| {app} | " + " | ".join(cells) + " |")
    return lines


def _http_table(raw: dict[str, Any]) -> list[str]:
    http: dict[str, Any] | None = raw.get("http")
    if not http:
        return ["Not measured in this run (`python -m bench --measures http`)."]
    lines: list[str] = []
    for server, rows in http.items():
        apps = list(rows)
        lines += [f"**{server}** — req/s (ratio to bare in the same round), p99 ms", ""]
        lines += ["| endpoint | " + " | ".join(apps) + " |", "|---|" + "---|" * len(apps)]
        endpoints = [key for key in next(iter(rows.values())) if key != "rss_mb"]
        for endpoint in endpoints:
            base = rows.get("bare", {}).get(endpoint, {}).get("rps")
            cells = []
            for app in apps:
                cell = rows[app].get(endpoint)
                if not cell:
                    cells.append("—")
                    continue
                ratio = f" ({cell['rps'] / base:.2f}×)" if base else ""  # noqa: RUF001
                cells.append(f"{cell['rps']:,.0f}{ratio}, {cell['p99_ms']:.2f}")
            lines.append(f"| {endpoint} | " + " | ".join(cells) + " |")
        rss = [f"{rows[app].get('rss_mb', 0):.0f}" for app in apps]
        lines.append("| RSS of the worker after the round (MB) | " + " | ".join(rss) + " |")
        lines.append("")
    return lines


def _framework(app: str) -> str:
    """The framework ``app`` measures: prow's Conduit is prow, a Django Ninja app is Django."""
    from bench.apps import APPS

    spec = APPS.get(app)
    package = spec.requires[0] if spec is not None else app.removeprefix("rw_")
    return _FRAMEWORK_ALIASES.get(package, package)


def _by_framework(rows: dict[str, Any], endpoint: str, framework: str) -> dict[str, Any] | None:
    """The figures of the app of ``framework`` that serves ``endpoint`` (None: no such app)."""
    for app, row in rows.items():
        if _framework(app) == framework and endpoint in row:
            cell: dict[str, Any] = row[endpoint]
            return cell
    return None


def _http_db_table(raw: dict[str, Any]) -> list[str]:
    rows: dict[str, Any] = (raw.get("http_db") or {}).get("granian") or {}
    if not rows:
        return ["Not measured in this run (`python -m bench --measures http_db`, needs wrk)."]
    lines: list[str] = []
    for group in (("db", "db_orm", *TE_ENDPOINTS), RW_ENDPOINTS):
        endpoints = [endpoint for endpoint in group if _served(rows, endpoint)]
        apps = [app for app in rows if any(endpoint in rows[app] for endpoint in endpoints)]
        if not endpoints:
            continue
        peers = [f"prow ÷ {peer}" for peer in HTTP_DB_TARGETS]
        lines.append("| endpoint | " + " | ".join(apps + peers) + " |")
        lines.append("|---|" + "---|" * (len(apps) + len(peers)))
        lines += [_http_db_row(rows, endpoint, apps) for endpoint in endpoints]
        lines.append("")
    return lines


def _http_db_row(rows: dict[str, Any], endpoint: str, apps: list[str]) -> str:
    limits = (rows[app] for app in rows if app == "bare" or app.endswith("_bare"))
    bare = next((row for row in limits if endpoint in row), {})  # rw_bare on RealWorld
    base = (bare.get(endpoint) or {}).get("rps")
    cells = []
    for app in apps:
        cell = rows[app].get(endpoint)
        if not cell:
            cells.append("—")
            continue
        ratio = f" ({cell['rps'] / base:.2f}×)" if base and cell is not bare.get(endpoint) else ""  # noqa: RUF001
        cells.append(f"{cell['rps']:,.0f}{ratio}, {cell['p99_ms']:.0f}")
    prow = _by_framework(rows, endpoint, "prow")
    for peer in HTTP_DB_TARGETS:
        other = _by_framework(rows, endpoint, peer)
        cells.append(f"{prow['rps'] / other['rps']:.2f}×" if prow and other else "—")  # noqa: RUF001
    return f"| {endpoint} | " + " | ".join(cells) + " |"


def _served(rows: dict[str, Any], endpoint: str) -> bool:
    return any(endpoint in row for row in rows.values())


def _http_db_targets(raw: dict[str, Any]) -> list[str]:
    """Rows of the issue's req/s targets on TechEmpower's types and the RealWorld endpoints."""
    lines = []
    rows: dict[str, Any] = (raw.get("http_db") or {}).get("granian") or {}
    for endpoint in (*TE_ENDPOINTS, *RW_ENDPOINTS):
        prow = _by_framework(rows, endpoint, "prow")
        for peer, bound in HTTP_DB_TARGETS.items():
            other = _by_framework(rows, endpoint, peer)
            if prow and other:
                ratio = prow["rps"] / other["rps"]
                lines.append(_check(f"{endpoint}: prow ÷ {peer} req/s", ratio, bound, True))
    counts: dict[str, dict[str, int]] = raw.get("te_instructions") or {}
    prow_fortunes = counts.get("prow", {}).get("fortunes")
    bare_fortunes = counts.get("bare", {}).get("fortunes")
    if prow_fortunes and bare_fortunes:
        ratio = prow_fortunes / bare_fortunes
        lines.append(_check("fortunes: prow ÷ bare instructions", ratio, FORTUNES_BARE, False))
    return lines


def _check(name: str, value: float, bound: float, at_least: bool) -> str:
    ok = value >= bound if at_least else value <= bound
    sign = "≥" if at_least else "≤"
    return f"| {name} | {value:.2f} | {sign} {bound:g} | {'**pass**' if ok else '**FAIL**'} |"


def _other_targets(raw: dict[str, Any]) -> list[str]:
    """The issue's HTTP (granian) and process-cost targets, checked against this run."""
    lines = ["| target | measured | wanted | |", "|---|---|---|---|"]
    granian: dict[str, Any] = raw.get("http", {}).get("granian", {})
    prow = granian.get("prow", {})
    for endpoint in TARGETS:
        rps = prow.get(endpoint, {}).get("rps")
        if rps is None:
            continue
        floor = 0.8 if endpoint in ("plaintext", "json") else 0.7
        for peer, bound in (("bare", floor), ("fastapi", 2.5), ("litestar", 1.8)):
            other = granian.get(peer, {}).get(endpoint, {}).get("rps")
            if other:
                lines.append(_check(f"{endpoint}: prow ÷ {peer} req/s", rps / other, bound, True))
    lines += _http_db_targets(raw)
    for key, label in (("import_ms", "import time"), ("rss_mb", "RSS after 10,000 requests")):
        values = raw.get(key, {})
        if "prow" in values and values.get("fastapi"):
            ratio = values["prow"] / values["fastapi"]
            lines.append(_check(f"{label}: prow ÷ fastapi", ratio, 1.0, False))
    return lines if len(lines) > 2 else []


def _chart(raw: dict[str, Any], out: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    counts: dict[str, dict[str, int]] = raw["instructions"]
    bare = counts["bare"]
    apps = sorted((app for app in counts if app != "bare"), key=lambda app: app != "prow")
    endpoints = [e for e in TARGETS if e in bare]
    # prow first with its target beside it, then the peers.
    series = [(app, [counts[app][e] / bare[e] for e in endpoints]) for app in apps]
    series.insert(1, ("prow target", [TARGETS[e] / bare[e] for e in endpoints]))
    width = 0.85 / len(series)
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, (label, ratios) in enumerate(series):
        xs = [x + i * width for x in range(len(endpoints))]
        if label == "prow target":
            ax.bar(xs, ratios, width, label=label, color="none", edgecolor="red", hatch="//")
            continue
        bars = ax.bar(xs, ratios, width, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(endpoints))], endpoints)
    ax.set_ylabel("instructions per request ÷ bare ASGI (lower is better)")
    ax.set_title("Instructions per request, relative to a bare ASGI app (callgrind)")
    ax.axhline(1, color="grey", linewidth=0.8, label="bare ASGI = 1")
    ax.legend(ncols=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def _environment(raw: dict[str, Any]) -> list[str]:
    machine: dict[str, str] = raw["machine"]
    lines = ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += ["", "| package | version |", "|---|---|"]
    lines += [f"| {name} | {version} |" for name, version in raw["versions"].items()]
    return lines


_METHOD = """\
## How these figures are made

* **Instructions per request** — each app's ASGI/WSGI callable is driven in-process by
  `bench/_drive.py` (hand-built scope or environ, a `receive` that hands over the body once, a
  `send`/`start_response` that keeps the answer) under `valgrind --tool=callgrind`, once for N and
  once for 2N requests; the table shows `(I(2N) - I(N)) / N` (N = {n}), which cancels interpreter
  start-up and imports. Every answer is checked (status, content type, body) before and after the
  loop; a wrong answer aborts the run. The ratio in brackets is to the bare ASGI app.
* **Defaults against defaults**: prow and FastAPI keep their OpenAPI/docs routes, Litestar its
  schema routes; Django runs the API-relevant part of `startproject`'s middleware (security,
  common). `POST /items` is validated with pydantic everywhere except Litestar, which uses its
  idiomatic msgspec `Struct`s (with the same constraints).
* Apps: `bench/apps/` (`bare.py` is a hand-written path switch: the physical limit).
* **HTTP** figures come from one round of 5 s per app and endpoint (`wrk -t1 -c32`), on a machine
  that may be shared: read them as ratios within a round, not as absolute capacity. uvicorn runs
  with whatever HTTP parser is installed (h11 when httptools is absent), and serves only the ASGI
  apps. The RSS under HTTP is the largest process of the server's tree after its round.
* **Process cost**: best of several fresh interpreters, minus an empty interpreter. The 200-route
  start-up imports, builds 200 typed routes and answers the last one, so lazy compiling counts.
* The issue's reference figures for Litestar on `/items` (355k) are with pydantic; with msgspec,
  its idiomatic tool here, it does much better.
"""

_DB_METHOD = """\
Three endpoints read the same 100-row table `bench_row` (`bench/_db.py` stores it once before
measuring):

* `GET /db/42`, the issue's target: one row by primary key through SQLAlchemy. Every app runs the
  same prebuilt core statement (`select(bench_row).where(id == :id)`) on a connection got its
  framework's way, and answers the row as JSON: prow the `Connection` dependency; FastAPI a
  connection dependency and its `RowOut` response model; Starlette `engine.connect()` in the
  handler; Litestar the `db_engine` its SQLAlchemy plugin injects; Flask `db.engine.connect()`
  (Flask-SQLAlchemy, blocking driver); Django the same SQL on its own cursor (it has no SQLAlchemy);
  bare ASGI `engine.connect()` with no framework: the physical limit.
* `GET /db/orm/42`: the same row through each framework's ORM idiom: prow `Session` +
  `get_or_404`; FastAPI an `AsyncSession` dependency and pydantic response models; Starlette an
  `AsyncSession` per request; Litestar the plugin's `db_session` (it serializes the ORM object);
  Flask `db.get_or_404`; Django `values().get(pk=)`; bare an `AsyncSession.get` with no
  framework. The prow bound of 1.1 times bare is ours, not the issue's.
* `GET /db/list`: the first page of 20 rows with the total count
  (`{{"items", "total", "limit", "offset"}}`): prow a `Resource(...)` list action; the peers'
  idiomatic pagination (`OffsetPagination`, `paginate`, `Paginator`, ...).

Async apps use aiosqlite / asyncpg, Flask and Django sqlite3 / psycopg. Same harness and checks as
above (N = {n}); the answers are checked (every row, every field) before and after the loop. The
issue's target is on SQLite; the PostgreSQL table (measured when `BENCH_PG_URL`, default
`postgresql://postgres@127.0.0.1:5432/test`, answers) is shown against the same bound. An ORM
session (identity map, ORM loading, its own transaction) costs about 0.6M instructions more per
request than the core statement on SQLite before any framework runs; prow's `Session` and
`Connection` also commit what the request wrote (on SQLite they skip the `COMMIT` of a request that
only read; on PostgreSQL (asyncpg) a read-only request sends its `SELECT` and nothing else: no
ping, no `BEGIN`, no `COMMIT`; see docs/database.md, "Round trips on PostgreSQL"). The peers
close without committing (SQLAlchemy's pool then sends a `ROLLBACK`)."""

_TE_METHOD = """\
TechEmpower's test types, on PostgreSQL with the same data (`world`: 10,000 rows, `fortune`: 12;
`bench/apps/_te.py`), by their rules: `/queries?n=20` reads 20 random rows, one query each;
`/updates?n=20` reads 20 and writes each back with a new random number (one batched `UPDATE`
statement, sorted by id); `/fortunes` reads every fortune, adds one at request time, sorts them
and renders `bench/templates/fortunes.html` with the framework's template engine, escaping on;
`/cached-queries?n=20` answers 20 random rows from an in-process cache that a miss fills with
every world (one query): prow's own (`prow.cache`, `Cache("memory://")`, `get_or_set` per world),
a module-level dict in every other app (the cheapest a peer can do). Each app in its idiom: prow
the `Connection` dependency (core statements built once) and `Templates`; FastAPI its SQL
tutorial's `AsyncSession` dependency, `session.get` and `Jinja2Templates`; Litestar its
SQLAlchemy plugin's `db_session` and Jinja engine; Flask Flask-SQLAlchemy's `db.session` and
`render_template`; Django its ORM (`objects.get`, `bulk_update`) and templates; Starlette and
bare ASGI SQLAlchemy core on `engine.connect()` and Jinja2. Only warm requests are counted (the
driver answers one before the counted ones: the cache is full). Answers are checked before and
after the loop (shape and range of every world, every fortune in order and escaped). N = {n}
(`/cached-queries`: 10 N: its requests are cheap, and over few of them when the garbage collector
runs weighs too much); lower is better; the ratio is to bare."""


_RW_METHOD = """\
The realistic endpoints of the RealWorld (Conduit) API, on PostgreSQL, in every framework on the
same database and rows (`bench/apps/_realworld.py`): prow's Conduit example as it ships
(`examples/conduit`, `conduit_app.py`), migrated with its migrations, 10 users, 100 articles of 3
tags, favorites and follows, which each peer maps with its own models. Every request is signed in
with a JWT that each app verifies; the framework apps load the reader as their frameworks do, bare
only reads its id. `rw_list`: `GET /api/articles?limit=20` (20 articles with author profile, tags,
favorites count, favorited/following for the reader); `rw_article`: `GET /api/articles/article-7`;
`rw_comment`: `POST /api/articles/article-7/comments` (a validated body, an insert with its foreign
keys, 201). Each app in its idiom: bare ASGI with SQLAlchemy core statements built once (the list
in one statement plus its tags, the comment one `INSERT ... SELECT ... RETURNING`), the limit;
FastAPI an `AsyncSession` dependency, ORM queries built per request and pydantic response models
(`rw_fastapi.py`); Django Ninja the Django ORM (`select_related`, `prefetch_related`, `annotate`)
and Ninja schemas (`rw_ninja.py`); Litestar Advanced Alchemy's repositories and msgspec Structs
(`rw_litestar.py`); Flask Flask-SQLAlchemy's `db.session` and `to_json` methods (`rw_flask.py`).
Every answer is checked field by field before and after the loop. N = {n}; lower is better; the
ratio is to bare; "prow vs X" is X's instructions over prow's."""

#: The RealWorld apps, as the table names them: the limit first, then prow, then its peers.
RW_APPS = {
    "rw_bare": "bare",
    "conduit": "prow",
    "rw_fastapi": "FastAPI",
    "rw_ninja": "Django Ninja",
    "rw_litestar": "Litestar",
    "rw_flask": "Flask",
}


def _versus(prow: int | None, other: int | None) -> str:
    if not prow or not other:
        return "—"
    ratio = other / prow
    return f"{ratio:.2f}× cheaper" if ratio >= 1 else f"{1 / ratio:.2f}× dearer"  # noqa: RUF001


_HTTP_DB_METHOD = """\
req/s (the ratio to bare in brackets) and p99 in ms; the last columns divide prow's req/s by
the peer's (on the RealWorld endpoints prow's app is its Conduit example). Each app runs alone
under granian, one worker, on the endpoints it serves, against the PostgreSQL database of the
in-process measures (same rows); `wrk -t1 -c32` from 127.0.0.1, 5 s per run, after the answer is
checked and a one-second run that warms the app (its pool opened to the concurrency, the cache of
`/cached-queries` filled). Three rounds, apps interleaved with the order rotating; each figure is
the median of its rounds. Every app keeps its defaults: SQLAlchemy's pool (5 + 10 overflow) in the
SQLAlchemy apps, prow's (20, no overflow), Django's one connection per thread kept open
(`CONN_MAX_AGE=None`); 32 concurrent requests wait for a connection where a pool is smaller, as
they would in production. One exception: the WSGI apps (Flask, Django) run 32 granian threads,
one per connection, instead of granian's up to 512: with a connection per thread, Django went
past PostgreSQL's `max_connections` (100) and failed requests. The machine is shared: compare
ratios within this table, not absolute figures."""


def _rw_table(raw: dict[str, Any]) -> list[str]:
    counts: dict[str, dict[str, int]] = raw.get("rw_instructions") or {}
    if not counts:
        return ["Not measured in this run (`python -m bench --measures rw`, needs PostgreSQL)."]
    apps = [app for app in RW_APPS if app in counts] + [app for app in counts if app not in RW_APPS]
    peers = [app for app in apps if app not in ("rw_bare", "conduit")]
    names = [RW_APPS.get(app, app) for app in apps]
    versus = [f"prow vs {RW_APPS.get(app, app)}" for app in peers]
    lines = ["| endpoint | " + " | ".join([*names, *versus]) + " |"]
    lines.append("|---|" + "---|" * (len(names) + len(versus)))
    bare = counts.get("rw_bare", {})
    prow = counts.get("conduit", {})
    for endpoint in RW_ENDPOINTS:
        cells = []
        for app in apps:
            value = counts[app].get(endpoint)
            if value is None:
                cells.append("—")
            elif app != "rw_bare" and bare.get(endpoint):
                cells.append(f"{_k(value)} ({value / bare[endpoint]:.2f}×)")  # noqa: RUF001
            else:
                cells.append(_k(value))
        cells += [_versus(prow.get(endpoint), counts[app].get(endpoint)) for app in peers]
        lines.append(f"| {endpoint} | " + " | ".join(cells) + " |")
    return lines


def _te_table(raw: dict[str, Any]) -> list[str]:
    counts: dict[str, dict[str, int]] = raw.get("te_instructions") or {}
    if not counts:
        return ["Not measured in this run (`python -m bench --measures te`, needs PostgreSQL)."]
    apps = list(counts)
    bare = counts.get("bare", {})
    lines = ["| test type | " + " | ".join(apps) + " | prow vs FastAPI | prow vs Django |"]
    lines.append("|---|" + "---|" * (len(apps) + 2))
    for endpoint in TE_ENDPOINTS:
        cells = []
        for app in apps:
            value = counts[app].get(endpoint)
            if value is None:
                cells.append("—")
            elif app != "bare" and bare.get(endpoint):
                cells.append(f"{_k(value)} ({value / bare[endpoint]:.2f}×)")  # noqa: RUF001
            else:
                cells.append(_k(value))
        prow = counts.get("prow", {}).get(endpoint)
        versus = []
        for peer in ("fastapi", "django"):
            other = counts.get(peer, {}).get(endpoint)
            versus.append(f"{other / prow:.2f}× cheaper" if prow and other else "—")  # noqa: RUF001
        lines.append(f"| {endpoint} | " + " | ".join(cells) + " | " + " | ".join(versus) + " |")
    return lines


def write_report(raw: dict[str, Any], folder: Path, *, chart: bool = True) -> None:
    """Write ``RESULTS.md`` (and ``ratios.png`` when matplotlib is installed) into ``folder``."""
    charted = chart and _chart(raw, folder / "ratios.png")
    parts = [
        "# prow benchmark results",
        "",
        f"Reproduce with `{COMMAND} --measures callgrind,db,process,http` from the repository",
        "root (needs valgrind and wrk; `make bench` runs the same). The targets are prow's, from",
        "its benchmark issue; [bench/README.md](README.md) lists them.",
        "`python -m bench --quick` is the CI check (seconds, no valgrind).",
        "",
        *[f"> {note}" for note in raw.get("notes", [])],
        *([""] if raw.get("notes") else []),
        "## Instructions per request (callgrind; lower is better)",
        "",
        *_instructions_table(raw),
        "",
        "![ratios to bare ASGI](ratios.png)" if charted else "(matplotlib not installed: no chart)",
        "",
        "## Database endpoints (callgrind; lower is better)",
        "",
        _DB_METHOD.format(n=raw.get("db_n", raw["n"])),
        "",
        *_db_tables(raw),
        "",
        "## TechEmpower's test types on PostgreSQL (callgrind; lower is better)",
        "",
        _TE_METHOD.format(n=raw.get("te_n", raw["n"])),
        "",
        *_te_table(raw),
        "",
        "## RealWorld (Conduit) endpoints on PostgreSQL (callgrind; lower is better)",
        "",
        _RW_METHOD.format(n=raw.get("rw_n", raw["n"])),
        "",
        *_rw_table(raw),
        "",
        "## HTTP (wrk, one worker, 127.0.0.1)",
        "",
        *_http_table(raw),
        "",
        "## Database endpoints over HTTP on PostgreSQL (wrk, granian, one worker)",
        "",
        _HTTP_DB_METHOD,
        "",
        *_http_db_table(raw),
        "",
        "## The issue's other targets (HTTP on granian, cost of a process)",
        "",
        *_other_targets(raw),
        "",
        "## Cost of a process",
        "",
        *_process_table(raw),
        "",
        "## Machine and versions",
        "",
        *_environment(raw),
        "",
        _METHOD.format(n=raw["n"]),
    ]
    (folder / "RESULTS.md").write_text("\n".join(parts))
