"""Outputs are complete or absent, for every writer: each is written under a name that reads as no
result (hidden, with the writing process and `.partial`), renamed into place when complete; partials
of dead runs go on the next start; an output named twice is refused before anything is written."""

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest

import genomix as gx
from genomix.errors import GenomixError
from genomix.features.atlas import FeatureAtlas
from genomix.hypotheses.null import Null, NullStore
from genomix.io import Genome
from genomix.paths import demo_dir
from genomix.pipelines import explain_to_file, load_explainer, score_to_file
from genomix.sae.base import SAE

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "starter" / "genome.fa.gz"
VCF = ROOT / "variants" / "starter.vcf.gz"


def genomix(*args):
    return subprocess.run([sys.executable, "-m", "genomix", *map(str, args)], capture_output=True, text=True)


def dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def partial_of(folder: Path, name: str, pid: int) -> Path:
    return folder / f".{name}.{socket.gethostname()}-{pid}.partial"


def test_an_output_named_twice_is_refused_before_anything_is_written(tmp_path):
    done = genomix(
        "score", VCF, "--fasta", FASTA, "--window", 64, "-o", tmp_path / "d.tsv", "-o", f"{tmp_path}/./d.tsv"
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"genomix: error: {tmp_path}/./d.tsv is named as an output twice; name each once"
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_python_api_refuses_an_output_named_twice_too(tmp_path):
    with pytest.raises(GenomixError, match="named as an output twice"):
        score_to_file(VCF, Genome(FASTA), gx.load_model("demo"), [tmp_path / "a.tsv", tmp_path / "a.tsv"], window=64)
    assert list(tmp_path.iterdir()) == []


def _score(folder):
    score_to_file(
        VCF, Genome(FASTA), gx.load_model("demo"), [folder / "scores.tsv", folder / "scores.vcf.gz"], window=64
    )


def _explain(folder):
    one_snv = folder.parent / "one_snv.vcf"
    with pysam.VariantFile(str(VCF)) as source, pysam.VariantFile(str(one_snv), "w", header=source.header) as out:
        out.write(next(r for r in source if len(r.ref) == 1 and all(len(a) == 1 for a in r.alts)))
    explainer = load_explainer(FASTA, "demo", null_size=10, window=128)
    explain_to_file(one_snv, explainer, *(folder / name for name in EXPLAINED))


def _nulls(folder):
    store = NullStore(lambda: "settings", [], cache=folder)
    store.put(("snv", 1), Null(np.ones(4), np.arange(10.0), np.arange(10.0)))


EXPLAINED = ["hypotheses.tsv", "annotated.vcf.gz", "report.html", "followup.tsv"]
WRITERS = {
    "score": (["scores.tsv", "scores.vcf.gz"], _score),
    "explain": (EXPLAINED, _explain),
    "nulls": ([NullStore(lambda: "settings", []).name(("snv", 1))], _nulls),
    "sae": (["sae_weights.safetensors", "cfg.json"], lambda folder: SAE.load(demo_dir() / "sae").save(folder)),
    "atlas": (
        ["atlas.parquet", "atlas.concepts.parquet"],
        lambda folder: FeatureAtlas.load("demo").save(folder / "atlas.parquet"),
    ),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_removes_partials_of_dead_runs_keeps_those_of_live_ones_and_leaves_none(tmp_path, writer):
    names, write = WRITERS[writer]
    dead, live = dead_pid(), os.getppid()  # a run killed by SIGKILL; one still writing (our parent runs)
    for name in names:
        partial_of(tmp_path, name, dead).write_text("cut short by SIGKILL")
        partial_of(tmp_path, name, live).write_text("another run, still writing")

    write(tmp_path)

    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "one_snv.vcf")
    assert left == sorted(names + [partial_of(tmp_path, name, live).name for name in names])


def test_sae_weights_are_written_with_the_mode_of_a_new_file(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    SAE.load(demo_dir() / "sae").save(tmp_path)

    for name in ("sae_weights.safetensors", "cfg.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
