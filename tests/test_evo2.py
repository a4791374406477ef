"""The evo2 backend over vortex: a tiny random StripedHyena built with vortex's own classes, scored by genomix
and by direct vortex calls (benchmarks/evo2_check.py holds the check; on a GPU it runs as it is). Where the
installed vortex cannot run on this CPU, the tests skip with the exact error vortex raised."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import genomix as gx
from genomix.errors import GenomixError

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "benchmarks" / "evo2_check.py"
sys.path.insert(0, str(CHECK.parent))


def _vortex_blocker() -> str | None:
    """Why vortex, as installed, cannot build and run a tiny StripedHyena here; None when it can."""
    if importlib.util.find_spec("vortex") is None:
        return "vortex is not installed (the evo2 extra: pip install --no-deps vtx evo2 einops)"
    try:
        import torch
        from evo2_check import build_tiny

        with torch.inference_mode():
            build_tiny()(torch.tensor([list(b"ACGTACGTAC")]))
    except Exception as error:  # noqa: BLE001 - whatever stops vortex is the reason printed
        from importlib.metadata import version

        return f"vtx {version('vtx')} cannot run on this CPU without changes: {type(error).__name__}: {error}"
    return None


BLOCKER = _vortex_blocker()


@pytest.mark.skipif(BLOCKER is not None, reason=str(BLOCKER))
def test_evo2_scores_and_activations_equal_direct_vortex_calls():
    from evo2_check import TOLERANCE, build_tiny, check

    worst = check(build_tiny())
    assert all(worst[name] <= TOLERANCE[name] for name in TOLERANCE), worst


def _shim_blocker() -> str | None:
    if importlib.util.find_spec("vortex") is None:
        return "vortex is not installed (the evo2 extra: pip install --no-deps vtx evo2 einops)"
    if importlib.util.find_spec("triton") is None:
        return "vortex imports Triton, which is not installed (pip install triton, about 1 GB)"
    return None


@pytest.mark.skipif(_shim_blocker() is not None, reason=str(_shim_blocker()))
def test_evo2_equals_vortex_with_the_cpu_shims_in_a_separate_process():
    """vortex with the three in-process CPU changes evo2_check.py documents (its files untouched), in a child
    process so that the changes do not reach other tests."""
    done = subprocess.run([sys.executable, CHECK, "--cpu-shims"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "PASS"


@pytest.mark.skipif(BLOCKER is None, reason="vortex runs here; loading a named Evo 2 model would download it")
def test_loading_evo2_where_vortex_cannot_be_imported_is_one_clear_line():
    if importlib.util.find_spec("vortex") is None:
        pytest.skip("vortex is not installed; the message is checked where it is installed but cannot be imported")
    try:
        from vortex.model.model import StripedHyena  # noqa: F401
    except ImportError as error:
        reason = str(error)
    else:
        pytest.skip("vortex imports here (its blocker is further on)")
    with pytest.raises(GenomixError) as raised:
        gx.load_model("evo2_7b")
    message = str(raised.value)
    assert "\n" not in message and "pip install evo2" in message and reason in message


def test_an_unknown_evo2_name_is_refused_before_vortex_is_imported():
    with pytest.raises(GenomixError, match="is not an Evo 2 model: name one of evo2_40b, evo2_7b"):
        gx.load_model("evo2_3b", backend="evo2")
