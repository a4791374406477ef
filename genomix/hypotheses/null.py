"""The empirical null of explain's statistic: what a variant does to SAE features in a context
with the genome's local composition but no grammar.

Background windows without N are drawn at random from the genome (seeded), dinucleotide-shuffled
(Altschul-Erickson: a random Eulerian walk through the window's dinucleotide graph keeps every
dinucleotide count, the first and the last base), and given a variant of the same kind at their
centre: an SNV, or a deletion / insertion of the same length (lengths above 10 bp use 10). Motifs,
splice sites and other grammar do not survive the shuffle, so the statistic of these variants is
what chance alone gives; a hypothesis' p-value is the share of null variants whose top statistic
reaches its own (with the usual +1 in numerator and denominator). Where fewer than `TAIL_COUNT` null
variants reach it, that share says little (one in 500 cannot tell 1e-3 from 1e-5), so the p-value
(of a null of 100 or more) comes from a generalised Pareto tail fitted to the largest `TAIL_SHARE` of
the null's statistics (Knijnenburg et al. 2009; a fitted shape below 0, a bounded tail, is replaced
by an exponential one, which overstates rather than understates light tails), floored at `P_FLOOR`
(`tail_p_value`). The model's own |score| of the null
variants is kept too, so that a variant's score can be read the same way (`score_p`).
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomix.errors import GenomixError
from genomix.io.genome import Genome
from genomix.io.outputs import written_whole
from genomix.io.variants import Variant
from genomix.io.windows import make_window
from genomix.sequence import ALPHABET

log = logging.getLogger("genomix")

MAX_NULL_LENGTH = 10
TAIL_COUNT = 10  # with fewer null statistics reaching a value than this, its p-value comes from the fitted tail
TAIL_SHARE = 0.1  # the tail is fitted to this share of the null's largest statistics (at least 10 of them)
P_FLOOR = 1e-6  # the fitted tail's p-values stop here
KINDS = ("snv", "mnv", "del", "ins")
STANDARD_KINDS = (("snv", 1), ("del", 1), ("del", 2), ("ins", 1), ("ins", 2))  # drawn in advance with an atlas


def dinucleotide_shuffle(seq: str, rng: np.random.Generator) -> str:
    """A random sequence with the same dinucleotide counts, first and last base as `seq`."""
    if len(seq) < 3:
        return seq
    edges: dict[str, list[str]] = defaultdict(list)
    for a, b in zip(seq, seq[1:]):
        edges[a].append(b)
    last = seq[-1]
    while True:  # a random last exit edge per vertex, forming a tree that leads to the last base
        exits = {v: int(rng.integers(len(outs))) for v, outs in edges.items() if v != last}
        if all(_reaches(v, last, edges, exits) for v in exits):
            break
    order = {}
    for v, outs in edges.items():
        rest = list(outs)
        tail = [rest.pop(exits[v])] if v in exits else []
        rng.shuffle(rest)
        order[v] = rest + tail
    walked, used, here = [seq[0]], defaultdict(int), seq[0]
    for _ in range(len(seq) - 1):
        step = order[here][used[here]]
        used[here] += 1
        walked.append(step)
        here = step
    return "".join(walked)


def _reaches(v: str, last: str, edges: dict, exits: dict) -> bool:
    seen = set()
    while v != last:
        if v in seen:
            return False
        seen.add(v)
        v = edges[v][exits[v]]
    return True


class _Sequence:
    """A single shuffled window posing as a genome for `make_window`."""

    def __init__(self, seq: str):
        self.seq = seq

    def fetch(self, contig: str, start: int, end: int) -> str:
        piece = self.seq[max(start, 0) : max(end, 0)]
        return "N" * max(0, -start) + piece + "N" * max(0, end - max(start, 0) - len(piece))


def kind_variant(kind: tuple[str, int]) -> Variant:
    """A variant of `kind`, to choose its scoring method by."""
    what, size = kind
    if what == "del":
        return Variant("null", 0, "A" * (size + 1), "A", contig="null")
    if what == "ins":
        return Variant("null", 0, "A", "A" * (size + 1), contig="null")
    return Variant("null", 0, "A" * size, "C" * size, contig="null")


def null_kind(variant: Variant) -> tuple[str, int]:
    """The null a variant is compared with: ('snv', 1), ('mnv', n), ('del', n) or ('ins', n)."""
    ref, alt = len(variant.ref), len(variant.alt)
    if ref == alt:
        return ("snv", 1) if ref == 1 else ("mnv", min(ref, MAX_NULL_LENGTH))
    if ref > alt:
        return "del", min(ref - alt, MAX_NULL_LENGTH)
    return "ins", min(alt - ref, MAX_NULL_LENGTH)


def null_backgrounds(genome: Genome, n: int, width: int, seed: int = 0) -> list[str]:
    """`n` dinucleotide-shuffled background windows of `width + 2 * MAX_NULL_LENGTH` bp without N, drawn
    from the genome with `seed`."""
    rng = np.random.default_rng([seed])
    span = width + 2 * MAX_NULL_LENGTH
    contigs = [c for c in genome.contigs if genome.lengths[c] > span]
    if not contigs:
        raise GenomixError(f"no contig is longer than {span} bp: too short for null windows of {width} bp")
    weights = np.array([genome.lengths[c] for c in contigs], dtype=float)
    backgrounds, attempts = [], 0
    while len(backgrounds) < n:
        attempts += 1
        if attempts > 100 * n:
            raise GenomixError(f"could not find {n} windows of {span} bp without N in the genome for the null")
        contig = contigs[rng.choice(len(contigs), p=weights / weights.sum())]
        start = int(rng.integers(0, genome.lengths[contig] - span))
        seq = genome.fetch(contig, start, start + span)
        if "N" not in seq:
            backgrounds.append(dinucleotide_shuffle(seq, rng))
    return backgrounds


def null_windows(
    backgrounds: list[str], kinds: list[tuple[str, int]], width: int, seed: int = 0
) -> dict[tuple[str, int], list]:
    """For each of `kinds`, the `backgrounds` (from `null_backgrounds`) with a variant of that kind at
    their centre. Each kind's alleles depend on the seed and the kind only, so the windows of a kind
    do not depend on the other kinds drawn with it (and the ref window of background i is the same in
    every kind)."""
    if not all(isinstance(kind, tuple) and len(kind) == 2 and kind[0] in KINDS for kind in kinds):
        raise GenomixError(
            f"null kinds are a list of (kind, length) pairs, kind one of {', '.join(KINDS)}; got {kinds!r}"
        )
    return {
        kind: _with_variants(backgrounds, kind, width, np.random.default_rng([seed, KINDS.index(kind[0]), kind[1]]))
        for kind in kinds
    }


def _with_variants(backgrounds: list[str], kind: tuple[str, int], width: int, rng: np.random.Generator) -> list:
    centre = width // 2
    what, size = kind
    windows = []
    for seq in backgrounds:
        ref = seq[centre : centre + (size + 1 if what in ("del", "ins") else size)]
        if what == "del":
            alt = ref[0]
        elif what == "ins":
            ref = ref[0]
            alt = ref + "".join(rng.choice(list(ALPHABET), size))
        else:
            alt = "".join(rng.choice([b for b in ALPHABET if b != r]) for r in ref)
        variant = Variant("null", centre, ref, alt, contig="null")
        windows.append(make_window(_Sequence(seq), variant, width))
    return windows


@dataclass
class Null:
    """A null of one kind of variant: each unit's standard deviation (`scale`), the sorted |z| of the
    hypothesis each null variant puts first (`tops`) and the sorted |score| the model gives the null
    variants (`scores`)."""

    scale: np.ndarray
    tops: np.ndarray
    scores: np.ndarray


def share_reaching(sorted_null: np.ndarray, value: float) -> float:
    """(1 + the number of `sorted_null` values reaching |value|) / (1 + their number)."""
    reaching = len(sorted_null) - np.searchsorted(sorted_null, abs(value), side="left")
    return float((1 + reaching) / (1 + len(sorted_null)))


def tail_p_value(sorted_null: np.ndarray, value: float, fits: dict | None = None) -> float:
    """The p-value of |value| against `sorted_null` (see the module docstring): the share reaching it,
    or beyond the `TAIL_COUNT`-th largest the fitted tail. `fits`: a cache of tail fits by the null's id."""
    from scipy.stats import genpareto

    n, value = len(sorted_null), abs(value)
    if n < 10 * TAIL_COUNT or n - np.searchsorted(sorted_null, value, side="left") >= TAIL_COUNT:
        return share_reaching(sorted_null, value)
    key = id(sorted_null)
    if fits is None or key not in fits:
        size = max(int(np.ceil(TAIL_SHARE * n)), TAIL_COUNT)
        threshold = sorted_null[n - size - 1] if size < n else 0.0
        excess = sorted_null[n - size :] - threshold
        shape, _, scale = genpareto.fit(excess, floc=0) if excess.max() > 0 else (0.0, 0.0, 0.0)
        if shape < 0:  # a bounded tail would put p = 0 past its end: an exponential one is the cautious fit
            shape, scale = 0.0, float(excess.mean())
        fit = (threshold, size / (n + 1), shape, scale)
        if fits is not None:
            fits[key] = (sorted_null, fit)  # the array is kept so that its id stays its own
    else:
        fit = fits[key][1]
    threshold, share, shape, scale = fit
    if scale <= 0:
        return max(share_reaching(sorted_null, value), P_FLOOR)
    return float(max(share * genpareto.sf(value - threshold, shape, loc=0, scale=scale), P_FLOOR))


