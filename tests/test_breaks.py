"""The motifbreakR-style scan (`genomix.motifs.breaks`) against a hand loop over every placement."""

import numpy as np
import pysam

from genomix.io.genome import Genome
from genomix.io.variants import Variant
from genomix.motifs.breaks import motif_breaks
from genomix.motifs.jaspar import load_jaspar
from genomix.motifs.pwm import site_matrix

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def hand_best(pwm: np.ndarray, seq: str, pos: int) -> float:
    """Best score of `pwm` over every placement on either strand that covers `seq[pos]`."""
    best = -np.inf
    width = len(pwm)
    for start in range(max(0, pos - width + 1), pos + 1):
        piece = seq[start : start + width]
        if len(piece) < width:
            continue
        reverse = "".join(COMPLEMENT[b] for b in reversed(piece))
        for strand in (piece, reverse):
            best = max(best, sum(pwm[j, "ACGT".index(b)] for j, b in enumerate(strand)))
    return best


def test_calls_equal_a_hand_loop_over_placements(tmp_path):
    motifs = [m for m in load_jaspar() if m.tf_name in ("CTCF", "GATA1", "SP1", "TFAP2A", "CEBPB", "HNF4A")]
    rng = np.random.default_rng(5)
    seq = list(rng.choice(list("ACGT"), 400))
    gata = motifs[[m.tf_name for m in motifs].index("GATA1")]
    consensus = "".join("ACGT"[i] for i in gata.ppm.argmax(axis=1))
    seq[100 : 100 + len(consensus)] = consensus  # a site to break
    seq = "".join(seq)
    fasta = tmp_path / "g.fa"
    fasta.write_text(">c\n" + seq + "\n")
    pysam.faidx(str(fasta))
    genome = Genome(fasta)
    places = [100 + i for i in range(len(consensus))] + [3, 250, 397]  # the site, a contig edge, background
    variants = []
    for pos in places:
        for alt in "ACGT":
            if alt != seq[pos]:
                variants.append(Variant("c", pos, seq[pos], alt, id=f"v{len(variants)}", contig="c"))
    calls = motif_breaks(genome, variants, motifs)
    expected = set()
    for i, v in enumerate(variants):
        alt_seq = seq[: v.pos] + v.alt + seq[v.pos + 1 :]
        for motif in motifs:
            pwm, site = site_matrix(motif.ppm)
            ref, alt = hand_best(pwm, seq, v.pos), hand_best(pwm, alt_seq, v.pos)
            if ref >= site and ref - alt >= 1 - 1e-9:
                expected.add((i, motif.matrix_id, "loss", round(ref, 6), round(alt, 6)))
            elif alt >= site and alt - ref >= 1 - 1e-9:
                expected.add((i, motif.matrix_id, "gain", round(ref, 6), round(alt, 6)))
    found = {(r.index, r.motif_id, r.effect, round(r.ref_score, 6), round(r.alt_score, 6)) for r in calls.itertuples()}
    assert found == expected
    assert any(e[2] == "loss" and e[1] == gata.matrix_id for e in expected)  # the planted site is broken
    for _, rows in calls.groupby("index"):  # best first within each ALT
        assert (np.diff(rows.change.to_numpy()) <= 1e-12).all()
