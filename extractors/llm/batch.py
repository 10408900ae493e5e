"""Batch mode for a GPU node: vLLM in-process (`vllm.LLM(...).generate`), no HTTP.

Same prompt, JSON schema (structured outputs), sampling rounds, parsing, scoring, grounding and
response cache as the HTTP path (`DocumentJob`, `finalize`, `LLMExtractor.plan/assemble`): each
round is one `generate` call over every document still undecided, with `SamplingParams(n=...)`
per document. vLLM is an optional extra (`pip install 'litkg[vllm]'`), imported only when an
engine is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
from litkg.extractors.base import ExtractionResult
from litkg.extractors.llm.client import Completion
from litkg.extractors.llm.config import LLMConfig
from litkg.extractors.llm.extractor import LLMExtractor
from litkg.extractors.llm.prompt import response_schema
from litkg.extractors.llm.scoring import DocumentJob

#: (messages, n, seed) of one document's next round.
GenerationRequest = tuple[list[dict[str, str]], int, int | None]
ParamsFactory = Callable[[int, int | None], Any]


def import_vllm() -> Any:
    """The vllm module, or an ImportError that says how to get it."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            "the in-process batch extractor needs vLLM (a GPU node): "
            "pip install 'litkg[vllm]', or use LLMExtractor against a `vllm serve` endpoint"
        ) from exc
    return vllm


def structured_params_factory(config: LLMConfig, schema: dict[str, Any]) -> ParamsFactory:
    """A function (n, seed) -> vllm.SamplingParams with JSON-schema structured output."""
    vllm = import_vllm()
    common = config.generation_fields()  # every field explicit, as over HTTP
    try:  # vLLM >= 0.10.2
        from vllm.sampling_params import StructuredOutputsParams

        def make(n: int, seed: int | None) -> Any:
            return vllm.SamplingParams(
                n=n, seed=seed, structured_outputs=StructuredOutputsParams(json=schema), **common
            )
    except ImportError:  # older vLLM
        from vllm.sampling_params import GuidedDecodingParams

        def make(n: int, seed: int | None) -> Any:
            return vllm.SamplingParams(
                n=n, seed=seed, guided_decoding=GuidedDecodingParams(json=schema), **common
            )

    return make


class VLLMSampler:
    """Generates one round for many documents in a single `generate` call."""

    def __init__(self, llm: Any, make_params: ParamsFactory):
        self.llm = llm
        self.make_params = make_params
        self._tokenizer = llm.get_tokenizer()

    def prompt(self, messages: list[dict[str, str]]) -> str:
        """The chat template applied to the messages, ready for generation."""
        return self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        prompts = [self.prompt(messages) for messages, _, _ in requests]
        params = [self.make_params(n, seed) for _, n, seed in requests]
        started = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        elapsed = time.perf_counter() - started
        completions = []
        for out in outputs:
            samples = list(out.outputs)
            completions.append(
                Completion(
                    texts=[s.text for s in samples],
                    finish_reasons=[s.finish_reason for s in samples],
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=sum(len(s.token_ids) for s in samples),
                    latency_s=elapsed,
                )
            )
        return completions


class VLLMBatchExtractor(LLMExtractor):
    """The LLM extractor with an in-process vLLM engine (same name, version and outputs).

    `llm` and `make_params` may be given (an engine already built, or a stand-in in tests);
    otherwise `vllm.LLM(model=config.model, **engine_kwargs)` is built on first use.
    """

    def __init__(
        self,
        config: LLMConfig | None = None,
        *,
        llm: Any = None,
        make_params: ParamsFactory | None = None,
        engine_kwargs: dict[str, Any] | None = None,
        **overrides: Any,
    ):
        super().__init__(config, **overrides)
        self._llm = llm
        self._make_params = make_params
        self._engine_kwargs = engine_kwargs or {}
        self._sampler: VLLMSampler | None = None

    def sampler(self) -> VLLMSampler:
        """The engine wrapper, built on first use."""
        if self._sampler is None:
            llm = self._llm
            if llm is None:
                llm = import_vllm().LLM(model=self.config.model, **self._engine_kwargs)
            make = self._make_params or structured_params_factory(
                self.config, response_schema(self.vocab, self.config.max_triples)
            )
            self._sampler = VLLMSampler(llm, make)
        return self._sampler

    def extract(self, documents: pa.Table) -> ExtractionResult:
        jobs, todo = self.plan(documents)
        if todo:
            try:
                self.sample_rounds(todo)
            finally:
                self.persist(todo)
        return self.assemble(jobs, todo)

    def sample_rounds(self, jobs: list[DocumentJob]) -> None:
        """Rounds over all undecided documents until every one is decided (or failed)."""
        sampler = self.sampler()
        while True:
            pending = [(job, n) for job in jobs if (n := job.next_n()) > 0]
            if not pending:
                return
            completions = sampler.generate(
                [(job.messages, n, job.next_seed()) for job, n in pending]
            )
            for (job, n), completion in zip(pending, completions, strict=True):
                job.add_round(n, completion)
                job.wall_s += completion.latency_s