class NullStore:
    """Nulls by kind: those drawn in this run (`drawn`), read from the first of `folders` that has
    one, and saved into `cache` when drawn. A null's file name hashes everything it depends on
    (`digest()`, made when first needed), so a null of other settings is never read back."""

    def __init__(self, digest: Callable[[], str], folders: list[Path], cache: Path | None = None):
        self.drawn: dict[tuple[str, int], Null] = {}
        self.folders, self.cache = folders, cache
        self._digest, self._made = digest, None

    def name(self, kind: tuple[str, int]) -> str:
        if self._made is None:
            self._made = self._digest()
        return f"null-{kind[0]}{kind[1]}-{hashlib.sha256((self._made + repr(kind)).encode()).hexdigest()[:20]}.npz"

    def has(self, kind: tuple[str, int]) -> bool:
        """Drawn, or read now from a folder (False when no folder has a readable one)."""
        return kind in self.drawn or self._read(kind)

    def put(self, kind: tuple[str, int], null: Null) -> None:
        self.drawn[kind] = null
        if self.cache is not None:
            self.save(kind, self.cache)

    def _read(self, kind: tuple[str, int]) -> bool:
        for folder in self.folders:
            try:
                with np.load(folder / self.name(kind)) as arrays:
                    self.drawn[kind] = Null(arrays["scale"], arrays["tops"], arrays["scores"])
                return True
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:  # half-written or foreign: draw it
                log.warning("ignoring the unreadable null %s (%s)", folder / self.name(kind), error)
        return False

    def save(self, kind: tuple[str, int], folder: Path) -> Path:
        """Write through a partial file of this process and rename, so runs sharing a folder never read
        a partial one."""
        folder.mkdir(parents=True, exist_ok=True)
        null = self.drawn[kind]
        with written_whole([folder / self.name(kind)]) as (partial,), open(partial, "wb") as out:
            np.savez(out, scale=null.scale, tops=null.tops, scores=null.scores)
        return folder / self.name(kind)
