"""The geo-constrained stacked autoencoder on its own: the network, the two objectives and the
training loop that :class:`dgae.DGAE` runs (formulas in the module documentation of
``dgae._autoencoder``; ``docs/estimator.md``).

For benchmarks and experiments that time or probe the training without the estimator around
it; a model is trained with :class:`dgae.DGAE`, whose ``optimizer`` takes a :class:`Solver`.

Examples
--------
>>> import numpy as np
>>> from dgae.autoencoder import encode, init_params
>>> coefs, intercepts = init_params(4, (3, 2), 0, dtype=np.float64)
>>> [h.shape for h in encode(coefs, intercepts, np.ones((5, 4)))]
[(5, 3), (5, 2)]
"""
from ._autoencoder import (
    ROUND_STEPS,
    ROW_CHUNK,
    LossWeights,
    encode,
    init_params,
    layer_sizes,
    objective,
    pair_laplacian,
    rounds_per_epoch,
    train,
)
from ._optim import Solver

__all__ = ["ROUND_STEPS", "ROW_CHUNK", "LossWeights", "Solver", "encode", "init_params",
           "layer_sizes", "objective", "pair_laplacian", "rounds_per_epoch", "train"]
