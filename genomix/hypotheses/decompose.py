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

from genomix.errors import GenomixError
from genomix.io.windows import Window
from genomix.sae.base import SAE


@dataclass
class Pass:
    """One window's ref and alt pass at the SAE's layer, and the maps between their tokens.

    Only the tokens within `reach` bp of the allele are encoded with every feature (`ref_near`,
    `alt_near`: `[n, d_sae]`; `ref_row[t]`, `alt_row[t]`: the row of token t there, -1 for tokens
    not encoded): that is all `feature_change` reads. The layer's output is kept (`ref_hidden`,
    `alt_hidden`: `[tokens, d_in]`) so that a few features can be encoded along the whole window
    (`window_codes`), with the output log-probs (`ref_logp`, `alt_logp`: `[tokens, vocab]`); a pass
    made for the null (`run_passes(..., logits=False)`) has neither and is only for `feature_change`.
    `ref_token[i]`, `alt_token[j]`: the token holding base i of ref / base j of alt (-1 for none);
    `alt_to_ref_token[t]`: the ref token alt token t corresponds to (-1 where none)."""

    window: Window
    reach: int
    ref_near: torch.Tensor
    alt_near: torch.Tensor
    ref_row: np.ndarray
    alt_row: np.ndarray
    ref_hidden: torch.Tensor | None
    alt_hidden: torch.Tensor | None
    ref_logp: torch.Tensor | None
    alt_logp: torch.Tensor | None
    ref_token: np.ndarray
    alt_token: np.ndarray
    alt_to_ref_token: np.ndarray
    aligned: np.ndarray  # [n, 2] (ref token, alt token) pairs outside the allele, for the effect

    @torch.no_grad()
    def window_codes(self, sae: SAE, features: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Activations of `features` at every ref token `[ref tokens, len(features)]` and every alt token."""
        if self.ref_hidden is None:
            raise GenomixError("this pass was made for the null (logits=False): it keeps no layer output")
        features = torch.as_tensor(features, dtype=torch.long, device=sae.W_enc.device)
        return tuple(
            sae.encode_features(hidden.to(sae.W_enc.device), features).cpu()
            for hidden in (self.ref_hidden, self.alt_hidden)
        )


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
def run_passes(
    model, sae: SAE, windows: list[Window], batch_size: int = 16, reach: int = 20, logits: bool = True
) -> list[Pass]:
    """Ref and alt passes of each window at the SAE's layer, with every feature encoded within `reach`
    bp of the allele (`feature_change(p, radius <= reach)`). With `logits=False` the pass stops at the
    SAE's layer and keeps neither the layer's output nor log-probs (what the null needs). A sequence
    that several windows of a group of `batch_size` share (the ref of a site with several ALTs) runs
    once."""
    layer = sae.metadata["hook_name"]
    passes = []
    for first in range(0, len(windows), batch_size):
        chunk = windows[first : first + batch_size]
        slot = {seq: i for i, seq in enumerate(dict.fromkeys([w.ref for w in chunk] + [w.alt for w in chunk]))}
        tokens = model.tokenize(list(slot))
        out, captured = model.forward(tokens, layers=(layer,), logits=logits)
        # the bases `feature_change` reads lie within `reach` of the allele in ref, and in alt too
        # (after an indel the alt bases shift by exactly the difference of the two spans)
        sides = [
            (slot[seq], np.nonzero(_near(tokens.spans[slot[seq]], span, reach))[0])
            for w in chunk
            for seq, span in ((w.ref, w.ref_span), (w.alt, w.alt_span))
        ]
        rows = torch.from_numpy(np.concatenate([np.full(len(at), row) for row, at in sides]))
        columns = torch.from_numpy(np.concatenate([at for _, at in sides]))
        near = sae.encode(captured[layer][rows, columns].float().to(sae.W_enc.device)).cpu()
        starts = np.cumsum([0] + [len(at) for _, at in sides])
        logp = torch.log_softmax(out.float(), dim=-1).cpu() if logits else None
        hidden = captured[layer].float().cpu() if logits else None
        for i, window in enumerate(chunk):
            (r, ref_at), (a, alt_at) = sides[2 * i], sides[2 * i + 1]
            ref_spans, alt_spans = tokens.spans[r], tokens.spans[a]
            n_ref, n_alt = len(ref_spans), len(alt_spans)
            ref_row, alt_row = np.full(n_ref, -1), np.full(n_alt, -1)
            ref_row[ref_at], alt_row[alt_at] = np.arange(len(ref_at)), np.arange(len(alt_at))
            ref_token, alt_token = _base_to_token(ref_spans, len(window)), _base_to_token(alt_spans, len(window))
            alt_to_ref_token = np.full(n_alt, -1, dtype=np.int64)
            real = np.nonzero(alt_spans[:, 0] >= 0)[0]
            ref_base = window.alt_to_ref[alt_spans[real, 0]]
            alt_to_ref_token[real[ref_base >= 0]] = ref_token[ref_base[ref_base >= 0]]
            ref_special, alt_special = np.nonzero(ref_spans[:, 0] < 0)[0], np.nonzero(alt_spans[:, 0] < 0)[0]
            if len(ref_special) == len(alt_special):  # CLS to CLS, EOS to EOS: not part of the variant
                alt_to_ref_token[alt_special] = ref_special
            allele = ref_token[window.ref_span[0] : window.ref_span[1]]
            keep = (
                (alt_to_ref_token >= 0)
                & ~np.isin(alt_to_ref_token, allele)
                & ~((alt_spans[:, 0] < window.alt_span[1]) & (alt_spans[:, 1] > window.alt_span[0]))
            )
            aligned = np.stack([alt_to_ref_token[keep], np.nonzero(keep)[0]], axis=1)
            passes.append(
                Pass(
                    window,
                    reach,
                    near[starts[2 * i] : starts[2 * i + 1]],
                    near[starts[2 * i + 1] : starts[2 * i + 2]],
                    ref_row,
                    alt_row,
                    hidden[r, :n_ref] if logits else None,
                    hidden[a, :n_alt] if logits else None,
                    logp[r, :n_ref] if logits else None,
                    logp[a, :n_alt] if logits else None,
                    ref_token,
                    alt_token,
                    alt_to_ref_token,
                    aligned,
                )
            )
    return passes


def base_tracks(sae: SAE, p: Pass, features: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Activations of `features` along the ref window `[len(features), W]`, and the alt's at the same
    genomic bases (NaN where the base was deleted)."""
    ref_codes, alt_codes = p.window_codes(sae, features)
    ref = np.zeros((len(features), len(p.window)))
    alt = np.full((len(features), len(p.window)), np.nan)
    has = p.ref_token >= 0
    ref[:, has] = ref_codes[p.ref_token[has]].numpy().T
    mapped = np.nonzero(p.window.ref_to_alt >= 0)[0]
    tokens = p.alt_token[p.window.ref_to_alt[mapped]]
    mapped, tokens = mapped[tokens >= 0], tokens[tokens >= 0]
    alt[:, mapped] = alt_codes[tokens].numpy().T
    return ref, alt


def _near_codes(near: torch.Tensor, rows: np.ndarray, tokens: np.ndarray) -> torch.Tensor:
    """The encoded codes of `tokens` (0 for -1, a base without a token)."""
    at = np.where(tokens >= 0, rows[np.maximum(tokens, 0)], -1)
    if ((tokens >= 0) & (at < 0)).any():
        raise GenomixError("feature_change reads past the pass' reach: use a radius no larger than the reach")
    return torch.where(torch.from_numpy(at >= 0)[:, None], near[np.maximum(at, 0)], 0.0)


def feature_change(p: Pass, radius: int = 20) -> Change:
    """Each feature's largest change within `radius` bp of the allele (see the module docstring)."""
    window = p.window
    width = len(window)
    start, end = max(0, window.ref_span[0] - radius), min(width, window.ref_span[1] + radius)
    positions = np.arange(start, end)
    ref = _near_codes(p.ref_near, p.ref_row, p.ref_token[positions])
    alt_base = window.ref_to_alt[positions]
    alt = _near_codes(p.alt_near, p.alt_row, np.where(alt_base >= 0, p.alt_token[np.maximum(alt_base, 0)], -1))
    offsets = positions - window.ref_span[0]
    ref_index, alt_index = positions, alt_base
    inserted = np.arange(*window.alt_span)
    inserted = inserted[(window.alt_to_ref[inserted] < 0) & (p.alt_token[inserted] >= 0)]
    if len(inserted):
        ref = torch.cat([ref, torch.zeros(len(inserted), ref.shape[1])])
        alt = torch.cat([alt, _near_codes(p.alt_near, p.alt_row, p.alt_token[inserted])])
        offsets = np.concatenate([offsets, inserted - window.alt_span[0]])
        ref_index = np.concatenate([ref_index, np.full(len(inserted), -1)])
        alt_index = np.concatenate([alt_index, inserted])
    delta = alt - ref
    where = delta.abs().argmax(dim=0).numpy()
    columns = np.arange(delta.shape[1])
    return Change(
        delta.numpy()[where, columns],
        ref.numpy()[where, columns],
        alt.numpy()[where, columns],
        offsets[where],
        ref_index[where],
        alt_index[where],
    )


def _logp_distance(p: Pass, alt_logp: torch.Tensor) -> float:
    if not len(p.aligned):
        return 0.0
    return float((alt_logp[p.aligned[:, 1]] - p.ref_logp[p.aligned[:, 0]]).norm())


@torch.no_grad()
def mediated_fractions(
    model, sae: SAE, passes: list[Pass], patches: list[list[list[int]]], batch_size: int = 16
) -> list[list[float]]:
    """For each pass and each of its patches (a list of features), the share of the model's effect that
    returns when those features are patched back to their ref activations in the alt pass (NaN where
    the model's effect is 0)."""
    layer = sae.metadata["hook_name"]
    jobs = [(i, j) for i, sets in enumerate(patches) for j in range(len(sets))]
    results: dict[tuple[int, int], float] = {}
    decoder = sae.W_dec.detach().cpu()
    needed = [sorted({f for features in sets for f in features}) for sets in patches]
    codes = {i: passes[i].window_codes(sae, needed[i]) for i in {i for i, _ in jobs}}  # along the window
    for first in range(0, len(jobs), batch_size):
        chunk = jobs[first : first + batch_size]
        tokens = model.tokenize([passes[i].window.alt for i, _ in chunk])
        patch = torch.zeros(len(chunk), tokens.input_ids.shape[1], sae.d_in)
        for row, (i, j) in enumerate(chunk):
            p, features = passes[i], patches[i][j]
            columns = [needed[i].index(f) for f in features]
            ref_codes, alt_codes = codes[i][0][:, columns], codes[i][1][:, columns]
            target = torch.zeros(len(p.alt_to_ref_token), len(features))
            has = p.alt_to_ref_token >= 0
            target[has] = ref_codes[p.alt_to_ref_token[has]]
            patch[row, : len(target)] = (target - alt_codes) @ decoder[features]
        patch = patch.to(model.device)
        logits, _ = model.forward(tokens, edits={layer: lambda h, patch=patch: h + patch.to(h.dtype)})
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()
        for row, (i, j) in enumerate(chunk):
            p = passes[i]
            total = _logp_distance(p, p.alt_logp)
            left = _logp_distance(p, logp[row, : len(p.alt_to_ref_token)])
            results[(i, j)] = 1.0 - left / total if total > 0 else float("nan")
    return [[results[(i, j)] for j in range(len(sets))] for i, sets in enumerate(patches)]
