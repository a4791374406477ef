"""How well a model knows the demo world: masked-base accuracy at planted sites vs background, and
AUROC of |score| for functional vs neutral truth variants.

    genomix demo evaluate [--model demo] [--window 512]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import torch
from scipy.stats import rankdata

from genomix.features.examples import example_position
from genomix.io.genome import Genome
from genomix.models.base import GenomicModel
from genomix.sequence import ALPHABET


def auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Area under the ROC curve of `positives` above `negatives` (ties count half)."""
    positives, negatives = np.asarray(positives, float), np.asarray(negatives, float)
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([positives, negatives]))
    return float(
        (ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2) / (len(positives) * len(negatives))
    )


def read_truth(vcf: Path) -> pd.DataFrame:
    """TRUTH_* fields of a demo truth VCF, one row per record: chrom, pos (1-based), id, class, tf, motif
    id, element, and whether it lies on (or, for a transplanted locus, its background came from) the
    held-out contig."""
    from genomix.demo.world import HELD_OUT

    rows = []
    with pysam.VariantFile(str(vcf)) as handle:
        for record in handle:
            info = record.info
            held_out = record.chrom == HELD_OUT or ("TRUTH_HELD_OUT" in handle.header.info and "TRUTH_HELD_OUT" in info)
            rows.append(
                (
                    record.chrom,
                    record.pos,
                    record.id,
                    info["TRUTH_CLASS"],
                    info.get("TRUTH_TF", "."),
                    info.get("TRUTH_ID", "."),
                    info.get("TRUTH_ELEMENT", "."),
                    held_out,
                )
            )
    return pd.DataFrame(
        rows, columns=["chrom", "pos", "id", "truth_class", "truth_tf", "truth_id", "truth_element", "held_out"]
    )


def score_auroc(scores: pd.DataFrame, truth: pd.DataFrame, held_out: str) -> dict[str, float]:
    """AUROC of |score| for functional (loss, gain, splice) vs neutral, overall, held-out only, per class,
    and per scoring method (llr for substitutions and embedding distance for indels have different scales)."""
    table = scores.merge(truth, on=["chrom", "pos", "id"])
    table = table[table.status == "ok"]
    result = {}
    for name, subset in (("all", table), ("held_out", table[table.chrom == held_out])):
        magnitude = subset.score.abs()
        neutral = magnitude[subset.truth_class == "neutral"]
        result[f"auroc_{name}"] = auroc(magnitude[subset.truth_class != "neutral"], neutral)
        for truth_class in ("loss", "gain", "splice"):
            result[f"auroc_{name}_{truth_class}"] = auroc(magnitude[subset.truth_class == truth_class], neutral)
        for method in sorted(set(subset.method)):
            same = subset.method == method
            result[f"auroc_{name}_{method}"] = auroc(
                magnitude[same & (subset.truth_class != "neutral")], magnitude[same & (subset.truth_class == "neutral")]
            )
    return result


def atlas_truth(atlas, annotations: Path, planted: Path, margin: int = 5, min_share: float = 0.5) -> dict:
    """Check motif labels against the planted truth.

    A motif-labelled feature names a planted TF when that TF is its name or one of the matches that
    name it (`motif_matches`: paralogs share near-identical matrices). Its truth share is the fraction of its
    top-example peaks that lie in a planted site of that TF (or within `margin` bp of one). A planted
    TF counts as matched when some feature names it at q < 0.05 and has a truth share >= `min_share`.
    `tfs_matched_by_family` relaxes the naming (not the truth share): a feature whose best match is in
    the planted TF's JASPAR family names it (JUND for FOS::JUN, Stat5b for STAT3).
    """
    tfs = pd.read_csv(planted, sep="\t")
    planted_names = list(tfs.tf_name)
    family_tf = dict(zip(tfs.family, tfs.tf_name))
    bed = pd.read_csv(annotations, sep="\t")
    sites = bed[bed.kind.isin(["motif", "ctcf_site", "tata_box"])]
    by_tf = {
        tf: {c: (g.start.to_numpy() - margin, g.end.to_numpy() + margin) for c, g in rows.groupby("#chrom")}
        for tf, rows in sites.groupby("tf_name")
    }
    table = atlas.table[atlas.table.label_kind == "motif"]
    shares, matched = [], {}

    def share_in(tf: str, examples) -> float:
        hits = []
        for example in examples:
            contig, position = example_position(example)
            starts, ends = by_tf.get(tf, {}).get(contig, (np.array([]), np.array([])))
            hits.append(bool(((starts <= position) & (ends > position)).any()))
        return float(np.mean(hits)) if hits else 0.0

    by_family: dict[str, float] = {}
    for row in table.itertuples(index=False):
        family = family_tf.get(getattr(row, "motif_family", None))
        if family is not None:
            by_family[family] = max(by_family.get(family, 0.0), share_in(family, row.top_examples))
        candidates = [row.tf_name, *row.motif_matches]
        tf = next((name for name in candidates if name in planted_names), None)
        if tf is None:
            shares.append(0.0)
            continue
        share = share_in(tf, row.top_examples)
        shares.append(share)
        matched[tf] = max(matched.get(tf, 0.0), share)
        by_family[tf] = max(by_family.get(tf, 0.0), share)
    passed = sorted(tf for tf, share in matched.items() if share >= min_share)
    passed_family = sorted(tf for tf, share in by_family.items() if share >= min_share)
    labelled = atlas.table[atlas.table.label_kind != "unlabelled"]
    return {
        "planted_tfs": len(planted_names),
        "tfs_matched": len(passed),
        "tfs_matched_fraction": len(passed) / len(planted_names),
        "tfs_missed": sorted(set(planted_names) - set(passed)),
        "tfs_matched_by_family": len(passed_family),
        "tfs_missed_by_family": sorted(set(planted_names) - set(passed_family)),
        "median_truth_share": float(np.median(shares)) if shares else float("nan"),
        "motif_labelled_features": len(table),
        "labelled_features": len(labelled),
        "distinct_labels": int(labelled.label.nunique()),
    }


