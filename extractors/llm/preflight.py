"""Before a run's first request: is the model served, healthy, and does the prompt fit?

`preflight(config, ...)` asks each replica for `GET /v1/models` (the configured model must be
listed; vLLM also gives its `root` and `max_model_len`) and `GET /health`. A wrong key (401/403),
URL or model (404, or not listed) or a prompt that cannot fit the context length raises
`LLMConfigError` with one line that says what to fix; an unreachable or unhealthy server raises
`LLMUnavailable` (retry later). What the server serves is returned to be recorded in the run and
in the raw-sample cache key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from litkg.extractors.llm.client import (
    FATAL_STATUS,
    LLMConfigError,
    LLMUnavailable,
    _error_message,
    server_root,
)
from litkg.extractors.llm.config import LLMConfig

#: Conservative characters per token for English prompts (real tokenizers give ~4).
CHARS_PER_TOKEN = 3.0


@dataclass(frozen=True)
class ServedModel:
    """What a replica says it serves."""

    id: str
    root: str | None = None
    max_model_len: int | None = None

    def key(self) -> dict[str, Any]:
        """Identity for the raw-sample cache key (the weights behind the name)."""
        return {"id": self.id, "root": self.root}


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def preflight(config: LLMConfig, prompt_chars: int, timeout_s: float = 10.0) -> ServedModel:
    """Check every replica; the served model of the first (all must serve the same root).

    `prompt_chars`: the longest fixed part of a prompt (instructions + schema), checked
    against max_model_len with max_tokens when the server reports it.
    """
    headers = {"Accept": "application/json"}
    if config.api_key is not None:
        headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
    served: list[ServedModel] = []
    with httpx.Client(timeout=timeout_s, headers=headers) as http:
        for url in config.urls:
            served.append(_check_replica(http, url, config))
    roots = {s.root or s.id for s in served}
    if len(roots) > 1:
        raise LLMConfigError(f"replicas serve different weights for {config.model!r}: "
                             f"{sorted(roots)}")
    model = served[0]
    if model.max_model_len is not None:
        need = estimate_tokens(" " * prompt_chars) + config.max_tokens
        if need > model.max_model_len:
            raise LLMConfigError(
                f"the prompt does not fit {config.model!r}: ~{need - config.max_tokens} "
                f"prompt tokens + max_tokens {config.max_tokens} > max_model_len "
                f"{model.max_model_len} (lower LITKG_LLM_MAX_TOKENS or serve a longer context)")
    return model


def _check_replica(http: httpx.Client, url: str, config: LLMConfig) -> ServedModel:
    try:
        health = http.get(server_root(url) + "/health")
        if health.status_code not in (200, 404):  # 404: a server without /health
            raise LLMUnavailable(f"LLM server {url} is unhealthy: /health HTTP "
                                 f"{health.status_code}")
        response = http.get(url + "/models")
    except httpx.TransportError as exc:
        raise LLMUnavailable(f"LLM server {url} unreachable: {type(exc).__name__}: {exc}"
                             ) from exc
    if response.status_code in FATAL_STATUS:
        raise LLMConfigError(f"LLM server {url}: HTTP {response.status_code} on /models, "
                             f"{FATAL_STATUS[response.status_code]}: "
                             f"{_error_message(response.text)}")
    if response.status_code >= 500:
        raise LLMUnavailable(f"LLM server {url}: HTTP {response.status_code} on /models")
    if response.status_code != 200:
        raise LLMConfigError(f"LLM server {url}: HTTP {response.status_code} on /models: "
                             f"{_error_message(response.text)}")
    try:
        models = response.json()["data"]
        listed = {m["id"]: m for m in models}
    except (ValueError, KeyError, TypeError) as exc:
        raise LLMConfigError(f"LLM server {url}: /models is not an OpenAI model list: "
                             f"{response.text[:200]!r}") from exc
    card = listed.get(config.model)
    if card is None:
        raise LLMConfigError(f"model {config.model!r} is not served by {url} "
                             f"(served: {', '.join(sorted(listed)) or 'none'})")
    length = card.get("max_model_len")
    return ServedModel(id=config.model, root=card.get("root"),
                       max_model_len=int(length) if isinstance(length, int) else None)
