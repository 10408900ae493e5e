"""Exports of the graph as of a day, with contexts and provenance:

- `graphml`: one file that networkx (`nx.read_graphml`), Gephi or yEd read; a directed
  multigraph (one edge per claim and context), typed attributes, evidence as JSON text;
- `neo4j`: a folder of `neo4j-admin database import full` CSVs with typed headers
  (entities.csv: nodes, claims.csv: relationships) and import.sh, the command that loads them;
- `jsonl`: one JSON object per claim with all of its evidence (sentence, document, link).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import polars as pl

from litkg.graph import Graph
from litkg.view import queries

FORMATS = ("graphml", "neo4j", "jsonl")


def edges(graph: Graph, as_of: date) -> pl.DataFrame:
    """Every claim in force on `as_of` with its provenance and all of its evidence."""
    return queries.run(graph, "export_edges", {"d": as_of, "per_edge": None},
                       prefix=f"WITH ev AS ({queries.sql_file('evidence')}) ")


def entities(graph: Graph, as_of: date) -> pl.DataFrame:
    """The entities known on `as_of`, with their aliases and acronyms."""
    return queries.run(graph, "export_entities", {"d": as_of})


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_jsonl(graph: Graph, as_of: date, out: Path) -> dict[str, int]:
    rows = edges(graph, as_of)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows.iter_rows(named=True):
            row["as_of"] = as_of
            fh.write(json.dumps(_jsonable(row), ensure_ascii=False) + "\n")
    return {"edges": rows.height}


# -- GraphML -----------------------------------------------------------------------------------
_NODE_KEYS = {"name": "string", "canonical": "string", "entity_type": "string",
              "first_seen": "string", "mention_count": "long", "doc_count": "long",
              "aliases": "string"}
_EDGE_KEYS = {"relation": "string", "context": "string", "confidence": "double",
              "support": "long", "evidence_count": "long", "status": "string",
              "contested_by": "string", "valid_from": "string", "first_seen": "string",
              "last_evidence_doc": "string", "evidence_docs": "string", "evidence": "string"}


def _data(key: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return f'<data key={quoteattr(key)}>{escape(str(value))}</data>'


def write_graphml(graph: Graph, as_of: date, out: Path) -> dict[str, int]:
    nodes, claims = entities(graph, as_of), edges(graph, as_of)
    with out.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
        for kind, keys in (("node", _NODE_KEYS), ("edge", _EDGE_KEYS)):
            for key, typ in keys.items():
                fh.write(f'  <key id="{key}" for="{kind}" attr.name="{key}" '
                         f'attr.type="{typ}"/>\n')
        fh.write(f'  <graph id="litkg-{as_of}" edgedefault="directed">\n')
        for n in nodes.iter_rows(named=True):
            data = "".join(_data(k, n[k]) for k in _NODE_KEYS)
            fh.write(f"    <node id={quoteattr(n['entity_id'])}>{data}</node>\n")
        for e in claims.iter_rows(named=True):
            e["evidence_docs"] = sorted({ev["doc_id"] for ev in e["evidence"]})
            e["evidence"] = json.dumps(_jsonable(e["evidence"]), ensure_ascii=False)
            data = "".join(_data(k, e[k]) for k in _EDGE_KEYS)
            fh.write(f"    <edge id={quoteattr(e['edge_id'])} source={quoteattr(e['subject_id'])}"
                     f" target={quoteattr(e['object_id'])}>{data}</edge>\n")
        fh.write("  </graph>\n</graphml>\n")
    return {"nodes": nodes.height, "edges": claims.height}


# -- Neo4j -------------------------------------------------------------------------------------
ENTITY_HEADER = ["entityId:ID(Entity)", "name", "canonical", "type", "firstSeen:date",
                 "mentionCount:long", "docCount:long", "aliases:string[]", ":LABEL"]
CLAIM_HEADER = [":START_ID(Entity)", ":END_ID(Entity)", ":TYPE", "edgeId", "relation",
                "context", "confidence:double", "support:long", "evidenceCount:long", "status",
                "contestedBy", "validFrom:date", "firstSeen:date", "evidenceDocs:string[]",
                "evidenceSentence", "evidenceUrl"]
IMPORT_SH = """#!/bin/sh
# Load this folder into a new Neo4j database (Neo4j 5: stop the database first).
neo4j-admin database import full --overwrite-destination \\
    --nodes=Entity="$(dirname "$0")/entities.csv" \\
    --relationships="$(dirname "$0")/claims.csv" \\
    --array-delimiter=';' "${1:-neo4j}"
"""


def _array(col: str) -> pl.Expr:
    """A list column as a Neo4j array cell (';' inside an element becomes ',')."""
    return pl.col(col).list.eval(pl.element().cast(pl.Utf8).str.replace_all(";", ",")) \
        .list.join(";")


def relationship_type(relation: str) -> str:
    """A relation as a Neo4j relationship type: used-for -> USED_FOR."""
    return "".join(ch if ch.isalnum() else "_" for ch in relation).upper()


def write_neo4j(graph: Graph, as_of: date, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    nodes = entities(graph, as_of).select(
        pl.col("entity_id"), "name", "canonical", pl.col("entity_type").fill_null(""),
        pl.col("first_seen").cast(pl.Utf8), "mention_count", "doc_count", _array("aliases"),
        pl.concat_str(pl.lit("Entity"), pl.col("entity_type").map_elements(
            lambda t: ";" + relationship_type(t).title().replace("_", ""),
            return_dtype=pl.Utf8).fill_null("")).alias("label"))
    nodes.columns = ENTITY_HEADER
    nodes.write_csv(out / "entities.csv")
    claims = edges(graph, as_of).with_columns(
        pl.col("evidence").list.eval(pl.element().struct.field("doc_id")).list.unique()
        .list.sort().alias("docs"),
        pl.col("evidence").list.first().struct.field("sentence").alias("sentence"),
        pl.col("evidence").list.first().struct.field("url").alias("url"),
    ).select(
        "subject_id", "object_id",
        pl.col("relation").map_elements(relationship_type, return_dtype=pl.Utf8).alias("type"),
        "edge_id", "relation", "context", "confidence", "support", "evidence_count", "status",
        pl.col("contested_by").fill_null(""), pl.col("valid_from").cast(pl.Utf8),
        pl.col("first_seen").cast(pl.Utf8), _array("docs"), pl.col("sentence").fill_null(""),
        pl.col("url").fill_null(""))
    claims.columns = CLAIM_HEADER
    claims.write_csv(out / "claims.csv")
    (out / "import.sh").write_text(IMPORT_SH, encoding="utf-8")
    (out / "import.sh").chmod(0o755)
    return {"nodes": nodes.height, "edges": claims.height}


def export(graph: Graph, fmt: str, out: Path, as_of: date) -> dict[str, int]:
    """Write the graph of `as_of` to `out` (a folder for neo4j, a file otherwise)."""
    writers = {"graphml": write_graphml, "neo4j": write_neo4j, "jsonl": write_jsonl}
    if fmt not in writers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt != "neo4j":
        out.parent.mkdir(parents=True, exist_ok=True)
    return writers[fmt](graph, as_of, out)
