"""SAE files written by SAELens' and dictionary_learning's own code (tests/fixtures/sae_interop, made by its
make_fixtures.py) load in genomix and encode and decode as those packages do; a SAELens round trip keeps
the model, hook and fingerprint genomix records."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genomix as gx
from genomix.errors import GenomixError
from genomix.models.base import layer_name, residual_layer
from genomix.sae import BatchTopKSAE, ReLUSAE, TopKSAE, load_sae
from genomix.sae.base import model_fingerprint
from tiny_models import save_convnet

INTEROP = Path(__file__).parent / "fixtures" / "sae_interop"


def assert_encodes_as_written(sae, folder):
    """genomix's features and reconstruction of the package's inputs equal the package's own."""
    expected = load_file(folder / "expected.safetensors")
    features = sae.encode(expected["x"])
    assert (features > 0).sum() > 0
    torch.testing.assert_close(features, expected["features"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae.decode(features), expected["reconstruction"], atol=1e-5, rtol=1e-5)


def test_saelens_topk_rescaled_by_decoder_norm_encodes_as_saelens_does():
    folder = INTEROP / "saelens_topk_rescaled"
    norms = load_file(folder / "sae_weights.safetensors")["W_dec"].norm(dim=1)
    assert norms.min() < 0.9 and norms.max() > 1.1  # the rescaling changes which k features win
    sae = load_sae(folder)
    assert type(sae) is TopKSAE and sae.k == 3
    assert_encodes_as_written(sae, folder)


def test_saelens_topk_saved_by_its_trainer_with_rescaling_loads():
    folder = INTEROP / "saelens_topk_trained"
    assert json.loads((folder / "cfg.json").read_text())["rescale_acts_by_decoder_norm"] is True
    assert_encodes_as_written(load_sae(folder), folder)


def test_saelens_standard_sae_is_a_relu_sae():
    folder = INTEROP / "saelens_standard"
    sae = load_sae(folder)
    assert type(sae) is ReLUSAE
    assert_encodes_as_written(sae, folder)
    expected = load_file(folder / "expected.safetensors")
    features = torch.tensor([1, 5, 9])
    torch.testing.assert_close(sae.encode_features(expected["x"], features), expected["features"][:, features])


def test_transformer_lens_residual_hooks_name_genomix_layers():
    assert residual_layer("blocks.3.hook_resid_post") == "blocks.3"
    assert residual_layer("blocks.4.hook_resid_pre") == "blocks.3"  # the stream entering block 4 left block 3
    assert residual_layer("blocks.0.hook_resid_pre") == "blocks.0.hook_resid_pre"  # the embeddings: no block
    assert residual_layer("blocks.3.hook_mlp_out") == "blocks.3.hook_mlp_out"
    assert residual_layer("blocks.26") == "blocks.26"
    assert load_sae(INTEROP / "saelens_topk_rescaled").metadata["hook_name"] == "blocks.1"
    standard = load_sae(INTEROP / "saelens_standard").metadata
    assert (standard["hook_name"], standard["transformer_lens_hook_name"]) == ("blocks.1", "blocks.2.hook_resid_pre")


@pytest.fixture(scope="module")
def convnet(tmp_path_factory):
    return gx.load_model(str(save_convnet(tmp_path_factory.mktemp("convnet"))))


def test_an_sae_at_a_transformer_lens_hook_binds_to_its_block(convnet):
    sae = BatchTopKSAE(16, 32, 4, {"hook_name": "blocks.1.hook_resid_post"})
    assert sae.metadata["hook_name"] == "blocks.1"  # the layer every stage reads its activations at
    assert (
        layer_name("blocks.1.hook_resid_post", convnet) == layer_name("blocks.2.hook_resid_pre", convnet) == "blocks.1"
    )
    sae.check_matches(convnet, "blocks.1")
    embeddings = BatchTopKSAE(16, 32, 4, {"hook_name": "blocks.0.hook_resid_pre"})
    with pytest.raises(GenomixError, match="trained at blocks.0.hook_resid_pre .* has no such layer"):
        embeddings.check_matches(convnet)


def test_genomix_files_declare_the_saelens_format_they_follow(tmp_path):
    BatchTopKSAE(8, 16, 3, {"model_name": "m", "hook_name": "blocks.1"}).save(tmp_path / "sae")
    metadata = json.loads((tmp_path / "sae" / "cfg.json").read_text())["metadata"]
    assert metadata["sae_lens_version"] == "6.0.0"


def test_a_saelens_round_trip_keeps_model_hook_and_fingerprint():
    """make_fixtures.py saved a genomix SAE, read it with SAELens' SAE.load_from_disk and saved it with
    SAELens' save_model."""
    folder = INTEROP / "saelens_round_trip"
    sae = load_sae(folder)
    assert type(sae) is BatchTopKSAE
    assert sae.metadata["model_name"] == "tiny-dna"
    assert sae.metadata["hook_name"] == "blocks.1"
    assert sae.metadata["model_fingerprint"] == "0f1e2d3c4b5a6978"
    assert_encodes_as_written(sae, folder)


@pytest.mark.parametrize("cls", [BatchTopKSAE, TopKSAE, ReLUSAE])
def test_a_live_saelens_round_trip_keeps_model_hook_and_fingerprint(tmp_path, convnet, cls):
    sae_lens = pytest.importorskip("sae_lens", reason="SAELens is not installed (pip install sae-lens)")
    metadata = {"model_name": convnet.name, "hook_name": "blocks.1", "model_fingerprint": model_fingerprint(convnet)}
    ours = cls(16, 32, 4, metadata, seed=3)
    with torch.no_grad():
        ours.b_enc.normal_(0, 0.3)
        if cls is BatchTopKSAE:
            ours.threshold.fill_(0.2)
    ours.save(tmp_path / "ours")
    theirs = sae_lens.SAE.load_from_disk(tmp_path / "ours")
    assert (theirs.cfg.metadata.model_name, theirs.cfg.metadata.hook_name) == (convnet.name, "blocks.1")
    assert theirs.cfg.metadata.model_fingerprint == model_fingerprint(convnet)
    x = torch.randn(7, 16)
    torch.testing.assert_close(theirs.encode(x), ours.encode(x))
    theirs.save_model(tmp_path / "theirs")
    back = load_sae(tmp_path / "theirs", model=convnet, layer="blocks.1")  # checks model, layer and weights
    assert {key: back.metadata[key] for key in metadata} == metadata
    assert type(back) is cls
    torch.testing.assert_close(back.encode(x), ours.encode(x))


DL_CLASSES = [
    ("dl_matryoshka", BatchTopKSAE),
    ("dl_topk", TopKSAE),
    ("dl_standard", ReLUSAE),
    ("dl_jumprelu", BatchTopKSAE),
]


@pytest.mark.parametrize("name, cls", DL_CLASSES)
def test_dictionary_learning_folders_encode_as_dictionary_learning_does(name, cls):
    folder = INTEROP / name
    sae = load_sae(folder)
    assert type(sae) is cls
    assert (sae.metadata["model_name"], sae.metadata["hook_name"]) == ("tiny-dna", "blocks.1")
    assert_encodes_as_written(sae, folder)


@pytest.mark.parametrize("name, cls", DL_CLASSES)  # without config.json, a TopK state dict is read as TopK
def test_a_bare_ae_pt_is_recognised_by_its_tensors(tmp_path, name, cls):
    shutil.copy(INTEROP / name / "ae.pt", tmp_path / "ae.pt")
    sae = load_sae(tmp_path / "ae.pt", model_name="tiny-dna", hook_name="blocks.1.hook_resid_post")
    assert type(sae) is cls and sae.metadata["hook_name"] == "blocks.1"
    assert_encodes_as_written(sae, INTEROP / name)


def test_a_pt_file_of_other_tensors_names_what_it_holds(tmp_path):
    torch.save({"weight": torch.zeros(2, 2)}, tmp_path / "ae.pt")
    with pytest.raises(GenomixError, match=r"its tensors \(weight\) are neither a dictionary_learning SAE's"):
        load_sae(tmp_path / "ae.pt")
