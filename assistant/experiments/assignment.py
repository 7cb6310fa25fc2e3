"""Sticky assignment of users to variants: a hash of (experiment, user), never a random draw.

The same user always lands in the same variant of an experiment (across processes, restarts and
replicas), and different experiments assign independently. Nothing is stored to remember it.
"""

from __future__ import annotations

import hashlib

from assistant.experiments.models import ExperimentSpec, Variant


def bucket(experiment_id: str, user_id: str) -> float:
    """A uniform number in [0, 1) fixed by the pair; sha256 so users cannot steer it."""
    digest = hashlib.sha256(f"{experiment_id}\x00{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(experiment: ExperimentSpec, user_id: str) -> Variant:
    """The user's variant: the share intervals laid end to end, in the order defined."""
    point = bucket(experiment.id, user_id)
    upper = 0.0
    for variant in experiment.variants:
        upper += variant.share
        if point < upper:
            return variant
    return experiment.variants[-1]  # rounding: shares add up to 1 within 1e-6
