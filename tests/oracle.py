"""The reference oracle: the merge semantics of docs/architecture.md, folded day by day in
plain Python. It is the executable specification the constructor is checked against, so it is
written to be read, not to be fast, and shares nothing with the constructor except the
vocabulary loader and the canonical-key function (`litkg_canon`, a SQL macro).

Input: a store's *input* tables (documents, deletions, document_ids, assertions,
abbreviations). Output: every edge version, the graph on every day, entities, aliases and
changes, in the shapes of the tables and macros a user reads.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import duckdb

from litkg import schema
from litkg.store import load_macros

MAX_C = 0.999999
SCALE = 1_000_000_000


def litkg_id(key: str) -> str:
    return hashlib.md5(key.encode("utf-8")).hexdigest()[:16]


def fixed_log(c: float) -> int:
    """round(ln(1 - c) * 1e9), halves away from zero (as SQL's round does)."""
    x = math.log(1 - min(c, MAX_C)) * SCALE
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


@dataclass
class Inputs:
    documents: list[dict]  # doc_id, content_hash, published, revised
    deletions: list[dict]  # doc_id, deleted_on
    pairs: list[dict]  # doc_id, alias_id, own_id, first_seen
    assertions: list[dict]  # the stored assertion rows
    abbreviations: list[dict]  # doc_id, content_hash, day, short, long, start
    vocabulary: str = "ml"

    @classmethod
    def from_store(cls, con: duckdb.DuckDBPyConnection, vocabulary: str = "ml") -> Inputs:
        def rows(sql: str) -> list[dict]:
            rel = con.execute(sql)
            cols = [d[0] for d in rel.description]
            return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]

        return cls(
            rows("SELECT doc_id, content_hash, published, revised FROM documents"),
            rows("SELECT doc_id, deleted_on FROM deletions"),
            rows("SELECT doc_id, alias_id, own_id, first_seen FROM document_ids"),
            rows("SELECT * FROM stored_assertions"),
            rows("SELECT * FROM abbreviations"),
            vocabulary,
        )


@dataclass(frozen=True)
class Carrier:
    doc_id: str
    content_hash: str
    since: date  # the first day the source published this content
    revised: date | None  # the source's revision date on that day
    withdrawn_on: date | None  # the first deletion of the document on or after `since`


@dataclass
class Edge:
    key: tuple  # (subject, relation, object, context_sig, context)
    versions: list[dict] = field(default_factory=list)


