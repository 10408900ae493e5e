"""Evaluation against annotated corpora (SciERC, BioRED): loaders, scoring, report.

`litkg eval DATASET PATH` runs the real pipeline over a split and scores what it built; see
`harness.evaluate`. Scoring functions are pure (`scoring`); loaders turn each format into a
`corpus.GoldCorpus` whose documents can also be written as dated litkg input (`litkg convert`).
"""
