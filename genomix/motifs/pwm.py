"""Position weight matrices: log-odds scores of a motif along a sequence, on both strands.

`log_odds(ppm)` is log2(p / 0.25) against a uniform background; JASPAR PPMs from `load_jaspar`
already carry a pseudocount, so no column is -inf. A window is scored on the reverse strand with the
reverse-complemented matrix, so both strands' scores index the same forward positions.
"""

from __future__ import annotations

import numpy as np

from genomix.sequence import one_hot

SITE_P = 1e-4  # a motif site scores at this p-value or better (FIMO's default threshold)


def log_odds(ppm: np.ndarray, background: float = 0.25, floor: float = 1e-3) -> np.ndarray:
    """`[length, 4]` log2-odds of a PPM."""
    return np.log2(np.clip(np.asarray(ppm, dtype=float), floor, None) / background)


def site_scores(seq: str, pwm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score of the motif starting at each position of `seq` on the forward and on the reverse strand
    (`[len(seq) - length + 1]` each); N bases score 0 in every column."""
    if len(seq) < len(pwm):
        return np.zeros(0), np.zeros(0)
    forward, reverse = _strand_scores(one_hot(seq)[None].astype(float), pwm)
    return forward[0], reverse[0]


def _strand_scores(x: np.ndarray, pwm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every placement in one-hot sequences `x` `[n, L, 4]`: forward and reverse strand,
    `[n, L - length + 1]` each."""
    windows = np.lib.stride_tricks.sliding_window_view(x, len(pwm), axis=1)  # [n, placements, 4, length]
    forward = np.einsum("nwbl,lb->nw", windows, pwm)
    reverse = np.einsum("nwbl,lb->nw", windows, pwm[::-1, ::-1])  # reverse complement: flip columns and bases
    return forward, reverse


def best_site(seq: str, pwm: np.ndarray, start: int, end: int) -> tuple[float, int, str]:
    """The best-scoring placement of the motif that overlaps `seq[start:end]`, on either strand:
    (score, first base of the placement, strand). (-inf, -1, '.') when none fits."""
    length = len(pwm)
    first, last = max(0, start - length + 1), min(len(seq) - length, max(end - 1, start))
    if last < first:
        return float("-inf"), -1, "."
    f, r = site_scores(seq[first : last + length], pwm)  # only the placements asked for
    if f.max() >= r.max():
        return float(f.max()), first + int(f.argmax()), "+"
    return float(r.max()), first + int(r.argmax()), "-"


def quantize(pwm: np.ndarray, step: float = 0.01) -> np.ndarray:
    """The PWM rounded to multiples of `step`, so that `score_threshold` is exact for its scores."""
    return np.round(np.asarray(pwm, dtype=float) / step) * step


def score_survival(pwm: np.ndarray, step: float = 0.01) -> tuple[int, np.ndarray]:
    """The exact distribution of the PWM's score on a uniformly random sequence (one placement, one
    strand), over its scores rounded to `step`: (the lowest score in units of `step`, and
    P(score >= (lowest + i) * step) for each i)."""
    columns = np.round(np.asarray(pwm) / step).astype(np.int64)
    distribution, low = np.ones(1), 0
    for column in columns:
        floor = int(column.min())
        grown = np.zeros(len(distribution) + int(column.max()) - floor)
        for value in column:
            grown[value - floor : value - floor + len(distribution)] += distribution / 4
        distribution, low = grown, low + floor
    return low, np.cumsum(distribution[::-1])[::-1]


def score_p_value(score: float, survival: tuple[float, np.ndarray], step: float = 0.01) -> float:
    """P(a random placement scores at least `score`) from `score_survival`; 1 for -inf."""
    low, at_least = survival
    if not np.isfinite(score):
        return 1.0
    index = int(np.ceil(round(score / step - low, 6)))
    return float(at_least[min(max(index, 0), len(at_least) - 1)]) if index < len(at_least) else 0.0


def score_threshold(pwm: np.ndarray, p_value: float = 1e-4, step: float = 0.01) -> float:
    """The smallest log-odds score that a uniformly random sequence reaches with probability at most
    `p_value` (one placement, one strand; FIMO's site threshold). Exact for a PWM in multiples of `step`
    (see `quantize`); otherwise over its scores rounded to `step`. When even the best score is more
    likely than that (a short motif), the best score."""
    low, at_least = score_survival(pwm, step)
    distribution = at_least - np.append(at_least[1:], 0.0)
    reachable = np.nonzero((at_least <= p_value) & (distribution > 0))[0]
    index = reachable[0] if len(reachable) else len(at_least) - 1
    return float((low + index) * step)


def best_scores(contexts: list[str], pwm: np.ndarray, first: int, last: int) -> np.ndarray:
    """Per context (equally long sequences), the best score of the motif placed at a start in
    `[first, last]` on either strand; -inf where no placement fits."""
    if not contexts:
        return np.zeros(0)
    x = np.stack([one_hot(c) for c in contexts]).astype(float)  # [n, width, 4]
    length = len(pwm)
    first, last = max(first, 0), min(last, x.shape[1] - length)
    if last < first:
        return np.full(len(contexts), -np.inf)
    forward, reverse = _strand_scores(x[:, first : last + length], pwm)
    return np.maximum(forward.max(1), reverse.max(1))


def site_matrix(ppm: np.ndarray, p_value: float = SITE_P) -> tuple[np.ndarray, float]:
    """A PPM's PWM for finding sites (log2-odds in multiples of 0.01, see `quantize`) and the score a
    site reaches (`score_threshold` at `p_value`, less a rounding tolerance)."""
    pwm = quantize(log_odds(ppm))
    return pwm, score_threshold(pwm, p_value) - 1e-6
