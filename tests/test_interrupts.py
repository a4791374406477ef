"""A score run stopped from outside: Ctrl-C and SIGTERM exit 130/143 with one line saying what was left
where; SIGKILL at any point leaves the output path as it was and nothing beside it that reads as a
finished result, and the next run clears what the killed one left."""

import itertools
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pysam
import pytest

from genomix.paths import demo_variants

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "demo" / "genome.fa.gz"
RECORDS = 128  # of the demo VCF: a run of some seconds
OUTPUTS = ["scores.tsv", "scores.vcf.gz"]
BEFORE = "the result of an earlier run\n"


@pytest.fixture(scope="module")
def vcf(tmp_path_factory) -> Path:
    """The first RECORDS records of the demo VCF (one ALT each)."""
    path = tmp_path_factory.mktemp("vcf") / "demo.vcf"
    with pysam.VariantFile(str(demo_variants())) as source:
        with pysam.VariantFile(str(path), "w", header=source.header) as out:
            for record in itertools.islice(source, RECORDS):
                out.write(record)
    return path


def start_score(vcf: Path, folder: Path) -> subprocess.Popen:
    """`genomix score` into OUTPUTS in `folder`, with SIGINT delivered as it is at a terminal."""
    outputs = [arg for name in OUTPUTS for arg in ("-o", folder / name)]
    return subprocess.Popen(
        [sys.executable, "-m", "genomix", "score", vcf, "--fasta", FASTA, "--window", "256", *outputs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_until_writing(run: subprocess.Popen, folder: Path, timeout: float = 120) -> None:
    """Until a partial file shows the run has opened its outputs."""
    deadline = time.monotonic() + timeout
    while not any(p.name.endswith(".partial") for p in folder.iterdir()):
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.02)


def earlier_results(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name in OUTPUTS:
        (folder / name).write_text(BEFORE)


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_exits_128_plus_the_signal_says_what_it_left_and_changes_no_output(
    tmp_path, vcf, stop, code
):
    earlier_results(tmp_path)
    run = start_score(vcf, tmp_path)
    wait_until_writing(run, tmp_path)

    run.send_signal(stop)
    _, stderr = run.communicate(timeout=120)

    assert run.returncode == code
    assert stderr.strip().splitlines() == [
        f"genomix: interrupted by {stop.name}: {tmp_path / OUTPUTS[0]}, {tmp_path / OUTPUTS[1]} left as they were, "
        "no partial file remains"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == OUTPUTS
    assert all((tmp_path / name).read_text() == BEFORE for name in OUTPUTS)


def leftovers_of(folder: Path, pids: list[int]) -> list[str]:
    """What runs killed with SIGKILL may leave beside their outputs: their own partials, hidden, named
    with the host and the PID of the run, ending in `.partial` (no tool reads that as a result), and the
    finished shards the next run resumes from, beside the first output."""
    named = re.compile(
        rf"\.({'|'.join(map(re.escape, OUTPUTS))})\.{re.escape(socket.gethostname())}-(?P<pid>\d+)\.partial"
    )
    shards = f"{OUTPUTS[0]}.genomix-shards"
    return [
        p.name
        for p in folder.iterdir()
        if (found := named.fullmatch(p.name)) and int(found["pid"]) in pids or p.name == shards
    ]


def test_sigkill_at_a_random_point_leaves_the_outputs_as_they_were_and_the_next_run_clears_its_partials(tmp_path, vcf):
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    reference = tmp_path / "reference"
    reference.mkdir()
    started = time.monotonic()
    complete = start_score(vcf, reference)
    assert complete.wait(timeout=300) == 0, complete.communicate()[1]
    duration = time.monotonic() - started

    folder = tmp_path / "killed"
    earlier_results(folder)
    killed = []
    for when in ("anywhere", "while writing"):
        run = start_score(vcf, folder)
        if when == "while writing":
            wait_until_writing(run, folder)
        time.sleep(rng.uniform(0, duration if when == "anywhere" else 1.5))
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
        note = f"seed {seed}, killed {when}, exit {run.returncode}"
        if run.returncode == 0:  # it finished before the kill: then the outputs are complete
            assert (folder / "scores.tsv").read_bytes() == (reference / "scores.tsv").read_bytes(), note
            earlier_results(folder)
            continue
        assert run.returncode == -signal.SIGKILL, note
        killed.append(run.pid)
        kept = [(folder / name).read_bytes() == BEFORE.encode() for name in OUTPUTS]
        if not any(kept):  # killed after its outputs were renamed into place: they are the finished ones
            assert (folder / "scores.tsv").read_bytes() == (reference / "scores.tsv").read_bytes(), note
            assert len(pysam.VariantFile(str(folder / "scores.vcf.gz")).header.records) > 0, note
            earlier_results(folder)
            continue
        assert all(kept), note  # never one output new and another old
        others = sorted(p.name for p in folder.iterdir() if p.name not in OUTPUTS)
        assert others == sorted(leftovers_of(folder, killed)), note

    finished = start_score(vcf, folder)
    assert finished.wait(timeout=300) == 0, finished.communicate()[1]
    assert sorted(p.name for p in folder.iterdir()) == OUTPUTS
    assert (folder / "scores.tsv").read_bytes() == (reference / "scores.tsv").read_bytes()
    assert len(pd.read_csv(folder / "scores.tsv", sep="\t")) == RECORDS
