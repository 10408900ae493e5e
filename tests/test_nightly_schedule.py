"""The nightly really fires (issue 12, item 6).

- End to end, slow: a real `prefect server start` **with its scheduler on**, a process work pool,
  `prefect deploy` of prefect.yaml's nightly deployment (a copy whose cron fires every minute,
  in Europe/Berlin, beside the real one), `prefect worker start`. The scheduler itself creates a
  flow run, the worker runs it, and the store gets the day before its scheduled time in Berlin.
  Meanwhile the real nightly deployment gets runs at the instants its own schedule gives on
  the two DST-change dates of 2024 (computed by the server's CronSchedule from the deployment
  read back from the server), and each processes the right day.
- Fast: prefect.yaml's and `litkg deploy`'s schedule, over the DST-change weeks of several
  years, fire exactly once per Berlin day and the nightly targets contiguous days.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from litkg.flows.config import previous_day

from litkg import deploy
from litkg.store import Store
from tests.scripted import write_docs
from tests.test_orchestration import REPO, Stack

BERLIN = ZoneInfo("Europe/Berlin")
SPRING, FALL = date(2024, 3, 31), date(2024, 10, 27)  # clocks go forward / back in Berlin
TEXT = "Dropout improves robustness on ImageNet."


def fire_times(cron: str, timezone: str, first: date, days: int) -> list[datetime]:
    """When the Prefect server's scheduler fires `cron` from `first` on (its own code)."""
    from prefect.server.schemas.schedules import CronSchedule

    start = datetime.combine(first, datetime.min.time(), BERLIN)
    until = start + timedelta(days=days)
    dates = asyncio.run(CronSchedule(cron=cron, timezone=timezone).get_dates(
        n=days + 2, start=start, end=until))
    return [d.astimezone(UTC) for d in dates]


def nightly_schedules() -> list[tuple[str, str]]:
    """(cron, timezone) of the nightly in prefect.yaml and in `litkg deploy`."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (night,) = [d for d in spec["deployments"] if d["name"] == "litkg-nightly"]
    built = {d.name: d for d in deploy.build(deploy.Settings())}["litkg-nightly"]
    return [(s["cron"], s["timezone"]) for s in night["schedules"]] + [
        (s.schedule.cron, s.schedule.timezone) for s in built.schedules]


@pytest.mark.parametrize("change", [SPRING, FALL, date(2025, 3, 30), date(2025, 10, 26),
                                    date(2026, 3, 29), date(2026, 10, 25)])
def test_the_berlin_nightly_processes_each_day_once_across_a_dst_change(change):
    for cron, timezone in nightly_schedules():
        runs = fire_times(cron, timezone, change - timedelta(days=2), 5)
        local_days = [r.astimezone(ZoneInfo(timezone)).date() for r in runs]
        assert local_days == [change + timedelta(days=i) for i in range(-2, 3)], runs
        targets = [previous_day(r, timezone) for r in runs]
        assert targets == [change + timedelta(days=i) for i in range(-3, 2)], runs


# -- end to end -----------------------------------------------------------------------------
#: Every 30 seconds (croniter's optional sixth field: seconds), so the test waits 15 s on
#: average for its first run instead of 30 s with a minute cron; the scheduler's code path is
#: the same (cron + timezone).
SOON = "* * * * * */30"


def _prefect_file(root: Path) -> Path:
    """prefect.yaml with, beside its deployments, `litkg-nightly-now`: the nightly deployment
    whose cron fires every 30 seconds (same flow, pool, parameters, timezone), one run at a
    time."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (night,) = [d for d in spec["deployments"] if d["name"] == "litkg-nightly"]
    now = json.loads(json.dumps(night))
    now["name"] = "litkg-nightly-now"
    now["schedules"] = [{**night["schedules"][0], "cron": SOON}]
    now["concurrency_limit"] = 1  # later runs wait: they would only redo the committed day
    spec["deployments"] = [night, now]
    path = root / "prefect-nightly.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _post(stack: Stack, path: str, body: dict) -> dict:
    """POST to the server's API; retried while the busy SQLite server answers with an error
    (its scheduler writes at the same time)."""
    for _ in range(10):
        response = stack.http.post(path, json=body)
        if response.status_code < 300:
            return response.json()
        time.sleep(1)
    raise AssertionError(f"POST {path}: {response.status_code} {response.text[:500]}")


