"""Outputs say which method each ALT got (INFO/GMX_METHOD, Number=A; no method for a skipped ALT, in the
VCF, TSV and Parquet alike) and Parquet tables carry the run's provenance in their key-value metadata."""

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pysam
import pytest
from conftest import small_contigs
from pysam import bcftools

import genomix as gx
from genomix.io.genome import Genome
from genomix.paths import demo_dir
from genomix.pipelines import explain_to_file, load_explainer, score_to_file
from genomix.sae.base import model_fingerprint

OTHER = {"A": "C", "C": "G", "G": "T", "T": "A"}


def rows_for(sequence: str, positions: tuple[int, int, int]) -> list[tuple]:
    """Three records: a substitution and an insertion; `<DEL>` and a substitution; `<DEL>` alone."""
    first, second, third = (sequence[p - 1].upper() for p in positions)
    return [
        ("chr1", positions[0], first, f"{OTHER[first]},{first}TT", "two"),
        ("chr1", positions[1], second, f"<DEL>,{OTHER[second]}", "mixed"),
        ("chr1", positions[2], third, "<DEL>", "skipped"),
    ]


@pytest.fixture(scope="module")
def scored(tmp_path_factory, char_mlm_dir):
    from conftest import vcf_text, write_fasta_file

    folder = tmp_path_factory.mktemp("scored")
    fasta = write_fasta_file(folder / "ref.fa", small_contigs())
    vcf = folder / "in.vcf"
    lengths = {name: len(sequence) for name, sequence in small_contigs().items()}
    vcf.write_text(vcf_text(rows_for(small_contigs()["chr1"], (50, 60, 70)), lengths))
    model = gx.load_model(str(char_mlm_dir))
    outs = [folder / "out.vcf", folder / "out.tsv", folder / "out.parquet"]
    score_to_file(vcf, Genome(fasta), model, outs, window=64)
    return folder, vcf, model


# an MLM scores a substitution by llr and anything else by embedding distance; <DEL> is skipped
METHODS = ["llr", "embedding", None, "llr", None]


def test_the_vcf_says_which_method_each_alt_got(scored):
    folder, _, _ = scored
    header = bcftools.view("-h", str(folder / "out.vcf"))
    assert '##INFO=<ID=GMX_METHOD,Number=A,Type=String,Description="genomix scoring method per ALT' in header
    assert bcftools.query("-f", "%ID\t%GMX_METHOD\n", str(folder / "out.vcf")).splitlines() == [
        "two\tllr,embedding",
        "mixed\t.,llr",
        "skipped\t.",
    ]
    with pysam.VariantFile(str(folder / "out.vcf")) as annotated:
        records = list(annotated)
    assert records[0].info["GMX_METHOD"] == ("llr", "embedding")
    assert records[1].info["GMX_METHOD"] == (".", "llr")  # pysam hands a missing string back as the VCF writes it
    assert "GMX_METHOD" not in records[2].info


def test_a_skipped_alt_has_no_method_in_tsv_and_parquet(scored):
    folder, _, _ = scored
    tsv_methods = [line.split("\t")[5] for line in (folder / "out.tsv").read_text().splitlines()[1:]]
    assert tsv_methods == ["llr", "embedding", "NA", "llr", "NA"]
    table = pq.read_table(folder / "out.parquet")
    assert table.column("method").to_pylist() == METHODS
    assert table.column("status").to_pylist()[2] == "skipped:symbolic_allele"
    assert pd.read_parquet(folder / "out.parquet").method.isna().tolist() == [m is None for m in METHODS]


def test_parquet_carries_the_run_provenance(scored):
    folder, vcf, model = scored
    metadata = {k.decode(): v.decode() for k, v in pq.read_schema(folder / "out.parquet").metadata.items()}
    assert metadata["genomix_version"] == "0.1.0"
    assert metadata["genomix_model"] == model.name
    assert metadata["genomix_method"] == "auto"
    assert metadata["genomix_window"] == "64"
    assert metadata["genomix_reverse_complement"] == "yes"
    assert metadata["genomix_model_fingerprint"] == model_fingerprint(model)
    run = json.loads(metadata["genomix_run"])
    assert run["input"] == hashlib.sha256(vcf.read_bytes()).hexdigest()
    assert run["model"] == f"{model.name} {model_fingerprint(model)}"
    assert run["options"]["window"] == "64" and run["options"]["method"] == "'auto'"
    assert "pandas" in metadata  # pandas' own schema note is kept beside them


def test_explain_writes_the_method_and_the_provenance_too(tmp_path):
    genome = demo_dir() / "genome.fa.gz"
    with pysam.FastaFile(str(genome)) as fasta:
        contig = fasta.references[0]
        sequence = fasta.fetch(contig, 0, 2000)
    rows = [(contig, *row[1:]) for row in rows_for(sequence, (1000, 1100, 1200))]
    from conftest import vcf_text

    with pysam.FastaFile(str(genome)) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths))
    (tmp_path / "in.vcf").write_text(vcf_text(rows, lengths))
    explainer = load_explainer(genome, "demo", null_size=12)
    explain_to_file(tmp_path / "in.vcf", explainer, out=tmp_path / "out.parquet", vcf_out=tmp_path / "out.vcf")
    queried = bcftools.query("-f", "%ID\t%GMX_METHOD\n", str(tmp_path / "out.vcf")).splitlines()
    assert [line.split("\t")[0] for line in queried] == ["two", "mixed", "skipped"]
    assert queried[1].split("\t")[1].startswith(".,") and queried[2] == "skipped\t."
    table = pq.read_table(tmp_path / "out.parquet")
    skipped = [m for m, s in zip(table.column("method").to_pylist(), table.column("status").to_pylist()) if "<" in s]
    metadata = table.schema.metadata
    assert metadata[b"genomix_model_fingerprint"].decode() == model_fingerprint(explainer.model)
    assert json.loads(metadata[b"genomix_run"])["genomix_version"] == "0.1.0"
    assert all(m is None for m in skipped)


def test_a_first_chunk_of_skipped_alts_leaves_the_method_column_text(tmp_path, char_mlm_dir, small_fasta):
    from conftest import vcf_text

    two, mixed, skipped = rows_for(small_contigs()["chr1"], (60, 70, 50))
    lengths = {name: len(sequence) for name, sequence in small_contigs().items()}
    (tmp_path / "in.vcf").write_text(vcf_text([skipped, two, mixed], lengths))
    model = gx.load_model(str(char_mlm_dir))
    # one record per chunk: the first holds a skipped ALT only, so its method column is all null
    score_to_file(tmp_path / "in.vcf", Genome(small_fasta), model, tmp_path / "out.parquet", window=64, chunk_size=1)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("method").to_pylist() == [None, "llr", "embedding", None, "llr"]
    assert str(table.schema.field("method").type) in ("string", "large_string")
