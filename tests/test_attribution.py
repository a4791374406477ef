"""The model's response to a variant and its attribution to SAE features and the SAE's error term:
patching everything back restores it all, patching nothing none of it, attribution patching equals a
finite-difference loop, and the sentence says the shares."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import genomix as gx
from genomix.hypotheses.attribution import attribute
from genomix.hypotheses.decompose import ERROR, measure, mediated_fractions, run_passes
from genomix.hypotheses.records import Hypothesis
from genomix.io.variants import Variant
from genomix.io.windows import make_window
from genomix.sae.base import TopKSAE
from genomix.scoring import Scored

RADIUS = 6


def _tiny(model_dir, layer: str = "blocks.1"):
    """A tiny model in float64 (finite differences need the precision) and a random TopK SAE at `layer`."""
    model = gx.load_model(str(model_dir))
    model.model.double()
    sae = TopKSAE(model.d_model, 64, 8, {"hook_name": layer}, seed=3)
    return model, sae


def _snv(genome, pos: int = 150) -> Variant:
    ref = genome.fetch("chr1", pos, pos + 1)
    return Variant("chr1", pos, ref, "A" if ref != "A" else "G", contig="chr1")


def _every_node(sae) -> list[int]:
    return list(range(sae.d_sae)) + [ERROR]


@pytest.mark.parametrize("fixture, method", [("char_mlm_dir", "llr"), ("char_mlm_dir", "embedding")])
def test_patching_every_feature_and_the_error_back_restores_the_whole_response(fixture, method, request, small_genome):
    model, sae = _tiny(request.getfixturevalue(fixture))
    (p,) = run_passes(model, sae, [make_window(small_genome, _snv(small_genome), 64)], reach=RADIUS)
    response = measure(model, p, method, RADIUS)
    assert abs(response.effect) > 1e-3
    ((everything, nothing, features_only),) = mediated_fractions(
        model, sae, [p], [response], [[_every_node(sae), [], list(range(sae.d_sae))]]
    )
    assert everything == pytest.approx(1.0, abs=1e-4)
    assert nothing == pytest.approx(0.0, abs=1e-6)
    assert not features_only == pytest.approx(1.0, abs=1e-3)  # the random SAE leaves a large error term


def test_delta_ll_response_is_restored_by_patching_everything_back(char_clm_dir, small_genome):
    model, sae = _tiny(char_clm_dir, "blocks.0")
    (p,) = run_passes(model, sae, [make_window(small_genome, _snv(small_genome), 64)], reach=RADIUS)
    response = measure(model, p, "delta_ll", RADIUS)
    ((everything, nothing),) = mediated_fractions(model, sae, [p], [response], [[_every_node(sae), []]])
    assert everything == pytest.approx(1.0, abs=1e-4) and nothing == pytest.approx(0.0, abs=1e-6)


def _llr_m(model, seq: str, window, ref_base: str, alt_base: str, add: torch.Tensor, layer: str) -> float:
    """m of the llr response by hand: at the variant's token log p(alt) - log p(ref), and at each
    other token within RADIUS bp the log p of its own base (char tokens: <cls> then one per base)."""
    tokens = model.tokenize([seq])
    logits, _ = model.forward(tokens, edits={layer: lambda h: h + add.to(h.dtype)})
    logp = torch.log_softmax(logits[0].double(), dim=-1)
    centre = window.ref_span[0]
    total = float(logp[centre + 1, model.token_id(alt_base)] - logp[centre + 1, model.token_id(ref_base)])
    for base in range(centre - RADIUS, centre + 1 + RADIUS):
        if base != centre:
            total += float(logp[base + 1, model.token_id(seq[base])])
    return total


def test_attribution_equals_a_finite_difference_loop(char_mlm_dir, small_genome):
    model, sae = _tiny(char_mlm_dir)
    layer = sae.metadata["hook_name"]
    variant = _snv(small_genome)
    window = make_window(small_genome, variant, 64)
    (p,) = run_passes(model, sae, [window], reach=RADIUS)
    response = measure(model, p, "llr", RADIUS)
    (attribution,) = attribute(model, sae, [p], [response])

    zero = torch.zeros(1, len(window) + 2, sae.d_in, dtype=torch.float64)
    alt_m = _llr_m(model, window.alt, window, variant.ref, variant.alt, zero, layer)
    ref_m = _llr_m(model, window.ref, window, variant.ref, variant.alt, zero, layer)
    assert response.effect == pytest.approx(alt_m - ref_m, abs=1e-5)

    def hidden(seq):
        _, captured = model.forward(model.tokenize([seq]), layers=(layer,))
        return captured[layer][0].double()

    ref_x, alt_x = hidden(window.ref), hidden(window.alt)
    ref_f, alt_f = sae.encode(ref_x.float()).double(), sae.encode(alt_x.float()).double()
    decoder = sae.W_dec.detach().double()
    moved = torch.nonzero((ref_f - alt_f).abs().sum(0) > 0).squeeze(1).tolist()
    nodes = moved[:: max(1, len(moved) // 6)] + [ERROR]
    step = 1e-3
    for node in nodes:
        change = torch.zeros(1, len(window) + 2, sae.d_in, dtype=torch.float64)
        for token in range(len(window) + 2):  # a substitution: every token is its own counterpart
            if node == ERROR:
                change[0, token] = (ref_x[token] - ref_f[token] @ decoder - sae.b_dec.double()) - (
                    alt_x[token] - alt_f[token] @ decoder - sae.b_dec.double()
                )
            else:
                change[0, token] = (ref_f[token, node] - alt_f[token, node]) * decoder[node]
        up = _llr_m(model, window.alt, window, variant.ref, variant.alt, step * change, layer)
        down = _llr_m(model, window.alt, window, variant.ref, variant.alt, -step * change, layer)
        expected = -(up - down) / (2 * step) / (alt_m - ref_m)
        found = attribution.error if node == ERROR else attribution.features[node]
        assert found == pytest.approx(expected, rel=1e-3, abs=1e-5), node
    unmoved = sorted(set(range(sae.d_sae)) - set(moved))
    assert np.all(attribution.features[unmoved] == 0)


def _hypothesis(**fields) -> Hypothesis:
    scored = Scored(Variant("chr1", 9, "A", "G", contig="chr1"), "llr", -1.5)
    return replace(
        Hypothesis.none(scored),
        rank=1,
        feature=7,
        label="GATA1",
        label_kind="motif",
        effect="loss",
        ref_act=2.0,
        alt_act=0.5,
        delta=-1.5,
        offset=-2,
        moved_members=3,
        score_p=0.01,
        p_value=0.001,
        q_value=0.01,
        **fields,
    )


def test_the_sentence_names_the_share_and_says_when_the_error_term_carries_most():
    carried = _hypothesis(effect_share=0.42, error_share=0.1, mediated_fraction=0.38).hypothesis
    assert (
        "; its features carry 42% of the model's response to the variant (patching them back restores 38%); "
        "the model's own score" in carried
    )
    assert "error term" not in carried
    lower = _hypothesis(effect_share=-0.05, error_share=0.7).hypothesis
    assert (
        "; its features carry -5% of the model's response to the variant; the SAE's error term carries most "
        "of it (70%): this is the SAE's reading, not the model's mechanism; the model's own score" in lower
    )
    untested = _hypothesis().hypothesis
    assert "response" not in untested and "carr" not in untested
    nothing = _hypothesis(effect_share=-0.002, error_share=0.0, mediated_fraction=-0.00006).hypothesis
    assert "; its features carry 0% of the model's response to the variant (patching them back restores 0%)" in nothing