SPLICE_LABELS = ("splice_donor", "splice_acceptor")
SPLICE_REGION_LABELS = SPLICE_LABELS + ("polypyrimidine_tract", "branch_point", "intron", "exon")


def explain_truth(table: pd.DataFrame, truth: pd.DataFrame, atlas, held_out: str) -> dict:
    """How often explain's top hypothesis is right on the demo truth set.

    The top hypothesis names the planted TF when it is a motif hypothesis and the TF is the name or
    one of the matches that name one of its member features (the concept's fragments, or the single
    feature). Direction: its effect (loss / gain) equals the truth class. Neutral variants: the share
    whose top hypothesis has p < 0.01, and the KS test of their top p-values against uniform (a neutral
    variant without any hypothesis counts as p = 1). Splice variants: the share whose top hypothesis is
    labelled splice donor or acceptor, and the share labelled with any splice-region class. The top-1
    TF figure is also given over the variants whose TF some motif-labelled feature of the atlas names
    (the others cannot be named right), with the rank of the first hypothesis that names the TF where
    the top one does not (0: none of the table's hypotheses), and the share of loss and gain variants
    with any hypothesis that names the TF (the ceiling of a re-ranking)."""
    from scipy.stats import kstest

    features = atlas.table.set_index("feature")
    names = {
        f: {row.tf_name, *(row.motif_matches if row.motif_matches is not None else [])}
        for f, row in features.iterrows()
        if row.label_kind == "motif"
    }
    every = table.merge(truth, on=["chrom", "pos", "id"])
    members = [
        [int(m) for m in str(ms).split(",")] if kind == "motif" else []
        for ms, kind in zip(every.members, every.label_kind)
    ]
    every = every.assign(
        tf_correct=[
            tf in set().union(*[names.get(m, set()) for m in ms]) if ms else False
            for tf, ms in zip(every.truth_tf, members)
        ],
        direction_correct=every.effect == every.truth_class,
    )
    top = every[every["rank"] <= 1]
    right = every[every.tf_correct].groupby(["chrom", "pos", "alt"])["rank"].min()
    result = {}
    named = set().union(*names.values()) if names else set()  # TFs some motif-labelled feature names
    for name, subset in (("all", top), ("held_out", top[top.chrom == held_out])):
        sites = subset[subset.truth_class.isin(["loss", "gain"])]
        result[f"top1_tf_{name}"] = float(sites.tf_correct.mean())
        result[f"top1_tf_{name}_where_the_atlas_names_the_tf"] = float(
            sites[sites.truth_tf.isin(named)].tf_correct.mean()
        )
        result[f"sites_of_tfs_the_atlas_does_not_name_{name}"] = int((~sites.truth_tf.isin(named)).sum())
        result[f"direction_{name}"] = float(sites.direction_correct.mean())
        for truth_class in ("loss", "gain"):
            result[f"top1_tf_{name}_{truth_class}"] = float(sites[sites.truth_class == truth_class].tf_correct.mean())
    wrong = top[top.truth_class.isin(["loss", "gain"]) & top.truth_tf.isin(named) & ~top.tf_correct]
    ranks = [int(right.get(key, 0)) for key in zip(wrong.chrom, wrong.pos, wrong.alt)]
    result["named_tf_wrong_at_top_first_right_rank"] = {r: ranks.count(r) for r in sorted(set(ranks))}  # 0: none
    functional = top[top.truth_class.isin(["loss", "gain"])]
    result["right_tf_among_the_hypotheses"] = (
        float(np.mean([key in right.index for key in zip(functional.chrom, functional.pos, functional.alt)]))
        if len(functional)
        else float("nan")
    )
    neutral = top[top.truth_class == "neutral"].p_value.fillna(1.0)
    result["neutral_p_below_0.01"] = float((neutral < 0.01).mean())
    result["neutral_ks_p"] = float(kstest(neutral, "uniform").pvalue)
    splice = top[top.truth_class == "splice"]
    result["splice_top_is_splice_site"] = float(splice.label.isin(SPLICE_LABELS).mean())
    result["splice_top_is_splice_region"] = float(splice.label.isin(SPLICE_REGION_LABELS).mean())
    result["variants"] = int(len(top))
    return result


