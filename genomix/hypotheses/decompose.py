"""Ref vs alt in SAE features, the model's response to a variant, and the causal test of features.

For a variant's window, the ref and the alt sequence run through the model to the SAE's layer and
are encoded. Features are compared base by base through the window's offset map (`ref_to_alt`):
a ref base is compared with the alt base it became (0 where it was deleted), and inserted alt bases
with 0. Near the variant (`radius` bp either side of the allele) each feature keeps its largest
change: signed delta, ref and alt activation, and where it happened (offset in bp from the
variant's first REF base).

The model's response follows the variant's score (`Measure`; on the strand the pass was read). A number m is
read from one pass, and the response is `effect = m(alt pass) - m(ref pass)`:
- llr: m = sum over the allele's tokens t of `log p_t(alt) - log p_t(ref)` (the score's own contrast,
  read unmasked) + sum over the other tokens within `radius` bp of the allele of `log p_t(x_t)`, the
  log-probability of the base both windows share there. The radius is where features are read, so
  it covers the site of every hypothesis of the variant: the response is the model's change at the
  variant and at the sites, not over the whole window.
- delta_ll: m = sum over the tokens t outside the allele of `log p(x_t | tokens before t)`: delta_ll
  less its allele's own terms, which no activation upstream of the allele can change.
- embedding: m = `|| mean_t h_t - mean_t h_ref,t ||` at the score's layer: the score itself (0 for
  the ref pass).
- spliceai: m = `P_c(t)`, SpliceAI's probability of class c (acceptor or donor) at one base t: of
  the bases within `distance` bp of the allele that ref and alt share (the allele's own bases for a
  substitution), the base and class where |P_c(alt) - P_c(ref)| is largest; `effect` is that change,
  negative for a site lost. For a substitution it is the delta score SpliceAI reports (DS_AG, DS_AL,
  DS_DG or DS_DL, on the window's strand, without a transcript's bounds). An indel's deleted and
  inserted bases have no counterpart to patch, so they are not read: a site on a deleted base is
  missed here (`genomix score --model spliceai` reads it as SpliceAI does, the deleted base at 0).

The causal test patches nodes back: in the alt forward pass, a patched feature's activation at every
alt token is set to that of the ref token it corresponds to (0 where there is none) by adding
`(ref - alt) * W_dec[feature]` to the layer's output; the SAE's error term (`x - sae(x)`, `ERROR` in
a patch) is set to the ref token's (left as it is where there is none). The share of the response
a patch restores is `mediated_fraction = (m(alt) - m(patched)) / effect`: 1 when the patch restores
the ref's m, 0 when it changes nothing. Features and error term together make up the layer's
output, so patching all of them back restores 1 wherever every alt token has a ref token (any
substitution).
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
    `alt_to_ref_token[t]`: the ref token alt token t corresponds to (-1 where none). `ref_ids`,
    `alt_ids`: the token ids; `ref_mean`, `alt_mean`: the mean state over base tokens at the model's
    last layer (the embedding score's), `[d_model]` float64 (None without logits)."""

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
    ref_ids: np.ndarray
    alt_ids: np.ndarray
    ref_mean: torch.Tensor | None
    alt_mean: torch.Tensor | None

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
        last = model.layers[-1]
        out, captured = model.forward(tokens, layers=(layer, last) if logits else (layer,), logits=logits)
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
        logp = _logp(out).cpu() if logits else None
        hidden = captured[layer].float().cpu() if logits else None
        means = _base_means(captured[last], tokens) if logits else None
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
                    tokens.input_ids[r, :n_ref].numpy(),
                    tokens.input_ids[a, :n_alt].numpy(),
                    means[r] if logits else None,
                    means[a] if logits else None,
                )
            )
    return passes


