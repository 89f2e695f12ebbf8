"""Quota proposals: a company goal turned into territory quotas, explained and negotiable.

The package: :mod:`.inputs` (what a run gives), :mod:`.model` (the QP and MIP),
:mod:`.allocation` (:func:`propose_quotas`), :mod:`.proposal` (the record and its folder),
:mod:`.negotiation` (overrides, versions, carrying to another run) and :mod:`.workbook`
(proposal.xlsx). Every public name is importable from ``align.quotas``.

The model
---------
Every territory ``j`` of a run gets a *fair share* of the goal ``G`` (of its region's goal when
region goals are given)::

    F_j = G * (w_p * P_j / sum P + w_h * R_j / sum R + w_e / m)

with ``P`` potential, ``R`` last period's revenue and the ``[quota.blend]`` weights (normalised to
sum 1; with no revenue anywhere the history weight goes to potential). Quotas are whole multiples
of the rounding unit ``U``: ``q_j = U * x_j`` with ``x_j`` integer, and the proposal is the
solution of one model::

    minimise   sum_j (q_j - F_j)^2 / F_j                  (closeness to the fair share)
    subject to sum_j q_j = G                              (the goal, exactly)
               sum_{j in r} q_j = G_r                     (each region's goal, when given)
               lo_j <= q_j <= hi_j                        (floor, ceiling, min and max growth)
               q_j = sum_c q_jc, sum_j q_jc = G_c         (components, when given)
               q_j = U * x_j, x_j integer

The closeness measure is the chi-square distance ``(q - F)^2 / F``. Its continuous optimum is
proportional scaling: every territory not held by a cap gets the same relative deviation from its
fair share, so equal territories get equal quotas and a territory with more potential (all else
equal) never gets less quota; on the integer lattice the same exchange argument holds exactly,
because the objective is strictly convex in each quota. HiGHS has no mixed-integer QP, so the
model is solved in two steps that are exact together: the continuous QP gives the optimum ``x*``,
then a MIP in which each territory's quadratic is written exactly at the integer points of a
window around ``x*`` (one chord per unit step, an epigraph variable per territory) gives the
integer optimum; a window edge that binds is widened and the MIP solved again.

Ties: when the goal does not split evenly (two equal territories and an odd number of units),
equal territories differ by one unit. The unit goes to the territory with more potential, and
between equal potentials to the one listed first in territories.csv (a tie-breaking cost of at
most 1e-6 per unit, far below any real difference of the objective).

Components (``[quota.components]``) are integer variables of the same MIP (``q_jc``, one per
territory and component holding potential there), so the quotas it chooses can always be split
with every component meeting its goal. The split itself follows the potential: the component
potentials of each territory are scaled to the quotas (rows) and the component goals (columns) by
iterative proportional fitting, and the nearest split in whole units is a small transportation
problem, whose LP has integral vertices.

The continuous QP that centres the MIP's window holds the goal rows and the bounds; components are
left to the MIP (a window edge that binds is widened, so they never cut the optimum off).

Negotiation range: ``min_quota`` and ``max_quota`` of a territory are the least and the most its
quota can be while every other rule holds and the goal (and region and component goals) is met,
computed by linear programming over the LP (continuous) relaxation of the same constraints, with
the overrides fixed (for an overridden territory, with its own override released). They are
reported rounded inward to the unit, so every value of the range on the unit grid is a quota the
rules admit (constraints of this shape have integral vertices).
"""

from ..continuity import adjust_run
from .allocation import fairness_kpis, propose_quotas, region_rollup
from .inputs import DEFAULT_REGION, DIFF_COLUMNS, QUOTA_COLUMNS, TIE_WEIGHT
from .negotiation import (
    STALE_CHOICES,
    carry_proposal,
    describe_stale,
    override_quotas,
    quota_diff,
    stale_overrides,
)
from .proposal import Proposal, load_proposal, next_version_folder

__all__ = [
    "DEFAULT_REGION",
    "DIFF_COLUMNS",
    "QUOTA_COLUMNS",
    "STALE_CHOICES",
    "TIE_WEIGHT",
    "Proposal",
    "adjust_run",
    "carry_proposal",
    "describe_stale",
    "fairness_kpis",
    "load_proposal",
    "next_version_folder",
    "override_quotas",
    "propose_quotas",
    "quota_diff",
    "region_rollup",
    "stale_overrides",
]