def _flow_runs(stack: Stack, deployment_id: str) -> list[dict]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC",
            "limit": 20}
    return _post(stack, "/flow_runs/filter", body)


def _days(home: Path) -> dict[date, int]:
    store = Store(home)
    if not store.catalog_path.exists():
        return {}
    con = store.connect()
    try:
        return dict(con.execute("SELECT day, documents FROM snapshots").fetchall())
    finally:
        con.close()


@pytest.mark.slow
def test_the_scheduler_fires_the_nightly_and_a_worker_completes_it(tmp_path):
    t0 = time.monotonic()
    today = datetime.now(BERLIN).date()
    src = write_docs(tmp_path / "in" / "nightly.jsonl", [
        (f"doi:{d.isoformat()}", d, TEXT)
        for d in sorted({today - timedelta(days=2), today - timedelta(days=1), today,
                         SPRING - timedelta(days=1), SPRING, FALL - timedelta(days=1), FALL})])
    stack = Stack(tmp_path / "prefect")
    (tmp_path / "prefect").mkdir()
    stack.env.update(PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="true",  # the point of the test
                     PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS="1",
                     PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5")
    home = tmp_path / "nightly-store"
    try:
        stack.start_server()
        print(f"server up after {time.monotonic() - t0:.1f} s")
        stack.cli("work-pool", "create", "litkg-process", "--type", "process")
        stack.cli("--no-prompt", "deploy", "--all", "--prefect-file",
                  str(_prefect_file(tmp_path)),
                  env={"LITKG_HOME": str(home), "LITKG_SOURCE": str(src.parent)})
        stack.start_worker()
        print(f"deployed, worker started after {time.monotonic() - t0:.1f} s")
        now_dep = stack.http.get("/deployments/name/litkg-nightly/litkg-nightly-now").json()
        real = stack.http.get("/deployments/name/litkg-nightly/litkg-nightly").json()
        assert now_dep["parameters"]["timezone"] == "Europe/Berlin"
        (schedule,) = real["schedules"]

        # the real nightly, at the instants its schedule gives on the DST-change dates
        dst_runs = {}
        for change in (SPRING, FALL):
            (at,) = fire_times(schedule["schedule"]["cron"], schedule["schedule"]["timezone"],
                               change, 1)
            dst_home = tmp_path / f"dst-{change}"
            run = _post(stack, f"/deployments/{real['id']}/create_flow_run", {
                "parameters": {"home": str(dst_home)},
                "state": {"type": "SCHEDULED",
                          "state_details": {"scheduled_time": at.isoformat()}},
            })
            dst_runs[change] = (run["id"], dst_home, at)

        # the scheduler (not the test) creates the every-minute nightly's runs
        deadline = time.monotonic() + 30
        while not (runs := _flow_runs(stack, now_dep["id"])):
            assert time.monotonic() < deadline, stack.log_tail("server")
            time.sleep(0.5)
        first = runs[0]
        assert first["auto_scheduled"]  # created by the scheduler service
        due = datetime.fromisoformat(first["expected_start_time"])
        assert due - datetime.now(UTC) <= timedelta(seconds=31)
        print(f"first run due at {due}, {time.monotonic() - t0:.1f} s")
        state = stack.wait(first["id"], timeout=150)
        print(f"first run {state['type']} after {time.monotonic() - t0:.1f} s")
        assert state["type"] == "COMPLETED", stack.logs(first["id"])
        target = previous_day(due, "Europe/Berlin")
        assert target in _days(home) and _days(home)[target] == 1
        assert stack.logged(first["id"], f"nightly run for {target} (timezone Europe/Berlin)"), \
            stack.logs(first["id"])

        for change, (run_id, dst_home, at) in dst_runs.items():
            assert stack.wait(run_id, timeout=60)["type"] == "COMPLETED", stack.logs(run_id)
            assert _days(dst_home) == {change - timedelta(days=1): 1}, (change, at)
    finally:
        stack.close()
    assert time.monotonic() - t0 < 180
