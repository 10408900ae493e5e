"""`litkg deploy` describes the same deployments as prefect.yaml, with module entrypoints that an
installed package can run (the real server run is in test_install.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from litkg import deploy

REPO = Path(__file__).resolve().parents[1]


def checkout_deployments() -> dict[str, dict]:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in spec["deployments"]}


def test_the_installed_deployments_are_the_checkouts_deployments():
    checkout = checkout_deployments()
    built = {d.name: d for d in deploy.build(deploy.Settings(home=Path("/srv/kg"),
                                                             sources=("/srv/in",)))}
    assert set(built) == set(checkout), "keep litkg.deploy.DEPLOYMENTS and prefect.yaml in step"
    for name, d in built.items():
        yaml_d = checkout[name]
        path, func = yaml_d["entrypoint"].split(":")
        assert path == "flows/pipeline.py"
        assert d.entrypoint == f"litkg.flows.pipeline.{func}"
        assert set(d.parameters) == set(yaml_d["parameters"])
        assert d.work_pool_name == yaml_d["work_pool"]["name"] == deploy.DEFAULT_POOL
        assert d.job_variables == yaml_d["work_pool"]["job_variables"]
        assert [(s.schedule.cron, s.schedule.timezone) for s in d.schedules or []] == [
            (s["cron"], s["timezone"]) for s in yaml_d.get("schedules") or []
        ]
        if "timezone" in yaml_d["parameters"]:
            assert d.parameters["timezone"] == yaml_d["parameters"]["timezone"]


def test_paths_are_made_absolute_because_a_worker_runs_flows_in_a_temporary_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    settings = deploy.Settings(home=Path("store"), sources=("in/*.jsonl", "/abs/x.xml"),
                               vocabulary="my_vocab.yaml", extractor="llm",
                               timezone="UTC", cron="30 4 * * *")
    built = {d.name: d for d in deploy.build(settings)}
    nightly, backfill, verify = (built[n] for n in ("litkg-nightly", "litkg-backfill",
                                                     "litkg-verify"))
    assert nightly.parameters == {
        "home": str(tmp_path / "store"),
        "source": [str(tmp_path / "in" / "*.jsonl"), "/abs/x.xml"],
        "extractor": "llm",
        "vocabulary": str(tmp_path / "my_vocab.yaml"),
        "timezone": "UTC",
    }
    assert [(s.schedule.cron, s.schedule.timezone) for s in nightly.schedules] == [
        ("30 4 * * *", "UTC")]
    assert "timezone" not in backfill.parameters and not backfill.schedules
    # the weekly check reads only the store, on its own schedule
    assert verify.parameters == {"home": str(tmp_path / "store")}
    assert [(s.schedule.cron, s.schedule.timezone) for s in verify.schedules] == [
        ("0 4 * * 0", "UTC")]


def test_unset_home_and_source_are_left_to_the_workers_environment():
    nightly, backfill, verify = deploy.build(deploy.Settings())
    assert set(nightly.parameters) == {"timezone"} and backfill.parameters == {}
    assert verify.parameters == {}


def test_deploy_without_a_server_says_how_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "LITKG_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), COLUMNS="200")  # no PREFECT_API_URL
    proc = subprocess.run([sys.executable, "-m", "litkg", "deploy"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "PREFECT_API_URL is not set" in proc.stderr
    assert "litkg.flows.pipeline.nightly" in proc.stdout  # what would have been deployed
