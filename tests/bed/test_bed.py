"""The proof that prow scales out: several real worker processes behave as one site.

Three ``prow serve`` processes on loopback share a private PostgreSQL and a private Redis.
A request may land on any of them, so each test sends its requests to different workers
and checks that what one worker did, the others see.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from bed._bed import Bed, Worker, bed
from channels._helpers import open_sse


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    with bed(tmp_path_factory.mktemp("bed")) as running:
        running.start(3)
        yield running


@pytest.fixture(scope="module")
def workers(site: Bed) -> list[Worker]:
    return site.workers[:3]


def pids(workers: list[Worker]) -> list[int]:
    return [httpx.get(f"{w.url}/pid", timeout=5).json() for w in workers]


def test_the_workers_are_separate_processes(workers: list[Worker]) -> None:
    assert len(set(pids(workers))) == 3


def test_a_session_made_on_one_worker_is_valid_on_the_others(workers: list[Worker]) -> None:
    a, b, c = workers
    logged_in = httpx.post(f"{a.url}/login", json={"name": "ada"}, timeout=5)
    assert logged_in.status_code == 200
    cookies = dict(logged_in.cookies)
    assert cookies, "the login set a session cookie"
    for worker in (b, c, a):
        seen = httpx.get(f"{worker.url}/me", cookies=cookies, timeout=5).json()
        assert seen["name"] == "ada"
    assert httpx.get(f"{b.url}/me", timeout=5).json()["name"] is None  # no cookie, no session


def test_a_rate_limit_is_shared_not_multiplied_by_the_workers(workers: list[Worker]) -> None:
    # 5/minute per client: 12 requests spread over 3 workers get 5 answers, not 15.
    statuses = [
        httpx.get(f"{workers[n % 3].url}/limited", timeout=5).status_code for n in range(12)
    ]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7
    assert statuses[:5] == [200] * 5


def test_websocket_and_sse_clients_get_a_message_published_on_another_worker(
    workers: list[Worker],
) -> None:
    a, b, c = workers
    b_pid = httpx.get(f"{b.url}/pid", timeout=5).json()
    ws_url = a.url.replace("http", "ws") + "/rooms/bed/ws"
    with (
        httpx.Client(base_url=c.url, timeout=5) as sse_client,
        open_sse(sse_client, "/rooms/bed/events") as sse,
        connect(ws_url) as ws,
    ):
        sent = httpx.post(f"{b.url}/rooms/bed", json={"text": "hi"}, timeout=5)
        assert sent.status_code == 202
        on_ws = json.loads(ws.recv(timeout=5))
        on_sse = sse.next()
    assert on_ws == {
        "channel": "room:bed",
        "id": sent.json()["id"],
        "data": {"text": "hi", "via": b_pid},
    }
    assert on_sse == {
        "id": sent.json()["id"],
        "data": json.dumps(on_ws["data"], separators=(",", ":")),
    }


def test_a_cached_answer_is_shared_and_invalidated_everywhere(workers: list[Worker]) -> None:
    a, b, c = workers
    # Behind a load balancer every worker sees the site's one Host (the cache key has it).
    site = {"Host": "127.0.0.1"}
    first = httpx.get(f"{a.url}/report", headers=site, timeout=5)
    assert first.status_code == 200
    a_pid = first.json()["computed_by"]
    for worker in (b, c):  # the others answer from the shared cache: same body, same ETag
        again = httpx.get(f"{worker.url}/report", headers=site, timeout=5)
        assert again.json() == first.json()
        assert again.headers["etag"] == first.headers["etag"]
        revalidated = httpx.get(
            f"{worker.url}/report",
            headers={**site, "If-None-Match": first.headers["etag"]},
            timeout=5,
        )
        assert revalidated.status_code == 304
    assert httpx.post(f"{c.url}/report/refresh", headers=site, timeout=5).status_code == 200
    fresh = httpx.get(f"{b.url}/report", headers=site, timeout=5).json()  # recomputed, on b
    assert fresh["computations"] == first.json()["computations"] + 1
    assert fresh["computed_by"] != a_pid
    assert httpx.get(f"{a.url}/report", headers=site, timeout=5).json() == fresh


def readiness(workers: list[Worker]) -> list[tuple[int, float]]:
    """Each worker's /readyz status and how long it took to answer."""
    answers = []
    for worker in workers:
        started = time.monotonic()
        status = httpx.get(f"{worker.url}/readyz", timeout=5).status_code
        answers.append((status, time.monotonic() - started))
    return answers


def wait_ready(workers: list[Worker], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while [status for status, _ in readiness(workers)] != [200] * len(workers):
        assert time.monotonic() < deadline, readiness(workers)
        time.sleep(0.2)


@pytest.mark.parametrize("service", ["redis", "postgres"])
def test_readyz_is_503_on_every_worker_while_a_service_is_down(
    site: Bed, workers: list[Worker], service: str
) -> None:
    server = site.redis if service == "redis" else site.postgres
    wait_ready(workers)
    server.stop(signal.SIGINT)  # PostgreSQL's "fast" shutdown: connections are cut
    stopped = time.monotonic()
    answers = readiness(workers)
    assert [status for status, _ in answers] == [503, 503, 503]
    assert time.monotonic() - stopped < 2.0, answers  # all three, within 2 s of the stop
    server.start()
    wait_ready(workers)  # 200 everywhere once it is back, with no restart of the workers


def stored_keys(site: Bed) -> set[str]:
    postgres = site.postgres
    result = subprocess.run(
        [str(postgres.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(postgres.port),
         "-U", "postgres", "-At", "-c", "SELECT key FROM bed_writes"],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return set(result.stdout.split())


def test_killing_a_worker_loses_no_committed_write(site: Bed, workers: list[Worker]) -> None:
    [victim] = site.start(1)  # a fourth worker, killed mid-stream
    acknowledged: list[str] = []
    stop = threading.Event()

    def write(writer: int) -> None:
        with httpx.Client(base_url=victim.url, timeout=5) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                key = f"w{writer}-{n}"
                try:
                    response = client.post(f"/writes/{key}")
                except httpx.HTTPError:
                    return  # the worker is gone: this write was never acknowledged
                if response.status_code == 201:
                    acknowledged.append(key)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.kill()  # SIGKILL while four clients are writing
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(acknowledged) >= 40
    stored = stored_keys(site)
    assert set(acknowledged) <= stored, "an acknowledged write was lost"
    # At most the writes in flight at the kill were stored without an answer.
    assert len(stored - set(acknowledged)) <= 4
    # The rest of the site carries on.
    assert httpx.post(f"{workers[0].url}/writes/after-the-kill", timeout=5).status_code == 201
    assert httpx.get(f"{workers[1].url}/writes", timeout=5).json() == len(stored) + 1
