"""Ref vs alt in SAE features, and the causal test of one feature.

For a variant's window, the ref and the alt sequence run through the model to the SAE's layer and
are encoded. Features are compared base by base through the window's offset map (`ref_to_alt`):
a ref base is compared with the alt base it became (0 where it was deleted), and inserted alt bases
with 0. Near the variant (`radius` bp either side of the allele) each feature keeps its largest
change: signed delta, ref and alt activation, and where it happened (offset in bp from the
variant's first REF base).

The causal test patches features back: in the alt forward pass, each patched feature's activation
at every alt token is set to that of the ref token it corresponds to (0 where there is none) by
adding `(ref - alt) * W_dec[feature]` to the layer's output. The model's own effect is the distance
between the alt and the ref output log-probabilities over the window's aligned tokens (the allele's
own tokens left out); `mediated_fraction = 1 - effect(patched) / effect(alt)`, 1 when the patch
restores the ref output completely, 0 when it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genomix.io.windows import Window
from genomix.sae.base import SAE


@dataclass
class Pass:
    """One window's ref and alt pass: token-level codes, output log-probs, and the maps between them.

    `ref_codes`, `alt_codes`: `[tokens, d_sae]`; `ref_logp`, `alt_logp`: `[tokens, vocab]`. A pass
    made only for `feature_change` (`run_passes(..., near=)`) has no log-probs and codes only near
    the allele (0 elsewhere): it is not for `base_tracks` or `mediated_fractions`.
    `ref_token[i]`, `alt_token[j]`: the token holding base i of ref / base j of alt (-1 for none);
    `alt_to_ref_token[t]`: the ref token alt token t corresponds to (-1 where none)."""

    window: Window
    ref_codes: torch.Tensor
    alt_codes: torch.Tensor
    ref_logp: torch.Tensor | None
    alt_logp: torch.Tensor | None
    ref_token: np.ndarray
    alt_token: np.ndarray
    alt_to_ref_token: np.ndarray
    aligned: np.ndarray  # [n, 2] (ref token, alt token) pairs outside the allele, for the effect


@dataclass
class Change:
    """Per feature, its largest change near the variant: `[d_sae]` arrays. `offset`: bp from the
    variant's first REF base (for bases inserted by the ALT, from its first ALT base); `ref_index`,
    `alt_index`: where that is in the ref and the alt window (-1 for a deleted or an inserted base)."""

    delta: np.ndarray
    ref_act: np.ndarray
    alt_act: np.ndarray
    offset: np.ndarray
    ref_index: np.ndarray
    alt_index: np.ndarray


def _base_to_token(spans: np.ndarray, width: int) -> np.ndarray:
    index = np.full(width, -1, dtype=np.int64)
    real = np.nonzero(spans[:, 0] >= 0)[0]
    lengths = spans[real, 1] - spans[real, 0]
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # 0, 1, .. in each token
    index[np.repeat(spans[real, 0], lengths) + within] = np.repeat(real, lengths)
    return index


def _near(spans: np.ndarray, span: tuple[int, int], reach: int) -> np.ndarray:
    """Tokens that hold a base within `reach` bp of `span` (a half-open base range)."""
    return (spans[:, 0] >= 0) & (spans[:, 1] > span[0] - reach) & (spans[:, 0] < span[1] + reach)


@torch.no_grad()
def run_passes(model, sae: SAE, windows: list[Window], batch_size: int = 16, near: int | None = None) -> list[Pass]:
    """Ref and alt passes of each window at the SAE's layer. With `near` (bp), only what
    `feature_change(p, radius <= near)` reads is computed: the pass stops at the SAE's layer (the
    log-probs are None) and only the tokens within reach of the allele are encoded (the codes of
    the others are 0)."""
    layer = sae.metadata["hook_name"]
    passes = []
    for first in range(0, len(windows), batch_size):
        chunk = windows[first:first + batch_size]
        tokens = model.tokenize([w.ref for w in chunk] + [w.alt for w in chunk])
        logits, captured = model.forward(tokens, layers=(layer,), logits=near is None)
        hidden = captured[layer].float().to(sae.W_enc.device)
        if near is None:
            codes = sae.encode(hidden).cpu()
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
        else:
            # the bases `feature_change` reads lie within `near` of the allele in ref, and in alt too
            # (after an indel the alt bases shift by exactly the difference of the two spans)
            wanted = np.zeros(tokens.input_ids.shape, dtype=bool)
            for row, window in enumerate(chunk):
                wanted[row, :len(tokens.spans[row])] = _near(tokens.spans[row], window.ref_span, near)
                alt_spans = tokens.spans[row + len(chunk)]
                wanted[row + len(chunk), :len(alt_spans)] = _near(alt_spans, window.alt_span, near)
            wanted = torch.from_numpy(wanted)
            codes = torch.zeros(*wanted.shape, sae.d_sae)
            codes[wanted] = sae.encode(hidden[wanted.to(hidden.device)]).cpu()
            logp = None
        for row, window in enumerate(chunk):
            ref_spans, alt_spans = tokens.spans[row], tokens.spans[row + len(chunk)]
            n_ref, n_alt = len(ref_spans), len(alt_spans)
            ref_token, alt_token = _base_to_token(ref_spans, len(window)), _base_to_token(alt_spans, len(window))
            alt_to_ref_token = np.full(n_alt, -1, dtype=np.int64)
            real = np.nonzero(alt_spans[:, 0] >= 0)[0]
            ref_base = window.alt_to_ref[alt_spans[real, 0]]
            alt_to_ref_token[real[ref_base >= 0]] = ref_token[ref_base[ref_base >= 0]]
            ref_special, alt_special = np.nonzero(ref_spans[:, 0] < 0)[0], np.nonzero(alt_spans[:, 0] < 0)[0]
            if len(ref_special) == len(alt_special):  # CLS to CLS, EOS to EOS: not part of the variant
                alt_to_ref_token[alt_special] = ref_special
            allele = set(ref_token[window.ref_span[0]:window.ref_span[1]]) | {-1}
            aligned = np.array([(r, a) for a, r in enumerate(alt_to_ref_token) if r not in allele
                                and not (alt_spans[a, 0] < window.alt_span[1] and alt_spans[a, 1] > window.alt_span[0])],
                               dtype=np.int64).reshape(-1, 2)
            passes.append(Pass(window, codes[row, :n_ref], codes[row + len(chunk), :n_alt],
                               None if logp is None else logp[row, :n_ref],
                               None if logp is None else logp[row + len(chunk), :n_alt],
                               ref_token, alt_token, alt_to_ref_token, aligned))
    return passes


def base_tracks(p: Pass, features: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Activations of `features` along the ref window `[len(features), W]`, and the alt's at the same
    genomic bases (NaN where the base was deleted)."""
    ref = np.zeros((len(features), len(p.window)))
    alt = np.full((len(features), len(p.window)), np.nan)
    has = p.ref_token >= 0
    ref[:, has] = p.ref_codes[p.ref_token[has]][:, features].numpy().T
    mapped = np.nonzero(p.window.ref_to_alt >= 0)[0]
    tokens = p.alt_token[p.window.ref_to_alt[mapped]]
    mapped, tokens = mapped[tokens >= 0], tokens[tokens >= 0]
    alt[:, mapped] = p.alt_codes[tokens][:, features].numpy().T
    return ref, alt


