"""The sampling policy and agreement scoring, as pure functions; a quick simulation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from litkg.extractors.llm.sampling import (
    RelationRule,
    SamplingPolicy,
    agreement,
    normalise_text,
    resolve_directions,
    simulate,
    spearman,
    triple_key,
)

RULES = {
    "outperforms": RelationRule("outperforms"),
    "underperforms": RelationRule("outperforms", swap=True),
    "compare": RelationRule("compare", symmetric=True),
}


def test_confidence_is_share_of_valid_samples_capped() -> None:
    policy = SamplingPolicy()
    assert policy.confidence(10, 10) == 0.95
    assert policy.confidence(8, 10) == 0.8
    assert policy.confidence(0, 0) == 0.0


def test_kept_only_when_share_exceeds_threshold() -> None:
    policy = SamplingPolicy(threshold=0.6)
    assert policy.keep(7, 10)
    assert not policy.keep(6, 10)  # 0.6 is not > 0.6
    assert not policy.keep(3, 0)


def test_decisive_agreement_stops_after_the_first_round() -> None:
    policy = SamplingPolicy(k0=10, k_step=10, k_max=50, z=1.0)
    assert policy.next_draw({"a": 10, "b": 1, "c": 8}, n_valid=10, n_drawn=10) == 0


def test_share_near_threshold_draws_another_round() -> None:
    policy = SamplingPolicy(k0=10, k_step=10, k_max=50, z=1.0)
    assert policy.next_draw({"a": 10, "b": 6}, n_valid=10, n_drawn=10) == 10


def test_never_draws_beyond_k_max() -> None:
    policy = SamplingPolicy(k0=10, k_step=15, k_max=30)
    assert policy.next_draw({"a": 12}, n_valid=20, n_drawn=20) == 10
    assert policy.next_draw({"a": 18}, n_valid=30, n_drawn=30) == 0


def test_fewer_samples_than_asked_are_topped_up_to_k0() -> None:
    policy = SamplingPolicy(k0=10)
    assert policy.next_draw({"a": 1}, n_valid=1, n_drawn=1) == 9


def test_full_scheme_is_one_round_of_k() -> None:
    full = SamplingPolicy.full(50)
    assert full.k0 == full.k_max == 50
    assert full.next_draw({"a": 30}, n_valid=50, n_drawn=50) == 0


def test_agreement_counts_a_triple_once_per_sample_and_skips_invalid_samples() -> None:
    counts, n_valid = agreement([["a", "a", "b"], None, ["a"], []])
    assert n_valid == 3
    assert counts == {"a": 2, "b": 1}


def test_triple_identity_is_normalised() -> None:
    k1, _ = triple_key("The  BERT", "outperforms", "ELMo.", [("dataset", "GLUE")], RULES)
    k2, _ = triple_key("bert", "outperforms", "elmo", [("dataset", "glue")], RULES)
    assert k1 == k2
    k3, _ = triple_key("self-attention", "outperforms", "RNN", [], RULES)
    k4, _ = triple_key("Self Attention", "outperforms", "RNNs", [], RULES)
    assert k3[0] == k4[0] and k3 != k4
    assert normalise_text("  GPT-2 ") == "gpt 2"


def test_context_is_part_of_identity_and_order_free() -> None:
    a, _ = triple_key("A", "outperforms", "B", [("dataset", "X"), ("metric", "F1")], RULES)
    b, _ = triple_key("A", "outperforms", "B", [("metric", "F1"), ("dataset", "X")], RULES)
    c, _ = triple_key("A", "outperforms", "B", [], RULES)
    assert a == b != c


def test_inverse_relation_is_its_primary_with_arguments_swapped() -> None:
    a, swapped = triple_key("B", "underperforms", "A", [], RULES)
    b, _ = triple_key("A", "outperforms", "B", [], RULES)
    assert a == b and swapped


def test_symmetric_relation_ignores_argument_order() -> None:
    a, _ = triple_key("B", "compare", "A", [], RULES)
    b, _ = triple_key("A", "compare", "B", [], RULES)
    assert a == b


def test_higher_scoring_direction_is_kept() -> None:
    ab = ("a", "outperforms", "b", ())
    ba = ("b", "outperforms", "a", ())
    other = ("a", "outperforms", "c", ())
    kept, dropped = resolve_directions({ab: 0.7, ba: 0.9, other: 0.8})
    assert kept == [ba, other] and dropped == [ab]


def test_direction_tie_goes_to_the_first_seen() -> None:
    ab = ("a", "outperforms", "b", ())
    ba = ("b", "outperforms", "a", ())
    kept, dropped = resolve_directions({ba: 0.8, ab: 0.8}, order={ab: 0, ba: 1})
    assert kept == [ab] and dropped == [ba]


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9487) < 1e-3


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), max_size=8),
    n_drawn=st.integers(0, 60),
    k0=st.integers(1, 20),
    k_step=st.integers(1, 20),
    k_max=st.integers(20, 60),
)
def test_draws_are_bounded_by_k_max(
    counts: list[int], n_drawn: int, k0: int, k_step: int, k_max: int
) -> None:
    policy = SamplingPolicy(k0=k0, k_step=k_step, k_max=k_max)
    n_valid = n_drawn
    clipped = {i: min(c, n_valid) for i, c in enumerate(counts)}
    more = policy.next_draw(clipped, n_valid, n_drawn)
    assert 0 <= more <= max(0, k_max - n_drawn)
    for c in clipped.values():
        assert 0.0 <= policy.confidence(c, n_valid) <= policy.cap


def test_cheap_scheme_agrees_with_the_full_50_sample_scheme() -> None:
    """Quick version of the bench simulation: same decisions, far fewer samples."""
    report = simulate(SamplingPolicy(k0=10, k_step=10, k_max=50, z=1.0), docs=300, seed=1)
    assert report.decision_agreement >= 0.98
    assert report.spearman >= 0.93
    assert report.samples_saved >= 0.35
    # stopping early costs less agreement than the full scheme's own run-to-run noise
    assert report.decision_agreement >= report.full_vs_full_agreement