def _base_means(states: torch.Tensor, tokens) -> torch.Tensor:
    """`[batch, d_model]` float64: each row's mean state over its tokens that spell bases."""
    return torch.stack(
        [
            states[row, : len(spans)][torch.from_numpy(spans[:, 0] >= 0).to(states.device)].double().mean(0).cpu()
            for row, spans in enumerate(tokens.spans)
        ]
    )


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


ERROR = -1  # in a patch: the SAE's error term


@dataclass
class Measure:
    """How m (see the module docstring) is read from one pass of a variant's alt window: for llr and
    delta_ll, `sum_k signs[k] * log p[rows[k], ids[k]]`; for embedding, the distance of the mean state
    over base tokens (`bases`) at `layer` from the ref's (`ref_mean`). `ref`, `alt`: m of the ref and
    the alt pass."""

    method: str
    rows: np.ndarray
    ids: np.ndarray
    signs: np.ndarray
    ref: float
    alt: float
    layer: str | None = None
    ref_mean: torch.Tensor | None = None
    bases: np.ndarray | None = None

    @property
    def effect(self) -> float:
        """The model's response to the variant: m(alt) - m(ref)."""
        return self.alt - self.ref

    def __call__(self, logits: torch.Tensor | None, states: torch.Tensor | None) -> torch.Tensor:
        """m of one alt-side pass, a scalar tensor: `logits [tokens, vocab]`, `states [tokens, d_model]`
        at `layer` (embedding only)."""
        if self.method == "embedding":
            mean = states[torch.from_numpy(self.bases).to(states.device)].double().mean(0)
            return (mean - self.ref_mean.to(mean.device)).norm()
        if self.method == "spliceai":  # the model's output is already log-probabilities
            return _read_logp(logits, self.rows, self.ids, self.signs).exp()
        return _read_logp(_logp(logits), self.rows, self.ids, self.signs)


def _logp(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)


def _read_logp(logp: torch.Tensor, rows: np.ndarray, ids: np.ndarray, signs: np.ndarray) -> torch.Tensor:
    picked = logp[torch.from_numpy(rows).to(logp.device), torch.from_numpy(ids).to(logp.device)].double()
    return (picked * torch.from_numpy(signs).to(picked.device)).sum()


def measure(model, p: Pass, method: str, radius: int = 20, distance: int = 50) -> Measure:
    """How the response of `p`'s variant is read by `method` (the score's: llr, delta_ll, embedding or
    spliceai, which reads SpliceAI's output within `distance` bp of the allele)."""
    window = p.window
    if method == "spliceai":
        return _splice_measure(p, distance)
    if method == "embedding":
        bases = np.zeros(len(p.alt_ids), dtype=bool)
        bases[np.unique(p.alt_token[p.alt_token >= 0])] = True
        none = np.zeros(0, dtype=np.int64)
        distance = float((p.alt_mean - p.ref_mean).norm())
        return Measure(method, none, none, np.zeros(0), 0.0, distance, model.layers[-1], p.ref_mean, bases)
    if method == "delta_ll":  # log p of token t is read at token t - 1
        pairs = p.aligned[(p.aligned[:, 0] >= 1) & (p.aligned[:, 1] >= 1)]
        ref = (pairs[:, 0] - 1, p.ref_ids[pairs[:, 0]], np.ones(len(pairs)))
        alt = (pairs[:, 1] - 1, p.alt_ids[pairs[:, 1]], np.ones(len(pairs)))
    elif method == "llr":
        ref_allele = np.unique(p.ref_token[window.ref_span[0] : window.ref_span[1]])
        alt_allele = np.unique(p.alt_token[window.alt_span[0] : window.alt_span[1]])
        if len(ref_allele) != len(alt_allele) or (ref_allele < 0).any() or (alt_allele < 0).any():
            raise GenomixError("the llr response needs a substitution whose ref and alt tokens pair up")
        contrast = (p.ref_ids[ref_allele], p.alt_ids[alt_allele])
        start, end = max(0, window.ref_span[0] - radius), min(len(window), window.ref_span[1] + radius)
        near = p.aligned[np.isin(p.aligned[:, 0], p.ref_token[start:end])]
        signs = np.concatenate([np.ones(len(ref_allele)), -np.ones(len(ref_allele)), np.ones(len(near))])
        ref = (
            np.concatenate([ref_allele, ref_allele, near[:, 0]]),
            np.concatenate([*contrast[::-1], p.ref_ids[near[:, 0]]]),
            signs,
        )
        alt = (
            np.concatenate([alt_allele, alt_allele, near[:, 1]]),
            np.concatenate([*contrast[::-1], p.alt_ids[near[:, 1]]]),
            signs,
        )
    else:
        raise GenomixError(f"no response is defined for the method {method!r}")
    ref_m = float(_read_logp(p.ref_logp, *ref))
    alt_m = float(_read_logp(p.alt_logp, *alt))
    return Measure(method, *alt, ref_m, alt_m)


