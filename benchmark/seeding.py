"""Seeding every random source a run touches."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy, torch and Avalanche's RNG manager (which its loaders use)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    try:
        from avalanche.training.determinism.rng_manager import RNGManager

        RNGManager.set_random_seeds(seed)
    except ImportError:  # pragma: no cover
        pass
