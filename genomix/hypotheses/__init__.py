"""Explain variants: per ALT, ranked mechanistic hypotheses from SAE features, with their evidence.

`decompose` compares ref and alt in SAE features, `evidence` tests motif hypotheses with their
PWMs, `null` draws and keeps the null of the statistic, `rank` puts it together (`Explainer`), and
`records` holds what comes out (`Hypothesis`, `Explained`). Files are written by
`genomix.pipelines.explain_to_file`.
"""

from genomix.hypotheses.rank import Explainer, ExplainOptions
from genomix.hypotheses.records import (
    EXPLAIN_COLUMNS,
    GMX_FIELDS,
    Explained,
    FalseDiscovery,
    Hypothesis,
    explain_table,
)

__all__ = [
    "EXPLAIN_COLUMNS",
    "GMX_FIELDS",
    "ExplainOptions",
    "Explained",
    "Explainer",
    "FalseDiscovery",
    "Hypothesis",
    "explain_table",
]
