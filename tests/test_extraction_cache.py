"""The caches (extractions, LLM samples) stay a few files however many days they have seen,
and return exactly what was put, also while other threads put, merge and look up at once."""

from __future__ import annotations

import threading
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from litkg.extractors.base import extraction_schema
from litkg.extractors.llm.cache import Sample, SampleStore, cache_key

from litkg.extraction_cache import ExtractionCache
from litkg.store import tiers

KEY = "scripted|v1"


def assertions(n_docs: int, per_doc: int, tag: str) -> tuple[list[str], pa.Table]:
    """`n_docs` content hashes and `per_doc` assertions for each (none for every third)."""
    hashes = [f"{tag}-{i}" for i in range(n_docs)]
    rows = [
        {"doc_id": f"doc:{h}", "content_hash": h, "subject": f"s{j}", "subject_start": 0,
         "subject_end": 2, "subject_type": None, "relation": "used-for", "object": f"o{j}",
         "object_start": 3, "object_end": 5, "object_type": None, "context": [],
         "evidence": "s used for o", "evidence_start": 0, "evidence_end": 12,
         "confidence": 0.5, "extractor": "scripted", "extractor_version": "1"}
        for i, h in enumerate(hashes) if i % 3 for j in range(per_doc)]
    return hashes, pa.Table.from_pylist(rows, schema=extraction_schema())


def rows_of(table: pa.Table) -> set[tuple]:
    return {tuple((k, str(v)) for k, v in r.items()) for r in table.to_pylist()}


@pytest.fixture
def small_fanout(monkeypatch):
    monkeypatch.setattr(tiers, "FANOUT", 3)


def test_many_puts_leave_a_few_files_per_level_and_lookups_return_every_row(tmp_path,
                                                                           small_fanout):
    cache = ExtractionCache(tmp_path)
    expected: set[tuple] = set()
    all_hashes: list[str] = []
    for day in range(40):  # 40 nightly puts
        hashes, table = assertions(4, 2, f"d{day}")
        cache.put(KEY, hashes, table)
        expected |= rows_of(table)
        all_hashes += hashes
    files = list(cache._dir(KEY).glob("*.parquet"))
    levels = [tiers.level(f) for f in files]
    assert all(levels.count(level) <= 3 for level in set(levels))
    assert len(files) < 40 and max(levels) >= 2  # merged, and merged again
    found, covered = cache.lookup(KEY, all_hashes)
    assert covered == set(all_hashes)  # documents without assertions are cached too
    assert rows_of(found) == expected
    some = all_hashes[5:9]
    found, covered = cache.lookup(KEY, some)
    assert covered == set(some)
    assert rows_of(found) == {r for r in expected if dict(r)["content_hash"] in some}


def test_files_of_an_older_litkg_are_merged_and_still_found(tmp_path, small_fanout):
    cache = ExtractionCache(tmp_path)
    folder = cache._dir(KEY)
    folder.mkdir(parents=True)
    old_hashes, old = assertions(3, 1, "old")
    # the older layout: one <uuid>.parquet per put, the marker rows' _covers column beside
    marker = pa.table({**{n: pa.nulls(3, f.type) for n, f in
                          zip(extraction_schema().names, extraction_schema(), strict=True)},
                       "_covers": pa.array(old_hashes)})
    rows = old.append_column("_covers", pa.nulls(old.num_rows, pa.string()))
    pq.write_table(pa.concat_tables([rows, marker.cast(rows.schema)]),
                   folder / f"{uuid.uuid4().hex}.parquet")
    for day in range(4):
        cache.put(KEY, *assertions(2, 1, f"new{day}"))
    assert not [f for f in folder.glob("*.parquet") if not f.name.startswith("L")]
    found, covered = cache.lookup(KEY, old_hashes)
    assert covered == set(old_hashes) and rows_of(found) == rows_of(old)


def test_threads_putting_and_looking_up_at_once_lose_nothing(tmp_path, small_fanout):
    cache = ExtractionCache(tmp_path)
    errors: list[BaseException] = []
    put: dict[str, set[tuple]] = {}

    def worker(w: int) -> None:
        try:
            for day in range(15):
                hashes, table = assertions(3, 2, f"w{w}d{day}")
                cache.put(KEY, hashes, table)
                put[f"w{w}d{day}"] = rows_of(table)
                found, covered = cache.lookup(KEY, hashes)  # while others merge
                assert covered == set(hashes) and rows_of(found) == rows_of(table)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [f"w{w}d{d}-{i}" for w in range(6) for d in range(15) for i in range(3)]
    found, covered = cache.lookup(KEY, every)
    assert covered == set(every)
    assert rows_of(found) == set().union(*put.values())
    assert len(list(cache._dir(KEY).glob("*.parquet"))) < 6 * 15


def test_the_llm_sample_store_merges_a_nights_writes_and_keeps_every_stream(tmp_path,
                                                                           small_fanout):
    store = SampleStore(tmp_path)

    def row(key: str, idx: int) -> dict:
        return {"key": key, "idx": idx, "text": f"{key}:{idx}", "finish_reason": "stop",
                "request": "r", "prompt_tokens": 0, "completion_tokens": 0, "model": "m"}

    keys = [cache_key(doc=i) for i in range(30)]
    for i, key in enumerate(keys):  # a backfill: one write per day
        store.put([row(key, n) for n in range(1 + i % 3)])
    assert len(store.files()) < 30
    assert len(store) == sum(1 + i % 3 for i in range(30))
    got = store.get_many(keys)
    assert got == {k: [Sample(f"{k}:{n}", "stop") for n in range(1 + i % 3)]
                   for i, k in enumerate(keys)}