def feature_change(p: Pass, radius: int = 20) -> Change:
    """Each feature's largest change within `radius` bp of the allele (see the module docstring)."""
    window = p.window
    width = len(window)
    start, end = max(0, window.ref_span[0] - radius), min(width, window.ref_span[1] + radius)
    positions = np.arange(start, end)
    ref_tok = p.ref_token[positions]
    ref = torch.where(torch.from_numpy(ref_tok >= 0)[:, None], p.ref_codes[np.maximum(ref_tok, 0)], 0.0)
    alt_base = window.ref_to_alt[positions]
    alt_tok = np.where(alt_base >= 0, p.alt_token[np.maximum(alt_base, 0)], -1)
    alt = torch.where(torch.from_numpy(alt_tok >= 0)[:, None], p.alt_codes[np.maximum(alt_tok, 0)], 0.0)
    offsets = positions - window.ref_span[0]
    ref_index, alt_index = positions, alt_base
    inserted = np.arange(*window.alt_span)
    inserted = inserted[(window.alt_to_ref[inserted] < 0) & (p.alt_token[inserted] >= 0)]
    if len(inserted):
        ref = torch.cat([ref, torch.zeros(len(inserted), ref.shape[1])])
        alt = torch.cat([alt, p.alt_codes[p.alt_token[inserted]]])
        offsets = np.concatenate([offsets, inserted - window.alt_span[0]])
        ref_index = np.concatenate([ref_index, np.full(len(inserted), -1)])
        alt_index = np.concatenate([alt_index, inserted])
    delta = alt - ref
    where = delta.abs().argmax(dim=0).numpy()
    columns = np.arange(delta.shape[1])
    return Change(delta.numpy()[where, columns], ref.numpy()[where, columns], alt.numpy()[where, columns],
                  offsets[where], ref_index[where], alt_index[where])


def _effect(p: Pass, alt_logp: torch.Tensor) -> float:
    if not len(p.aligned):
        return 0.0
    return float((alt_logp[p.aligned[:, 1]] - p.ref_logp[p.aligned[:, 0]]).norm())


@torch.no_grad()
def mediated_fractions(model, sae: SAE, passes: list[Pass], patches: list[list[list[int]]],
                       batch_size: int = 16) -> list[list[float]]:
    """For each pass and each of its patches (a list of features), the share of the model's effect that
    returns when those features are patched back to their ref activations in the alt pass (NaN where
    the model's effect is 0)."""
    layer = sae.metadata["hook_name"]
    jobs = [(i, j) for i, sets in enumerate(patches) for j in range(len(sets))]
    results: dict[tuple[int, int], float] = {}
    decoder = sae.W_dec.detach().cpu()
    for first in range(0, len(jobs), batch_size):
        chunk = jobs[first:first + batch_size]
        tokens = model.tokenize([passes[i].window.alt for i, _ in chunk])
        patch = torch.zeros(len(chunk), tokens.input_ids.shape[1], sae.d_in)
        for row, (i, j) in enumerate(chunk):
            p, features = passes[i], patches[i][j]
            target = torch.zeros(len(p.alt_to_ref_token), len(features))
            has = p.alt_to_ref_token >= 0
            target[has] = p.ref_codes[p.alt_to_ref_token[has]][:, features]
            patch[row, : len(target)] = (target - p.alt_codes[:, features]) @ decoder[features]
        patch = patch.to(model.device)
        logits, _ = model.forward(tokens, edits={layer: lambda h: h + patch.to(h.dtype)})
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()
        for row, (i, j) in enumerate(chunk):
            p = passes[i]
            total = _effect(p, p.alt_logp)
            left = _effect(p, logp[row, : len(p.alt_to_ref_token)])
            results[(i, j)] = 1.0 - left / total if total > 0 else float("nan")
    return [[results[(i, j)] for j in range(len(sets))] for i, sets in enumerate(patches)]
