"""The in-process vLLM batch path shares prompts, rounds, scoring, grounding and cache with HTTP.

vLLM is not installed here: a stand-in engine with vLLM's `generate` interface plays the model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litkg.extractors.llm import LLMExtractor
from litkg.extractors.llm.batch import VLLMBatchExtractor, import_vllm
from llm_server import (
    ScriptedServer,
    abstract_of,
    answer,
    documents,
    pattern_responder,
    triple,
    with_counts,
)

ABSTRACTS = (
    "FooNet outperforms ResNet on ImageNet. We release code.",
    "ModelA outperforms ModelB on SetC.",
)


@dataclass
class _Sample:
    text: str
    token_ids: list[int]
    finish_reason: str = "stop"


@dataclass
class _Output:
    prompt_token_ids: list[int]
    outputs: list[_Sample]


class _Tokenizer:
    def apply_chat_template(
        self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool
    ) -> str:
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


@dataclass
class FakeLLM:
    """vLLM's `LLM.generate(prompts, sampling_params)`: samples from `respond(prompt, n)`."""

    respond: Callable[[str, int], list[str]]
    calls: list[list[tuple[str, Any]]] = field(default_factory=list)

    def get_tokenizer(self) -> _Tokenizer:
        return _Tokenizer()

    def generate(self, prompts: list[str], params: list[Any], use_tqdm: bool = True) -> list[Any]:
        self.calls.append(list(zip(prompts, params, strict=True)))
        return [
            _Output(
                list(range(len(p) // 4)),
                [_Sample(t, list(range(len(t) // 4))) for t in self.respond(p, sp["n"])],
            )
            for p, sp in zip(prompts, params, strict=True)
        ]


def pattern_model(prompt: str, n: int) -> list[str]:
    """The same stand-in model as the loopback server's pattern responder."""
    user = prompt.split("<|user|>\n", 1)[1]
    body = {"messages": [{"role": "user", "content": user.rsplit("\n<|assistant|>", 1)[0]}]}
    reply = pattern_responder(body)
    assert isinstance(reply.contents, list)
    return [reply.contents[i % len(reply.contents)] for i in range(n)]  # type: ignore[misc]


def params(n: int, seed: int | None) -> dict[str, Any]:
    return {"n": n, "seed": seed}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(responder=pattern_responder) as s:
        s.models = [{"id": "m", "object": "model"}]
        yield s


def test_batch_and_http_paths_give_the_same_assertions(
    server: ScriptedServer, tmp_path: Path
) -> None:
    docs = documents(*ABSTRACTS)
    http = LLMExtractor(env={}, urls=[server.url], model="m", cache=False).extract(docs)
    llm = FakeLLM(pattern_model)
    batch = VLLMBatchExtractor(env={}, model="m", cache=False, llm=llm, make_params=params)
    result = batch.extract(docs)
    assert result.assertions.equals(http.assertions)
    assert result.assertions.num_rows == 2
    assert len(llm.calls) == 1 and [p["n"] for _, p in llm.calls[0]] == [4, 4]  # k0
    assert batch.version == LLMExtractor(env={}, model="m", cache=False).version


def test_batch_rounds_carry_only_undecided_documents(tmp_path: Path) -> None:
    a = triple("FooNet", "outperforms", "ResNet", [("dataset", "ImageNet")])

    def model(prompt: str, n: int) -> list[str]:
        if "FooNet" in prompt:
            return [answer(a)] * n  # decisive
        return with_counts(n, {"x": 6 * n // 10}, {"x": triple("ModelA", "outperforms", "ModelB")})

    llm = FakeLLM(model)
    extractor = VLLMBatchExtractor(env={}, model="m", cache=False, llm=llm, make_params=params,
                                   k0=10, k_step=10, k_max=30)
    result = extractor.extract(documents(*ABSTRACTS))
    assert [len(call) for call in llm.calls] == [2, 1, 1]
    usage = {u["doc_id"]: u for u in result.extras["llm_usage"].to_pylist()}
    assert usage["doc:0"]["rounds"] == 1 and usage["doc:1"]["rounds"] == 3
    assert usage["doc:1"]["samples"] == 30
    seeds = [p["seed"] for call in llm.calls for _, p in call]
    assert seeds == [None, None, None, None]


def test_batch_results_are_cached_for_the_http_path(
    server: ScriptedServer, tmp_path: Path
) -> None:
    docs = documents(*ABSTRACTS)
    batch = VLLMBatchExtractor(env={}, model="m", cache_dir=tmp_path, llm=FakeLLM(pattern_model),
                               make_params=params)
    first = batch.extract(docs)
    http = LLMExtractor(env={}, urls=[server.url], model="m", cache_dir=tmp_path).extract(docs)
    assert server.completions() == []
    assert http.assertions.equals(first.assertions)


def test_batch_malformed_output_is_quarantined(tmp_path: Path) -> None:
    llm = FakeLLM(lambda prompt, n: ["{oops"] * n)
    result = VLLMBatchExtractor(env={}, model="m", cache=False, llm=llm,
                                make_params=params).extract(documents(ABSTRACTS[0]))
    assert len(llm.calls) == 2 and result.failures[0].raw == "{oops"


def test_missing_vllm_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(ImportError, match=r"litkg\[vllm\]"):
        import_vllm()
    extractor = VLLMBatchExtractor(env={}, model="m", cache=False)  # no import until used
    with pytest.raises(ImportError, match=r"litkg\[vllm\]"):
        extractor.extract(documents(ABSTRACTS[0]))


def test_stand_in_prompt_carries_the_abstract() -> None:
    llm = FakeLLM(pattern_model)
    VLLMBatchExtractor(env={}, model="m", cache=False, llm=llm, make_params=params).extract(
        documents(ABSTRACTS[1])
    )
    prompt = llm.calls[0][0][0]
    assert prompt.startswith("<|system|>") and abstract_of(
        {"messages": [{"role": "user", "content": prompt.split("<|user|>\n", 1)[1]}]}
    ).startswith(ABSTRACTS[1])
