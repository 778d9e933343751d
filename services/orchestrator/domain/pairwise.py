"""Strengths from pairwise comparisons: weighted least squares on within-reviewer margins.

Every review call shows one reviewer several proposals; each pair it saw is one comparison,
with a margin read from its ranking (who came first) and its rubric scores (by how much).
Comparing within a reviewer removes that reviewer's leniency, which a mean of raw scores keeps.
The strengths minimise sum w * (s_x - s_y - margin)^2 over all comparisons (a Thurstone-style
model with a small ridge toward the council mean, so a thin design still solves), and their
covariance says how sure the order of any two is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# A ranking step counts one unit; a rubric point read against the middle of the scale (a lone
# review in a council of two, or SelectionPolicy.absolute_scores) counts SCORE_UNIT.
SCORE_UNIT = 0.25
# Pulls strengths toward the mean; small enough not to reorder a design that is well connected.
RIDGE = 0.05
# Noise of one comparison, in margin units, assumed before the residuals say otherwise: a
# council of three leaves one residual degree of freedom, too few to trust on their own.
PRIOR_NOISE = 1.0


@dataclass(frozen=True)
class Comparison:
    first: str
    second: str
    # > 0 when the reviewer judged `first` the better of the two.
    margin: float
    weight: float = 1.0


@dataclass(frozen=True)
class Strengths:
    value: dict[str, float]
    covariance: dict[tuple[str, str], float]
    noise: float

    def gap_error(self, x: str, y: str) -> float:
        """Standard error of value[x] - value[y]."""
        c = self.covariance
        var = c[(x, x)] + c[(y, y)] - 2 * c[(x, y)]
        return self.noise * math.sqrt(max(var, 0.0))


def fit(items: Sequence[str], comparisons: Sequence[Comparison]) -> Strengths:
    index = {item: i for i, item in enumerate(items)}
    n = len(items)
    laplacian = [[RIDGE if i == j else 0.0 for j in range(n)] for i in range(n)]
    target = [0.0] * n
    for c in comparisons:
        i, j = index[c.first], index[c.second]
        laplacian[i][i] += c.weight
        laplacian[j][j] += c.weight
        laplacian[i][j] -= c.weight
        laplacian[j][i] -= c.weight
        target[i] += c.weight * c.margin
        target[j] -= c.weight * c.margin
    inverse = _invert(laplacian)
    value = [sum(inverse[i][k] * target[k] for k in range(n)) for i in range(n)]
    residual = sum(c.weight * (value[index[c.first]] - value[index[c.second]] - c.margin) ** 2 for c in comparisons)
    weight = sum(c.weight for c in comparisons)
    dof = max(weight - (n - 1), 0.0)
    noise = math.sqrt((residual + PRIOR_NOISE**2 * 2) / (dof + 2))
    return Strengths(
        value={item: value[index[item]] for item in items},
        covariance={(x, y): inverse[index[x]][index[y]] for x in items for y in items},
        noise=noise,
    )


def _invert(matrix: list[list[float]]) -> list[list[float]]:
    """Gauss-Jordan; the ridge keeps the matrix positive definite, so no pivot is zero."""
    n = len(matrix)
    aug = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(aug[r][col]))
        aug[col], aug[pivot] = aug[pivot], aug[col]
        scale = aug[col][col]
        aug[col] = [v / scale for v in aug[col]]
        for r in range(n):
            if r != col and aug[r][col] != 0.0:
                factor = aug[r][col]
                aug[r] = [a - factor * b for a, b in zip(aug[r], aug[col], strict=True)]
    return [row[n:] for row in aug]
