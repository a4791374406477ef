"""Where the artefacts genomix ships live (found through the package, installed or not)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SHIPPED = "demo"


def shipped(source, part: str):
    """What a source names: for `demo` (the one name genomix ships), the folder of its `part`
    (`model`, `sae`: the SAE folder, which holds its atlas); any other source unchanged."""
    if str(source) != SHIPPED:
        return source
    return {"model": demo_model_dir, "sae": demo_sae_dir}[part]()


def data_dir() -> Path:
    """The shipped `data/` folder (installed as the `genomix.data` package)."""
    return Path(str(files("genomix.data")))


def demo_dir() -> Path:
    """The demo world: genome.fa.gz, annotations.bed, genes.gff3, motifs.tsv, model/."""
    return data_dir() / "demo"


def demo_model_dir() -> Path:
    return demo_dir() / "model"


def demo_sae_dir() -> Path:
    """The demo SAE (SAELens folder), trained on the demo model's middle layer."""
    return demo_dir() / "sae"


def variants_dir() -> Path:
    """The shipped `variants/` folder (installed as the `genomix.variants` package)."""
    return Path(str(files("genomix.variants")))


def demo_variants() -> Path:
    """The demo truth variant set, variants/demo.vcf.gz."""
    return variants_dir() / "demo.vcf.gz"
