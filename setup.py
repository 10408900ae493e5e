"""Package discovery for litkg's layout; all other metadata is in pyproject.toml.

The repository keeps the design card's top-level folders (flows/ extractors/ schema/) and the
sample corpus in data/sample/, yet installs one top-level name, `litkg` (docs/store.md,
"Packaging"). pyproject.toml cannot discover packages under such a `package-dir` mapping, so an
explicit list would have to be kept by hand and forgets every new subpackage or data file. Here
every folder under a root becomes a package and every file in it that is not Python source
(SQL, YAML, vocabularies, templates, web assets, model files) its package data.
"""

from __future__ import annotations

import os

from setuptools import setup

ROOTS = {
    "litkg": "src/litkg",
    "litkg.flows": "flows",
    "litkg.extractors": "extractors",
    "litkg.schema": "schema",
    "litkg.sample": "data/sample",  # the demo corpus and its gold file (`litkg demo`)
}
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".py", ".pyc", ".pyo")


def discover() -> tuple[list[str], dict[str, list[str]]]:
    """Every folder under a root as a package, and its non-Python files as its data."""
    packages, data = [], {}
    for root_pkg, root_dir in ROOTS.items():
        for folder, dirs, files in os.walk(root_dir):
            dirs[:] = sorted(
                d for d in dirs
                if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
            )
            rel = os.path.relpath(folder, root_dir)
            pkg = root_pkg if rel == "." else f"{root_pkg}.{rel.replace(os.sep, '.')}"
            packages.append(pkg)
            extra = sorted(f for f in files
                           if not f.endswith(SKIP_SUFFIXES) and not f.startswith("."))
            if extra:
                data[pkg] = extra
    return packages, data


PACKAGES, PACKAGE_DATA = discover()

setup(package_dir=ROOTS, packages=PACKAGES, package_data=PACKAGE_DATA)
