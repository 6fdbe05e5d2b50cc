r"""Steps in one series: where a kernel's metric moved to a new level, how far, how surely.

A series is one kernel's metric over commits in git order, $v_1, \dots, v_n$ (one point per commit:
the median over the runs of that commit). Steps are fitted on $y_i = \log v_i$, so a step is a ratio
whatever the kernel's scale, by a penalised piecewise-constant fit (ruptures' PELT, least squares):

$$\min_{0 = k_0 < k_1 < \dots < k_s = n} \;\sum_{j=1}^{s} \sum_{i=k_{j-1}}^{k_j - 1}
  \frac{(y_i - \bar y_{(j)})^2}{\sigma^2} \;+\; \beta\,(s - 1), \qquad \beta = 4 \ln \max(n, 3).$$

$\sigma$, the noise of one point in log units, is estimated from the series itself, robustly
(the median absolute successive difference, $\sigma = \operatorname{med}|\Delta y| / (0.6745\sqrt2)$,
which one step barely moves; from 5 points on), and never taken below the metric's ``min_noise``:
a deterministic metric (instructions, XLA's counts) has $\sigma \approx 0$, and its floor is what
separates a real change from the last digit. $\beta$ is twice the BIC's $2 \ln n$: the BIC's
penalty finds false steps in pure noise far more often (docs/history.md: both measured on
simulated and real A/A series by ``bench/studies/history_aa.py``).

Each step reports its size, the ratio of the medians of the levels either side, and a confidence:
$1 - p$, with $p$ the two-sided pooled two-sample Student-t test of the two levels' log means,
$t = |\bar y_{after} - \bar y_{before}| / (s \sqrt{1/n_{before} + 1/n_{after}})$ on
$n_{before} + n_{after} - 2$ degrees of freedom (at least 1), $s$ the levels' pooled standard
deviation, never below ``min_noise``. A level of one point (a step at the newest commit) is then
judged against the spread of the level before it: a new point's Student-t prediction interval.
The pooled deviation, unlike the robust $\sigma$ of the fit, counts every outlier of the levels, so
a series whose processes sometimes run slow earns less confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jaxgrads.errors import JaxgradsError

__all__ = ["Step", "detect_steps", "noise"]


@dataclass(frozen=True)
class Step:
    """A new level starting at point ``index`` (0-based, the first point of the new level)."""

    index: int
    before: float  # median of the level before, in the metric's units
    after: float  # median of the level from ``index`` on
    confidence: float  # 1 - the two-sided pooled Student-t p of the level change (module docstring)
    n_before: int  # points in the level before
    n_after: int

    @property
    def ratio(self) -> float:
        return self.after / self.before


def noise(y: np.ndarray, min_noise: float) -> float:
    """One point's noise in log units: the robust spread of successive differences, at least
    ``min_noise`` (which alone is used below 5 points: a median of so few differences is the step's own)."""
    if len(y) < 5:
        return min_noise
    sigma = float(np.median(np.abs(np.diff(y)))) / (0.6745 * math.sqrt(2))
    return max(sigma, min_noise)


def detect_steps(values: Sequence[float], *, min_noise: float) -> list[Step]:
    """The steps of one series (positive values in commit order); [] for fewer than two points.

    Args:
      values: one value per commit, all finite and positive.
      min_noise: the smallest noise assumed for one point, in log units (0.01: 1%).
    """
    v = np.asarray(values, float)
    if not (np.all(np.isfinite(v)) and np.all(v > 0)):
        raise JaxgradsError("a series to search for steps must hold finite, positive values")
    n = len(v)
    if n < 2:
        return []
    import ruptures
    from scipy.stats import t as student_t

    y = np.log(v)
    sigma = noise(y, min_noise)
    penalty = 4.0 * math.log(max(n, 3))
    # a flat signal is one level: ruptures' cost of a constant segment is 0 either way
    ends = ruptures.Pelt(model="l2", min_size=1, jump=1).fit((y / sigma)[:, None]).predict(pen=penalty)
    bounds = [0, *ends]
    steps = []
    for a, k, b in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before, after = y[a:k], y[k:b]
        df = len(before) + len(after) - 2
        pooled = (
            math.sqrt((((before - before.mean()) ** 2).sum() + ((after - after.mean()) ** 2).sum()) / df)
            if df
            else 0
        )
        spread = max(pooled, min_noise)
        z = abs(after.mean() - before.mean()) / (spread * math.sqrt(1 / len(before) + 1 / len(after)))
        steps.append(
            Step(
                k,
                float(np.median(v[a:k])),
                float(np.median(v[k:b])),
                float(1 - 2 * student_t.sf(z, max(df, 1))),
                len(before),
                len(after),
            )
        )
    return steps
