"""Run the real pipeline over a gold corpus and score what it built.

`evaluate` writes the corpus as dated litkg input, runs `process_days` into a temporary store
with the chosen extractor, then reads the store (assertions, mentions, links, edges) and scores:
relation triples, mentions, entity resolution, calibration and edges by support.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from litkg import schema
from litkg.acronyms import find_abbreviations
from litkg.eval import biored, scierc
from litkg.eval.corpus import GoldCorpus, GoldDocument, global_entity
from litkg.eval.scoring import (
    PRF,
    Candidate,
    SpanMatcher,
    bcubed,
    compatible,
    dedupe,
    ece,
    merge_scores,
    pairwise,
    precision_by_support,
    reliability,
    score_triples,
)

LOADERS: dict[str, Callable[[str | Path], GoldCorpus]] = {
    "scierc": scierc.load, "biored": biored.load,
}
DEFAULT_VOCABULARY = {"scierc": "ml", "biored": "biomed"}
MODES = ("strict", "relaxed")


def load_corpus(dataset: str, path: str | Path, limit: int | None = None) -> GoldCorpus:
    if dataset not in LOADERS:
        raise ValueError(f"unknown dataset {dataset!r} (choose from {', '.join(LOADERS)})")
    return LOADERS[dataset](path).head(limit)


def label_map(vocab: schema.Vocabulary, dataset: str) -> dict[str, tuple[str | None, bool]]:
    """litkg relation -> (dataset label or None, swap arguments), from the vocabulary's
    `scierc:` / `biored:` keys. An inverse relation without its own key is mapped through its
    primary with the arguments swapped."""
    out: dict[str, tuple[str | None, bool]] = {}
    for name, spec in vocab.relations.items():
        own = getattr(spec, dataset, None)
        if own or not spec.inverse_of:
            out[name] = (own, False)
        else:
            out[name] = (getattr(vocab.relations[spec.inverse_of], dataset, None), True)
    return out


# -- running the pipeline ------------------------------------------------------------------------
def build_store(corpus: GoldCorpus, extractor: Any, vocabulary: str, home: Path) -> Any:
    """Backfill the corpus's documents, by their dates, into a store at `home`.

    These are the steps of `pipeline.process_days` (ingest, extract each day, store +
    construct + snapshot in one commit), without the extraction cache: the store is thrown
    away, and a cache would only cost writes.
    """
    from litkg.pipeline import commit_run, extract_day, prepare
    from litkg.store import Store

    home.mkdir(parents=True, exist_ok=True)
    source = home / "input.jsonl"
    corpus.write_jsonl(source)
    days = sorted({d.published for d in corpus.documents})
    store = Store(home / "store")
    plan = prepare(store, days, sources=[source])
    extractions = [extract_day(day, docs, extractor, None)
                   for day, docs in sorted(plan.documents.items())]
    summary = commit_run(store, plan, extractions, extractor_key=extractor.config_key(),
                         vocabulary=vocabulary)
    if summary.quarantined or summary.extraction_failures:
        raise RuntimeError(
            f"{summary.quarantined} record(s) quarantined and {summary.extraction_failures} "
            "extraction failure(s) while building the evaluation store"
        )
    return store, summary


def read_store(store: Any) -> dict[str, list[dict[str, Any]]]:
    con = store.connect()
    try:
        last = con.execute("SELECT max(day) FROM snapshots").fetchone()[0]
        q = {
            "assertions": "SELECT assertion_id, doc_id, subject, subject_start, subject_end, "
                          "relation, object, object_start, object_end, context, confidence "
                          "FROM assertions ORDER BY doc_id, assertion_id",
            "mentions": "SELECT assertion_id, doc_id, role, surface, canonical FROM mentions",
            "links": "SELECT assertion_id, edge_id FROM links",
            "edges": "SELECT edge_id, subject, relation, object, context, support, confidence, "
                     "status FROM edges_as_of(?)",
        }
        out = {}
        for name, sql in q.items():
            rel = con.execute(sql, [last] if "?" in sql else None)
            cols = [d[0] for d in rel.description]
            out[name] = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
        out["as_of"] = [{"day": last}]
        return out
    finally:
        con.close()


# -- entity resolution with litkg's own rules ---------------------------------------------------
def resolve_gold_mentions(docs: list[GoldDocument]) -> dict[tuple[str, int, int], str | None]:
    """Entity key of every gold mention under litkg's resolution (canonical key + acronym
    rules), computed by the constructor's own SQL steps over the gold surfaces."""
    from litkg.construct import STEPS
    from litkg.store import load_macros

    steps = dict(STEPS)
    wanted = ("_defs", "_surfaces", "_mentions")
    missing = [s for s in wanted if s not in steps]
    if missing:  # pragma: no cover - guards against a renamed constructor step
        raise RuntimeError(f"constructor steps {missing} not found: update litkg.eval.harness")
    abbr, versions, raw = [], [], []
    for d in docs:
        versions.append({"doc_id": d.doc_id, "content_hash": d.doc_id, "since": d.published,
                         "live_from": d.published, "live_to": None})
        for ab in find_abbreviations(d.text):
            abbr.append({"doc_id": d.doc_id, "content_hash": d.doc_id, "day": d.published,
                         "short": ab.short, "long": ab.long, "start": ab.start})
        for m in d.mentions:
            raw.append({"assertion_id": f"{d.doc_id}|{m.start}|{m.end}", "doc_id": d.doc_id,
                        "content_hash": d.doc_id, "day": d.published,
                        "first_live": d.published, "role": "subject",
                        "surface": d.text[m.start:m.end], "entity_type": m.type})
    con = duckdb.connect()
    try:
        load_macros(con)
        con.register("_abbr", pa.Table.from_pylist(
            abbr, schema=schema.table("abbreviations").arrow_schema()))
        con.execute("CREATE TEMP TABLE _in_abbreviations AS SELECT * FROM _abbr")
        con.register("_v", pa.Table.from_pylist(versions, schema=pa.schema([
            ("doc_id", pa.string()), ("content_hash", pa.string()), ("since", pa.date32()),
            ("live_from", pa.date32()), ("live_to", pa.date32())])))
        con.execute("CREATE TEMP TABLE _doc_live_all AS SELECT * FROM _v")
        con.execute("CREATE TEMP TABLE _carriers AS SELECT doc_id, content_hash, since FROM _v")
        con.register("_r", pa.Table.from_pylist(raw, schema=pa.schema([
            ("assertion_id", pa.string()), ("doc_id", pa.string()),
            ("content_hash", pa.string()), ("day", pa.date32()), ("first_live", pa.date32()),
            ("role", pa.string()), ("surface", pa.string()), ("entity_type", pa.string())])))
        con.execute("CREATE TEMP TABLE _raw_mentions AS SELECT * FROM _r")
        for name in wanted:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {steps[name]}")
            if name == "_defs":
                con.execute("CREATE TEMP VIEW _defs_all AS SELECT * FROM _defs")
        rows = con.execute("SELECT assertion_id, entity_key FROM _mentions").fetchall()
    finally:
        con.close()
    keys: dict[tuple[str, int, int], str | None] = {}
    for r in raw:
        doc_id, s, e = r["assertion_id"].rsplit("|", 2)
        keys[(doc_id, int(s), int(e))] = None
    for aid, key in rows:
        doc_id, s, e = aid.rsplit("|", 2)
        keys[(doc_id, int(s), int(e))] = key
    return keys


