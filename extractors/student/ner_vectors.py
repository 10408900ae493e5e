"""Static vectors for the student's NER: a spaCy component that gives unseen words theirs.

With static vectors (`litkg train ... --vectors N`), the NER's token encoder embeds each word's
static vector (spaCy's `include_static_vectors`, keyed by the word's text) beside its hashed
norm, prefix, suffix and shape. The pipeline's vectors table is filled at training time for
the words of the training and dev texts; the `student_vectors` component, in front of the
`ner`, adds the vector of any other word as documents come (from the word-piece table, see
`vectors`), so the NER never sees an unknown word as a zero vector. It runs inside the spaCy
pipeline, hence in every worker process of `nlp.pipe(n_process=...)`. Its `WordVectors` are
attached after loading (`attach`): they live once, in the model directory's `vectors.npz`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from litkg.extractors.student.vectors import WordVectors
from spacy.language import Language
from spacy.vectors import Vectors

NAME = "student_vectors"
#: most rows the table grows to while extracting (64 dims: ~50 MB); later new words get none
MAX_ROWS = 200_000


class Attached:
    """A spaCy component whose state is attached after loading (from the model directory's own
    files): nothing to serialise with the pipeline."""

    def to_disk(self, path: Any, *, exclude: Iterable[str] = ()) -> None:
        return None

    def from_disk(self, path: Any, *, exclude: Iterable[str] = ()) -> Attached:
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return b""

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> Attached:
        return self


class StudentVectors(Attached):
    """Adds the static vector of each word not yet in the vocabulary's vectors table (the
    table is in the vocab, the word pieces in vectors.npz)."""

    def __init__(self, nlp: Language, name: str) -> None:
        self.vocab = nlp.vocab
        self.vectors: WordVectors | None = None

    def __call__(self, doc: Any) -> Any:
        if self.vectors is not None:
            add_words(self.vocab, self.vectors, (t.text for t in doc))
        return doc


@Language.factory(NAME)
def make_student_vectors(nlp: Language, name: str) -> StudentVectors:
    return StudentVectors(nlp, name)


def fill(vocab: Any, vectors: WordVectors, words: Iterable[str]) -> None:
    """Replace the vocabulary's vectors table by one holding these words' vectors."""
    words = sorted(set(words))
    keys = [vocab.strings.add(w) for w in words]
    vocab.vectors = Vectors(strings=vocab.strings, data=np.ascontiguousarray(
        vectors.words(words), dtype=np.float32), keys=keys)


def add_words(vocab: Any, vectors: WordVectors, words: Iterable[str]) -> None:
    table = vocab.vectors
    new = {w for w in words if vocab.strings.add(w) not in table}
    if not new:
        return
    if table.n_keys + len(new) > table.shape[0]:  # grow geometrically, up to MAX_ROWS
        rows = min(max(2 * table.shape[0], table.n_keys + len(new)), MAX_ROWS)
        if rows > table.shape[0]:
            table.resize((rows, table.shape[1]))
    for w in sorted(new):
        if table.n_keys >= table.shape[0]:
            break
        table.add(vocab.strings[w], vector=vectors.vector(w))


def attach(nlp: Language, vectors: WordVectors) -> None:
    """Give a loaded pipeline's `student_vectors` component its word pieces."""
    if NAME in nlp.pipe_names:
        nlp.get_pipe(NAME).vectors = vectors
