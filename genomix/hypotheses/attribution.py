"""How much of the model's response to a variant each SAE feature, and the SAE's error term, carry.

Attribution patching (Nanda 2023; Syed et al. 2023; with the SAE's error term as its own node as in
Marks et al. 2024): the response is `effect = m(alt) - m(ref)` (see `decompose.Measure`), and
patching node n back to its ref values (see `decompose.mediated_fractions`) adds `dx_n` to the
output x of the SAE's layer in the alt pass, so to first order it moves m by `g . dx_n`, with
`g = dm/dx` at the alt pass. The share of the response node n carries is then

    share_n = -(g . dx_n) / effect,      dx_f = (f_ref - f_alt) W_dec[f],   dx_error = e_ref - e_alt,

summed over the alt tokens (ref values through the offset map, as the causal test takes them). One
backward pass per variant gives every node's share; features and error term make up `x`, so all
shares sum to `g . (x_ref - x_alt) / -effect`, 1 where m is linear between the two passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genomix.hypotheses.decompose import Measure, Pass, codes_and_errors, from_ref, measured_passes
from genomix.sae.base import SAE


@dataclass
class Attribution:
    """One variant's response (`effect`, see `decompose.Measure`) and the share of it each feature
    carries (`features`, `[d_sae]`) and the SAE's error term (`error`); NaN shares where the response
    is 0."""

    effect: float
    features: np.ndarray
    error: float

    def share(self, features) -> float:
        """The share `features` carry together."""
        return float(self.features[np.asarray(features, dtype=np.int64)].sum())


def attribute(model, sae: SAE, passes: list[Pass], measures: list[Measure], batch_size: int = 16) -> list[Attribution]:
    """The attribution of each pass' response (`measures[i]`) to every feature and the error term, by
    one forward and one backward pass of each alt window, `batch_size` windows at a time."""
    layer = sae.metadata["hook_name"]
    decoder = sae.W_dec.detach().cpu()
    results = []
    for first in range(0, len(passes), batch_size):
        chunk = list(range(first, min(first + batch_size, len(passes))))
        tokens = model.tokenize([passes[i].window.alt for i in chunk])
        _, gradient = measured_passes(model, layer, tokens, [measures[i] for i in chunk], grad=True)
        for row, i in enumerate(chunk):
            p, effect = passes[i], measures[i].effect
            g = gradient[row, : len(p.alt_to_ref_token)].float().cpu()
            with torch.no_grad():
                ref_codes, alt_codes, ref_error, alt_error = codes_and_errors(sae, p)
                feature_change = from_ref(p, ref_codes, torch.zeros_like(alt_codes)) - alt_codes
                token, feature = feature_change.nonzero(as_tuple=True)  # the few codes that moved
                moved = torch.zeros(sae.d_sae, dtype=torch.float64)
                pushed = (g[token] * decoder[feature]).sum(1) * feature_change[token, feature]
                moved = moved.index_add_(0, feature, pushed.double()).numpy()
                error_moved = float((g * (from_ref(p, ref_error, alt_error) - alt_error)).sum())
            scale = -1.0 / effect if effect != 0 else float("nan")
            results.append(Attribution(effect, moved * scale, error_moved * scale))
    return results