def planted_tf_of_features(atlas, annotations: Path, margin: int = 5) -> pd.DataFrame:
    """Per motif-labelled feature: the planted TF whose sites (± `margin` bp) hold most of its top-example
    peaks, and that share."""
    bed = pd.read_csv(annotations, sep="\t")
    sites = {c: g for c, g in bed[bed.kind.isin(["motif", "ctcf_site", "tata_box"])].groupby("#chrom")}
    rows = []
    for row in atlas.table[atlas.table.label_kind == "motif"].itertuples(index=False):
        counts: dict[str, int] = {}
        for example in row.top_examples:
            contig, p = example_position(example)
            local = sites.get(contig)
            if local is None:
                continue
            for tf in set(local.tf_name[(local.start - margin <= p) & (local.end + margin > p)]):
                counts[tf] = counts.get(tf, 0) + 1
        tf = max(counts, key=counts.get) if counts else None
        rows.append((row.feature, tf, counts.get(tf, 0) / max(len(row.top_examples), 1)))
    return pd.DataFrame(rows, columns=["feature", "planted_tf", "share"])


def concept_truth(atlas, concepts: pd.DataFrame, annotations: Path, min_share: float = 0.5) -> dict:
    """How well concepts group motif-labelled features by the TF actually planted where they fire:
    adjusted Rand index, purity (share of a concept's features that belong to its most common TF) and
    completeness (share of a TF's features in its most common concept), over the features whose
    peaks lie at least `min_share` in one TF's sites; the ARI over every feature with any planted
    peak is given too."""
    from genomix.features.concepts import concept_ids
    from genomix.features.measures import adjusted_rand_index

    truth = planted_tf_of_features(atlas, annotations)
    truth["concept"] = concept_ids(concepts, len(atlas.table))[truth.feature.to_numpy()]
    strict = truth[(truth.share >= min_share) & truth.planted_tf.notna()]
    table = pd.crosstab(strict.concept, strict.planted_tf)
    return {
        "features": int(len(strict)),
        "ari": adjusted_rand_index(strict.planted_tf, strict.concept),
        "purity": float(table.max(axis=1).sum() / table.to_numpy().sum()),
        "completeness": float(table.max(axis=0).sum() / table.to_numpy().sum()),
        "features_any_planted_peak": int(truth.planted_tf.notna().sum()),
        "ari_any_planted_peak": adjusted_rand_index(
            *truth[truth.planted_tf.notna()][["planted_tf", "concept"]].T.values
        ),
    }