def _resolution(items: list[tuple[Any, Any]]) -> dict[str, Any]:
    return {"pairwise": pairwise(items).as_dict(), "bcubed": bcubed(items), "items": len(items)}


# -- scoring -------------------------------------------------------------------------------------
def _arg_spans(a: dict[str, Any]) -> list[tuple[str, tuple[int, int], str]]:
    """(role, span, surface) of every argument of an assertion, contexts included."""
    out = [("subject", (a["subject_start"], a["subject_end"]), a["subject"]),
           ("object", (a["object_start"], a["object_end"]), a["object"])]
    for c in a["context"] or []:
        out.append((f"context:{c['qualifier']}", (c["start"], c["end"]), c["text"]))
    return out


def score(corpus: GoldCorpus, tables: dict[str, list[dict[str, Any]]],
          vocab: schema.Vocabulary) -> dict[str, Any]:
    mapping = label_map(vocab, corpus.dataset)
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for a in tables["assertions"]:
        by_doc.setdefault(a["doc_id"], []).append(a)
    store_key = {(m["assertion_id"], m["role"]): m["canonical"] for m in tables["mentions"]}
    sym = corpus.symmetric_labels

    rel_scores: dict[tuple[str, bool], list[Any]] = {(m, t): [] for m in MODES for t in (1, 0)}
    calib_conf: list[float] = []
    calib_ok: list[bool] = []
    assertion_ok: dict[str, bool] = {}
    mention_counts = {"gold": 0, "predicted": 0, "gold_found_strict": 0, "gold_found_relaxed": 0,
                      "predicted_matching_strict": 0, "predicted_matching_relaxed": 0}
    e2e_within: list[tuple[Any, Any]] = []
    e2e_corpus: list[tuple[Any, Any]] = []
    unmapped: dict[str, int] = {}

    for doc in corpus.documents:
        matcher = SpanMatcher(doc.text)
        golds = list(doc.relations)
        rows = by_doc.get(doc.doc_id, [])

        def idents(span: tuple[int, int], mode: str, _doc: GoldDocument = doc,
                   _m: SpanMatcher = matcher) -> frozenset[str]:
            return frozenset(i for g in _doc.mentions
                             if _m.match(span, (g.start, g.end), mode) for i in g.ids)

        for mode in MODES:
            typed_c, untyped_c = [], []
            for a in rows:
                label, swap = mapping.get(a["relation"], (None, False))
                if label is None and mode == MODES[0]:
                    unmapped[a["relation"]] = unmapped.get(a["relation"], 0) + 1
                s = (a["subject_start"], a["subject_end"])
                o = (a["object_start"], a["object_end"])
                if swap:
                    s, o = o, s
                hs, ts = idents(s, mode), idents(o, mode)
                if corpus.document_level:  # one prediction per concept pair in a document
                    ka = hs or ("surface", doc.text[s[0]:s[1]].lower())
                    kb = ts or ("surface", doc.text[o[0]:o[1]].lower())
                else:  # one prediction per mention pair
                    ka, kb = s, o
                pair = frozenset((ka, kb))
                typed_key = (label, pair) if label in sym else (label, ka, kb)
                conf = float(a["confidence"])
                typed_c.append(Candidate(hs, label, ts, conf, typed_key))
                untyped_c.append(Candidate(hs, None, ts, conf, pair))
                if mode == "relaxed":
                    cand = typed_c[-1]
                    assertion_ok[a["assertion_id"]] = any(compatible(cand, g, True) for g in golds)
            typed_c, untyped_c = dedupe(typed_c), dedupe(untyped_c)
            typed = score_triples(typed_c, golds, typed=True)
            rel_scores[(mode, 1)].append(typed)
            rel_scores[(mode, 0)].append(score_triples(untyped_c, golds, typed=False))
            if mode == "relaxed":
                calib_conf += [c.confidence for c in typed_c]
                calib_ok += typed.matched

        # mentions: every argument span the extractor produced
        pred_spans: dict[tuple[int, int], Any] = {}
        for a in rows:
            for role, span, _surface in _arg_spans(a):
                pred_spans.setdefault(span, store_key.get((a["assertion_id"], role)))
        mention_counts["gold"] += len(doc.mentions)
        mention_counts["predicted"] += len(pred_spans)
        for mode in MODES:
            mention_counts[f"gold_found_{mode}"] += sum(
                any(matcher.match(p, (g.start, g.end), mode) for p in pred_spans)
                for g in doc.mentions)
            mention_counts[f"predicted_matching_{mode}"] += sum(
                any(matcher.match(p, (g.start, g.end), mode) for g in doc.mentions)
                for p in pred_spans)
        # end-to-end resolution: each gold mention found by an extracted mention (the exact
        # span, else the relaxed match with the largest token overlap) gets that mention's key
        for g in doc.mentions:
            gspan = (g.start, g.end)
            best = None
            if gspan in pred_spans:
                best = gspan
            else:
                gt = set(matcher.token_ids(*gspan))
                cands = [p for p in pred_spans if matcher.match(p, gspan, "relaxed")]
                if cands:
                    best = max(cands, key=lambda p: (len(gt & set(matcher.token_ids(*p))),
                                                     -p[0], -p[1]))
            if best is None or pred_spans[best] is None:
                continue
            key = pred_spans[best]
            e2e_within.append(((doc.doc_id, key), (doc.doc_id, g.entity)))
            e2e_corpus.append((key, global_entity(doc.doc_id, g.entity)))

    relations: dict[str, Any] = {}
    for mode in MODES:
        per = merge_scores(rel_scores[(mode, 1)])
        micro = PRF(0, 0, 0)
        for v in per.values():
            micro = micro + v
        untyped = merge_scores(rel_scores[(mode, 0)])
        relations[mode] = {
            "typed": {"micro": micro.as_dict(),
                      "per_label": {k: per[k].as_dict() for k in _label_order(corpus, per)}},
            "untyped": sum(untyped.values(), PRF(0, 0, 0)).as_dict(),
        }

    # resolution of the gold mentions themselves by litkg's rules
    keys = resolve_gold_mentions(corpus.documents)
    gold_within, gold_corpus = [], []
    for doc in corpus.documents:
        for g in doc.mentions:
            key = keys.get((doc.doc_id, g.start, g.end)) or f"<none>{doc.doc_id}|{g.start}"
            gold_within.append(((doc.doc_id, key), (doc.doc_id, g.entity)))
            gold_corpus.append((key, global_entity(doc.doc_id, g.entity)))
    resolution = {
        "resolver_on_gold_mentions": {"within_document": _resolution(gold_within)},
        "end_to_end": {"within_document": _resolution(e2e_within)},
    }
    if corpus.document_level:  # concept ids are global: cross-document decisions count too
        resolution["resolver_on_gold_mentions"]["corpus"] = _resolution(gold_corpus)
        resolution["end_to_end"]["corpus"] = _resolution(e2e_corpus)

    # graph: edges in force on the last day, correct when one of their assertions matches gold
    edge_ok: dict[str, bool] = {}
    for link in tables["links"]:
        edge_ok[link["edge_id"]] = edge_ok.get(link["edge_id"], False) or assertion_ok.get(
            link["assertion_id"], False)
    edges = tables["edges"]
    graph = {
        "as_of": str(tables["as_of"][0]["day"]),
        "edges": len(edges),
        "by_support": precision_by_support(
            (int(e["support"]), edge_ok.get(e["edge_id"], False)) for e in edges),
    }
    e_conf = [float(e["confidence"]) for e in edges]
    e_ok = [edge_ok.get(e["edge_id"], False) for e in edges]
    calibration = {
        "assertions": {"n": len(calib_conf), "ece": ece(calib_conf, calib_ok),
                       "bins": reliability(calib_conf, calib_ok)},
        "edges": {"n": len(e_conf), "ece": ece(e_conf, e_ok), "bins": reliability(e_conf, e_ok)},
    }
    return {
        "mapping": {k: v[0] for k, v in mapping.items()},
        "unmapped_predictions": unmapped,
        "relations": relations,
        "mentions": mention_counts,
        "resolution": resolution,
        "calibration": calibration,
        "graph": graph,
    }


