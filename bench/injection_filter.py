"""False-positive rate of the injection filter on real abstracts, against the previous filter.

Every sentence of the SciERC (train, dev) and BioRED (train, dev) abstracts in ../shared/data is
a finding, not an instruction: the share flagged is the filter's false-positive rate (a flagged
sentence never counts as evidence, so its triples are lost). Recall is measured on the
handwritten injections of tests/injection_corpus.py, with its tricky findings as a second
false-positive set.

    .venv/bin/python bench/injection_filter.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from litkg.extractors.llm.grounding import is_instruction_like, sentence_spans

from litkg.eval import biored, scierc

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))
from injection_corpus import FINDINGS, INJECTIONS  # noqa: E402

#: The filter before issue 14 (baseline).
PREVIOUS = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|"
    r"above|previous|prior)\b"
    r"|\b(?:system|developer)\s+(?:prompt|message)\b"
    r"|\byou\s+(?:are\s+now|must\s+now|should\s+now)\b"
    r"|\b(?:new|updated)\s+instructions?\s*:"
    r"|\b(?:output|return|respond\s+with|print|emit|add)\b.{0,30}\b(?:triples?|json)\b",
    re.IGNORECASE | re.DOTALL,
)


def sentences() -> list[str]:
    texts = []
    for name in ("train.json", "dev.json"):
        texts += [d.text for d in scierc.load(DATA / "scierc" / name).documents]
    for name in ("Train.PubTator", "Dev.PubTator"):
        texts += [d.text for d in biored.load(DATA / "biored" / name).documents]
    return [t[s:e] for t in texts for s, e in sentence_spans(t)]


def main() -> None:
    real = sentences()
    rows = []
    for name, flagged in (("previous", lambda s: PREVIOUS.search(s) is not None),
                          ("current", is_instruction_like)):
        fp_real = [s for s in real if flagged(s)]
        fp_tricky = [s for s in FINDINGS if flagged(s)]
        caught = sum(flagged(s) for s in INJECTIONS)
        rows.append((name, len(fp_real), len(fp_tricky), caught, fp_real[:5]))
    print(f"{len(real)} sentences of real abstracts (SciERC + BioRED), {len(FINDINGS)} tricky "
          f"findings, {len(INJECTIONS)} injections\n")
    print("| filter | false positives, real abstracts | false positives, tricky findings | "
          "injections caught |")
    print("|---|---|---|---|")
    for name, fp, tricky, caught, _ in rows:
        print(f"| {name} | {fp} ({fp / len(real):.3%}) | {tricky}/{len(FINDINGS)} | "
              f"{caught}/{len(INJECTIONS)} |")
    for name, _, _, _, examples in rows:
        for s in examples:
            print(f"  {name} flags: {s[:110]}")


if __name__ == "__main__":
    main()
