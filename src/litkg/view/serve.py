"""`litkg serve`: a read-only explorer of a store over HTTP (loopback by default).

Pages: `/` the report (as `litkg report`, entities linked), `/search?q=`, `/entity/{id}` an
entity with a date slider, its edges on that day (support, confidence, status, evidence linked
to the source) and its 1-2 hop neighbourhood drawn with Cytoscape.js (vendored in `static/`).
JSON for other tools: `/api/days`, `/api/search?q=`, `/api/entity/{id}?as_of=&hops=`,
`/api/changes?from=&to=`, `/api/context?q=&as_of=&hops=&limit=` (= `litkg context --format
json`). The store is opened read-only (`litkg.open`); one connection, used under a lock.
"""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from litkg import __version__
from litkg.graph import Graph
from litkg.view import queries, rag, report
from litkg.view.changelog import changelog

STATIC = Path(__file__).resolve().parent / "static"
SEARCH_LIMIT = 20
NEIGHBOURHOOD_LIMIT = 60  # edges drawn


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _parse_day(value: str | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}") \
            from None


class Explorer:
    """The queries behind the pages, on one read-only Graph (a DuckDB connection is not
    shared across threads: every call holds the lock)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.lock = threading.Lock()
        self._report: tuple[Any, str] | None = None

    def days(self) -> list[date]:
        with self.lock:
            return queries.days(self.graph)

    def report_html(self, as_of: date | None, since: date | None) -> str:
        with self.lock:
            stamp = (self.graph.latest_day(), self.graph.store.stamp(),
                     as_of, since)
            if self._report is None or self._report[0] != stamp:
                self._report = (stamp, report.build(self.graph, as_of, since, served=True).html)
            return self._report[1]

    def entity_row(self, entity_id: str) -> dict[str, Any] | None:
        with self.lock:
            rows = self.graph.sql(
                "SELECT e.entity_id, e.name, e.canonical, e.entity_type, e.first_seen, "
                "e.last_seen, e.mention_count, e.doc_count, "
                "coalesce(list(a.alias ORDER BY a.mention_count DESC, a.alias) "
                "FILTER (a.kind <> 'acronym'), []) AS aliases, "
                "coalesce(list(a.alias ORDER BY a.alias) FILTER (a.kind = 'acronym'), []) "
                "AS acronyms FROM entities e LEFT JOIN aliases a USING (entity_id) "
                "WHERE e.entity_id = $id GROUP BY ALL", {"id": entity_id})
        return rows.row(0, named=True) if rows.height else None

    def resolve(self, text: str) -> dict[str, Any] | None:
        with self.lock:
            try:
                return self.graph.resolve(text).row(0, named=True)
            except LookupError:
                return None

    def search(self, q: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
        best = self.resolve(q) if q.strip() else None
        with self.lock:
            rows = self.graph.sql(
                "SELECT e.entity_id, e.name, e.canonical, e.entity_type, e.mention_count, "
                "list(DISTINCT a.alias ORDER BY a.alias) AS matched "
                "FROM aliases a JOIN entities e USING (entity_id) "
                "WHERE contains(lower(a.alias), lower($q)) "
                "GROUP BY ALL ORDER BY e.mention_count DESC, e.name, e.entity_id LIMIT $limit",
                {"q": q.strip(), "limit": limit}).to_dicts()
        out = []
        if best is not None:
            out.append({"entity_id": best["entity_id"], "name": best["name"],
                        "canonical": best["canonical"], "match": best["match"],
                        "score": best["score"]})
        out += [{**r, "match": "substring"} for r in rows
                if best is None or r["entity_id"] != best["entity_id"]]
        for r in out:
            r["label"] = rag.title(r)  # KD (knowledge distillation)
        return _jsonable(out[:limit])

    def entity(self, entity_id: str, as_of: date | None, hops: int) -> dict[str, Any]:
        info = self.entity_row(entity_id)
        if info is None:
            raise HTTPException(404, f"no entity {entity_id!r}")
        with self.lock:
            day = as_of or self.graph.latest_day() or date.today()
            edges = queries.run(self.graph, "entity_edges", {"d": day, "entity_id": entity_id})
            evidence = queries.evidence(self.graph, edges["edge_id"].to_list(), day, 3)
            near = queries.run(self.graph, "neighbourhood",
                               {"d": day, "entity_id": entity_id, "hops": hops,
                                "limit": NEIGHBOURHOOD_LIMIT})
        rows = [{**e, "evidence": evidence.get(e["edge_id"], [])}
                for e in edges.iter_rows(named=True)]
        nodes: dict[str, dict[str, Any]] = {entity_id: {"id": entity_id, "name": info["name"],
                                                        "hop": 0}}
        links = []
        for e in near.iter_rows(named=True):
            for side in ("subject", "object"):
                nodes.setdefault(e[f"{side}_id"], {"id": e[f"{side}_id"], "name": e[side],
                                                   "hop": e["hop"]})
            links.append({"id": e["edge_id"], "source": e["subject_id"],
                          "target": e["object_id"], "relation": e["relation"],
                          "context": e["context"], "status": e["status"],
                          "support": e["support"], "confidence": e["confidence"]})
        return _jsonable({"entity": info, "as_of": day, "hops": hops, "edges": rows,
                          "graph": {"nodes": list(nodes.values()), "edges": links}})

    def changes(self, start: date, end: date | None) -> list[dict[str, Any]]:
        with self.lock:
            end = end or self.graph.latest_day() or date.today()
            return _jsonable(changelog(self.graph, start, end))

    def context(self, q: str, as_of: date | None, hops: int, limit: int) -> dict[str, Any]:
        with self.lock:
            try:
                hit = self.graph.resolve(q).row(0, named=True)
                rows = self.graph.context(q, as_of=as_of, hops=hops, limit=limit)
            except LookupError as exc:
                raise HTTPException(404, str(exc).strip("'\"")) from None
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
            return rag.document(hit, as_of or self.graph.latest_day(), rows)


def create_app(graph: Graph) -> FastAPI:
    """The explorer's web app over `graph` (open it with `litkg.open`: read-only)."""
    ex = Explorer(graph)
    env = report.environment()
    app = FastAPI(title="litkg explorer", version=__version__, docs_url="/api/docs",
                  redoc_url=None, openapi_url="/api/openapi.json")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse)
    def home(as_of: str | None = None, since: str | None = None) -> str:
        try:
            return ex.report_html(_parse_day(as_of, "as_of"), _parse_day(since, "since"))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/search", response_class=HTMLResponse)
    def search_page(q: str = "") -> str:
        return env.get_template("search.html.j2").render(
            q=q, results=ex.search(q) if q.strip() else [], version=__version__,
            home=str(graph.home))

    @app.get("/entity/{ref}", response_class=HTMLResponse, response_model=None)
    def entity_page(ref: str, request: Request, as_of: str | None = None,
                    hops: int = Query(1, ge=1, le=2)) -> str | RedirectResponse:
        info = ex.entity_row(ref)
        if info is None:  # a name, alias or acronym: go to its entity's page
            hit = ex.resolve(ref)
            if hit is None:
                raise HTTPException(404, f"no entity named {ref!r}")
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"{hit['entity_id']}{query}", status_code=307)
        days = [str(d) for d in ex.days()]
        day = str(_parse_day(as_of, "as_of") or (days[-1] if days else date.today()))
        return env.get_template("entity.html.j2").render(
            entity=info, days=days, as_of=day, hops=hops, version=__version__,
            home=str(graph.home))

    @app.get("/api/days")
    def api_days() -> list[str]:
        return [str(d) for d in ex.days()]

    @app.get("/api/search")
    def api_search(q: str, limit: int = Query(SEARCH_LIMIT, ge=1, le=200)) -> list[dict]:
        return ex.search(q, limit)

    @app.get("/api/entity/{entity_id}")
    def api_entity(entity_id: str, as_of: str | None = None,
                   hops: int = Query(1, ge=1, le=2)) -> dict:
        return ex.entity(entity_id, _parse_day(as_of, "as_of"), hops)

    @app.get("/api/changes")
    def api_changes(from_: str | None = Query(None, alias="from"),
                    to: str | None = None) -> list[dict]:
        end = _parse_day(to, "to")
        start = _parse_day(from_, "from") or ((end or graph.latest_day() or date.today())
                                              - timedelta(days=7))
        return ex.changes(start, end)

    @app.get("/api/context")
    def api_context(q: str, as_of: str | None = None, hops: int = Query(1, ge=1, le=3),
                    limit: int = Query(20, ge=1, le=200)) -> dict:
        return ex.context(q, _parse_day(as_of, "as_of"), hops, limit)

    return app


def serve(graph: Graph, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the explorer until interrupted."""
    import uvicorn

    uvicorn.run(create_app(graph), host=host, port=port, log_level="warning")