def _label_order(corpus: GoldCorpus, per: dict[str, PRF]) -> list[str]:
    known = [lab for lab in corpus.labels if lab in per]
    return known + sorted(k for k in per if k not in corpus.labels)


def evaluate(dataset: str, path: str | Path, *, extractor: Any, vocabulary: str | None = None,
             limit: int | None = None, workdir: str | Path | None = None) -> dict[str, Any]:
    """Load a gold split, run the pipeline over it with `extractor`, score: the result dict
    (JSON-serialisable) that the report renders."""
    vocabulary = vocabulary or DEFAULT_VOCABULARY[dataset]
    vocab = schema.vocabulary(vocabulary)
    corpus = load_corpus(dataset, path, limit)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="litkg-eval-", dir=workdir) as tmp:
        store, summary = build_store(corpus, extractor, vocabulary, Path(tmp))
        tables = read_store(store)
    built = time.perf_counter() - t0
    result = score(corpus, tables, vocab)
    days = sorted({d.published for d in corpus.documents})
    result.update({
        "dataset": dataset,
        "path": str(path),
        "split": Path(path).name,
        "extractor": {"name": getattr(extractor, "name", "?"),
                      "version": getattr(extractor, "version", "?"),
                      "config": extractor.config_key(),
                      "model": (str(extractor.model_dir) if hasattr(extractor, "model_dir")
                                else None)},
        "vocabulary": vocab.name,
        "corpus": {**corpus.counts(), "first_day": str(days[0]) if days else None,
                   "last_day": str(days[-1]) if days else None, "days": len(days),
                   "dating": corpus.dating, "document_level": corpus.document_level},
        "run": {"assertions": summary.assertions, "pipeline_s": round(built, 2),
                "stage_s": summary.stage_seconds,
                "score_s": round(time.perf_counter() - t0 - built, 2)},
        "generated": date.today().isoformat(),
    })
    return result
