"""The DNA alphabet: one place for the bases, their one-hot order and the reverse complement."""

from __future__ import annotations

import numpy as np

ALPHABET = "ACGT"
"""One-hot channel order used everywhere in genomix."""

VALID_BASES = frozenset("ACGTN")

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def reverse_complement(seq: str) -> str:
    """Reverse complement of an upper- or lower-case ACGTN string."""
    return seq.translate(_COMPLEMENT)[::-1]


def is_dna(seq: str) -> bool:
    """True when `seq` is a non-empty string of upper-case A, C, G, T, N only."""
    return bool(seq) and set(seq) <= VALID_BASES


def one_hot(seq: str) -> np.ndarray:
    """One-hot encode `seq` as float32 `[len(seq), 4]` in ALPHABET order; N is all zeros."""
    codes = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    lookup = np.full(256, -1, dtype=np.int64)
    for channel, base in enumerate(ALPHABET):
        lookup[ord(base)] = channel
    index = lookup[codes]
    encoded = np.zeros((len(seq), len(ALPHABET)), dtype=np.float32)
    known = index >= 0
    encoded[np.nonzero(known)[0], index[known]] = 1.0
    return encoded
