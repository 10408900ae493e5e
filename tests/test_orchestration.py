"""End to end with real parts, as the README's "Run on a schedule" runs them: `prefect server
start` (SQLite, its own PREFECT_HOME) on a free loopback port, `prefect work-pool create`,
`prefect deploy --all` from prefect.yaml, `prefect worker start`, backfills triggered with
`prefect deployment run`; the stores they write are compared with an uninterrupted library run.

Slow (a couple of minutes on 2 cores) but part of CI.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import psutil
import pytest

from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.storecompare import differences

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLE = REPO / "data" / "sample"
BACKFILL = "litkg-backfill/litkg-backfill"
FIRST, LAST = date(2024, 3, 1), date(2024, 3, 6)
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen | None, grace: float = 10) -> None:
    """SIGTERM the process, its group and its descendants; SIGKILL what is left after `grace`."""
    if proc is None:
        return
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        for p in family:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=wait)
        if not alive:
            break
        family = alive
    proc.wait(5)


class Stack:
    """A Prefect server, a process work pool with litkg's deployments, and a worker."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.deployed_home = root / "deployed-store"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LITKG_"))}
        env.update(
            PREFECT_HOME=str(root / "prefect-home"),
            PREFECT_API_URL=self.api,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PREFECT_LOGGING_LEVEL="INFO",
            PREFECT_WORKER_QUERY_SECONDS="1",  # pick up runs at once (default 10 s)
            # the nightly deployment's cron must not fire into the test's store mid-test
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        )
        self.env = env
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.api, timeout=30)

    # -- processes --------------------------------------------------------------------------
    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([str(BIN / "prefect"), *args], cwd=REPO, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start_server(self) -> None:
        self.server = self._spawn("server", "server", "start", "--host", "127.0.0.1",
                                  "--port", str(self.port))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.server.poll() is None, self.log_tail("server")
            try:
                if self.http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"server did not start:\n{self.log_tail('server')}")

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run([str(BIN / "prefect"), *args], cwd=REPO,
                             env={**self.env, **(env or {})}, capture_output=True, text=True,
                             timeout=180)
        assert out.returncode == 0, f"prefect {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", "worker", "start", "--pool", "litkg-process")

    def kill_worker(self) -> None:
        """SIGKILL the worker and the flow-run processes it started (a machine crash)."""
        assert self.worker is not None
        family = [psutil.Process(self.worker.pid),
                  *psutil.Process(self.worker.pid).children(recursive=True)]
        for p in family:
            p.kill()
        psutil.wait_procs(family, timeout=10)
        self.worker.wait(5)
        self.worker = None

    def close(self) -> None:
        stop(self.worker)  # the worker first: it may not exit once its server is gone
        stop(self.server)
        self.http.close()

    # -- runs -------------------------------------------------------------------------------
    def run(self, deployment: str, *params: str, job_env: str | None = None) -> str:
        args = ["deployment", "run", deployment]
        for p in params:
            args += ["-p", p]
        if job_env:
            args += ["--job-variable", f"env={job_env}"]
        out = self.cli(*args)
        return re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)

    def state(self, run_id: str) -> dict:
        return self.http.get(f"/flow_runs/{run_id}").json()["state"]

    def wait(self, run_id: str, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state(run_id)
            if state["type"] in TERMINAL:
                return state
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} still {state['type']}:\n{self.log_tail('worker')}")

    def logs(self, run_id: str) -> list[str]:
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
        return [r["message"] for r in self.http.post("/logs/filter", json=body).json()]

    def logged(self, run_id: str, text: str, timeout: float = 30) -> bool:
        """Whether a log line of the run contains `text`, waiting for it: a run's logs are
        shipped to the server in batches, and the last batch may land after its final state."""
        deadline = time.monotonic() + timeout
        while not any(text in m for m in self.logs(run_id)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)
        return True

    def artifacts(self, run_id: str) -> dict[str, dict]:
        body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
        return {a["key"]: a for a in self.http.post("/artifacts/filter", json=body).json()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The README's commands: server, work pool, deploy (LITKG_HOME/LITKG_SOURCE set), worker."""
    s = Stack(tmp_path_factory.mktemp("prefect-e2e"))
    try:
        s.start_server()
        s.cli("work-pool", "create", "litkg-process", "--type", "process")
        s.cli("--no-prompt", "deploy", "--all",
              env={"LITKG_HOME": str(s.deployed_home), "LITKG_SOURCE": str(SAMPLE)})
        s.start_worker()
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, spacy_extractor) -> Store:
    """The sample days FIRST..LAST in one uninterrupted library run (no Prefect)."""
    store = Store(tmp_path_factory.mktemp("reference") / "store")
    process_days(store, days_between(FIRST, LAST), sources=[SAMPLE], extractor=spacy_extractor)
    return store


