"""Training checkpoints hold tensors and plain values only: a file that would run code when unpickled
is refused with a clear error, and its code never runs."""

import signal

import pytest
import torch

import genomix as gx
from genomix.demo.train import train_demo_model
from genomix.errors import GenomixError
from genomix.sae import TrainingPlan, train_sae
from tiny_models import save_convnet


class CreatesAFile:
    """Unpickled, it opens (so creates) `path`: the smallest stand-in for code hidden in a checkpoint."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def plant(folder, marker):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"plan": CreatesAFile(marker), "weights": torch.zeros(3)}, folder / "training_checkpoint.pt")


@pytest.fixture(scope="module")
def convnet(tmp_path_factory):
    return gx.load_model(str(save_convnet(tmp_path_factory.mktemp("convnet"))))


def test_sae_training_refuses_a_checkpoint_that_would_run_code(tmp_path, convnet, small_fasta):
    marker = tmp_path / "code_ran"
    plant(tmp_path / "sae", marker)
    plan = TrainingPlan(layer="blocks.1", d_sae=16, k=2, tokens=2 * 64, batch_size=64, window=50, windows_per_batch=2)

    with pytest.raises(GenomixError, match="more than tensors and plain values") as error:
        train_sae(convnet, small_fasta, tmp_path / "sae", plan)

    assert not marker.exists()
    assert "Delete it" in str(error.value) and "training_checkpoint.pt" in str(error.value)
    assert not (tmp_path / "sae" / "sae_weights.safetensors").exists()


def test_demo_model_training_refuses_a_checkpoint_that_would_run_code(tmp_path, small_fasta):
    marker = tmp_path / "code_ran"
    plant(tmp_path / "model", marker)

    with pytest.raises(GenomixError, match="more than tensors and plain values"):
        train_demo_model(small_fasta, tmp_path / "model", held_out="chr2", steps=2, batch_size=2, length=40)

    assert not marker.exists()


def test_an_interrupted_training_says_which_checkpoint_the_same_command_goes_on_from(tmp_path, convnet, small_fasta):
    from genomix.errors import Interrupted  # imported here: the rest of the file runs where it does not exist

    plan = TrainingPlan(layer="blocks.1", d_sae=16, k=2, tokens=12 * 64, batch_size=64, window=50, windows_per_batch=2)

    def interrupt_at_10(step, metrics):
        if step == 10:
            raise Interrupted(signal.SIGINT)  # as the command line's SIGINT handler does

    with pytest.raises(Interrupted) as stopped:
        train_sae(convnet, small_fasta, tmp_path / "sae", plan, checkpoint_every=8, progress=interrupt_at_10)

    checkpoint = tmp_path / "sae" / "training_checkpoint.pt"
    assert stopped.value.left == [
        f"SAE training stopped at step 10 of 12; {checkpoint} holds step 8, where the same command goes on"
    ]
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["training_checkpoint.pt"]
