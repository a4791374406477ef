"""A non-editable install carries the shipped data: the wheel holds the demo world and the variant sets."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_demo_world_and_the_variant_sets(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("genomix-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "genomix/data/demo/genome.fa.gz",
        "genomix/data/demo/genome.fa.gz.fai",
        "genomix/data/demo/annotations.bed",
        "genomix/data/demo/model/model.safetensors",
        "genomix/data/demo/model/config.json",
        "genomix/data/starter/genome.fa.gz",
        "genomix/variants/demo.vcf.gz",
        "genomix/variants/demo.vcf.gz.tbi",
        "genomix/variants/starter.vcf.gz",
        "genomix/data/demo/sae/cfg.json",
        "genomix/data/demo/sae/sae_weights.safetensors",
        "genomix/cli/__init__.py",
        "genomix/pipelines/drive.py",
        "genomix/sae/base.py",
        "genomix/models/convnet.py",
        "genomix/motifs/jaspar.py",
        "genomix/demo/world.py",
        "genomix/io/variants.py",
    ):
        assert shipped in names, shipped
    assert not any(name.endswith("training_checkpoint.pt") for name in names)