SPLICE_CLASSES = (1, 2)  # SpliceAI's acceptor and donor outputs


def _splice_measure(p: Pass, distance: int) -> Measure:
    """The base and class of SpliceAI's largest change within `distance` bp of the allele (see the
    module docstring); the window must hold SpliceAI's context on both sides of that range."""
    window = p.window
    start, end = max(0, window.ref_span[0] - distance), min(len(window), window.ref_span[1] + distance)
    ref_base = np.arange(start, end)
    alt_base = window.ref_to_alt[ref_base]
    ref_base, alt_base = ref_base[alt_base >= 0], alt_base[alt_base >= 0]
    if not len(ref_base):
        raise GenomixError(f"no base within {distance} bp of the allele is in both ref and alt: use a larger distance")
    ref_token, alt_token = p.ref_token[ref_base], p.alt_token[alt_base]
    classes = list(SPLICE_CLASSES)
    ref = p.ref_logp[ref_token][:, classes].double().exp()
    alt = p.alt_logp[alt_token][:, classes].double().exp()
    row, column = divmod(int((alt - ref).abs().argmax()), len(classes))
    ids = np.array([classes[column]])
    return Measure("spliceai", alt_token[[row]], ids, np.ones(1), float(ref[row, column]), float(alt[row, column]))


# The backward pass runs on the response times 2**40 and divides the gradient back: exact (a power of
# two), and it keeps the small gradients of the layers in between out of the denormal floats, which a
# CPU computes 10-20x slower (the demo model's dilated convolutions: 0.27 s instead of 0.017 s).
# Not for a float16 model, whose range the scale would overflow.
GRADIENT_SCALE = 2.0**40


def measured_passes(
    model, layer: str, tokens, measures: list[Measure], change: torch.Tensor | None = None, grad: bool = False
) -> tuple[np.ndarray, torch.Tensor | None]:
    """Alt passes (`tokens`, one row per measure) with `change` `[batch, tokens, d_in]` added to the
    output of `layer`: each row's m, and with `grad` the gradient of m with respect to that output
    `[batch, tokens, d_in]` (one backward pass for the batch: the rows do not mix)."""
    edited: dict[str, torch.Tensor] = {}

    def edit(hidden):
        if change is not None:
            hidden = hidden + change.to(hidden.device, hidden.dtype)
        if grad:
            hidden = hidden.detach().requires_grad_(True)
        edited[layer] = hidden
        return hidden

    reads = tuple({m.layer for m in measures if m.layer is not None} - {layer})
    with torch.enable_grad() if grad else torch.no_grad():
        logits, captured = model.forward(tokens, layers=reads, edits={layer: edit}, grad=grad)
        captured = {**captured, **edited}  # a layer that is edited is read after the edit
        values = torch.stack(
            [
                m(
                    logits[row, : len(tokens.spans[row])],
                    captured[m.layer][row, : len(tokens.spans[row])] if m.layer is not None else None,
                )
                for row, m in enumerate(measures)
            ]
        )
        gradient = None
        if grad:  # float16's range stops at 65,504: no scale there (and a GPU has no slow denormals)
            scale = 1.0 if edited[layer].dtype == torch.float16 else GRADIENT_SCALE
            gradient = torch.autograd.grad(values.sum() * scale, edited[layer])[0] / scale
    return values.detach().cpu().numpy(), gradient


