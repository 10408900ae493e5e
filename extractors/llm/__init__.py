"""The production extractor: an LLM behind an OpenAI-compatible endpoint (vLLM), confidence by
sampling agreement. One module per job: config, client (HTTP, preflight, outage detection),
prompt (instructions, JSON schema, parsing), sampling (agreement and the sequential policy),
grounding (spans, negation/hedging, injection filter), cache (raw samples in Parquet), batch
(in-process vLLM) and extractor (the protocol implementation tying them together)."""

from litkg.extractors.llm.extractor import (
    LLMExtractor,
    extra_schema,
    run_sync,
)

__all__ = ["LLMExtractor", "extra_schema", "run_sync"]
