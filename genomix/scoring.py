"""Zero-shot variant scores from a DNA language model.

Sign convention (the one place it is defined): `llr` and `delta_ll` are
log P(alt) - log P(ref), so negative means the model finds the alternate allele less
likely; `embedding` is a distance (>= 0) between ref and alt hidden states.

- `llr` (masked LMs, substitutions): mask the tokens holding the variant in the ref
  window; sum over them of log p(alt token) - log p(ref token). One masked pass serves
  every ALT at the position. It needs the alt window to split into tokens at the same
  places as the ref window: with a subword (BPE) vocabulary a substitution can move the
  boundaries, and such a variant is skipped (`skipped:llr_token_boundaries_differ`).
- `delta_ll` (causal LMs): sum of per-token log-likelihood of the alt window minus the ref window.
  The tokens left of the first one that differs are the same in both windows and their terms cancel,
  so where the model keeps a key/value cache the alt pass runs only from that token on, continuing
  the ref pass's cache of the shared prefix (equal to the full-window difference within float
  rounding; `reuse_prefix=False` runs both windows whole).
- `embedding` (any model, any length): Euclidean distance between the mean hidden
  state over the window's tokens at a layer, ref vs alt. The default (`auto`) for masked
  LMs with a subword vocabulary, whose ref and alt windows need not share tokens.

Scores are averaged over the forward and the reverse-complement window unless
`rc=False`. Identical passes (the same ref window, masked or not) run once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.io.variants import Variant
from genomix.io.windows import Window, check_window_fits, make_window
from genomix.models.base import GenomicModel, layer_name

METHODS = ("auto", "llr", "delta_ll", "embedding", "spliceai")
DEFAULT_WINDOW = 1024


def subword_tokens(model: GenomicModel) -> bool:
    """Whether the model's tokens are subwords (BPE) whose boundaries depend on the sequence."""
    return bool(getattr(getattr(model, "tokenizer", None), "subword", False))


def choose_method(method: str, model: GenomicModel, variant: Variant) -> str:
    """The method `auto` means for this model and variant: llr for MLM substitutions,
    embedding for MLM indels and for every variant of an MLM with a subword vocabulary,
    delta_ll for causal LMs, spliceai for SpliceAI."""
    if method != "auto":
        return method
    if model.kind == "splice":
        return "spliceai"
    if model.kind == "clm":
        return "delta_ll"
    return "llr" if variant.is_substitution and not subword_tokens(model) else "embedding"


def check_method(method: str, model: GenomicModel) -> None:
    """Refuse a method the model cannot compute, before any work starts."""
    if method not in METHODS:
        raise GenomixError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}", option="method")
    if method == "llr" and (model.kind != "mlm" or getattr(model, "mask_token_id", None) is None):
        raise GenomixError(
            f"llr needs a masked LM with a mask token; {model.name} is not one. Use "
            'method="delta_ll" or method="embedding".',
            option="method",
        )
    if method == "delta_ll" and model.kind != "clm":
        raise GenomixError(
            f'delta_ll needs a causal LM; {model.name} is not one. Use method="llr" or method="embedding".',
            option="method",
        )
    if method == "spliceai" and model.kind != "splice":
        raise GenomixError(
            f'the spliceai scores need the SpliceAI model (model="spliceai"); {model.name} is not it.', option="method"
        )


def default_window(model: GenomicModel) -> int:
    """1024 bp, or the model's context when that is shorter (a model that declares none takes 1024)."""
    return DEFAULT_WINDOW if model.context_bp is None else min(DEFAULT_WINDOW, model.context_bp)


def check_window(width, model: GenomicModel | None = None) -> None:
    """Refuse a window that is not a whole number of bp from 2 up to the model's context (if declared)."""
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)):
        raise GenomixError(f"a window is a whole number of bp, not {width!r}; e.g. window=1024", option="window")
    if width < 2:
        raise GenomixError(
            f"a window must be at least 2 bp, not {width}; pass window=1024, or leave it out for the default",
            option="window",
        )
    if model is not None and model.context_bp is not None and width > model.context_bp:
        raise GenomixError(
            f"window of {width} bp is longer than {model.name}'s context ({model.context_bp} bp); "
            f"use window={model.context_bp} or less.",
            option="window",
        )


@dataclass
class _Forward:
    """One forward pass: a sequence, the token positions to mask, and what to read from it."""

    seq: str
    masked_tokens: tuple[int, ...] = ()
    # "masked": log-probs at masked tokens; "ll": per-token log-likelihoods; "embed": mean state;
    # "suffix": log-likelihood of tokens `start`.. of `seq`, continuing the cache of pass `after`'s first tokens
    kind: str = "ll"
    after: int = -1
    start: int = 0


