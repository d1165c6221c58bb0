"""The geo-constrained stacked autoencoder: network, objectives, gradients, optimisers.

Modules: ``_network`` (layers, encoding, backward pass, work arrays and
kernels), ``_objective`` (the two objectives and their gradients),
``_training`` (partner sampling, optimisers, the training loop).

Paper §4.3–§4.4 and Algorithm 1, and the library's default deviation from it,
on NumPy or CuPy (the array module is chosen by :mod:`dgae.utils`;
everything here works on whatever module the arrays belong to).

The network has ``M`` encoder layers ``f`` and a mirrored decoder ``g``; the
constraints act on the top encoder layer ``H = h^(M)`` of a set of rows ``B``
(``B`` = all ``N`` gallery rows for full-batch training).  Two objectives:

``"paper"`` — Eq. 4 as written, every layer a sigmoid, inputs scaled into [0, 1]::

    J = J1 + alpha * J2 - beta * J3 + gamma * R
    J1 = 1/(2|B|) sum_{s in B} ||x_s - g(f(x_s))||^2
    J2 = 1/(|B| k1) sum_{s in B} sum_t P_st ||h_s - h_t||^2
    J3 = 1/(|B| k2) sum_{s in B} sum_t Q_st ||h_s - h_t||^2
    R  = sum_m ||W^(m)||_F^2 + ||b^(m)||^2          (all 2M layers)

  Nothing holds the codes apart: the pull of J2 is minimised by codes that do
  not vary (a trivial solution), and ``gamma R`` (a sum over millions of
  weights against J1's per-photo mean) shrinks every unit to a constant.

``"whitened"`` (the library's default) — the same three ideas, made scale-free
and given what keeps the codes apart.  Inputs are PCA-whitened (by the
estimator), the top encoder layer and the decoder's output layer are linear,
P and Q are normalised per row (``P~ = diag(P 1)^-1 P``), and with the
covariance ``C`` of the codes of ``B`` (``T = tr C``, ``d`` code units)::

    J  = J1 + alpha * J2 - beta * J3 + lambda * K + gamma * R
    J1 = 1/(2|B|D) sum_{s in B} ||x_s - g(f(x_s))||^2        (per input unit)
    J2 = 1/|B| sum_s sum_t P~_st ||h_s - h_t||^2 / (2T)       (P pairs / random pairs)
    J3 = 1/|B| sum_s sum_t Q~_st min(1, ||h_s - h_t||^2 / (2T))
    K  = ||C d / T - I||_F^2 / d                              (codes use every direction)
    R  = mean of the squared weights (biases excluded)

  ``2T`` is the mean squared distance of two random codes, so J2 and J3 are
  distance ratios in [0, 1] and no term depends on the scale of the codes.
  ``K`` is zero exactly when the codes are white up to a scale; with it, J2
  is the trace-ratio criterion of linear discriminant analysis (a linear top
  layer over whitened inputs, ``K = 0``, J1 off and P = all same-POI pairs
  spans the LDA subspace; ``tests/test_autoencoder.py`` checks it).  J3 pushes
  an easy-confusing pair apart only until it is as far apart as a random
  pair: the unbounded push of Eq. 4 lets a few codes run away and swamps the
  others (measured: the Q ratio grew to 30 and the 1 km accuracy fell from
  41 % to 8 % on ``world_streetview``).

Both: the pair terms depend on the encoder only, so the decoder is trained
by the reconstruction (and weight decay) alone, as §4.4 states.

Pair terms as a graph-Laplacian product (``"paper"``).  For a (possibly
non-symmetric) weight matrix ``A`` and codes ``H``::

    sum_st A_st ||h_s - h_t||^2 = tr(H^T L H),   L = Lap(A + A^T) = diag((A + A^T) 1) - (A + A^T)
    gradient with respect to H  = 2 L H

(expand ``||h_s - h_t||^2``: row ``s`` receives ``2 sum_t (A_st + A_ts)(h_s - h_t)``).
One sparse product ``L @ H`` gives both the value and the gradient.  The
capped J3 of ``"whitened"`` needs each pair's distance, so that objective
works on the edge list (:class:`Edges`): ``diff = H[s] - H[t]``, the gradient
scattered back by one sparse incidence product.

Mini-batches with sampled partners.  A batch ``B`` of anchor rows is drawn by
a random permutation.  For every anchor ``s`` one P-partner ``t`` is sampled
with probability ``P_st / p_s`` (``p_s = sum_t P_st``) and one Q-partner ``u``
with probability ``Q_su / q_s``; the batch objective is::

    J_B = 1/(2|B|) sum_{s in B} ||x_s - g(f(x_s))||^2
          + alpha/(|B| k1) sum_{s in B} p_s ||f(x_s) - f(x_t)||^2
          - beta /(|B| k2) sum_{s in B} q_s ||f(x_s) - f(x_u)||^2 + gamma R

and the forward pass runs the encoder on ``B`` and the sampled partners
(partners outside ``B`` included, so their codes are exact and the pair
gradient flows into both ends of every edge).  For ``"paper"`` this is
unbiased: ``E_t[p_s ||h_s - h_t||^2] = sum_t P_st ||h_s - h_t||^2`` for every
anchor, so ``E[J_B]`` is the objective restricted to ``B`` with all its pairs;
and over one epoch (the permutation splits all ``N`` rows into batches)
``sum_B (|B|/N) J_B`` has the expectation ``J`` of Eq. 4.  Sampling does not
depend on the weights, so the same holds for the gradients.  For
``"whitened"`` the same draw (``p_s = 1`` after the row normalisation) is
unbiased for the pair sums at a fixed ``T``; ``T`` and ``C`` are estimated on
the batch's anchors, as batch normalisation estimates its statistics.  The
encoder runs on ``3|B|`` rows per batch (not ``|B|(1 + k1 + k2)``).
"""
from ._network import ROW_CHUNK, Buffers, encode, init_params, layer_sizes, sigmoid
from ._objective import (
    LOSS_DTYPE,
    LOSS_FIELDS,
    OBJECTIVES,
    Edges,
    LossWeights,
    PairBatch,
    layer_activations,
    objective,
    pair_laplacian,
    row_normalize,
)
from .._optim import OPTIMIZERS, Optimizer
from ._training import ROUND_STEPS, PartnerSampler, batch_problem, rounds_per_epoch, train

__all__ = [
    "ROW_CHUNK",
    "Buffers",
    "sigmoid",
    "layer_sizes",
    "init_params",
    "encode",
    "OBJECTIVES",
    "LOSS_FIELDS",
    "LOSS_DTYPE",
    "layer_activations",
    "pair_laplacian",
    "row_normalize",
    "Edges",
    "LossWeights",
    "PairBatch",
    "objective",
    "OPTIMIZERS",
    "PartnerSampler",
    "batch_problem",
    "Optimizer",
    "train",
    "ROUND_STEPS",
    "rounds_per_epoch",
]
