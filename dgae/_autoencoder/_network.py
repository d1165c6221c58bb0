"""The network: layers, encoding, the backward pass, and the work-array pool and cache-blocked
element-wise kernels they run on (NumPy or CuPy; see the package docstring for the maths)."""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..utils import array_module


#: Rows per GEMM block (bounds the memory of full-batch passes and of encoding).
ROW_CHUNK = 65536


# ------------------------------------------------------ element-wise kernels
#: Elements per cache block of the fused element-wise kernels (256 KiB of float32).
_BLOCK_ELEMS = 1 << 16
#: Below this many elements the kernels run in the calling thread only.
_THREAD_MIN_ELEMS = 1 << 18
_POOLS = {}  # by process id: a forked child must not use its parent's (absent) threads


def _n_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _row_map(kernel, n_rows, n_cols, xp, block_rows=None):
    """``[kernel(r0, r1) for each row block]``, in row order.

    Hand-written because NumPy's ufuncs are single-threaded and each one makes
    a full pass through memory: a chain of them on an ``(N, 2000)`` array is
    memory-bound and uses one core.  Here the chain runs on cache-sized row
    blocks (``block_rows``, default about :data:`_BLOCK_ELEMS` elements), the
    blocks split in contiguous spans over a thread per core (ufuncs and BLAS
    release the GIL).  CuPy: one call on all rows (the device parallelises).
    """
    if xp is not np:
        return [kernel(0, n_rows)]
    step = block_rows or max(1, _BLOCK_ELEMS // max(1, n_cols))
    blocks = [(r0, min(r0 + step, n_rows)) for r0 in range(0, n_rows, step)]
    n_threads = min(_n_threads(), len(blocks))
    if n_threads < 2 or n_rows * n_cols < _THREAD_MIN_ELEMS:
        return [kernel(r0, r1) for r0, r1 in blocks]
    pool = _POOLS.get(os.getpid())
    if pool is None:
        pool = _POOLS[os.getpid()] = ThreadPoolExecutor(_n_threads(), thread_name_prefix="dgae")
    spans = np.array_split(np.arange(len(blocks)), n_threads)
    parts = pool.map(lambda span: [kernel(*blocks[i]) for i in span], spans)
    return [r for part in parts for r in part]


class Buffers:
    """Free work arrays by shape and dtype, handed out again instead of fresh ones.

    Why: a fresh ``(20000, 2000)`` float32 array costs its page faults (and
    huge-page zeroing) on first touch, measured 0.03-0.6 s on the 2-core CPU,
    and one full-batch evaluation makes about twenty such arrays.  Passing
    the same pool to every evaluation of a training run (as :func:`train`
    does) reuses the previous iteration's memory; within one evaluation the
    backward pass reuses arrays that are already dead.  Only arrays that own
    their memory are taken back (views never are).
    """

    def __init__(self):
        self._free = {}

    def take(self, shape, dtype, xp):
        """An uninitialised array of this shape (a recycled one when free)."""
        free = self._free.get((tuple(shape), np.dtype(dtype)))
        return free.pop() if free else xp.empty(shape, dtype=dtype)

    def give(self, *arrays):
        """Return arrays that are no longer used (``None`` and views are ignored)."""
        for a in arrays:
            if a is not None and a.base is None:
                self._free.setdefault((a.shape, np.dtype(a.dtype)), []).append(a)


def _activation_delta(out, g, activation="sigmoid", target=None, scale=None):
    """dJ/dz of a layer, in place in ``g``: ``g *= out * (1 - out)`` for a sigmoid.

    With ``target`` (the reconstruction's output layer) ``g`` is ``out``
    itself, overwritten by ``(out - target) * scale`` times the derivative:
    the error, its scaling and the derivative in one pass, no error array.
    A ``"linear"`` layer's derivative is 1.

    Returns
    -------
    db : ndarray
        Column sums of the result (the bias gradient).
    sse : float
        ``sum((out - target) ** 2)`` (0 without ``target``).
    """
    xp = array_module(g)
    linear = activation == "linear"

    def kernel(r0, r1):
        o, d = out[r0:r1], g[r0:r1]
        if not linear:
            s = xp.subtract(1.0, o)  # sigmoid' = s (1 - s), before d (maybe o) is overwritten
            s *= o
        sse = 0.0
        if target is not None:
            xp.subtract(o, target[r0:r1], out=d)
            sse = float(xp.square(d).sum())
            d *= scale
        if not linear:
            d *= s
        return d.sum(axis=0), sse

    parts = _row_map(kernel, *g.shape, xp)
    db = parts[0][0] if len(parts) == 1 else xp.stack([p[0] for p in parts]).sum(axis=0)
    return db, sum(p[1] for p in parts)


# --------------------------------------------------------------------- network
def sigmoid(z, out=None):
    """Logistic sigmoid, evaluated as ``(1 + tanh(z / 2)) / 2``.

    The identity is exact and ``tanh`` saturates instead of overflowing, so
    no ``exp`` of a large argument is ever formed (NumPy and CuPy alike).

    Parameters
    ----------
    z : ndarray
    out : ndarray, optional
        Where to write (``z`` itself for an in-place update).

    Returns
    -------
    s : ndarray, same shape and dtype as ``z``

    Examples
    --------
    >>> sigmoid(np.array([-1e6, 0.0, 1e6])).tolist()
    [0.0, 0.5, 1.0]
    """
    xp = array_module(z)
    out = xp.multiply(z, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def layer_sizes(n_features, hidden_layer_sizes):
    """Widths of all ``2M + 1`` activations: input, encoder, mirrored decoder.

    Examples
    --------
    >>> layer_sizes(10, (6, 3))
    [10, 6, 3, 6, 10]
    """
    hidden = [int(h) for h in hidden_layer_sizes]
    return [int(n_features), *hidden, *hidden[-2::-1], int(n_features)]


def init_params(n_features, hidden_layer_sizes, random_state, dtype=np.float32,
                activations=None, sigmoid_gain=4.0):
    """Glorot-uniform weights, zero biases (NumPy).

    ``W`` is drawn from ``U(-r, r)`` with ``r = sqrt(6 / (fan_in + fan_out))``
    for linear layers and ``sigmoid_gain`` times that for sigmoid ones.  The
    default 4 is Glorot & Bengio's (2010) rule for logistic units
    (sigmoid'(0) = 1/4) on inputs in [0, 1] (the paper's min-max scaling):
    smaller weights leave every unit near 0.5 and the codes collapse onto the
    mean under gradient descent.  Whitened inputs (unit variance in every
    direction) need gain 1: at 4 the first layer's units saturate.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : sequence of int
    random_state : int, Generator or None
    dtype : numpy dtype, default=float32
    activations : list of str, optional
        Per layer (:func:`layer_activations`); all sigmoid by default.
    sigmoid_gain : float, default=4.0

    Returns
    -------
    coefs : list of ndarray, ``coefs[l]`` of shape (n_in, n_out)
    intercepts : list of ndarray, ``intercepts[l]`` of shape (n_out,)

    Examples
    --------
    >>> coefs, intercepts = init_params(5, (3,), np.random.default_rng(0))
    >>> [c.shape for c in coefs]
    [(5, 3), (3, 5)]
    """
    rng = np.random.default_rng(random_state)
    sizes = layer_sizes(n_features, hidden_layer_sizes)
    activations = activations or ["sigmoid"] * (len(sizes) - 1)
    coefs, intercepts = [], []
    for fan_in, fan_out, act in zip(sizes[:-1], sizes[1:], activations):
        bound = (sigmoid_gain if act == "sigmoid" else 1.0) * np.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(np.zeros(fan_out, dtype=dtype))
    return coefs, intercepts


def _layer(a, W, b, buffers=None, activation="sigmoid"):
    """``act(a @ W + b)``, in place on the product (cache-blocked, threaded)."""
    xp = array_module(a)
    out = None if buffers is None else buffers.take((a.shape[0], W.shape[1]), W.dtype, xp)
    z = xp.matmul(a, W, out=out)

    def kernel(r0, r1):
        blk = z[r0:r1]
        blk += b
        if activation == "sigmoid":
            sigmoid(blk, out=blk)

    _row_map(kernel, *z.shape, xp)
    return z


def encode(coefs, intercepts, X, chunk_size=ROW_CHUNK, buffers=None, activations=None):
    """All encoder hidden layers of ``X`` (the first ``M = len(coefs) // 2`` layers).

    Parameters
    ----------
    coefs, intercepts : lists of arrays (on X's device)
    X : ndarray of shape (n, D)
        Network inputs (scaled as the model was trained).
    chunk_size : int
        Rows per GEMM block (bounds the memory).
    buffers : Buffers, optional
        Pool the activations are taken from (fresh arrays by default).
    activations : list of str, optional
        Per layer (:func:`layer_activations`); all sigmoid by default.

    Returns
    -------
    outputs : list of M ndarrays, ``outputs[m]`` of shape (n, h_{m+1})

    Examples
    --------
    >>> coefs, intercepts = init_params(4, (3, 2), 0, dtype=np.float64)
    >>> [h.shape for h in encode(coefs, intercepts, np.ones((5, 4)))]
    [(5, 3), (5, 2)]
    """
    n_enc = len(coefs) // 2
    activations = activations or ["sigmoid"] * len(coefs)
    blocks = []
    for r0 in range(0, X.shape[0], chunk_size):
        a, acts = X[r0:r0 + chunk_size], []
        for W, b, act in zip(coefs[:n_enc], intercepts[:n_enc], activations):
            a = _layer(a, W, b, buffers, act)
            acts.append(a)
        blocks.append(acts)
    if len(blocks) == 1:
        return blocks[0]
    xp = array_module(X)
    enc = [xp.concatenate([blk[m] for blk in blocks]) for m in range(n_enc)]
    if buffers is not None:
        buffers.give(*(a for blk in blocks for a in blk))
    return enc


def _backward(coefs, acts, g_out, gW, gb, first_layer, need_input_grad, buffers, activations,
              top_db=None):
    """Back-propagate ``g_out`` (dJ/d of the last activation) through the layers.

    ``acts`` are the activations ``[input, out_1, ..., out_n]`` of the layers
    ``first_layer ... first_layer + n - 1`` (``activations[l]`` says whether
    layer ``l`` is a sigmoid or linear); gradients are accumulated into
    ``gW`` / ``gb``.  Returns dJ/d input when ``need_input_grad``.  ``g_out``
    is overwritten (it becomes dJ/dz of the last layer); with ``top_db`` it
    already is dJ/dz and ``top_db`` its column sums.  Work arrays that
    own their memory (``g_out``, the deltas, activations other than the
    input) are given to ``buffers`` once dead; the returned gradient is not.
    """
    xp = array_module(g_out)
    n = len(acts) - 1
    for i in range(n - 1, -1, -1):
        l, out = first_layer + i, acts[i + 1]
        delta = g_out
        if i == n - 1 and top_db is not None:
            db = top_db
        else:
            db = _activation_delta(out, delta, activations[l])[0]
        dW = acts[i].T @ delta
        gW[l] = dW if gW[l] is None else gW[l].__iadd__(dW)
        gb[l] = db if gb[l] is None else gb[l].__iadd__(db)
        if i or need_input_grad:
            W = coefs[l]
            g_out = xp.matmul(delta, W.T, out=buffers.take((delta.shape[0], W.shape[0]), W.dtype, xp))
        buffers.give(delta, None if out is delta else out)
    return g_out if need_input_grad else None