@dataclass
class _Plan:
    """Forward passes shared by a batch of windows, and how each window's score reads them."""

    passes: list[_Forward] = field(default_factory=list)
    index: dict[tuple, int] = field(default_factory=dict)

    def add(self, key: tuple, make: Callable[[], _Forward]) -> int:
        if key not in self.index:
            self.index[key] = len(self.passes)
            self.passes.append(make())
        return self.index[key]


def tokens_covering(spans: np.ndarray, start: int, end: int) -> list[int]:
    """The tokens (indices into `spans`, one sequence's `[tokens, 2]`) holding any base of [start, end)."""
    return [i for i, (s, e) in enumerate(spans) if s >= 0 and s < end and e > start]


def _plan_strand(plan: _Plan, model: GenomicModel, window: Window, method: str, reuse_prefix: bool = True):
    """Register the passes one strand of one window needs; returns a function of the pass results."""
    if method == "llr":
        if subword_tokens(model):  # a substitution can move subword boundaries; k-mer and character ones stay
            spans, alt_spans = model.tokenize([window.ref, window.alt]).spans
            if not np.array_equal(spans, alt_spans):
                return None  # the alt window splits into other tokens: there is no token pair to compare
        else:
            spans = model.tokenize([window.ref]).spans[0]
        start, end = window.ref_span
        tokens = tokens_covering(spans, start, end)
        pairs = []
        for token in tokens:
            s, e = spans[token]
            ref_id, alt_id = model.token_id(window.ref[s:e]), model.token_id(window.alt[s:e])
            if ref_id is None or alt_id is None:
                return None
            pairs.append((ref_id, alt_id))
        key = ("masked", window.ref, tuple(tokens))
        at = plan.add(key, lambda: _Forward(window.ref, tuple(tokens), "masked"))
        return lambda results: sum(float(results[at][i, a] - results[at][i, r]) for i, (r, a) in enumerate(pairs))
    kind = "ll" if method == "delta_ll" else "embed"
    ref_at = plan.add((kind, window.ref), lambda: _Forward(window.ref, (), kind))
    if method == "delta_ll" and reuse_prefix and getattr(model, "reuses_prefix", False):
        start = _first_difference(model, window.ref, window.alt)
        if start > 1:
            alt_at = plan.add(
                ("suffix", window.alt, ref_at, start), lambda: _Forward(window.alt, (), "suffix", ref_at, start)
            )
            # results[ref_at][t - 1] is the log-likelihood of token t
            return lambda results: float(results[alt_at] - results[ref_at][start - 1 :].sum())
    alt_at = plan.add((kind, window.alt), lambda: _Forward(window.alt, (), kind))
    if method == "delta_ll":
        return lambda results: float(results[alt_at].sum() - results[ref_at].sum())
    return lambda results: float(np.linalg.norm(results[alt_at] - results[ref_at]))


def _first_difference(model: GenomicModel, ref: str, alt: str) -> int:
    """Index of the first token where the alt window's tokens differ from the ref window's (their length
    when one is a prefix of the other)."""
    tokens = model.tokenize([ref, alt])
    length = min(len(spans) for spans in tokens.spans)
    ref_ids, alt_ids = tokens.input_ids[:, :length].numpy()
    differ = np.flatnonzero(ref_ids != alt_ids)
    return int(differ[0]) if len(differ) else length


