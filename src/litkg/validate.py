"""Extractor output is checked before it is stored: an assertion with a confidence outside
[0, 1] (or none), an empty argument or qualifier, or a relation the vocabulary does not know is
rejected with a reason (quarantined, counted in the run summary), never stored."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from litkg import schema
from litkg.store.arrow import scratch

_REASON = """
CASE
    WHEN confidence IS NULL OR isnan(confidence) OR confidence < 0 OR confidence > 1
        THEN 'confidence ' || coalesce(CAST(confidence AS VARCHAR), 'NULL') || ' outside [0, 1]'
    WHEN subject IS NULL OR trim(subject) = '' THEN 'empty subject'
    WHEN object IS NULL OR trim(object) = '' THEN 'empty object'
    WHEN relation IS NULL OR relation NOT IN (SELECT relation FROM _known)
        THEN 'relation ' || coalesce('''' || relation || '''', 'NULL')
             || ' not in vocabulary ' || $vocab
    WHEN len(list_filter(coalesce(context, []),
                         c -> c.text IS NULL OR trim(c.text) = ''
                              OR c.qualifier IS NULL OR trim(c.qualifier) = '')) > 0
        THEN 'empty context qualifier or value'
END
"""


def validate_assertions(
    assertions: pa.Table, vocab: schema.Vocabulary
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """(the valid assertions, one {doc_id, reason, raw} per rejected assertion)."""
    if assertions.num_rows == 0:
        return assertions, []
    with scratch() as con:
        con.register("_a", assertions)
        con.register("_known", pa.table({"relation": list(vocab.relations)}))
        con.execute(
            f"CREATE TEMP TABLE _checked AS SELECT *, {_REASON} AS _reason FROM _a",
            {"vocab": vocab.name},
        )
        valid = con.execute(
            "SELECT * EXCLUDE (_reason) FROM _checked WHERE _reason IS NULL"
        ).to_arrow_table()
        rejected = con.execute(
            """
            SELECT doc_id, 'assertion rejected: ' || _reason || ' (' || coalesce(subject, '')
                   || ' | ' || coalesce(relation, '') || ' | ' || coalesce(object, '') || ')'
                   AS reason,
                   to_json({subject: subject, relation: relation, object: object,
                            confidence: confidence, evidence: evidence})::VARCHAR AS raw
            FROM _checked WHERE _reason IS NOT NULL ORDER BY ALL
            """
        ).fetchall()
    return valid.cast(assertions.schema), [
        {"doc_id": d, "reason": r, "raw": raw} for d, r, raw in rejected
    ]
