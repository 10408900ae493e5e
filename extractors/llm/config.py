"""Configuration of the LLM extractor: a pydantic model read from a file, env vars and kwargs.

Precedence (lowest first): defaults < config file (YAML or TOML) < `LITKG_LLM_*` env vars <
explicit keyword arguments. The file is `path` or `$LITKG_LLM_CONFIG`; its settings sit at the
top level or under an `llm` key/table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ENV_PREFIX = "LITKG_LLM_"

#: Env vars with a name other than LITKG_LLM_<FIELD>.
ENV_ALIASES = {"URL": "urls", "URLS": "urls"}


class LLMConfig(BaseModel):
    """Everything the LLM extractor needs: endpoint, model, sampling, grounding, transport."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # endpoint
    urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8000/v1"])
    model: str = "Qwen/Qwen2.5-7B-Instruct"
    api_key: SecretStr | None = None
    routing: Literal["round-robin", "least-busy"] = "least-busy"
    vocabulary: str = "ml"
    #: json_schema: OpenAI/vLLM strict structured output; json_object: {"type": "json_object",
    #: "schema": ...}, the dialect of llama-cpp-python's server (which rejects json_schema).
    structured_output: Literal["json_schema", "json_object"] = "json_schema"
    # sampling (MedKGent: 50 samples at T=0.7, share capped at 0.95, kept if > 0.6)
    # ≤ 10 samples per abstract (8.4 on average in the simulation; MedKGent draws 50): see
    # docs/llm_extractor.md for its agreement with an independent 50-sample run.
    k0: int = Field(4, ge=1)
    k_step: int = Field(2, ge=1)
    k_max: int = Field(10, ge=1)
    # Every sampling field is sent explicitly: vLLM fills fields a request leaves out from the
    # model's generation_config (e.g. top_k=20, repetition_penalty=1.05), so unsent fields would
    # make agreement shares depend on the server's defaults.
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(-1, ge=-1)  # -1: off (vLLM); llama.cpp reads <= 0 as off too
    min_p: float = Field(0.0, ge=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, gt=0.0)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    max_tokens: int = Field(1024, ge=16)
    #: whitespace guard: a grammar-constrained model may pad with newlines until max_tokens
    stop: list[str] = Field(default_factory=lambda: ["\n\n\n"])
    #: schema maxItems: an answer lists at most this many triples
    max_triples: int = Field(30, ge=1)
    #: None: unseeded; else round r's seed is seed + index of its first sample in the stream
    seed: int | None = None
    threshold: float = Field(0.6, ge=0.0, lt=1.0)
    #: hedged claims ("may improve") keep this share of their confidence (0: dropped)
    hedge_weight: float = Field(0.5, ge=0.0, le=1.0)
    cap: float = Field(0.95, gt=0.0, le=1.0)
    z: float = Field(1.0, ge=0.0)
    min_valid_fraction: float = Field(0.5, ge=0.0, le=1.0)
    # grounding
    grounding_threshold: float = Field(90.0, ge=50.0, le=100.0)
    max_sentence_gap: int = Field(2, ge=0)
    # transport
    concurrency: int = Field(32, ge=1)
    timeout_s: float = Field(120.0, gt=0.0)
    connect_timeout_s: float = Field(10.0, gt=0.0)
    max_retries: int = Field(4, ge=0, le=20)
    #: consecutive transport failures (all requests together) that mean the server is down
    outage_after: int = Field(8, ge=1)
    #: check /v1/models and /health before the first request
    preflight: bool = True
    backoff_base_s: float = Field(0.5, ge=0.0)
    backoff_max_s: float = Field(20.0, ge=0.0)
    # cache
    cache: bool = True
    cache_dir: Path | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _split_urls(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [u for u in (p.strip() for p in v.split(",")) if u]
        return v

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one base URL is needed")
        return [u.rstrip("/") for u in v]

    @model_validator(mode="after")
    def _check_sampling(self) -> LLMConfig:
        if self.k0 > self.k_max:
            raise ValueError(f"k0 ({self.k0}) must not exceed k_max ({self.k_max})")
        return self

    def resolved_cache_dir(self) -> Path:
        """`cache_dir`, else `$LITKG_HOME/cache/llm` (LITKG_HOME defaults to ./data/store)."""
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        return Path(os.environ.get("LITKG_HOME", "data/store")) / "cache" / "llm"

    def generation_key(self) -> dict[str, Any]:
        """What the server samples with: part of the raw-sample cache key. The confidence policy
        (k0, k_step, k_max, threshold, cap, z) is not: it is applied to cached samples."""
        return {
            **self.generation_fields(),
            "seed": self.seed,
            "structured_output": self.structured_output,
            "max_triples": self.max_triples,
        }

    def generation_fields(self) -> dict[str, Any]:
        """The sampling fields of every request, all explicit."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "repetition_penalty": self.repetition_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
        }

    def policy_key(self) -> dict[str, Any]:
        """How samples become decisions (part of the extraction cache key, not the sample one)."""
        return {
            "k0": self.k0,
            "k_step": self.k_step,
            "k_max": self.k_max,
            "threshold": self.threshold,
            "cap": self.cap,
            "z": self.z,
            "min_valid_fraction": self.min_valid_fraction,
            "hedge_weight": self.hedge_weight,
        }

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> LLMConfig:
        """Defaults < file (`path` or $LITKG_LLM_CONFIG) < LITKG_LLM_* env vars < overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = path or env.get(ENV_PREFIX + "CONFIG")
        if path:
            values.update(read_config_file(Path(path)))
        values.update(env_values(env))
        values.update(overrides)
        return cls(**values)


def read_config_file(path: Path) -> dict[str, Any]:
    """Settings from a YAML or TOML file (top level, or under an `llm` key)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        raw = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        raw = yaml.safe_load(text) or {}
    else:
        raise ValueError(f"{path}: expected a .yaml, .yml or .toml file")
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping")
    section = raw.get("llm", raw)
    return dict(section)


def env_values(env: Mapping[str, str]) -> dict[str, Any]:
    """LITKG_LLM_<FIELD> env vars as config values (LITKG_LLM_URL is comma-separated)."""
    fields = set(LLMConfig.model_fields)
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        suffix = name[len(ENV_PREFIX):]
        field = ENV_ALIASES.get(suffix, suffix.lower())
        if field in fields and value != "":
            out[field] = value
    return out
