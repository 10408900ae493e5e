"""Fault injection for the crash campaign: `LITKG_FAULT=<point>[:raise|exit][@N]`.

The commit path calls `point(name)` at each step where a crash would leave a different state
on disk (files written, manifest replaced, catalog replaced, garbage collected). When the
variable names that point, its N-th hit in this process (default the first) raises
`InjectedFault` (`raise`, the default) or ends the process at once with `os._exit(EXIT_CODE)`
(`exit`: no `finally`, no cleanup, like a kill). Unset, a point costs one dict lookup.
"""

from __future__ import annotations

import os

ENV = "LITKG_FAULT"
EXIT_CODE = 86
POINTS = ("files-written", "manifest-written", "catalog-written", "collected")
_hits: dict[str, int] = {}


class InjectedFault(RuntimeError):
    """Raised at a fault point named by LITKG_FAULT (tests and bench/crash.py only)."""


def _parse(spec: str) -> tuple[str, str, int]:
    name, _, count = spec.partition("@")
    name, _, mode = name.partition(":")
    if name not in POINTS or mode not in ("", "raise", "exit"):
        raise ValueError(f"{ENV}={spec!r}: expected <point>[:raise|exit][@N] with a point "
                         f"among {', '.join(POINTS)}")
    return name, mode or "raise", int(count or 1)


def reset() -> None:
    """Forget the hits counted so far (a test that injects twice in one process)."""
    _hits.clear()


def point(name: str) -> None:
    """A step of the commit path: fail here if LITKG_FAULT says so."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, mode, nth = _parse(spec)
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != nth:
        return
    if mode == "exit":
        os._exit(EXIT_CODE)
    raise InjectedFault(f"injected fault at {name} (hit {nth})")
