"""litkg as users get it: an sdist, the wheel built from that sdist, installed (not editable)
into a fresh virtual environment outside the repository and run from another directory.

The fresh environment reuses the dependencies already installed in the test's own environment
(a .pth file puts its site-packages after the new one's): fast, offline, and the editable
checkout stays invisible, since an editable install is activated by a .pth file of its own
environment, which is not processed there. Anything missing from the wheel (a module, SQL, YAML,
the sample corpus) fails here. Slow (about a minute) but part of CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from litkg.extractors.spacy_rules import VERSION as SPACY_VERSION

from litkg import __version__
from tests.scripted import write_docs
from tests.test_orchestration import free_port, stop

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: Where each installed package's files come from (setup.py's mapping, restated as the spec).
ROOTS = {"litkg": "src/litkg", "litkg/flows": "flows", "litkg/extractors": "extractors",
         "litkg/schema": "schema", "litkg/sample": "data/sample"}


def tree_files() -> dict[str, str]:
    """Every file of the checkout that belongs in the wheel: wheel path -> repository path."""
    out = {}
    for target, root in ROOTS.items():
        for path in sorted((REPO / root).rglob("*")):
            rel = path.relative_to(REPO / root)
            if path.is_file() and "__pycache__" not in rel.parts and not any(
                part.startswith(".") for part in rel.parts
            ) and path.suffix not in (".pyc", ".pyo"):
                out[f"{target}/{rel.as_posix()}"] = f"{root}/{rel.as_posix()}"
    return out


@dataclass
class Dist:
    sdist: Path
    wheel: Path


@dataclass
class Installed:
    venv: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *args: str, cwd: Path, check: bool = True, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.venv / "bin" / args[0]), *args[1:]], cwd=cwd,
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Dist:
    """`python -m build`: the sdist, then the wheel built from the unpacked sdist."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (sdist,) = out.glob("litkg-*.tar.gz")
    (wheel,) = out.glob("litkg-*.whl")
    return Dist(sdist=sdist, wheel=wheel)


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Installed:
    """A fresh venv outside the repository with the wheel installed, as `pip install` does."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "site-packages" / "_litkg_test_dependencies.pth").write_text(
        "".join(f"{p}\n" for p in sorted(deps)), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-index", str(dist.wheel)],
                   check=True, timeout=300)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "LITKG_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PREFECT_HOME=str(root / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", COLUMNS="200",
               PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    return Installed(venv=venv, env=env)


@dataclass
class Server:
    process: subprocess.Popen
    api: str
    env: dict[str, str]
    log: Path


@pytest.fixture(scope="module", autouse=True)
def prefect_server(installed, tmp_path_factory) -> Iterator[Server]:
    """A real Prefect server run by the fresh environment, for the deployment test; started
    with the module so that it boots while the tests before that one run."""
    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**installed.env, "PREFECT_API_URL": api, "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO"}
    log = root / "server.log"
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            [installed.python, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)], cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        yield Server(process=process, api=api, env=env, log=log)
    finally:
        stop(process)


def test_the_wheel_holds_every_module_and_data_file_of_the_checkout(dist):
    expected = tree_files()
    with zipfile.ZipFile(dist.wheel) as whl:
        members = {n for n in whl.namelist() if ".dist-info/" not in n}
        entry_points = whl.read(f"litkg-{__version__}.dist-info/entry_points.txt").decode()
        for name, source in expected.items():
            if name in members:
                assert whl.read(name) == (REPO / source).read_bytes(), name
    assert sorted(set(expected) - members) == [], "missing from the wheel"
    assert sorted(members - set(expected)) == [], "in the wheel but not in the checkout"
    assert "litkg = litkg.cli:app" in entry_points
    for must in ("litkg/sql/derived.sql", "litkg/schema/vocab_ml.yaml", "litkg/sample/gold.yaml",
                 "litkg/sources/pubmed.py", "litkg/eval/harness.py"):
        assert must in members

    with tarfile.open(dist.sdist) as sdist:
        top = f"litkg-{__version__}/"
        names = {n.removeprefix(top) for n in sdist.getnames()}
    assert {"pyproject.toml", "setup.py", "README.md"} <= names
    assert sorted(set(expected.values()) - names) == [], "missing from the sdist"


def test_the_installed_package_imports_every_module_from_the_wheel_and_has_a_version(
    installed, tmp_path
):
    script = (
        "import importlib, json, pkgutil, litkg\n"
        "bad = {}\n"
        "for m in pkgutil.walk_packages(litkg.__path__, 'litkg.'):\n"
        "    if m.name.endswith('__main__'): continue  # runs the CLI\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except ModuleNotFoundError as e:\n"
        "        if (e.name or '').startswith('litkg'): bad[m.name] = str(e)\n"
        "print(json.dumps({'file': litkg.__file__, 'bad': bad}))\n"
    )
    out = json.loads(installed.run("python", "-c", script, cwd=tmp_path).stdout)
    assert Path(out["file"]).is_relative_to(installed.venv), out["file"]  # not the checkout
    assert out["bad"] == {}
    version = installed.run("litkg", "--version", cwd=tmp_path).stdout
    assert version.startswith(f"litkg {__version__}\n")
    assert f"extractor spacy {SPACY_VERSION} " in version and "unavailable" not in version


def test_litkg_demo_then_query_and_stats_from_the_installed_package_need_no_checkout(
    installed, tmp_path
):
    """The demo backfills the packaged sample corpus from a directory that is not the
    repository; the store it leaves answers `litkg query` and `litkg stats`."""
    out = installed.run("litkg", "demo", "--home", "demo-store", cwd=tmp_path).stdout
    sample = re.search(r"sample corpus (\S+)", out).group(1)
    assert Path(sample).is_relative_to(installed.venv)  # package data, not data/sample
    for heading in ("strongest claims on 2024-03-15", "conflicts on 2024-03-31",
                    "what changed in the last week of March", "planted facts recovered"):
        assert f"== {heading}" in out
    # the nightly day is committed incrementally, its cost shown beside the backfill's rebuild
    assert re.search(r"backfill of 31 days \(rebuild\): [\d.]+ s; nightly 2024-04-01 "
                     r"\(incremental\): [\d.]+ s", out)
    rows = installed.run("litkg", "query", "--home", "demo-store", "--format", "json",
                         "select subject, relation, object, support from edges_as_of("
                         "DATE '2024-03-31') where subject = 'knowledge distillation' "
                         "and object = 'student accuracy'", cwd=tmp_path).stdout
    (edge,) = [json.loads(r) for r in rows.splitlines()]
    assert edge["relation"] == "improves" and edge["support"] >= 2
    stats = json.loads(installed.run("litkg", "stats", "--home", "demo-store", "--json",
                                     cwd=tmp_path).stdout)
    assert stats["latest_snapshot"]["day"] == "2024-04-01"
    api = installed.run("python", "-c", "import litkg; kg = litkg.open('demo-store'); "
                        "print(kg.history('KD', 'improves', 'student accuracy')['support'].max())",
                        cwd=tmp_path).stdout
    assert int(api) == edge["support"] + 1  # the Python API, from the wheel (+1 on 2024-04-01)
    assert stats["rows"]["quarantine"] > 0  # the sample's malformed file, reported not fatal
    assert re.search(r"│ all +│ +\d+ │ +\d+ │", out)  # the gold check's total row
    report = tmp_path / "report.html"  # the demo ends with the report, beside the store
    assert f"wrote {report}" in out and "litkg serve --home" in out
    assert report.read_text().count('class="plot') >= 12  # plots rendered from the wheel


def test_deployments_from_the_installed_package_run_on_a_worker(
    installed, prefect_server, tmp_path
):
    """`litkg deploy` against a real Prefect server; a worker of the fresh environment runs the
    backfill deployment from the module entrypoint, with no checkout on any path."""
    env = prefect_server.env
    write_docs(tmp_path / "in" / "a.jsonl", [
        ("doi:1", date(2024, 3, 1), "Dropout improves robustness."),
        ("doi:2", date(2024, 3, 2), "Weight decay degrades calibration."),
    ])
    worker = None
    http = httpx.Client(base_url=prefect_server.api, timeout=30)
    try:
        wait_for_health(http, prefect_server.process, prefect_server.log)
        out = installed.run("litkg", "deploy", "--pool", "litkg-installed", "--home", "store",
                            "--source", "in/*.jsonl", cwd=tmp_path, env=env).stdout
        assert "created work pool 'litkg-installed'" in out

        deployment = http.get("/deployments/name/litkg-backfill/litkg-backfill").json()
        assert deployment["entrypoint"] == "litkg.flows.pipeline.backfill"
        assert not deployment["pull_steps"]  # nothing to fetch: the code is installed
        assert deployment["parameters"] == {"home": str(tmp_path / "store"),
                                            "source": [str(tmp_path / "in" / "*.jsonl")]}
        nightly = http.get("/deployments/name/litkg-nightly/litkg-nightly").json()
        assert nightly["entrypoint"] == "litkg.flows.pipeline.nightly"
        assert [s["schedule"]["cron"] for s in nightly["schedules"]] == ["0 2 * * *"]

        (tmp_path / "worker").mkdir()
        with open(tmp_path / "worker.log", "wb") as log:
            worker = subprocess.Popen(
                [installed.python, "-m", "prefect", "worker", "start", "--pool",
                 "litkg-installed"], cwd=tmp_path / "worker", env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        run = http.post(f"/deployments/{deployment['id']}/create_flow_run",
                        json={"parameters": {"start": "2024-03-01", "end": "2024-03-02"}}).json()
        state = wait_for_run(http, run["id"], tmp_path / "worker.log")
        assert state["type"] == "COMPLETED", state
    finally:
        stop(worker)
        http.close()
    stats = json.loads(installed.run("litkg", "stats", "--home", "store", "--json",
                                     cwd=tmp_path).stdout)
    assert stats["rows"]["documents"] == 2 and stats["rows"]["snapshots"] == 2


def wait_for_health(http: httpx.Client, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if http.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"server did not start:\n{log.read_text(errors='replace')[-3000:]}")


def wait_for_run(http: httpx.Client, run_id: str, log: Path, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = http.get(f"/flow_runs/{run_id}").json()["state"]
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return state
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} is still {state['type']}:\n"
                         f"{log.read_text(errors='replace')[-3000:]}")
