"""JASPAR motifs from pyjaspar's offline database, as position probability matrices in ALPHABET order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomix.sequence import ALPHABET

DEFAULT_RELEASE = "JASPAR2024"


@dataclass(frozen=True)
class Motif:
    """A JASPAR matrix: `ppm` is `[length, 4]` probabilities in ALPHABET order (A, C, G, T)."""

    matrix_id: str
    tf_name: str
    family: str
    ppm: np.ndarray

    @property
    def length(self) -> int:
        return len(self.ppm)

    @property
    def information(self) -> np.ndarray:
        """Information content of each column in bits `[length]`."""
        p = np.clip(self.ppm, 1e-9, 1)
        return 2 + (p * np.log2(p)).sum(axis=1)

    @property
    def consensus(self) -> str:
        return "".join(ALPHABET[i] for i in self.ppm.argmax(axis=1))


def load_jaspar(
    release: str = DEFAULT_RELEASE, collection: str = "CORE", tax_group: str = "vertebrates", pseudocount: float = 0.8
) -> list[Motif]:
    """Every matrix of a JASPAR collection, latest version of each, from pyjaspar's offline copy."""
    from pyjaspar import jaspardb

    latest: dict[str, object] = {}
    for motif in jaspardb(release=release).fetch_motifs(collection=collection, tax_group=[tax_group]):
        base, version = motif.matrix_id.rsplit(".", 1)
        if base not in latest or int(version) > int(latest[base].matrix_id.rsplit(".", 1)[1]):
            latest[base] = motif
    return [_from_biopython(m, pseudocount) for m in latest.values()]


def _from_biopython(motif, pseudocount: float) -> Motif:
    counts = np.array([[motif.counts[base][i] for base in ALPHABET] for i in range(motif.length)], dtype=float)
    counts += pseudocount / 4
    family = motif.tf_family[0] if isinstance(motif.tf_family, list) and motif.tf_family else str(motif.tf_family or "")
    return Motif(motif.matrix_id, motif.name, family, counts / counts.sum(axis=1, keepdims=True))


def read_meme_motifs(path) -> list[Motif]:
    """The motifs of a MEME-format file (`MOTIF id name` lines and letter-probability matrices)."""
    from memelite.io import read_meme

    from genomix.errors import GenomixError

    try:
        matrices = read_meme(str(path))
    except (OSError, ValueError, IndexError) as error:
        raise GenomixError(f"cannot read {path} as a MEME motif file: {error}") from error
    if not matrices:
        raise GenomixError(f"{path} holds no MEME motifs")
    motifs = []
    for header, matrix in matrices.items():
        matrix_id, _, name = header.partition(" ")
        ppm = np.asarray(matrix, dtype=float).T  # memelite gives [4, length]
        motifs.append(Motif(matrix_id, name or matrix_id, "", ppm / ppm.sum(axis=1, keepdims=True)))
    return motifs
