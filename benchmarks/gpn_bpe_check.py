#!/usr/bin/env python
"""genomix's scores on GPN and BPE models against a direct call to each model, on the demo genome.

1. GPN (needs `pip install gpn`): a tiny random GPN of each kind (ConvNet, ByteNet, RoFormer, legacy
   ConvNet, legacy GPNRoFormer), built with gpn's classes and tokenizer as the tests build them, scores
   `--sites` SNV positions (all three ALTs) of the demo genome's chr1 through `load_model(folder)` and
   `score_variants`; the expectation is gpn's `run_vep` formula (logit(alt) - logit(ref) at the masked
   base, forward and reverse-complement windows averaged) from the gpn model called directly.
2. BPE: a tiny BERT over a BPE vocabulary trained on the demo genome scores the same SNVs with
   `method="llr"`: how many keep their token boundaries in the alt window (on both strands), and the
   largest difference from a direct masked-LM call where they do.

Not run in CI (the tests check the same on fewer sites):

    .venv/bin/python benchmarks/gpn_bpe_check.py [--sites 100] [--window 128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam
import torch

import genomix as gx
from genomix.paths import demo_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from tiny_models import GPN_KINDS, save_bpe_mlm, save_gpn  # noqa: E402

COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def rc(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def write_snvs(folder: Path, chrom: str, sequence: str, sites: int, window: int) -> tuple[Path, list]:
    rng = np.random.default_rng(0)
    positions = np.sort(rng.choice(np.arange(window, len(sequence) - window), size=sites, replace=False)) + 1
    rows = [(int(p), sequence[p - 1], alt) for p in positions if sequence[p - 1] in "ACGT" for alt in "ACGT"]
    rows = [row for row in rows if row[1] != row[2]]
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={chrom},length={len(sequence)}>"]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    lines += [f"{chrom}\t{p}\t.\t{r}\t{a}\t.\t.\t." for p, r, a in rows]
    path = folder / "snvs.vcf"
    path.write_text("\n".join(lines) + "\n")
    return path, rows


def genomix_scores(folder: Path, vcf: Path, fasta: Path, window: int, method: str = "auto"):
    started = time.perf_counter()
    model = gx.load_model(str(folder), device="cpu")
    with gx.Genome(fasta) as genome:
        scored = gx.score_variants(model, genome, gx.read_variants(vcf, genome), method=method, window=window)
    return scored, time.perf_counter() - started


def run_vep(folder: Path, sequence: str, rows: list, window: int) -> np.ndarray:
    """gpn's run_vep formula, the gpn model called on input_ids alone, 64 windows a batch."""
    import gpn
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    gpn.register_auto_classes("gpn")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    strands = []
    for flip in (False, True):
        seqs, at, refs, alts = [], window // 2 - flip, [], []
        for pos, ref, alt in rows:
            seq = sequence[pos - 1 - window // 2 : pos - 1 + window // 2]
            seq = list(rc(seq) if flip else seq)
            seq[at] = tokenizer.mask_token
            seqs.append("".join(seq))
            refs.append(tokenizer(rc(ref) if flip else ref)["input_ids"][0])
            alts.append(tokenizer(rc(alt) if flip else alt)["input_ids"][0])
        llr = []
        for first in range(0, len(seqs), 64):
            ids = torch.tensor(tokenizer(seqs[first : first + 64])["input_ids"])
            with torch.no_grad():
                logits = model(input_ids=ids).logits[:, at]
            rows_at = torch.arange(len(ids))
            llr.append(logits[rows_at, alts[first : first + 64]] - logits[rows_at, refs[first : first + 64]])
        strands.append(torch.cat(llr).numpy())
    return (strands[0] + strands[1]) / 2


def bpe_llr(folder: Path, sequence: str, rows: list, window: int) -> list[float | None]:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    out = []
    for pos, _, alt in rows:
        start = pos - 1 - window // 2
        ref_window = sequence[start : start + window]
        alt_window = ref_window[: window // 2] + alt + ref_window[window // 2 + 1 :]
        llrs = []
        for r, a, at in (
            (ref_window, alt_window, window // 2),
            (rc(ref_window), rc(alt_window), window - window // 2 - 1),
        ):
            rt, altt = tokenizer(r, return_offsets_mapping=True), tokenizer(a, return_offsets_mapping=True)
            if rt["offset_mapping"] != altt["offset_mapping"]:
                break
            token = rt.char_to_token(at)
            ids = torch.tensor([rt["input_ids"]])
            ids[0, token] = tokenizer.mask_token_id
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0, token], -1)
            llrs.append(float(logp[altt["input_ids"][token]] - logp[rt["input_ids"][token]]))
        out.append(float(np.mean(llrs)) if len(llrs) == 2 else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--window", type=int, default=128)
    args = parser.parse_args()
    fasta = demo_dir() / "genome.fa.gz"
    with pysam.FastaFile(str(fasta)) as handle:
        chrom = handle.references[0]
        sequence = handle.fetch(chrom, 0, 50_000).upper()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vcf, rows = write_snvs(tmp, chrom, sequence, args.sites, args.window)
        print(f"{len(rows)} SNVs on {chrom} of the demo genome, window {args.window} bp")
        print("\n| model | ALTs scored | max abs(genomix - direct) | genomix load + score (s) |\n|---|---|---|---|")
        try:
            import gpn  # noqa: F401
        except ImportError:
            print("| GPN | gpn is not installed: pip install gpn | | |")
        else:
            for kind in GPN_KINDS:
                folder = save_gpn(tmp / kind, kind)
                scored, seconds = genomix_scores(folder, vcf, fasta, args.window)
                expected = run_vep(folder, sequence, rows, args.window)
                got = np.array([s.score for s in scored])
                ok = sum(s.status == "ok" for s in scored)
                worst = np.abs(got - expected).max()
                print(f"| GPN {kind} (llr vs run_vep) | {ok} / {len(rows)} | {worst:.1e} | {seconds:.1f} |")
        folder = save_bpe_mlm(tmp / "bpe")
        scored, seconds = genomix_scores(folder, vcf, fasta, args.window, method="llr")
        expected = bpe_llr(folder, sequence, rows, args.window)
        shared = [e is not None for e in expected]
        statuses = [s.status == "ok" for s in scored]
        diff = max(abs(s.score - e) for s, e in zip(scored, expected) if e is not None)
        print(f"| BPE BERT (llr vs masked call) | {sum(statuses)} / {len(rows)} | {diff:.1e} | {seconds:.1f} |")
        print(
            f"\nBPE: the alt window keeps the ref's token boundaries on both strands for {sum(shared)} of {len(rows)} "
            "SNVs; "
            f"genomix skips exactly the others: {statuses == shared}"
        )


if __name__ == "__main__":
    main()
