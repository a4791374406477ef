"""The drivers: from a VCF and a genome to finished files, and the Python API's `score` and `explain`.

`drive` holds the one chunked writer every run goes through and the run's provenance; `score`,
`explain`, `atlas` and `demo` are the runs.
"""

from genomix.pipelines.atlas import annotate, concept_inputs, load_sae_and_model
from genomix.pipelines.demo import run_demo
from genomix.pipelines.drive import run_metadata, write_outputs
from genomix.pipelines.explain import explain, explain_metadata, explain_to_file, load_explainer, sae_model_name
from genomix.pipelines.score import iter_scores, score, score_metadata, score_to_file

__all__ = [
    "annotate",
    "concept_inputs",
    "explain",
    "explain_metadata",
    "explain_to_file",
    "iter_scores",
    "load_explainer",
    "load_sae_and_model",
    "run_demo",
    "run_metadata",
    "sae_model_name",
    "score",
    "score_metadata",
    "score_to_file",
    "write_outputs",
]