def from_ref(p: Pass, ref_values: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """`[alt tokens, ...]`: at each alt token the value of the ref token it corresponds to, `fill`'s
    row where there is none."""
    has = torch.from_numpy(p.alt_to_ref_token >= 0)
    target = fill.clone()
    target[has] = ref_values[p.alt_to_ref_token[p.alt_to_ref_token >= 0]]
    return target


@torch.no_grad()
def codes_and_errors(sae: SAE, p: Pass) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every feature's activation at every ref and every alt token `[tokens, d_sae]`, and the SAE's error
    term `x - sae(x)` there `[tokens, d_in]`: (ref codes, alt codes, ref error, alt error), each window
    encoded once."""
    if p.ref_hidden is None:
        raise GenomixError("this pass was made for the null (logits=False): it keeps no layer output")
    device = sae.W_enc.device
    out = []
    for hidden in (p.ref_hidden, p.alt_hidden):
        codes = sae.encode(hidden.to(device))
        out.append((codes.cpu(), (hidden.to(device) - sae.decode(codes)).cpu()))
    (ref_codes, ref_error), (alt_codes, alt_error) = out
    return ref_codes, alt_codes, ref_error, alt_error


@torch.no_grad()
def mediated_fractions(
    model, sae: SAE, passes: list[Pass], measures: list[Measure], patches: list[list[list[int]]], batch_size: int = 16
) -> list[list[float]]:
    """For each pass and each of its patches (a list of features, `ERROR` for the SAE's error term),
    the share of the model's response (`measures[i]`) that returns when they are patched back to their
    ref values in the alt pass (NaN where the response is 0; see the module docstring)."""
    layer = sae.metadata["hook_name"]
    jobs = [(i, j) for i, sets in enumerate(patches) for j in range(len(sets))]
    results: dict[tuple[int, int], float] = {}
    decoder = sae.W_dec.detach().cpu()
    needed = [sorted({f for features in sets for f in features if f != ERROR}) for sets in patches]
    used = {i for i, _ in jobs}
    codes = {i: passes[i].window_codes(sae, needed[i]) for i in used}  # along the window
    with_error = [i for i in used if any(ERROR in features for features in patches[i])]
    errors = {i: codes_and_errors(sae, passes[i])[2:] for i in with_error}
    for first in range(0, len(jobs), batch_size):
        chunk = jobs[first : first + batch_size]
        tokens = model.tokenize([passes[i].window.alt for i, _ in chunk])
        patch = torch.zeros(len(chunk), tokens.input_ids.shape[1], sae.d_in)
        for row, (i, j) in enumerate(chunk):
            p, features = passes[i], [f for f in patches[i][j] if f != ERROR]
            columns = [needed[i].index(f) for f in features]
            ref_codes, alt_codes = codes[i][0][:, columns], codes[i][1][:, columns]
            target = from_ref(p, ref_codes, torch.zeros_like(alt_codes))
            patch[row, : len(target)] = (target - alt_codes) @ decoder[features]
            if ERROR in patches[i][j]:
                ref_error, alt_error = errors[i]
                patch[row, : len(target)] += from_ref(p, ref_error, alt_error) - alt_error
        values, _ = measured_passes(model, layer, tokens, [measures[i] for i, _ in chunk], patch)
        for row, (i, j) in enumerate(chunk):
            effect = measures[i].effect
            results[(i, j)] = (measures[i].alt - values[row]) / effect if effect != 0 else float("nan")
    return [[results[(i, j)] for j in range(len(sets))] for i, sets in enumerate(patches)]
