"""The spliceai backend (SpliceAI's five Keras models read with h5py, run in torch) and SpliceAI's delta
scores. Skipped when Illumina's spliceai package is not installed (`pip install --no-deps spliceai h5py`)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.find_spec("spliceai")
pytestmark = pytest.mark.skipif(
    spec is None or importlib.util.find_spec("h5py") is None,
    reason="Illumina's spliceai package (its trained weights) is not installed: pip install --no-deps spliceai h5py",
)

SEED = 21


def _h5(model: int) -> Path:
    return Path(list(spec.submodule_search_locations)[0]) / "models" / f"spliceai{model}.h5"


def numpy_spliceai(path: Path, one_hot: np.ndarray) -> np.ndarray:
    """SpliceAI-10k written out from its published architecture, in float64, with the weights read by
    Keras layer name (names are numbered in the order the training code created the layers): the
    (neither, acceptor, donor) probabilities `[len - 10000, 3]` of a one-hot `[len, 4]`."""
    import h5py

    with h5py.File(path, "r") as handle:
        weights = handle["model_weights"]
        layers = json.loads(handle.attrs["model_config"])["config"]["layers"]
        config = {layer["name"]: layer["config"] for layer in layers}

        def param(name, part):
            return np.asarray(weights[name][f"{name}/{part}:0"], dtype=np.float64)

        def conv(x, number, dilation=1):
            name = f"conv1d_{number}"
            kernel, bias = param(name, "kernel"), param(name, "bias")  # [k, in, out]
            width = kernel.shape[0]
            half = dilation * (width - 1) // 2
            padded = np.pad(x, ((half, half), (0, 0)))
            out = np.zeros((x.shape[0], kernel.shape[2])) + bias
            for tap in range(width):
                out += padded[tap * dilation : tap * dilation + x.shape[0]] @ kernel[tap]
            return out

        def norm_relu(x, number):
            name = f"batch_normalization_{number}"
            epsilon = config[name]["epsilon"]
            mean, variance = param(name, "moving_mean"), param(name, "moving_variance")
            return np.maximum((x - mean) / np.sqrt(variance + epsilon) * param(name, "gamma") + param(name, "beta"), 0)

        kernels = [11] * 8 + [21] * 4 + [41] * 4
        dilations = [1] * 4 + [4] * 4 + [10] * 4 + [25] * 4
        stream = conv(one_hot.astype(np.float64), 1)
        skip = conv(stream, 2)
        number, norm = 3, 1
        for unit in range(16):
            assert config[f"conv1d_{number}"]["kernel_size"] == [kernels[unit]]
            hidden = conv(norm_relu(stream, norm), number, dilations[unit])
            stream = stream + conv(norm_relu(hidden, norm + 1), number + 1, dilations[unit])
            number, norm = number + 2, norm + 2
            if unit % 4 == 3:
                skip = skip + conv(stream, number)
                number += 1
        logits = conv(skip[5000:-5000], number)
        assert number == 39
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def random_dna(rng, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=length))


def test_torch_port_of_one_model_equals_a_numpy_forward_of_its_h5_weights():
    from genomix.models.spliceai import SpliceAIModel
    from genomix.sequence import one_hot

    rng = np.random.default_rng(SEED)
    seq = random_dna(rng, 10_060)
    seq = seq[:3000] + "N" * 40 + seq[3040:]  # N is all zeros, as SpliceAI encodes it
    model = SpliceAIModel(device="cpu", models=(1,))
    (ported,) = model.splice_probabilities([seq])
    expected = numpy_spliceai(_h5(1), one_hot(seq))
    assert ported.shape == (60, 3)
    np.testing.assert_allclose(ported, expected, atol=1e-5, rtol=0)


def test_ensemble_is_the_mean_of_the_five_models_and_padding_changes_nothing():
    from genomix.models.spliceai import SpliceAIModel

    rng = np.random.default_rng(SEED + 1)
    long, short = random_dna(rng, 10_030), random_dna(rng, 10_011)
    ensemble = SpliceAIModel(device="cpu")
    together = ensemble.splice_probabilities([long, short], batch_size=2)
    singles = [
        SpliceAIModel(device="cpu", models=(m,)).splice_probabilities([long, short], batch_size=1) for m in range(1, 6)
    ]
    for row in range(2):
        np.testing.assert_allclose(together[row], np.mean([s[row] for s in singles], axis=0), atol=1e-6)
    assert together[1].shape == (11, 3)
