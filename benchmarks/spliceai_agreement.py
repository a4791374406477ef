#!/usr/bin/env python
"""SpliceAI in genomix against Illumina's own `spliceai` CLI: the same VCF, FASTA and annotation table
scored by both; DS and DP compared entry by entry, and both timed in the same run.

The official CLI needs TensorFlow, which genomix does not use; give it a virtual environment of its own,
outside the repository (with numpy 2 it stops on `np.fromstring`):

    python3 -m venv /work/spliceai-official-venv
    /work/spliceai-official-venv/bin/pip install spliceai "tensorflow-cpu<2.19" "tf-keras<2.19" "numpy<2" "pandas<2.3"

and genomix's own with the weights (`pip install --no-deps spliceai h5py`, as `make setup` does). Then:

    .venv/bin/python benchmarks/spliceai_agreement.py --official /work/spliceai-official-venv/bin/spliceai

Inputs, built in `--work` (a temporary folder by default):
- genome.fa: the demo genome plus `chr1_rc`, the reverse complement of chr1's first 60 kb, so that its
  genes (all on + in the demo) are read on the minus strand too;
- genes.txt: SpliceAI's annotation table of data/demo/genes.gff3 plus the mirrored genes (`...rc`, -);
- variants.vcf: the demo truth set's splice and neutral variants, SNVs (all three ALTs) at every
  position of 8 bp around a donor and an acceptor of two genes and of their mirrors, and a 1-bp
  deletion, a 2-bp deletion and a 1-bp insertion at each of those boundaries.

Compared: every `SpliceAI` INFO entry (ALT, gene) either tool writes: max |DS genomix - DS official|
over the four scores, and the share of entries with all four DP equal (also among entries whose DS
is >= 0.1, where the position means something: where every difference is ~0, the argmax is float
noise). Timed: each command's wall clock, model loading included, one after the other. Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pysam

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genomix.io.genome import Genome  # noqa: E402
from genomix.io.splice_genes import SpliceAnnotation, SpliceTranscript, read_splice_genes  # noqa: E402
from genomix.paths import demo_dir, demo_variants  # noqa: E402
from genomix.sequence import reverse_complement  # noqa: E402

MIRROR, MIRRORED_BP = "chr1_rc", 60_000
BOUNDARY_GENES = ("GENE001", "GENE002")
FIELDS = ("DS_AG", "DS_AL", "DS_DG", "DS_DL", "DP_AG", "DP_AL", "DP_DG", "DP_DL")


def mirrored(transcript: SpliceTranscript) -> SpliceTranscript:
    exons = tuple((MIRRORED_BP - e, MIRRORED_BP - s) for s, e in reversed(transcript.exons))
    return SpliceTranscript(
        transcript.name + "rc", MIRROR, "-", MIRRORED_BP - transcript.end, MIRRORED_BP - transcript.start, exons
    )


def build_inputs(work: Path) -> tuple[Path, Path, Path, int]:
    demo = Genome(demo_dir() / "genome.fa.gz")
    fasta = work / "genome.fa"
    with open(fasta, "w") as handle:
        for contig in demo.contigs:
            handle.write(f">{contig}\n{demo.fetch(contig, 0, demo.lengths[contig])}\n")
        handle.write(f">{MIRROR}\n{reverse_complement(demo.fetch('chr1', 0, MIRRORED_BP))}\n")
    pysam.faidx(str(fasta))
    genome = Genome(fasta)
    genes = read_splice_genes(demo_dir() / "genes.gff3").transcripts
    extra = [mirrored(t) for t in genes if t.chrom == "chr1" and t.end <= MIRRORED_BP]
    SpliceAnnotation(genes + extra).to_table(work / "genes.txt")

    records = []  # (contig, 0-based pos, ref, alt, id)
    with pysam.VariantFile(str(demo_variants())) as truth:
        for record in truth:
            if record.info["TRUTH_CLASS"] in ("splice", "neutral"):
                records += [(record.chrom, record.start, record.ref, alt, record.id) for alt in record.alts]
    for transcript in [t for t in genes if t.name in BOUNDARY_GENES]:
        donor = transcript.exons[1][1]  # first intron base after exon 2
        acceptor = transcript.exons[2][0]  # first base of exon 3
        for name, site in (("donor", donor), ("acceptor", acceptor)):
            for strand_contig, to_contig in (("chr1", lambda p: p), (MIRROR, lambda p: MIRRORED_BP - 1 - p)):
                tag = f"{transcript.name}_{name}_{'rc' if strand_contig == MIRROR else 'fw'}"
                for pos in range(site - 4, site + 4):
                    at = to_contig(pos)
                    ref = genome.fetch(strand_contig, at, at + 1)
                    records += [(strand_contig, at, ref, alt, f"{tag}_snv") for alt in "ACGT" if alt != ref]
                at = to_contig(site)
                before = genome.fetch(strand_contig, at - 1, at)
                records += [
                    (strand_contig, at - 1, genome.fetch(strand_contig, at - 1, at + 1), before, f"{tag}_del1"),
                    (strand_contig, at - 1, genome.fetch(strand_contig, at - 1, at + 2), before, f"{tag}_del2"),
                    (strand_contig, at - 1, before, before + "A", f"{tag}_ins1"),
                ]
    order = {c: i for i, c in enumerate(genome.contigs)}
    records.sort(key=lambda r: (order[r[0]], r[1]))
    vcf = work / "variants.vcf"
    with open(vcf, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n")
        for contig in genome.contigs:
            handle.write(f"##contig=<ID={contig},length={genome.lengths[contig]}>\n")
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for contig, pos, ref, alt, name in records:
            handle.write(f"{contig}\t{pos + 1}\t{name}\t{ref}\t{alt}\t.\t.\t.\n")
    return fasta, work / "genes.txt", vcf, len(records)


def entries(vcf: Path) -> dict[tuple, tuple]:
    """(chrom, pos, ref, alt, gene) -> the eight DS/DP values (strings) of every SpliceAI entry."""
    found = {}
    with pysam.VariantFile(str(vcf)) as handle:
        for record in handle:
            for entry in record.info.get("SpliceAI", ()):
                alt, gene, *values = entry.split("|")
                found[(record.chrom, record.pos, record.ref, alt, gene)] = tuple(values)
    return found


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, help="the official `spliceai` command (in its own venv)")
    parser.add_argument("--work", type=Path, help="folder for inputs and outputs (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "spliceai_agreement.json")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="spliceai-agreement-"))
    work.mkdir(parents=True, exist_ok=True)
    fasta, table, vcf, n_alts = build_inputs(work)
    official_vcf, genomix_vcf = work / "official.vcf", work / "genomix.vcf"
    official_command = [args.official, "-I", str(vcf), "-O", str(official_vcf), "-R", str(fasta), "-A", str(table)]
    genomix_command = [
        *(sys.executable, "-m", "genomix", "score", str(vcf), "-f", str(fasta), "-m", "spliceai", "-a", str(table)),
        *("-o", str(genomix_vcf), "--device", "cpu", "--batch-size", "8", "-q"),
    ]
    os.environ["PYTHONPATH"] = str(ROOT)
    official_s = timed(official_command)
    genomix_s = timed(genomix_command)
    official, ours = entries(official_vcf), entries(genomix_vcf)
    shared = sorted(set(official) & set(ours))
    scored = [k for k in shared if official[k][0] != "."]
    delta = [max(abs(float(ours[k][i]) - float(official[k][i])) for i in range(4)) for k in scored]
    same_dp = [ours[k][4:] == official[k][4:] for k in scored]
    strong = [k for k in scored if max(float(v) for v in official[k][:4]) >= 0.1]
    same_dp_strong = [ours[k][4:] == official[k][4:] for k in strong]
    differing = [
        {"variant": list(map(str, k)), "genomix": ours[k], "official": official[k]}
        for k in scored
        if ours[k] != official[k]
    ]
    result = {
        "alts_in_vcf": n_alts,
        "entries_official": len(official),
        "entries_genomix": len(ours),
        "entries_only_official": len(set(official) - set(ours)),
        "entries_only_genomix": len(set(ours) - set(official)),
        "entries_compared": len(scored),
        "entries_minus_strand": sum(k[4].endswith("rc") for k in scored),
        "entries_indel": sum(len(k[2]) != len(k[3]) for k in scored),
        "entries_dotted_both": sum(official[k][0] == "." and ours[k][0] == "." for k in shared),
        "max_abs_delta_ds": max(delta) if delta else None,
        "entries_identical": sum(ours[k] == official[k] for k in scored),
        "dp_all_four_equal": sum(same_dp) / len(same_dp) if same_dp else None,
        "entries_ds_at_least_0.1": len(strong),
        "dp_all_four_equal_ds_at_least_0.1": sum(same_dp_strong) / len(same_dp_strong) if same_dp_strong else None,
        "official_seconds": round(official_s, 1),
        "genomix_seconds": round(genomix_s, 1),
        "speedup": round(official_s / genomix_s, 2),
        "differing_entries": differing,
        "official_command": " ".join(official_command),
        "genomix_command": " ".join(genomix_command),
        "cpu_threads": os.cpu_count(),
    }
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    for key, value in result.items():
        if key != "differing_entries":
            print(f"{key:36s} {value}")
    print(f"{len(differing)} entries differ in any field; listed in {args.json}")


if __name__ == "__main__":
    main()
