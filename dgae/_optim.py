"""The one optimisation toolkit of dgae: in-place optimisers (Adam, heavy-ball SGD, plain
gradient steps) and the best-weights / patience bookkeeping of early stopping, used by the
autoencoder (:mod:`dgae._autoencoder`) and by :class:`~dgae.MvMFRegressor`."""
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from .utils import array_module

#: The optimisers :class:`Optimizer` runs.
OPTIMIZERS = ("adam", "sgd", "gd")


class Optimizer:
    """In-place parameter updates: plain steps (``"gd"``), heavy-ball momentum
    (``"sgd"``) or Adam (Kingma & Ba 2015, with bias correction).

    Parameters
    ----------
    kind : {"gd", "sgd", "adam"}
    params : list of arrays
        The parameters the state is shaped after.
    momentum : float
        ``"sgd"``'s momentum.
    adam_betas : (float, float)
        Adam's decay rates of the first and second moment estimates.
    adam_epsilon : float

    Examples
    --------
    >>> p = [np.array([1.0, -2.0])]
    >>> opt = Optimizer("adam", p)
    >>> opt.step(p, [np.array([0.5, -0.1])], 0.1)
    >>> p[0].round(6).tolist()   # Adam's first step has size lr in every coordinate
    [0.9, -1.9]
    """

    def __init__(self, kind, params, momentum=0.9, adam_betas=(0.9, 0.999), adam_epsilon=1e-8):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}")
        self.kind, self.momentum = kind, float(momentum)
        self.b1, self.b2 = (float(b) for b in adam_betas)
        self.eps, self.t = float(adam_epsilon), 0
        xp = array_module(params[0])
        moments = kind == "adam" or (kind == "sgd" and self.momentum)
        self.m = [xp.zeros_like(p) for p in params] if moments else None
        self.v = [xp.zeros_like(p) for p in params] if kind == "adam" else None

    def step(self, params, grads, lr):
        """Update ``params`` in place from ``grads`` (which may be overwritten)."""
        self.t += 1
        if self.kind == "adam":
            xp = array_module(params[0])
            c1, c2 = 1.0 - self.b1 ** self.t, 1.0 - self.b2 ** self.t
            for p, g, m, v in zip(params, grads, self.m, self.v):
                m *= self.b1
                m += (1.0 - self.b1) * g
                v *= self.b2
                g *= g
                v += (1.0 - self.b2) * g
                denom = xp.sqrt(v / c2)
                denom += self.eps
                p -= (lr / c1) * m / denom
        elif self.m is None:  # plain gradient steps (Algorithm 1 on full batches)
            for p, g in zip(params, grads):
                g *= lr
                p -= g
        else:  # heavy ball: v = mu v - lr g; p += v
            for p, g, v in zip(params, grads, self.m):
                v *= self.momentum
                v -= lr * g
                p += v


class BestWeights:
    """The best parameters seen so far (the lowest key) and the iterations since they were seen.

    Parameters
    ----------
    tol : float, default=0
        An offer improves only when its key is below the best by more than this.

    Attributes
    ----------
    key : float
        The best key (``inf`` before any finite one).
    params : list of arrays or None
        Copies of the best parameters (on their own device).
    iteration : int
        When they were offered (-1 before).
    stale : int
        Offers since the last improvement.

    Examples
    --------
    >>> best = BestWeights()
    >>> [best.offer(key, [np.array([key])], it) for it, key in enumerate([3.0, 2.0, 2.5, np.nan])]
    [True, True, False, False]
    >>> best.key, best.iteration, best.stale, best.params[0].tolist()
    (2.0, 1, 2, [2.0])
    """

    def __init__(self, tol=0.0):
        self.tol = float(tol)
        self.key, self.params, self.iteration, self.stale = np.inf, None, -1, 0

    def offer(self, key, params, iteration):
        """Keep copies of ``params`` (a list of arrays, or a callable giving one, called only
        then) when ``key`` (lower is better) beats the best so far; True when kept."""
        if np.isfinite(key) and key < self.key - self.tol:
            self.key, self.iteration, self.stale = float(key), iteration, 0
            self.params = [p.copy() for p in (params() if callable(params) else params)]
            return True
        self.stale += 1
        return False


#: ``learning_rate="auto"``: initial step of each optimiser.
AUTO_LR = {"gd": 2.0, "sgd": 0.05, "adam": 1e-3}
#: ``lr_decay="auto"``: step multiplier per iteration / epoch (Algorithm 1's 0.95; none for Adam).
AUTO_LR_DECAY = {"gd": 0.95, "sgd": 0.95, "adam": 1.0}


class Solver(BaseEstimator):
    """The optimiser :class:`dgae.DGAE` trains with, and its settings besides the learning
    rate: ``DGAE(optimizer=Solver("sgd", momentum=0.5))``; a name alone (``optimizer="sgd"``)
    is ``Solver("sgd")``.  Its parameters nest as scikit-learn's do
    (``GridSearchCV(DGAE(optimizer=Solver()), {"optimizer__momentum": [0.5, 0.9]})``).

    Parameters
    ----------
    kind : {"adam", "sgd", "gd"}, default="adam"
        Adam, heavy-ball SGD, or plain gradient steps (with ``batch_size=None``: the paper's
        Algorithm 1).
    momentum : float, default=0.9
        Heavy-ball momentum of ``"sgd"``.
    adam_betas : tuple of float, default=(0.9, 0.999)
        Adam's moment decay rates.
    lr_decay : float or "auto", default="auto"
        Step multiplier after every iteration (full batch) or epoch; ``"auto"``: 1.0 for Adam,
        0.95 (Algorithm 1) otherwise.
    tol : float, default=1e-6
        Stop when ``|J_k - J_{k-1}| < tol``.

    Examples
    --------
    >>> Solver("sgd").settings()["lr_decay"], Solver(lr_decay=0.5).settings()["kind"]
    (0.95, 'adam')
    """

    _parameter_constraints = {
        "kind": [StrOptions(set(OPTIMIZERS))],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "adam_betas": ["array-like"],
        "lr_decay": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="right")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, kind="adam", momentum=0.9, adam_betas=(0.9, 0.999), lr_decay="auto",
                 tol=1e-6):
        self.kind = kind
        self.momentum = momentum
        self.adam_betas = adam_betas
        self.lr_decay = lr_decay
        self.tol = tol

    def settings(self):
        """The settings, validated, ``"auto"`` resolved: ``{"kind", "momentum", "adam_betas",
        "lr_decay", "tol"}``."""
        self._validate_params()
        return {"kind": self.kind, "momentum": float(self.momentum),
                "adam_betas": tuple(float(b) for b in self.adam_betas),
                "lr_decay": (AUTO_LR_DECAY[self.kind] if self.lr_decay == "auto"
                             else float(self.lr_decay)),
                "tol": float(self.tol)}