def _token_log_likelihoods(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`[batch, tokens - 1]`: log p(token t | tokens before it) for t >= 1 from a causal pass's logits, 0 at
    padding."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    targets = input_ids[:, 1:].to(logits.device)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1) * mask[:, 1:].to(logits.device)


def _run_prefix_reuse(model: GenomicModel, passes: list[_Forward], batch_size: int, results: list) -> None:
    """The "ll" passes that "suffix" passes continue, batch by batch with their caches, each batch followed by
    the suffix passes that continue it (grouped by where they start); a model that gives no cache for a
    batch has those suffix passes run whole."""
    dependants: dict[int, list[int]] = {}
    for i, step in enumerate(passes):
        if step.kind == "suffix":
            dependants.setdefault(step.after, []).append(i)
    refs = sorted(dependants, key=lambda i: len(passes[i].seq))
    for first in range(0, len(refs), batch_size):
        members = refs[first : first + batch_size]
        tokens = model.tokenize([passes[i].seq for i in members])
        logits, cache = model.forward_cached(tokens)
        per_token = _token_log_likelihoods(logits, tokens.input_ids, tokens.attention_mask)
        for row, i in enumerate(members):
            results[i] = per_token[row].double().cpu().numpy()
        row_of = {i: row for row, i in enumerate(members)}
        continuing = sorted(
            (j for i in members for j in dependants[i]), key=lambda j: (passes[j].start, len(passes[j].seq))
        )
        for start in sorted({passes[j].start for j in continuing}):
            group = [j for j in continuing if passes[j].start == start]
            for head in range(0, len(group), batch_size):
                chunk = group[head : head + batch_size]
                alt = model.tokenize([passes[j].seq for j in chunk])
                if cache is None:
                    full = model.forward(alt)[0]
                    suffix = _token_log_likelihoods(full, alt.input_ids, alt.attention_mask)[:, start - 1 :]
                else:
                    # The continuation starts one token early: its logits there predict token `start`.
                    ids, mask = alt.input_ids[:, start - 1 :], alt.attention_mask[:, start - 1 :]
                    rows = [row_of[passes[j].after] for j in chunk]
                    suffix = _token_log_likelihoods(model.forward_after(cache, rows, start - 1, ids, mask), ids, mask)
                for row, j in enumerate(chunk):
                    results[j] = float(suffix[row].double().sum())


def _run_forwards(model: GenomicModel, passes: list[_Forward], batch_size: int, layer: str | None) -> list:
    """Run the passes in batches of `batch_size`, grouped by kind; one result per pass."""
    results: list = [None] * len(passes)
    if any(step.kind == "suffix" for step in passes):
        _run_prefix_reuse(model, passes, batch_size, results)
    order = sorted(
        (i for i in range(len(passes)) if results[i] is None), key=lambda i: (passes[i].kind, len(passes[i].seq))
    )
    for first in range(0, len(order), batch_size):
        chunk = order[first : first + batch_size]
        kinds = {passes[i].kind for i in chunk}
        for kind in kinds:
            members = [i for i in chunk if passes[i].kind == kind]
            tokens = model.tokenize([passes[i].seq for i in members])
            if kind == "masked":
                for row, i in enumerate(members):
                    tokens.input_ids[row, list(passes[i].masked_tokens)] = model.mask_token_id
            layers = (layer,) if kind == "embed" else ()
            logits, activations = model.forward(tokens, layers=layers)
            mask = tokens.attention_mask.to(logits.device)
            if kind == "masked":
                for row, i in enumerate(members):
                    picked = logits[row, list(passes[i].masked_tokens)].float()
                    results[i] = torch.log_softmax(picked, dim=-1).cpu().numpy()
            elif kind == "ll":
                per_token = _token_log_likelihoods(logits, tokens.input_ids, mask)
                for row, i in enumerate(members):
                    results[i] = per_token[row].double().cpu().numpy()
            else:
                states = activations[layer].float()
                for row, i in enumerate(members):
                    dna = torch.from_numpy(tokens.spans[row][:, 0] >= 0).to(states.device)
                    length = len(tokens.spans[row])
                    results[i] = states[row, :length][dna].double().mean(0).cpu().numpy()
    return results


def score_windows(
    model: GenomicModel,
    windows: list[Window],
    methods: list[str],
    rc: bool = True,
    batch_size: int = 32,
    layer: str | int | None = None,
    reuse_prefix: bool = True,
) -> np.ndarray:
    """Score of each window by its method (see the module docstring); NaN where it cannot be computed.

    `windows`: forward-strand windows; `methods[i]` is llr, delta_ll or embedding. `reuse_prefix`: delta_ll's
    alt pass continues the ref pass's cache of the tokens both share (False: both windows run whole).
    Results do not depend on `batch_size`.
    """
    hook = layer_name(layer if layer is not None else -1, model) if "embedding" in methods else None
    plan = _Plan()
    readers = []
    for window, method in zip(windows, methods):
        strands = [window, window.reverse_complement()] if rc else [window]
        readers.append([_plan_strand(plan, model, strand, method, reuse_prefix) for strand in strands])
    results = _run_forwards(model, plan.passes, batch_size, hook)
    scores = np.full(len(windows), np.nan)
    for row, strand_readers in enumerate(readers):
        if all(reader is not None for reader in strand_readers):
            scores[row] = np.mean([reader(results) for reader in strand_readers])
    return scores


@dataclass(frozen=True)
class ScoreOptions:
    """How variants are scored: `method` (auto, llr, delta_ll, embedding, spliceai), `window` in bp (None:
    1024 or the model's context), `rc` (average with the reverse-complement strand), `batch_size`
    (forward passes per batch; results do not depend on it), `layer` (of the embedding score; None: the
    last); for spliceai (see `genomix.splicing`), `distance` (bp either side of the variant where splice
    sites are gained or lost, SpliceAI's -D) and `mask` (SpliceAI's -M); `reuse_prefix` (delta_ll: the alt
    pass continues the ref pass's key/value cache of the bases left of the variant; False runs both whole)."""

    method: str = "auto"
    window: int | None = None
    rc: bool = True
    batch_size: int = 32
    layer: str | int | None = None
    distance: int = 50
    mask: bool = False
    reuse_prefix: bool = True

    def __post_init__(self) -> None:
        if self.window is not None:
            check_window(self.window)
        if isinstance(self.distance, bool) or not isinstance(self.distance, (int, np.integer)):
            raise GenomixError(f"distance is a whole number of bp, not {self.distance!r}", option="distance")
        if not 0 <= self.distance < 5000:
            raise GenomixError(
                f"distance must be from 0 to 4999 bp (SpliceAI's range), not {self.distance}", option="distance"
            )

    def spliceai(self, model: GenomicModel) -> bool:
        """Whether these options score with SpliceAI's delta scores."""
        return self.method == "spliceai" or (self.method == "auto" and model.kind == "splice")

    def check(self, model: GenomicModel) -> None:
        """Refuse what the model cannot do, before any work starts."""
        check_method(self.method, model)
        if self.spliceai(model):
            if self.window is not None:
                raise GenomixError(
                    "SpliceAI reads 5,000 bp on each side of every position it scores; leave the window out "
                    "(distance sets how far from the variant sites are scored)",
                    option="window",
                )
            return
        check_window(default_window(model) if self.window is None else self.window, model)


@dataclass(frozen=True)
class Scored:
    """One variant with its method and score (None and NaN unless `variant.status == "ok"`)."""

    variant: Variant
    method: str | None
    score: float

    @property
    def status(self) -> str:
        return self.variant.status


def score_variants(
    model: GenomicModel,
    genome: Genome,
    variants: Iterable[Variant],
    method: str = "auto",
    window: int | None = None,
    rc: bool = True,
    batch_size: int = 32,
    layer: str | int | None = None,
    reuse_prefix: bool = True,
) -> list[Scored]:
    """Score placed variants (from `read_variants`); skipped ones come back with their status and NaN.
    `reuse_prefix`: see `score_windows`."""
    check_method(method, model)
    width = default_window(model) if window is None else window
    check_window(width, model)
    variants = list(variants)
    methods = [choose_method(method, model, v) for v in variants]
    statuses = [v.status if not v.ok else check_window_fits(v, width) for v in variants]
    for row, (variant, chosen) in enumerate(zip(variants, methods)):
        if statuses[row] == "ok" and chosen == "llr" and not variant.is_substitution:
            statuses[row] = "skipped:llr_needs_substitution"
    todo = [row for row, status in enumerate(statuses) if status == "ok"]
    windows = [make_window(genome, variants[row], width) for row in todo]
    scores = np.full(len(variants), np.nan)
    if todo:
        chosen = [methods[row] for row in todo]
        scores[todo] = score_windows(model, windows, chosen, rc, batch_size, layer, reuse_prefix)
    unscored = "skipped:llr_token_boundaries_differ" if subword_tokens(model) else "skipped:allele_not_in_vocabulary"
    for row in todo:
        if np.isnan(scores[row]):
            statuses[row] = unscored
    return [
        Scored(replace(v, status=status) if status != v.status else v, m if status == "ok" else None, float(s))
        for v, m, status, s in zip(variants, methods, statuses, scores)
    ]


SCORE_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "method", "score", "status"]


def scores_table(scored: list[Scored]):
    """Table rows of scored variants: chrom, pos (1-based, as in the VCF), id, ref, alt, method, score, status;
    a skipped ALT has no method (NA in TSV, null in Parquet)."""
    import pandas as pd

    return pd.DataFrame(
        [
            (
                s.variant.chrom,
                s.variant.vcf_pos,
                s.variant.id,
                s.variant.ref,
                s.variant.alt,
                s.method,
                s.score,
                s.variant.status,
            )
            for s in scored
        ],
        columns=SCORE_COLUMNS,
    ).astype({"pos": "int64", "score": "float64", "method": "string"})
