"""Properties of a score run over generated VCFs and FASTAs: whatever the mix (SNVs, MNVs, indels,
symbolic and spanning alleles, `.`, IUPAC codes, lower case, contig edges, POS 0, duplicate, unsorted
and multi-allelic records), every input ALT comes out exactly once, in input order, with the status
an independent reading of the VCF gives it; and an ALT scored `ok` scores as it does alone."""

import tempfile
from pathlib import Path

import pandas as pd
import pysam
import pytest
import torch
from conftest import vcf_text, write_fasta_file
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import genomix as gx
from genomix.io import Genome
from genomix.pipelines import score_to_file

WINDOW = 16
FITS = WINDOW - WINDOW // 2  # an allele longer than this does not fit after the window's centre
GENOME_BASES = list("ACGT" * 4 + "acgt" + "NRYn")  # mostly ACGT; soft-masked, N and IUPAC now and then
ALLELE_BASES = "ACGT"


@pytest.fixture(scope="module")
def model():
    """The demo model, on one thread: windows of 16 bp gain nothing from more but their overhead."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield gx.load_model("demo")
    torch.set_num_threads(threads)


def dna(size_min: int, size_max: int, bases: str = ALLELE_BASES):
    return st.text(alphabet=st.sampled_from(bases), min_size=size_min, max_size=size_max)


@st.composite
def alts_for(draw, ref: str) -> list[str]:
    """ALTs of one record: now and then `.` alone, else 1-3 distinct ALTs of every kind."""
    if draw(st.integers(0, 9)) == 0:
        return ["."]
    anchor = ref[0].upper() if ref[0].upper() in ALLELE_BASES else "A"
    one = st.one_of(
        dna(len(ref), len(ref)),  # SNV / MNV (or, by chance, the REF itself)
        dna(1, FITS + 1).map(lambda inserted: anchor + inserted),  # insertion, now and then too long to fit
        st.just(anchor),  # deletion of the bases after the anchor (or an SNV when REF is one base)
        dna(len(ref), len(ref)).map(str.lower),
        st.sampled_from(["<DEL>", "*", "N", "R", ref]),
    )
    return draw(st.lists(one, min_size=1, max_size=3, unique_by=str.upper))


@st.composite
def records(draw, contigs: dict[str, str], number: int):
    contig = draw(st.sampled_from(sorted(contigs)))
    sequence = contigs[contig]
    if draw(st.integers(0, 4)):
        pos = draw(st.integers(1, len(sequence)))
    else:
        pos = draw(st.sampled_from([0, 1, len(sequence), len(sequence) + 1]))  # POS 0, both edges, past the end
    size = draw(st.integers(1, 3))
    on_genome = sequence[pos - 1 : pos - 1 + size] if pos >= 1 else ""
    ref = on_genome if len(on_genome) == size and draw(st.integers(0, 5)) else draw(dna(size, size, "ACGTacgt"))
    return contig, pos, ref, draw(alts_for(ref)), f"r{number}"


@st.composite
def cases(draw):
    """(contigs, records): 1-2 contigs of 1-40 bp; 1-8 records, some repeated, in any order."""
    contigs = {f"chr{i + 1}": draw(dna(1, 40, GENOME_BASES)) for i in range(draw(st.integers(1, 2)))}
    drawn = [draw(records(contigs, n)) for n in range(draw(st.integers(1, 8)))]
    repeated = draw(st.lists(st.sampled_from(drawn), max_size=3))
    return contigs, draw(st.permutations(drawn + repeated))


def expected_status(contigs: dict[str, str], contig: str, pos: int, ref: str, alt: str) -> str:
    """The status of one ALT as the VCF and FASTA say, written out apart from genomix's code."""
    if pos < 1:
        return "skipped:invalid_position"
    if alt in (".", "*") or alt.startswith("<"):
        return {".": "skipped:no_alt", "*": "skipped:spanning_deletion"}.get(alt, "skipped:symbolic_allele")
    ref, alt = ref.upper(), alt.upper()
    if not set(ref + alt) <= set("ACGTN"):
        return "skipped:non_acgtn_allele"
    if ref == alt:
        return "skipped:alt_equals_ref"
    sequence = contigs[contig].upper()
    if pos - 1 + len(ref) > len(sequence):
        return "skipped:past_contig_end"
    if sequence[pos - 1 : pos - 1 + len(ref)] != ref:
        return "skipped:ref_mismatch"
    if max(len(ref), len(alt)) > FITS:
        return "skipped:longer_than_window"
    return "ok"


def shown(alt: str) -> str:
    return alt if alt.startswith("<") else alt.upper()


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_every_alt_comes_out_once_with_its_status_and_ok_alts_score_as_they_do_alone(model, case):
    contigs, rows = case
    lengths = {name: len(sequence) for name, sequence in contigs.items()}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_fasta_file(folder / "ref.fa", contigs)
        (folder / "calls.vcf").write_text(vcf_text([(c, p, r, ",".join(a), i) for c, p, r, a, i in rows], lengths))
        with Genome(folder / "ref.fa") as genome:
            outputs = [folder / "scores.tsv", folder / "scores.vcf"]
            score_to_file(folder / "calls.vcf", genome, model, outputs, window=WINDOW, ref_check="skip")

            table = pd.read_csv(folder / "scores.tsv", sep="\t", dtype=str, keep_default_na=False)
            expected = [(c, str(p), i, r.upper(), shown(alt)) for c, p, r, alts, i in rows for alt in alts]
            assert list(zip(table.chrom, table.pos, table.id, table.ref, table.alt)) == expected
            statuses = [expected_status(contigs, c, p, r, alt) for c, p, r, alts, _ in rows for alt in alts]
            assert list(table.status) == statuses
            for status in set(statuses):
                event(status)  # --hypothesis-show-statistics: how often each status came up
            scores = [float(s) if s != "NA" else None for s in table.score]
            assert [s is not None for s in scores] == [status == "ok" for status in statuses]

            with pysam.VariantFile(str(folder / "scores.vcf")) as annotated:
                written = list(annotated)
            assert [(r.chrom, r.pos, r.id, r.alts or (".",)) for r in written] == [
                (c, p, i, tuple(alts)) for c, p, _, alts, i in rows
            ]  # records as they were, but for the INFO added
            per_alt = iter(scores)
            for record, (*_, alts, _) in zip(written, rows):
                mine = [next(per_alt) for _ in alts]
                if all(s is None for s in mine):
                    assert "GMX_SCORE" not in record.info
                    continue
                for value, score in zip(record.info["GMX_SCORE"], mine, strict=True):
                    assert value == (None if score is None else pytest.approx(score, rel=1e-5, abs=1e-6))

            at = iter(zip(scores, statuses))
            for contig, pos, ref, alts, number in rows:
                for alt in alts:
                    score, status = next(at)
                    if status != "ok":
                        continue
                    (folder / "alone.vcf").write_text(vcf_text([(contig, pos, ref, alt, number)], lengths))
                    alone = gx.score(folder / "alone.vcf", genome, model, window=WINDOW, ref_check="skip")
                    assert list(alone.status) == ["ok"]
                    assert alone.score[0] == pytest.approx(score, rel=1e-4, abs=1e-5)
