"""Naming features by motifs: top examples checked against a direct run, seqlet PPMs, trimming, BH
q-values (scipy as the oracle) and TOMTOM matches of seqlets drawn from real JASPAR matrices, against
uniform noise that must stay unnamed; site thresholds against enumeration, and a match that names a
feature only when the motif's sites are found at its examples."""

import itertools

import numpy as np
import pytest
from scipy.stats import false_discovery_control

import genomix as gx
from genomix.features.examples import top_examples
from genomix.features.motifs import SiteSupport, benjamini_hochberg, information, match_motifs, seqlet_ppm, trim
from genomix.io.genome import Genome
from genomix.motifs.jaspar import Motif, load_jaspar
from genomix.motifs.pwm import best_scores, log_odds, quantize, score_threshold
from genomix.sae import TopKSAE
from genomix.sae.activations import Regions
from tiny_models import save_convnet


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar()


def sample_seqlets(ppm, n, flank, rng):
    bases = np.array(list("ACGT"))
    seqlets = []
    for _ in range(n):
        core = "".join(bases[rng.choice(4, p=column)] for column in ppm)
        seqlets.append("".join(rng.choice(bases, flank)) + core + "".join(rng.choice(bases, flank)))
    return seqlets


def test_seqlet_ppm_counts_bases_per_column_and_ignores_n():
    ppm = seqlet_ppm(["ACGN", "AAGT"], pseudocount=0.0)
    assert ppm.tolist() == [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_trim_keeps_the_informative_core_and_refuses_a_flat_stack():
    flat = np.full((5, 4), 0.25)
    core = np.eye(4)[[0, 1, 2, 3, 0, 1]] * 0.97 + 0.0075
    trimmed, offset = trim(np.concatenate([flat, core, flat]))
    assert offset == 5 and np.allclose(trimmed, core)
    assert trim(np.concatenate([flat, core[:3], flat]))[0] is None  # fewer than 4 informative columns
    assert information(np.full((1, 4), 0.25))[0] == pytest.approx(0.0, abs=1e-9)


def test_benjamini_hochberg_agrees_with_scipy():
    p = np.random.default_rng(0).random(200) ** 3
    assert np.allclose(benjamini_hochberg(p), false_discovery_control(p, method="bh"))


def test_seqlets_of_a_jaspar_site_find_their_matrix_and_noise_is_not_compared(jaspar):
    rng = np.random.default_rng(1)
    by_id = {m.matrix_id: m for m in jaspar}
    ppms = {}
    for feature, matrix_id in enumerate(["MA0139.2", "MA0035.5", "MA0106.3"]):  # CTCF, GATA1, TP53
        trimmed, _ = trim(seqlet_ppm(sample_seqlets(by_id[matrix_id].ppm, 60, 6, rng)))
        ppms[feature] = trimmed
    noise = ["".join(rng.choice(list("ACGT"), 25)) for _ in range(60)]
    assert trim(seqlet_ppm(noise))[0] is None
    table = match_motifs(ppms, jaspar).set_index("feature")
    assert table.loc[0, "tf_name"] == "CTCF" and table.loc[1, "tf_name"].startswith("GATA")
    assert table.loc[2, "tf_name"] in ("TP53", "TP63", "TP73")  # p53 or its paralogs: the same matrix
    assert table.labelled.all() and (table.q < 0.05).all()
    assert table.loc[0, "strand"] == "+"  # CTCF seqlets drawn as the matrix is given


def test_a_reverse_complemented_site_matches_on_the_minus_strand(jaspar):
    rng = np.random.default_rng(2)
    ctcf = next(m for m in jaspar if m.matrix_id == "MA0139.2")
    reverse = ctcf.ppm[::-1, ::-1]  # ALPHABET order A C G T: reversing the columns complements
    trimmed, _ = trim(seqlet_ppm(sample_seqlets(reverse, 60, 4, rng)))
    row = match_motifs({7: trimmed}, jaspar).iloc[0]
    assert row.feature == 7 and row.tf_name == "CTCF" and row.strand == "-"


def test_top_examples_are_each_features_strongest_positions(small_fasta, tmp_path):
    model = gx.load_model(str(save_convnet(tmp_path / "model")))
    sae = TopKSAE(16, 24, 3, {"hook_name": "blocks.2"}, seed=3)
    genome = Genome(small_fasta)
    regions = Regions.whole_genome(genome)
    examples = top_examples(sae, model, genome, regions, windows=1, window=150, n_top=5, flank=4, seed=9)
    # the same window, run directly
    contig, start = regions.draw(np.random.default_rng(9), 1, 150)[0]
    seq = genome.fetch(contig, start, start + 150)
    _, captured = model.forward(model.tokenize([seq]), layers=("blocks.2",))
    codes = sae.encode(captured["blocks.2"][0]).detach()
    for feature in range(24):
        value, index = codes[:, feature].max(0)
        assert examples.activation[feature, 0] == pytest.approx(float(value), abs=1e-5)
        assert examples.max_activation[feature] == pytest.approx(float(value), abs=1e-5)
        if value > 0:
            assert examples.position[feature, 0] == start + int(index)
            assert examples.seqlets[feature][0] == genome.fetch(contig, start + int(index) - 4, start + int(index) + 5)
        assert examples.frequency[feature] == pytest.approx(float((codes[:, feature] > 0).float().mean()))


def test_site_threshold_is_the_score_reached_by_at_most_p_of_all_sequences():
    pwm = quantize(log_odds(np.random.default_rng(5).dirichlet(np.full(4, 0.5), size=6)))
    scores = np.sort([sum(pwm[i, b] for i, b in enumerate(bases)) for bases in itertools.product(range(4), repeat=6)])
    for p in (1e-2, 2e-3):
        threshold = score_threshold(pwm, p)
        assert np.mean(scores >= threshold - 1e-9) <= p
        below = scores[scores < threshold - 1e-9].max()  # the next attainable score is too common
        assert np.mean(scores >= below - 1e-9) > p
    assert score_threshold(pwm, 1e-5) == pytest.approx(scores[-1])  # 4**-6 > 1e-5: only the best score


def test_best_scores_find_a_site_on_either_strand_only_where_asked():
    ppm = np.eye(4)[[0, 0, 1, 3]] * 0.97 + 0.0075  # AACT
    pwm = log_odds(ppm)
    best = pwm.max(1).sum()
    contexts = ["GGGGAACTGGGG", "GGGGAGTTGGGG", "AACTGGGGGGGG"]  # forward site, reverse site, site far left
    scores = best_scores(contexts, pwm, 3, 5)
    assert scores[:2] == pytest.approx([best, best]) and scores[2] < best - 5


def test_a_match_names_a_feature_only_where_its_sites_are(jaspar):
    """The core of CTCF stacked alone (the seqlets of a k-mer detector) still matches CTCF under TOMTOM;
    with CTCF's sites around the examples it names the feature, with only the core around them it does not."""
    rng = np.random.default_rng(11)
    ctcf = next(m for m in jaspar if m.matrix_id == "MA0139.2")
    core = ctcf.ppm[4:13] ** 4
    core /= core.sum(1, keepdims=True)
    trimmed, _ = trim(seqlet_ppm(sample_seqlets(core, 60, 6, rng)))
    reach = 40

    def contexts(ppm):
        return [
            seqlet[len(seqlet) // 2 - reach : len(seqlet) // 2 + reach + 1]
            for seqlet in sample_seqlets(ppm, 60, reach, rng)
        ]

    background = ["".join(rng.choice(list("ACGT"), 2 * reach + 1)) for _ in range(300)]
    support = SiteSupport(
        {0: contexts(ctcf.ppm**3 / (ctcf.ppm**3).sum(1, keepdims=True)), 1: contexts(core)}, background, reach
    )
    plain = match_motifs({0: trimmed, 1: trimmed}, jaspar).set_index("feature")
    assert "CTCF" in plain.loc[1, "matches"] and plain.labelled.all()
    checked = match_motifs({0: trimmed, 1: trimmed}, jaspar, support=support).set_index("feature")
    assert checked.loc[0, "labelled"] and checked.loc[0, "tf_name"] == "CTCF" and checked.loc[0, "site_share"] > 0.9
    assert "CTCF" not in checked.loc[1, "matches"]
    assert checked.loc[0, "site_background"] < 0.02


@pytest.mark.filterwarnings("ignore:tomtom was given")
def test_of_the_matches_found_at_the_peaks_the_matrix_that_generated_the_sites_names_the_feature():
    """A core and a paralog that adds weak flanks pass the site check at the sites of either, and the
    paralog's looser threshold finds it at more peaks even at the core's sites; the matrix whose
    sites they are names the feature (higher mean log-odds at the peaks)."""
    rng = np.random.default_rng(3)

    def column(base, p):
        c = np.full(4, (1 - p) / 3)
        c["ACGT".index(base)] = p
        return c

    core = np.array([column(b, 0.9) for b in "TGACTCAT"])
    flanked = np.vstack([[column(b, 0.4) for b in "GCA"], core, [column(b, 0.4) for b in "GCT"]])
    short, long = Motif("X.1", "SHORT", "f", core), Motif("X.2", "LONG", "f", flanked)
    reach = 40
    contexts = {
        f: [s[len(s) // 2 - reach : len(s) // 2 + reach + 1] for s in sample_seqlets(ppm, 80, reach, rng)]
        for f, ppm in enumerate([core, flanked])
    }
    background = ["".join(rng.choice(list("ACGT"), 2 * reach + 1)) for _ in range(400)]
    support = SiteSupport(contexts, background, reach)
    for feature in contexts:
        assert support.test(feature, short).supported and support.test(feature, long).supported
    assert support.test(0, long).share > support.test(0, short).share  # counting sites would name the paralog
    ppms = {f: trim(seqlet_ppm([c[reach - 8 : reach + 9] for c in contexts[f]]))[0] for f in contexts}
    named = match_motifs(ppms, [long, short], support=support).set_index("feature")
    assert named.loc[0, "tf_name"] == "SHORT" and named.loc[1, "tf_name"] == "LONG"
    assert named.loc[0, "matches"] == ["SHORT", "LONG"] and named.labelled.all()
