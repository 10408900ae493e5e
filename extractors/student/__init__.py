"""The student: a CPU extractor trained on gold corpora or distilled from a teacher's store.

`train` builds a model directory; `StudentExtractor` (in `extractor`) runs it in the pipeline.
"""
