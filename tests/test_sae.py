"""SAEs: per-position encoding, SAELens files, importers checked against their original formulas,
training that resumes exactly, metrics on an SAE that reconstructs perfectly, and the model check."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import genomix as gx
from genomix.errors import GenomixError
from genomix.sae import BatchTopKSAE, TopKSAE, TrainingPlan, evaluate_sae, load_sae, train_sae
from genomix.sae.base import SAE, model_fingerprint
from tiny_models import save_convnet

D_IN, D_SAE, K = 16, 64, 4


def random_sae(cls, seed=0):
    sae = cls(D_IN, D_SAE, K, {"model_name": "m", "hook_name": "blocks.1"}, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        sae.b_enc.copy_(torch.randn(D_SAE, generator=generator) * 0.1)
        sae.b_dec.copy_(torch.randn(D_IN, generator=generator) * 0.1)
        if isinstance(sae, BatchTopKSAE):
            sae.threshold.fill_(0.3)
    return sae


def test_topk_keeps_the_k_largest_of_each_position_on_its_own():
    sae = random_sae(TopKSAE)
    x = torch.randn(10, D_IN, generator=torch.Generator().manual_seed(2))
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    expected = torch.zeros_like(pre)
    for row in range(len(x)):
        top = torch.argsort(pre[row], descending=True)[:K]
        expected[row, top] = pre[row, top].clamp_min(0)
    together = sae.encode(x)
    assert torch.allclose(together, expected, atol=1e-6)
    alone = torch.cat([sae.encode(x[i : i + 1]) for i in range(len(x))])
    assert torch.allclose(together, alone, atol=1e-6)  # the same up to float rounding of the matmul


def test_batchtopk_trains_on_k_per_position_of_the_batch_and_encodes_with_its_threshold():
    sae = random_sae(BatchTopKSAE)
    x = torch.randn(12, D_IN, generator=torch.Generator().manual_seed(3))
    codes, pre_relu = (t.detach() for t in sae.encode_for_training(x))
    assert int((codes > 0).sum()) == K * len(x)
    assert float(pre_relu[codes > 0].min()) >= float(pre_relu[codes == 0].max())  # the batch's largest
    pre = torch.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc)
    assert torch.allclose(sae.encode(x), torch.where(pre > 0.3, pre, torch.zeros_like(pre)), atol=1e-6)
    assert torch.allclose(sae.encode(x), torch.cat([sae.encode(x[i : i + 1]) for i in range(len(x))]), atol=1e-6)


@pytest.mark.parametrize("cls, saved_as", [(TopKSAE, "topk"), (BatchTopKSAE, "jumprelu")])
def test_saved_as_saelens_files_and_loaded_back(tmp_path, cls, saved_as):
    sae = random_sae(cls)
    sae.save(tmp_path / "sae")
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert (cfg["architecture"], cfg["d_in"], cfg["d_sae"]) == (saved_as, D_IN, D_SAE)
    assert cfg["metadata"]["hook_name"] == "blocks.1" and cfg["metadata"]["model_name"] == "m"
    weights = load_file(tmp_path / "sae" / "sae_weights.safetensors")
    assert weights["W_enc"].shape == (D_IN, D_SAE) and weights["W_dec"].shape == (D_SAE, D_IN)
    assert weights["b_enc"].shape == (D_SAE,) and weights["b_dec"].shape == (D_IN,)
    assert ("threshold" in weights) == (cls is BatchTopKSAE)
    loaded = load_sae(tmp_path / "sae")
    x = torch.randn(5, D_IN)
    assert type(loaded) is cls and torch.allclose(loaded(x), sae(x), atol=1e-6)


def test_a_saelens_jumprelu_folder_encodes_like_jumprelu(tmp_path):
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(6)
    weights = {
        "W_enc": torch.randn(D_IN, D_SAE, generator=generator),
        "W_dec": torch.randn(D_SAE, D_IN, generator=generator),
        "b_enc": torch.randn(D_SAE, generator=generator),
        "b_dec": torch.randn(D_IN, generator=generator),
        "threshold": torch.rand(D_SAE, generator=generator),
    }
    (tmp_path / "sae").mkdir()
    save_file(weights, tmp_path / "sae" / "sae_weights.safetensors")
    (tmp_path / "sae" / "cfg.json").write_text(
        json.dumps(
            {
                "architecture": "jumprelu",
                "d_in": D_IN,
                "d_sae": D_SAE,
                "apply_b_dec_to_input": False,
                "normalize_activations": "none",
                "metadata": {"model_name": "m", "hook_name": "blocks.0"},
            }
        )
    )
    x = torch.randn(5, D_IN, generator=generator)
    hidden_pre = x @ weights["W_enc"] + weights["b_enc"]  # SAELens' JumpReLU encode
    expected = torch.relu(hidden_pre) * (hidden_pre > weights["threshold"])
    assert torch.allclose(load_sae(tmp_path / "sae").encode(x), expected, atol=1e-5)


def test_folding_the_input_scale_makes_the_sae_read_raw_activations():
    import copy

    for cls in (TopKSAE, BatchTopKSAE):
        sae = random_sae(cls)
        folded = copy.deepcopy(sae)
        folded.fold_input_scale(3.0)
        x = torch.randn(6, D_IN, generator=torch.Generator().manual_seed(7)) / 3.0
        assert torch.allclose(folded.encode(x), sae.encode(x * 3.0), atol=1e-5)
        assert torch.allclose(folded(x), sae(x * 3.0) / 3.0, atol=1e-5)


def test_dictionary_learning_topk_and_batchtopk_import_like_their_formula(tmp_path):
    generator = torch.Generator().manual_seed(4)
    encoder_w, encoder_b = torch.randn(D_SAE, D_IN, generator=generator), torch.randn(D_SAE, generator=generator)
    decoder_w, b_dec = torch.randn(D_IN, D_SAE, generator=generator), torch.randn(D_IN, generator=generator)
    x = torch.randn(7, D_IN, generator=generator)
    post_relu = torch.relu((x - b_dec) @ encoder_w.T + encoder_b)  # dictionary_learning's encode
    for dict_class, extra in (("AutoEncoderTopK", {}), ("BatchTopKSAE", {"threshold": torch.tensor(0.7)})):
        folder = tmp_path / dict_class
        folder.mkdir()
        torch.save(
            {
                "encoder.weight": encoder_w,
                "encoder.bias": encoder_b,
                "decoder.weight": decoder_w,
                "b_dec": b_dec,
                "k": torch.tensor(K),
                **extra,
            },
            folder / "ae.pt",
        )
        (folder / "config.json").write_text(
            json.dumps({"trainer": {"dict_class": dict_class, "k": K, "layer": 2, "lm_name": "some/model"}})
        )
        if dict_class == "AutoEncoderTopK":
            top = post_relu.topk(K, dim=-1)
            expected = torch.zeros_like(post_relu).scatter(-1, top.indices, top.values)
        else:
            expected = post_relu * (post_relu > 0.7)
        sae = load_sae(folder)
        assert torch.allclose(sae.encode(x), expected, atol=1e-5)
        assert torch.allclose(sae.decode(expected), expected @ decoder_w.T + b_dec, atol=1e-5)
        assert sae.metadata["hook_name"] == "blocks.2" and sae.metadata["model_name"] == "some/model"


def test_dictionary_learning_without_config_is_read_as_topk_and_other_classes_are_refused(tmp_path):
    state = {
        "encoder.weight": torch.randn(D_SAE, D_IN),
        "encoder.bias": torch.zeros(D_SAE),
        "decoder.weight": torch.randn(D_IN, D_SAE),
        "b_dec": torch.zeros(D_IN),
        "k": torch.tensor(K),
        "threshold": torch.tensor(-1.0),
    }  # AutoEncoderTopK carries an unused threshold buffer
    (tmp_path / "bare").mkdir()
    torch.save(state, tmp_path / "bare" / "ae.pt")
    sae = load_sae(tmp_path / "bare")
    assert type(sae) is TopKSAE and int(((sae.encode(torch.randn(3, D_IN))) > 0).sum(-1).max()) <= K
    (tmp_path / "gated").mkdir()
    torch.save(state, tmp_path / "gated" / "ae.pt")
    (tmp_path / "gated" / "config.json").write_text(json.dumps({"trainer": {"dict_class": "GatedAutoEncoder"}}))
    with pytest.raises(GenomixError, match="GatedAutoEncoder is not one genomix imports"):
        load_sae(tmp_path / "gated")


def test_goodfire_checkpoint_with_compile_prefixes_imports_like_its_formula_per_position(tmp_path):
    generator = torch.Generator().manual_seed(5)
    W, b_enc, b_dec = (
        torch.randn(D_IN, D_SAE, generator=generator),
        torch.randn(D_SAE, generator=generator),
        torch.randn(D_IN, generator=generator),
    )
    torch.save({"_orig_mod.W": W, "_orig_mod.b_enc": b_enc, "module.b_dec": b_dec}, tmp_path / "sae.pt")
    sae = load_sae(tmp_path / "sae.pt", k=K)
    x = torch.randn(6, D_IN, generator=generator)
    for row in x:  # the original: relu(x W + b_enc), top k x positions (one position here), decode f W^T + b_dec
        f = torch.relu(row[None] @ W + b_enc).flatten()
        top = f.topk(K)
        f = torch.zeros_like(f).scatter(0, top.indices, top.values)[None]
        assert torch.allclose(sae.encode(row[None]), f, atol=1e-5)
        assert torch.allclose(sae.decode(f), f @ W.T + b_dec, atol=1e-5)


def test_a_file_that_is_no_sae_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(GenomixError, match="not an SAE"):
        load_sae(tmp_path / "notes.txt")
    with pytest.raises(GenomixError, match="no SAE"):
        load_sae(tmp_path / "missing")


@pytest.fixture(scope="module")
def convnet(tmp_path_factory):
    return gx.load_model(str(save_convnet(tmp_path_factory.mktemp("convnet"))))


def test_sae_refuses_another_model_or_layer(tmp_path, convnet):
    sae = BatchTopKSAE(
        16, 32, 4, {"model_name": "tiny", "hook_name": "blocks.1", "model_fingerprint": model_fingerprint(convnet)}
    )
    sae.check_matches(convnet, "blocks.1")
    with pytest.raises(GenomixError, match="not blocks.2"):
        sae.check_matches(convnet, "blocks.2")
    other = gx.load_model(str(save_convnet(tmp_path / "other", seed=1)))
    with pytest.raises(GenomixError, match="weights differ"):
        sae.check_matches(other)
    narrow = BatchTopKSAE(8, 32, 4, {"hook_name": "blocks.1"})
    with pytest.raises(GenomixError, match="8-wide"):
        narrow.check_matches(convnet)


def test_edits_splice_into_the_forward_and_captures_come_before_them(convnet):
    tokens = convnet.tokenize(["ACGTACGTTTGACCA"])
    clean, captured = convnet.forward(tokens, layers=("blocks.1",))
    same, _ = convnet.forward(tokens, edits={"blocks.1": lambda a: a})
    ablated, seen = convnet.forward(tokens, layers=("blocks.1",), edits={"blocks.1": torch.zeros_like})
    assert torch.equal(clean, same) and not torch.allclose(clean, ablated)
    assert torch.equal(seen["blocks.1"], captured["blocks.1"])


def test_a_perfect_reconstruction_explains_everything_and_recovers_all_the_loss(convnet, small_fasta):
    # relu(x) and relu(-x) as features: decode gives x back exactly
    sae = TopKSAE(16, 32, 16, {"hook_name": "blocks.1"}, apply_b_dec_to_input=False)
    eye = torch.eye(16)
    sae.set_weights(
        {
            "W_enc": torch.cat([eye, -eye], 1),
            "W_dec": torch.cat([eye, -eye], 0),
            "b_enc": torch.zeros(32),
            "b_dec": torch.zeros(16),
        }
    )
    metrics = evaluate_sae(sae, convnet, small_fasta, windows=8, window=200)
    assert metrics["variance_explained"] == pytest.approx(1.0, abs=1e-5)
    assert metrics["loss_recovered"] == pytest.approx(1.0, abs=1e-4)
    assert metrics["l0"] == pytest.approx(16, abs=0.5) and metrics["dead_fraction"] == 0.0


def test_an_sae_that_outputs_zeros_recovers_none_of_the_loss(convnet, small_fasta):
    sae = TopKSAE(16, 32, 4, {"hook_name": "blocks.1"})
    sae.set_weights(
        {"W_enc": torch.randn(16, 32), "W_dec": torch.zeros(32, 16), "b_enc": torch.zeros(32), "b_dec": torch.zeros(16)}
    )
    metrics = evaluate_sae(sae, convnet, small_fasta, windows=8, window=200)
    assert metrics["ce_sae"] == pytest.approx(metrics["ce_zero"], abs=1e-6)
    assert metrics["loss_recovered"] == pytest.approx(0.0, abs=1e-5) and metrics["variance_explained"] < 0


PLAN = TrainingPlan(layer="blocks.1", d_sae=32, k=4, tokens=12 * 256, batch_size=256, window=100, windows_per_batch=4)


def test_an_interrupted_training_resumes_and_ends_where_an_uninterrupted_one_does(
    tmp_path, convnet, small_fasta, caplog
):
    # latents count as dead after one batch and are resampled every 2 steps; the BatchTopK threshold
    # is tracked from step 6: the checkpoint at step 8 must carry all of it
    plan = TrainingPlan(
        **{
            **PLAN.__dict__,
            "d_sae": 128,
            "k": 2,
            "tokens": 12 * 64,
            "batch_size": 64,
            "dead_after_tokens": 64,
            "resample_every": 2,
        }
    )
    with caplog.at_level("INFO", logger="genomix"):
        whole = train_sae(convnet, small_fasta, tmp_path / "whole", plan, checkpoint_every=8)
    assert any("resampled" in r.getMessage() for r in caplog.records)

    class Stop(Exception):
        pass

    def stop_at_10(step, metrics):
        if step == 10:
            raise Stop

    with pytest.raises(Stop):
        train_sae(convnet, small_fasta, tmp_path / "resumed", plan, checkpoint_every=8, progress=stop_at_10)
    assert (tmp_path / "resumed" / "training_checkpoint.pt").exists()
    steps = []
    resumed = train_sae(
        convnet,
        small_fasta,
        tmp_path / "resumed",
        plan,
        checkpoint_every=8,
        progress=lambda step, metrics: steps.append(step),
    )
    assert steps[0] == 9 and steps[-1] == plan.steps  # went on from the checkpoint at step 8
    assert float(whole.threshold[0]) > 0
    assert not (tmp_path / "resumed" / "training_checkpoint.pt").exists()
    for name, tensor in whole.weights().items():
        assert torch.allclose(tensor, resumed.weights()[name], atol=1e-6), name
    loaded = load_sae(tmp_path / "resumed", convnet, "blocks.1")
    assert loaded.metadata["model_fingerprint"] == model_fingerprint(convnet)


def test_training_lowers_the_reconstruction_error(tmp_path, convnet, small_fasta):
    losses = []
    plan = TrainingPlan(**{**PLAN.__dict__, "tokens": 40 * 256})
    train_sae(convnet, small_fasta, tmp_path / "sae", plan, progress=lambda step, m: losses.append(m["mse"]))
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])


def genomix(*args):
    return subprocess.run([sys.executable, "-m", "genomix", *map(str, args)], capture_output=True, text=True)


def test_cli_trains_and_evaluates_an_sae(tmp_path, small_fasta):
    model = save_convnet(tmp_path / "model")
    done = genomix(
        "sae",
        "train",
        "--model",
        model,
        "--layer",
        1,
        "--fasta",
        small_fasta,
        "--tokens",
        2048,
        "--d-sae",
        32,
        "--k",
        4,
        "--batch-size",
        256,
        "--window",
        100,
        "-o",
        tmp_path / "sae",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert SAE.load(tmp_path / "sae").metadata["hook_name"] == "blocks.1"
    done = genomix("sae", "eval", tmp_path / "sae", "--fasta", small_fasta, "--windows", 4)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert {"variance_explained", "l0", "dead_fraction", "loss_recovered"} <= set(metrics)
    assert metrics["l0"] <= 32


def test_cli_names_a_bad_architecture_in_one_line(tmp_path, small_fasta):
    done = genomix(
        "sae",
        "train",
        "--layer",
        1,
        "--fasta",
        small_fasta,
        "--d-sae",
        32,
        "--architecture",
        "gated",
        "-o",
        tmp_path / "sae",
    )
    assert done.returncode == 2 and "unknown SAE architecture 'gated'" in done.stderr
    assert "Traceback" not in done.stderr


def test_regions_from_a_bed_match_contig_names_and_reject_what_the_reference_lacks(tmp_path, small_fasta):
    from genomix.io.genome import Genome
    from genomix.sae.activations import Regions

    genome = Genome(small_fasta)
    (tmp_path / "ok.bed").write_text("1\t10\t60\nchr2\t0\t50\n")
    regions = Regions.from_bed(tmp_path / "ok.bed", genome)
    assert (
        regions.contigs == ["chr1", "chr2"] and regions.starts.tolist() == [10, 0] and regions.ends.tolist() == [60, 50]
    )
    draws = regions.draw(np.random.default_rng(0), 200, 20)
    centres = [(contig, start + 10) for contig, start in draws]
    assert all((c == "chr1" and 10 <= x < 60) or (c == "chr2" and 0 <= x < 50) for c, x in centres)
    (tmp_path / "bad.bed").write_text("chr9\t0\t10\n")
    with pytest.raises(GenomixError, match="chr9"):
        Regions.from_bed(tmp_path / "bad.bed", genome)
    (tmp_path / "empty.bed").write_text("chr1\t50\t50\n")
    with pytest.raises(GenomixError, match="end > start"):
        Regions.from_bed(tmp_path / "empty.bed", genome)