class Oracle:
    def __init__(self, inputs: Inputs) -> None:
        self.inp = inputs
        vocab = schema.vocabulary(inputs.vocabulary)
        self.rules = {r["relation"]: r for r in vocab.relation_rules()}
        self.contra = [(r["relation"], r["partner"], r["reversed"])
                       for r in vocab.contradiction_rules()]
        self._canon = self._canonical_keys()
        self._defs: dict[Carrier, dict[str, tuple[int, str]]] = {}
        self.carriers = self._carriers()
        self.days = sorted(
            {d["published"] for d in inputs.documents}
            | {x["deleted_on"] for x in inputs.deletions}
            | {p["first_seen"] for p in inputs.pairs}
        )
        self.counting: dict[date, set[Carrier]] = {}
        self.run_start: dict[date, dict[Carrier, date]] = {}
        self._fold_documents()
        self._fold_graph()

    # -- the canonical key (the one function shared with the constructor) -------------------
    def _canonical_keys(self) -> dict[str, str | None]:
        surfaces = set()
        for a in self.inp.assertions:
            surfaces |= {a["subject"], a["object"], *(c["text"] for c in a["context"] or [])}
        for b in self.inp.abbreviations:
            surfaces |= {b["short"], b["long"]}
        con = duckdb.connect()
        load_macros(con)
        rows = con.execute("SELECT s, litkg_canon(s) FROM unnest(?::VARCHAR[]) t(s)",
                           [sorted(surfaces)]).fetchall()
        con.close()
        return dict(rows)

    # -- documents: which version of each paper counts on each day ---------------------------
    def _carriers(self) -> list[Carrier]:
        first: dict[tuple, date] = {}
        for d in self.inp.documents:
            k = (d["doc_id"], d["content_hash"])
            first[k] = min(first.get(k, d["published"]), d["published"])
        out = []
        for (doc, h), since in first.items():
            revs = [d["revised"] for d in self.inp.documents
                    if (d["doc_id"], d["content_hash"], d["published"]) == (doc, h, since)
                    and d["revised"] is not None]
            dels = [x["deleted_on"] for x in self.inp.deletions
                    if x["doc_id"] == doc and x["deleted_on"] >= since]
            out.append(Carrier(doc, h, since, max(revs) if revs else None,
                               min(dels) if dels else None))
        return out

    def papers_on(self, day: date) -> dict[str, str]:
        """doc_id -> a representative of its paper on `day` (union-find over usable pairs)."""
        known = [p for p in self.inp.pairs if p["first_seen"] <= day]
        xref_docs: dict[str, set[str]] = defaultdict(set)
        for p in known:
            if not p["own_id"]:
                xref_docs[p["alias_id"]].add(p["doc_id"])
        ambiguous = {a for a, docs in xref_docs.items()
                     if len(docs) > len({d.split(":", 1)[0].lower() for d in docs})}
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                x = parent[x]
            return x

        for c in self.carriers:
            find(c.doc_id)
        by_alias: dict[str, list[str]] = defaultdict(list)
        for p in known:
            if p["own_id"] or p["alias_id"] not in ambiguous:
                by_alias[p["alias_id"]].append(p["doc_id"])
        for docs in by_alias.values():
            for other in docs[1:]:
                a, b = find(docs[0]), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        return {x: find(x) for x in parent}

    @staticmethod
    def _order(content_hash: str, carriers: list[Carrier]) -> tuple:
        """Versions of a paper: by first day, then revision date (none first), then hash."""
        revs = [c.revised for c in carriers if c.revised is not None]
        return (min(c.since for c in carriers), (1, max(revs)) if revs else (0,), content_hash)

    def _fold_documents(self) -> None:
        previous: set[Carrier] = set()
        starts: dict[Carrier, date] = {}
        for day in self.days:
            paper = self.papers_on(day)
            by_paper: dict[str, list[Carrier]] = defaultdict(list)
            for c in self.carriers:
                if c.since <= day:
                    by_paper[paper[c.doc_id]].append(c)
            counting = set()
            for carriers in by_paper.values():
                versions: dict[str, list[Carrier]] = defaultdict(list)
                for c in carriers:
                    versions[c.content_hash].append(c)

                newest = max(versions, key=lambda h, v=versions: self._order(h, v[h]))
                cs = versions[newest]
                if all(c.withdrawn_on is not None and c.withdrawn_on <= day for c in cs):
                    continue
                counting.add(min(cs, key=lambda c: (c.since, c.doc_id)))
            starts = {c: (starts[c] if c in previous else day) for c in counting}
            self.counting[day] = counting
            self.run_start[day] = dict(starts)
            previous = counting

    # -- entities ----------------------------------------------------------------------------
    def definitions(self, c: Carrier) -> dict[str, tuple[int, str]]:
        """short key -> (start, long key): the carrier's first definition of each short form."""
        if c not in self._defs:
            self._defs[c] = self._definitions(c)
        return self._defs[c]

    def _definitions(self, c: Carrier) -> dict[str, tuple[int, str]]:
        out: dict[str, tuple[int, str]] = {}
        for b in self.inp.abbreviations:
            if (b["doc_id"], b["content_hash"], b["day"]) != (c.doc_id, c.content_hash, c.since):
                continue
            s, long = self._canon[b["short"]], self._canon[b["long"]]
            if s is None or long is None or s == long:
                continue
            out[s] = min(out.get(s, (b["start"], long)), (b["start"], long))
        return out

    def resolve(self, surface: str, c: Carrier, day: date) -> tuple[str, bool] | None:
        """(entity key, via acronym) of a surface in carrier c's assertions, as of `day`."""
        key = self._canon[surface]
        if key is None:
            return None
        local = self.definitions(c).get(key)
        if local:
            return local[1], True
        found = sorted((d.since, self.definitions(d)[key][1]) for d in self.counting[day]
                       if key in self.definitions(d))
        return (found[0][1], True) if found else (key, False)

    # -- the graph, day by day ---------------------------------------------------------------
    def _fold_graph(self) -> None:
        assertions_of: dict[tuple, list[dict]] = defaultdict(list)
        for a in self.inp.assertions:
            if a["relation"] in self.rules:
                assertions_of[(a["doc_id"], a["content_hash"], a["day"])].append(a)
        self.links: dict[str, dict] = {}  # assertion_id -> resolved link (None: self-loop)
        self.mentions: list[dict] = []
        self.edges: dict[str, Edge] = {}
        self.states: dict[date, dict[str, dict]] = {}
        self.evidence_runs: list[tuple[str, str, date, date | None]] = []  # edge, doc, from, to
        open_runs: dict[tuple, date] = {}
        for day in self.days:
            contrib: dict[tuple, dict] = {}  # (edge, doc, hash) -> best c, n, run start
            for c in self.counting[day]:
                for a in assertions_of[(c.doc_id, c.content_hash, c.since)]:
                    link = self._link(a, c, day)
                    if link is None:
                        continue
                    k = (link["edge_id"], c.doc_id, c.content_hash)
                    cur = contrib.setdefault(k, {"c": a["confidence"], "n": 0,
                                                 "start": self.run_start[day][c]})
                    cur["c"] = max(cur["c"], a["confidence"])
                    cur["n"] += 1
            now = {(k[0], k[1], v["start"]) for k, v in contrib.items()}
            for run in list(open_runs):
                if run not in now:
                    self.evidence_runs.append((run[0], run[1], run[2], day))
                    del open_runs[run]
            for run in now:
                open_runs.setdefault(run, run[2])
            state: dict[str, dict] = {e: {"logsum": 0, "support": 0, "evidence_count": 0,
                                          "last_evidence_day": None, "last_evidence_doc": None}
                                      for e in self.edges}
            for (edge, doc, _h), v in sorted(contrib.items()):
                s = state.setdefault(edge, {"logsum": 0, "support": 0, "evidence_count": 0,
                                            "last_evidence_day": None,
                                            "last_evidence_doc": None})
                s["logsum"] += fixed_log(v["c"])
                s["support"] += 1
                s["evidence_count"] += v["n"]
                if s["last_evidence_day"] is None or (
                        (s["last_evidence_day"], s["last_evidence_doc"]) < (v["start"], doc)):
                    s["last_evidence_day"], s["last_evidence_doc"] = v["start"], doc
            self._judge(state)
            self.states[day] = state
            for edge, s in state.items():
                versions = self.edges[edge].versions
                seen = {k: s[k] for k in ("logsum", "support", "evidence_count",
                                          "last_evidence_doc", "last_evidence_day", "status",
                                          "contested_by")}
                if not versions or {k: versions[-1][k] for k in seen} != seen:
                    if versions:
                        versions[-1]["valid_to"] = day
                    versions.append({**seen, "valid_from": day, "valid_to": None,
                                     "confidence": 1 - math.exp(s["logsum"] / 1e9)})
        for run, start in open_runs.items():
            self.evidence_runs.append((run[0], run[1], start, None))

    def _link(self, a: dict, c: Carrier, day: date) -> dict | None:
        aid = a["assertion_id"]
        if aid not in self.links:
            self.links[aid] = self._resolve_assertion(a, c, day)
        return self.links[aid]

    def _resolve_assertion(self, a: dict, c: Carrier, first_live: date) -> dict | None:
        """Resolve an assertion's arguments as of its own day; record its mentions (known from
        the first day it counts)."""
        roles = [("subject", a["subject"], a["subject_type"]),
                 ("object", a["object"], a["object_type"])]
        roles += [(f"context:{q['qualifier']}", q["text"], None) for q in a["context"] or []]
        keys: dict[str, list[str]] = defaultdict(list)
        for role, surface, etype in roles:
            got = self.resolve(surface, c, a["day"])
            if got is None:
                continue
            key, via = got
            keys[role].append(key)
            self.mentions.append({"doc_id": a["doc_id"], "day": first_live, "surface": surface,
                                  "entity_type": etype, "key": key, "via_acronym": via})
        if not keys["subject"] or not keys["object"]:
            return None
        s, o = keys["subject"][0], keys["object"][0]
        if s == o:
            return None
        rule = self.rules[a["relation"]]
        if rule["swap"] or (rule["symmetric"] and o < s):
            s, o = o, s
        quals = [(r.split(":", 1)[1], k) for r, ks in keys.items() if r.startswith("context:")
                 for k in ks]
        sig = ";".join(sorted({f"{q}={litkg_id(k)}" for q, k in quals}))
        ctx = "; ".join(sorted({f"{q}={k}" for q, k in quals}))
        relation = rule["canonical"]
        edge_id = litkg_id("|".join([s, relation, o, sig]))
        self.edges.setdefault(edge_id, Edge((s, relation, o, sig, ctx)))
        return {"edge_id": edge_id}

    def _judge(self, state: dict[str, dict]) -> None:
        """Status of every edge that day: retracted without live evidence; else contested by
        the strongest partner that beats it (higher confidence, then more recent live
        evidence, then smaller edge id), partners being the contradicting edges in the same
        context or unqualified."""
        for eid, s in state.items():
            s["status"], s["contested_by"] = ("retracted", None) if s["support"] <= 0 else (
                "active", None)
            if s["support"] <= 0:
                continue
            subj, rel, obj, sig, _ = self.edges[eid].key
            beaten_by = []
            for pid, p in state.items():
                if pid == eid or p["support"] <= 0:
                    continue
                ps, prel, po, psig, _ = self.edges[pid].key
                if psig not in (sig, ""):
                    continue
                if not any(r == rel and q == prel and
                           ((not rev and (ps, po) == (subj, obj)) or
                            (rev and (ps, po) == (obj, subj)))
                           for r, q, rev in self.contra):
                    continue
                mine = (s["logsum"], s["last_evidence_day"], eid)
                if (p["logsum"] < mine[0]
                        or (p["logsum"] == mine[0] and p["last_evidence_day"] > mine[1])
                        or (p["logsum"] == mine[0] and p["last_evidence_day"] == mine[1]
                            and pid < eid)):
                    beaten_by.append((p["logsum"], -p["last_evidence_day"].toordinal(), pid))
            if beaten_by:
                s["status"], s["contested_by"] = "contested", min(beaten_by)[2]

    # -- what users read ---------------------------------------------------------------------
    def edge_rows(self) -> list[tuple]:
        """Every edge version, as in `edges` (the columns a reader sees)."""
        rows = []
        for eid, e in self.edges.items():
            s, rel, o, sig, ctx = e.key
            for n, v in enumerate(e.versions, 1):
                rows.append((eid, litkg_id(s), s, rel, litkg_id(o), o,
                             litkg_id(sig) if sig else "", ctx, n, v["valid_from"],
                             v["valid_to"], v["confidence"], v["support"],
                             v["evidence_count"], v["last_evidence_doc"],
                             v["last_evidence_day"], v["status"], v["contested_by"]))
        return sorted(rows, key=repr)

    def edges_as_of(self, day: date) -> list[tuple]:
        """The graph on `day` straight from that day's state (not from the versions)."""
        past = [d for d in self.days if d <= day]
        if not past:
            return []
        state = self.states[past[-1]]
        return sorted(
            (eid, s["support"], s["evidence_count"], 1 - math.exp(s["logsum"] / 1e9),
             s["status"], s["contested_by"], s["last_evidence_day"])
            for eid, s in state.items() if s["status"] != "retracted"
        )

    def entities(self) -> list[tuple]:
        """entity_id, canonical, name (most frequent surface, ties: the smallest), entity type
        (most frequent, ties: the smallest), first/last seen, mentions, documents."""
        by: dict[str, list[dict]] = defaultdict(list)
        for m in self.mentions:
            by[m["key"]].append(m)
        rows = []
        for key, ms in by.items():
            def most(values: list) -> str | None:
                counts: dict = defaultdict(int)
                for v in values:
                    if v is not None:
                        counts[v] += 1
                return min(counts, key=lambda v: (-counts[v], v)) if counts else None

            rows.append((litkg_id(key), key, most([m["surface"] for m in ms]),
                         most([m["entity_type"] for m in ms]), min(m["day"] for m in ms),
                         max(m["day"] for m in ms), len(ms), len({m["doc_id"] for m in ms})))
        return sorted(rows)

    def aliases(self) -> list[tuple]:
        by: dict[tuple, list[dict]] = defaultdict(list)
        for m in self.mentions:
            by[(m["surface"].lower(), litkg_id(m["key"]))].append(m)
        return sorted(
            (alias, eid, "acronym" if any(m["via_acronym"] for m in ms) else "surface",
             min(m["day"] for m in ms), len(ms))
            for (alias, eid), ms in by.items()
        )

    def changes(self, d1: date, d2: date) -> list[tuple]:
        """(day, change, edge_id, status, support, evidence documents) in (d1, d2]."""
        out = []
        for eid, e in self.edges.items():
            prev = None
            for v in e.versions:
                if d1 < v["valid_from"] <= d2:
                    if prev is None:
                        kind = "contested" if v["status"] == "contested" else "added"
                    elif v["status"] == "retracted":
                        kind = "retracted"
                    elif v["status"] == "contested" and prev["status"] != "contested":
                        kind = "contested"
                    elif v["status"] == "active" and prev["status"] == "contested":
                        kind = "resolved"
                    elif v["status"] == "active" and prev["status"] == "retracted":
                        kind = "restored"
                    elif (v["support"] > prev["support"]
                          or v["confidence"] > prev["confidence"]):
                        kind = "reinforced"
                    else:
                        kind = "weakened"
                    docs = sorted({doc for edge, doc, start, end in self.evidence_runs
                                   if edge == eid and v["valid_from"] in (start, end)})
                    out.append((v["valid_from"], kind, eid, v["status"], v["support"],
                                docs or None))
                prev = v
        return sorted(out)