def snapshot_rows(home: Path) -> dict[date, str]:
    """Committed days and the run that committed each (empty before the first commit)."""
    store = Store(home)
    if not store.catalog_path.exists():
        return {}
    con = store.connect()
    try:
        return dict(con.execute("SELECT day, run_id FROM snapshots").fetchall())
    finally:
        con.close()


def test_deployments_run_on_a_worker_and_the_backfill_commits_each_day(stack):
    nightly = stack.http.get("/deployments/name/litkg-nightly/litkg-nightly").json()
    (schedule,) = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == nightly["parameters"]["timezone"]
    assert nightly["parameters"]["home"] == str(stack.deployed_home)  # from $LITKG_HOME
    assert nightly["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {
        "directory": str(REPO)}}]

    run = stack.run(BACKFILL, "start=2024-03-01", "end=2024-03-03")
    state = stack.wait(run)
    assert state["type"] == "COMPLETED", stack.logs(run)
    assert sorted(snapshot_rows(stack.deployed_home)) == days_between(FIRST, date(2024, 3, 3))
    artifacts = stack.artifacts(run)
    assert "| documents | assertions |" in artifacts["litkg-backfill"]["data"]
    assert artifacts["litkg-backfill-progress"]["data"] == 100.0


def test_backfill_killed_mid_run_resumes_to_the_store_of_an_uninterrupted_run(
    stack, reference, tmp_path
):
    home = tmp_path / "store"
    params = ("start=2024-03-01", "end=2024-03-06", f"home={home}", "chunk_days=1")
    first = stack.run(BACKFILL, *params)
    deadline = time.monotonic() + 180
    while len(snapshot_rows(home)) < 2:
        assert time.monotonic() < deadline, stack.logs(first)
        assert stack.state(first)["type"] not in TERMINAL, stack.logs(first)
        time.sleep(0.1)
    stack.kill_worker()
    before = snapshot_rows(home)
    assert 2 <= len(before) < 6  # killed mid-backfill

    stack.start_worker()
    second = stack.run(BACKFILL, *params)
    assert stack.wait(second)["type"] == "COMPLETED", stack.logs(second)
    after = snapshot_rows(home)
    assert sorted(after) == days_between(FIRST, LAST)
    assert {d: after[d] for d in before} == before  # committed days were skipped, not redone
    assert differences(Store(home), reference) == {}


def test_two_backfills_at_once_over_overlapping_days_end_with_one_correct_store(
    stack, reference, tmp_path
):
    home = tmp_path / "store"
    holder = Store(home).writer()  # a third writer holds the store while both runs start
    holder.__enter__()
    try:
        a = stack.run(BACKFILL, "start=2024-03-01", "end=2024-03-04", f"home={home}",
                      "chunk_days=2", "lock_timeout=300")
        b = stack.run(BACKFILL, "start=2024-03-03", "end=2024-03-06", f"home={home}",
                      "chunk_days=2", "lock_timeout=300")
        loser = stack.run(BACKFILL, "start=2024-03-01", "end=2024-03-01", f"home={home}",
                          "lock_timeout=0")
        failed = stack.wait(loser)
        assert failed["type"] == "FAILED"
        assert re.search(r"store .* is being written by pid \d+", failed["message"]), failed
        deadline = time.monotonic() + 180
        while not all(any("waiting up to" in m for m in stack.logs(r)) for r in (a, b)):
            assert time.monotonic() < deadline, (stack.logs(a), stack.logs(b))
            time.sleep(0.5)
    finally:
        holder.__exit__(None, None, None)
    for run in (a, b):
        assert stack.wait(run)["type"] == "COMPLETED", stack.logs(run)
    assert differences(Store(home), reference) == {}


def test_extraction_on_a_local_dask_cluster_gives_the_same_store(stack, reference, tmp_path):
    home = tmp_path / "store"
    run = stack.run(BACKFILL, "start=2024-03-01", "end=2024-03-06", f"home={home}",
                    "docs_per_task=3", job_env='{"LITKG_TASK_RUNNER": "dask"}')
    assert stack.wait(run)["type"] == "COMPLETED", stack.logs(run)
    assert stack.logged(run, "extraction on DaskTaskRunner"), stack.logs(run)
    assert differences(Store(home), reference) == {}
