"""Seeded, category-stratified subsampling of MMLU-Pro and the statistics of a subsample.

The draw is passed to lm-eval as its ``samples`` argument (document indices per task), so lm-eval
itself evaluates exactly those questions; the stratified estimate weights each category by its full
size to estimate the full-test score.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Sequence

from ..errors import UsageError
from .tasks import LoadedTask


def allocate(counts: dict[str, int], fraction: float) -> dict[str, int]:
    """Questions to draw per category: ``round(fraction × N_c)`` (halves up), at least 1, at most N_c."""
    return {c: max(1, min(n, math.floor(fraction * n + 0.5))) for c, n in counts.items()}


def stratified_subsample(categories: Sequence[str], fraction: float, seed: int) -> list[int]:
    """Sorted indices of a seeded sample stratified by category.

    Each category keeps its share (:func:`allocate`) and is represented at least once. A category's
    draw is the first n_c of a permutation seeded by (seed, category), so the sample does not depend
    on the other categories, and a smaller fraction's sample is contained in a larger one's.
    """
    import numpy as np

    if not 0 < fraction <= 1:
        raise UsageError(f"--subsample {fraction} must be a fraction in (0, 1]")
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(categories):
        by_category[c].append(i)
    quota = allocate({c: len(ix) for c, ix in by_category.items()}, fraction)
    chosen: list[int] = []
    for c in sorted(by_category):
        rng = np.random.default_rng([seed, zlib.crc32(c.encode())])
        perm = rng.permutation(len(by_category[c]))[: quota[c]]
        chosen += [by_category[c][int(k)] for k in perm]
    return sorted(chosen)


def plan_samples(loaded: LoadedTask, fraction: float, seed: int) -> tuple[dict[str, list[int]], dict]:
    """lm-eval ``samples`` (sorted doc indices per leaf task) for a stratified subsample, and its
    description (population and sample size per category)."""
    pairs = [(name, i, doc["category"]) for name, task in sorted(loaded.tasks.items())
             for i, doc in enumerate(task.eval_docs)]
    picked = stratified_subsample([c for _, _, c in pairs], fraction, seed)
    samples: dict[str, list[int]] = defaultdict(list)
    for k in picked:
        samples[pairs[k][0]].append(pairs[k][1])
    population: defaultdict[str, int] = defaultdict(int)
    for _, _, c in pairs:
        population[c] += 1
    info = {"fraction": fraction, "seed": seed, "population": dict(sorted(population.items())),
            "sampled": dict(sorted(allocate(population, fraction).items())),
            "n_population": len(pairs), "n_sampled": len(picked)}
    return {k: sorted(v) for k, v in samples.items()}, info


def stratified_estimate(per_category: dict[str, dict], population: dict[str, int]) -> tuple[float, float]:
    """Stratified estimate of the full-test score and its standard error (with the finite
    population correction); a category sampled once contributes the maximal Bernoulli variance."""
    total = sum(population.values())
    estimate = 0.0
    variance = 0.0
    for c, big_n in population.items():
        n = per_category[c]["n"]
        p = per_category[c]["acc"]
        weight = big_n / total
        estimate += weight * p
        s2 = p * (1 - p) * n / (n - 1) if n > 1 else 0.25
        variance += weight**2 * (1 - n / big_n) * s2 / n
    return estimate, math.sqrt(variance)
