"""The papers' qualitative claims and acceptance targets, as data checked against table rows.

A claim is a record, not code: `Ranked` says some algorithms lead a table by a metric (the
strongest offline, the fastest to fine-tune), `Pairwise` says one algorithm does better than
another on a metric once the other shows the effect at all (Cal-QL avoiding CQL's dip).
`verdicts` checks a list of them against rows (dicts with an ``algo`` key and the metric keys,
e.g. `jaxrl.report.summary_rows`) and says, for each claim it can test, whether it holds;
nothing is asserted. A `Target` is an acceptance target: a row's metric at least a number or
another of its values.

Example:

    >>> rows = [{"algo": "rebrac", "offline_mean": 60.0}, {"algo": "iql", "offline_mean": 50.0}]
    >>> verdicts(rows, CLAIMS[:1])
    ['ReBRAC strongest offline: holds; best offline mean is rebrac (60.0).']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: A mean dip (normalized points) smaller than this is not counted as CQL dipping: the
#: Cal-QL paper's CQL dips by tens of points, and 4 seeds × 5 episodes are noisier than 1.
DIP_VISIBLE = 5.0

Row = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Ranked:
    """`algos` are the first `top` rows by `metric`, highest first.

    Attributes:
      statement: the claim, as printed before its verdict.
      metric: the row key ranked (rows where it is not finite are left out).
      algos: the algorithms the claim is about.
      top: how many leading rows count.
      shown: how the leading rows are shown after the verdict; ``{ranked}`` is replaced by
        "name (value), …", ``{top}`` by `top`.
      value: the format of a value in ``{ranked}``.
    """

    statement: str
    metric: str
    algos: tuple[str, ...]
    top: int = 3
    shown: str = "top {top}: {ranked}"
    value: str = ".1f"


@dataclasses.dataclass(frozen=True)
class Pairwise:
    """`better` has a higher `metric` than `worse`, once `worse`'s is at most `at_most`.

    Attributes:
      statement: the claim, as printed before its verdict.
      metric: the row key compared.
      better, worse: the two algorithms (the claim is tested only with both).
      at_most: the effect must be visible first: `worse`'s metric at most this.
      unseen: the verdict when it is not (``{limit}``: minus `at_most`).
      shown: the values, after the verdict (``{better}``, ``{worse}``: their metrics).
    """

    statement: str
    metric: str
    better: str
    worse: str
    at_most: float
    unseen: str
    shown: str


Claim = Ranked | Pairwise


#: The claims of the papers behind the results table (docs/RESULTS.md), on
#: `jaxrl.report.summary_rows`: ReBRAC (Tarasov et al. 2023) strongest offline, RLPD (Ball et
#: al. 2023) and WSRL (Zhou et al. 2024) fine-tune fastest, read as online AUC (which counts the
#: starting score, which a from-scratch method does not have) and as the gain over the online
#: steps, and Cal-QL (Nakamoto et al. 2023) avoids CQL's dip after the switch.
CLAIMS: tuple[Claim, ...] = (
    Ranked(
        "ReBRAC strongest offline",
        "offline_mean",
        ("rebrac",),
        top=1,
        shown="best offline mean is {ranked}",
    ),
    Ranked("RLPD and WSRL fine-tune fastest (highest online AUC)", "auc", ("rlpd", "wsrl")),
    Ranked(
        "RLPD and WSRL fine-tune fastest (largest online gain, final minus the score at the "
        "switch)",
        "gain",
        ("rlpd", "wsrl"),
        value="+.1f",
    ),
    Pairwise(
        "Cal-QL avoids CQL's dip after the switch",
        "dip",
        better="calql",
        worse="cql",
        at_most=-DIP_VISIBLE,
        unseen="not visible here (CQL does not dip by {limit:g} points or more)",
        shown="dip CQL {worse:+.1f}, Cal-QL {better:+.1f}",
    ),
)


def _ranked(claim: Ranked, rows: Sequence[Row], present: set[str]) -> str | None:
    candidates = [r for r in rows if np.isfinite(r[claim.metric])]
    if not candidates:
        return None
    leading = sorted(candidates, key=lambda r: -r[claim.metric])[: claim.top]
    absent = sorted(set(claim.algos) - present)
    if absent:
        verdict = f"not tested (no {' or '.join(absent)} run)"
    else:
        hits = sorted(set(claim.algos) & {r["algo"] for r in leading})
        if len(hits) == len(claim.algos):
            verdict = "holds"
        elif not hits:
            verdict = "does not hold here"
        else:
            verdict = f"holds for {' and '.join(h.upper() for h in hits)} only"
    ranked = ", ".join(f"{r['algo']} ({r[claim.metric]:{claim.value}})" for r in leading)
    return f"{claim.statement}: {verdict}; {claim.shown.format(top=claim.top, ranked=ranked)}."


def _pairwise(claim: Pairwise, by: Mapping[str, Row]) -> str | None:
    if claim.better not in by or claim.worse not in by:
        return None
    better, worse = by[claim.better][claim.metric], by[claim.worse][claim.metric]
    if worse > claim.at_most:
        verdict = claim.unseen.format(limit=-claim.at_most)
    else:
        verdict = "holds" if better > worse else "does not hold here"
    shown = claim.shown.format(better=better, worse=worse)
    return f"{claim.statement}: {verdict} ({shown})."


def verdicts(rows: Sequence[Row], claims: Sequence[Claim] = CLAIMS) -> list[str]:
    """One sentence per claim that `rows` can test: the claim, whether it holds, and the
    numbers it rests on. A ranked claim whose algorithms are missing says "not tested"; a
    pairwise one is left out. No rows, no sentences."""
    by = {r["algo"]: r for r in rows}
    out = []
    for claim in claims:
        if isinstance(claim, Ranked):
            line = _ranked(claim, rows, set(by))
        else:
            line = _pairwise(claim, by)
        if line is not None:
            out.append(line)
    return out


@dataclasses.dataclass(frozen=True)
class Target:
    """An acceptance target: a row's `metric` is at least `at_least`, a number or the name of
    another value of the row (e.g. the dataset's own score)."""

    metric: str
    at_least: float | str

    def met(self, row: Row) -> bool:
        bar = row[self.at_least] if isinstance(self.at_least, str) else self.at_least
        return bool(row[self.metric] >= bar)