def site_information(annotations: Path, contig: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per position of `contig`: information (bits) of the planted motif column there (0 outside sites),
    and whether the position is background (at least 20 bp from any planted element)."""
    from genomix.motifs.jaspar import load_jaspar

    motifs = {m.matrix_id: m for m in load_jaspar()}
    bed = pd.read_csv(annotations, sep="\t")
    bed = bed[bed["#chrom"] == contig]
    information = np.zeros(length)
    background = np.ones(length, dtype=bool)
    for row in bed.itertuples(index=False):
        background[max(0, row.start - 20) : row.end + 20] = False
        if row.kind in ("motif", "ctcf_site", "tata_box") and row.motif_id in motifs:
            columns = motifs[row.motif_id].information
            information[row.start : row.end] = columns if row.strand == "+" else columns[::-1]
    return information, background


@torch.inference_mode()
def masked_accuracy(
    model: GenomicModel,
    genome: Genome,
    annotations: Path,
    contig: str,
    windows: int = 200,
    length: int = 512,
    min_bits: float = 1.5,
    seed: int = 0,
) -> dict[str, float]:
    """Masked-base accuracy at high-information site positions (>= `min_bits`) vs background on `contig`."""
    rng = np.random.default_rng(seed)
    size = genome.lengths[contig]
    information, background = site_information(annotations, contig, size)
    base_ids = [model.token_id(base) for base in ALPHABET]
    hits = {"site": [], "background": []}
    for start in rng.integers(0, size - length, size=windows):
        seq = genome.fetch(contig, int(start), int(start) + length)
        tokens = model.tokenize([seq])
        masked = np.nonzero(rng.random(length) < 0.15)[0]
        token_of = {int(s): t for t, (s, e) in enumerate(tokens.spans[0]) if s >= 0}
        rows = [token_of[p] for p in masked]
        tokens.input_ids[0, rows] = model.mask_token_id
        logits, _ = model.forward(tokens)
        predicted = np.array(list(ALPHABET))[logits[0, rows][:, base_ids].argmax(-1).cpu().numpy()]
        truth = np.array(list(seq))[masked]
        positions = masked + int(start)
        correct = predicted == truth
        hits["site"].extend(correct[information[positions] >= min_bits])
        hits["background"].extend(correct[background[positions]])
    return {f"masked_accuracy_{k}": float(np.mean(v)) for k, v in hits.items()} | {
        f"masked_positions_{k}": len(v) for k, v in hits.items()
    }


def explain_calls(table: pd.DataFrame) -> pd.DataFrame:
    """explain's top hypothesis of each ALT as a call, for `call_metrics`: the name a user reads (`.` for
    a hypothesis that is not a motif), its effect, called when its q-value is below SIGNIFICANT_Q, its
    p-value, and whether the model's own score reads the variant (score p below MODEL_READS_P)."""
    from genomix.hypotheses.records import MODEL_READS_P, SIGNIFICANT_Q

    top = table[table["rank"] <= 1]
    named = top.label_kind == "motif"
    return pd.DataFrame(
        {
            "chrom": top.chrom,
            "pos": top.pos,
            "id": top.id,
            "tf_name": np.where(named, top.tf_name, "."),
            "motif_id": np.where(named, top.motif_id, "."),
            "effect": top.effect,
            "called": top.q_value < SIGNIFICANT_Q,
            "p": top.p_value,
            "model_reads": top.score_p < MODEL_READS_P,
        }
    )


def call_metrics(calls: pd.DataFrame, truth: pd.DataFrame, families: dict[str, str]) -> dict:
    """Accuracy as a user reads the output, over the whole set and its held-out part.

    `calls`: one row per ALT (chrom, pos, id) with the name the user reads (`tf_name` and the JASPAR id
    of its matrix, `motif_id`, `.` for none), `effect`, whether it is `called` (significant) and its `p`
    (NaN where the method gives none); `families`: JASPAR id -> `tf_family`. Over loss and gain
    variants: family-level top-1 (the named matrix's family is the planted matrix's), TF-level top-1
    (`tf_name` is the planted TF), direction, sensitivity (called), and among the called ones precision
    (family and direction right) and direction. Over neutral variants: the share called, and the KS
    test of their p-values against uniform (an ALT without a p counts as p = 1)."""
    from scipy.stats import kstest

    table = truth.merge(calls, on=["chrom", "pos", "id"], how="left")
    table["called"] = table.called.fillna(False).astype(bool)
    family = table.motif_id.map(families)
    table["family_right"] = family.notna() & (family == table.truth_id.map(families))
    table["tf_right"] = table.tf_name == table.truth_tf
    table["direction_right"] = table.effect == table.truth_class
    result = {}
    for name, subset in (("all", table), ("held_out", table[table.held_out])):
        sites = subset[subset.truth_class.isin(["loss", "gain"])]
        called = sites[sites.called]
        neutral = subset[subset.truth_class == "neutral"]
        result[name] = {
            "sites": int(len(sites)),
            "family_top1": float(sites.family_right.mean()),
            "tf_top1": float(sites.tf_right.mean()),
            "direction": float(sites.direction_right.mean()),
            "sensitivity": float(sites.called.mean()),
            "called_sites": int(len(called)),
            "precision": float((called.family_right & called.direction_right).mean()) if len(called) else float("nan"),
            "direction_called": float(called.direction_right.mean()) if len(called) else float("nan"),
            "neutral": int(len(neutral)),
            "neutral_called": float(neutral.called.mean()),
            "neutral_ks_p": float(kstest(neutral.p.fillna(1.0), "uniform").pvalue)
            if neutral.p.notna().any()
            else float("nan"),
        }
    return result
