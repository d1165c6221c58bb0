"""A gallery index spread over the workers of a Dask cluster: one shard of rows per worker.

Each worker holds one block of the gallery's rows (searched exactly, or by its own IVF / faiss
index); a query block goes to every shard, each returns its ``k`` nearest, and the merge keeps
the ``k`` nearest of all -- exact, since the ``k`` nearest of the union are among the shards'
``k`` nearest.  Only the query rows and ``k`` neighbours per shard cross the network.
"""
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from dgae.utils import check_features, check_k, nearest_neighbors, require

from ._faiss import FaissIndex
from ._ivf import IVFIndex


class ShardedIndex(BaseEstimator):
    """k-NN over a gallery whose rows are split over the workers of a Dask cluster.

    Parameters
    ----------
    index : "exact", IVFIndex or FaissIndex, default="exact"
        How each shard is searched: exactly (the blocked GEMM engine), or by a
        clone of the given index fitted on the shard's rows.
    n_shards : int or None, default=None
        Shards (contiguous blocks of rows), placed on the workers in turn.
        None: one per worker.
    scheduler : str or None, default=None
        Address of the Dask scheduler; None: the current client
        (``distributed.get_client()``: e.g. ``dgae predict --dask-scheduler``'s).

    Attributes
    ----------
    shards_ : list of distributed.Future
        Each shard, held by its worker.
    workers_ : list of str
        The worker of each shard.
    offsets_ : ndarray of shape (n_shards,)
        First gallery row of each shard.
    n_samples_fit_ : int

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 8)).astype(np.float32)
    >>> with LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster, \\
    ...         Client(cluster):
    ...     index = ShardedIndex().fit(X)
    ...     dist, idx = index.query(X[:3], 2)
    >>> idx[:, 0].tolist(), len(set(index.workers_))
    ([0, 1, 2], 2)
    """

    _parameter_constraints = {
        "index": [StrOptions({"exact"}), IVFIndex, FaissIndex],
        "n_shards": [None, Interval(Integral, 1, None, closed="left")],
        "scheduler": [None, str],
    }

    def __init__(self, index="exact", n_shards=None, scheduler=None):
        self.index = index
        self.n_shards = n_shards
        self.scheduler = scheduler

    def _client(self):
        distributed = require("distributed", "dask", purpose="ShardedIndex")
        if self.scheduler is None:
            try:
                return distributed.get_client()
            except ValueError:
                raise ValueError("ShardedIndex needs a Dask cluster: start a distributed.Client "
                                 "or give scheduler=ADDRESS") from None
        return distributed.Client(self.scheduler)

    def fit(self, X, y=None):
        """Send each shard of ``X`` to its worker and build its index there.

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : None
            Ignored.

        Returns
        -------
        self : ShardedIndex
        """
        self._validate_params()
        X = check_features(X, "X")
        self.close()                                    # a refit: the last fit's shards go
        client = self._client()
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ValueError("the Dask cluster has no worker")
        n = min(self.n_shards or len(workers), len(X))
        bounds = np.linspace(0, len(X), n + 1).astype(np.int64)
        self.workers_ = [workers[s % len(workers)] for s in range(n)]
        # rows scattered to their worker first: a block inside the task graph would be
        # serialised with the graph (Dask warns from ~10 MB); keys of their own (hash=False):
        # a key from the rows' hash is the last fit's when the rows are the same, and the
        # scheduler may still be forgetting it ("lost dependencies")
        blocks = [client.scatter(X[bounds[s]:bounds[s + 1]], workers=[w], direct=True,
                                 hash=False)
                  for s, w in enumerate(self.workers_)]
        self.shards_ = [client.submit(_build_shard, b, self.index, workers=[w],
                                      allow_other_workers=False, pure=False)
                        for b, w in zip(blocks, self.workers_)]
        # built and kept on the workers (nothing comes back); a worker's error is raised here
        require("distributed").wait(self.shards_)
        for shard in self.shards_:
            if shard.status == "error":
                shard.result()
        self.offsets_, self.n_samples_fit_ = bounds[:-1], len(X)
        self.n_features_in_ = X.shape[1]
        return self

    def query(self, X, k):
        """The ``k`` nearest gallery rows of each query, over all shards.

        Parameters
        ----------
        X : array-like of shape (m, d)
        k : int

        Returns
        -------
        distances : ndarray of shape (m, k), float32
            Ascending; ``inf`` where the gallery holds fewer than ``k`` rows.
        indices : ndarray of shape (m, k), int64
            Gallery rows (ties by lower row), ``-1`` padded.
        """
        check_is_fitted(self, "shards_")
        X = check_features(X, "X")
        k = check_k(k, "k")
        client = self.shards_[0].client
        queries = client.scatter(X, broadcast=True)
        parts = client.gather([client.submit(_query_shard, shard, queries, k, offset,
                                             workers=[w], allow_other_workers=False, pure=False)
                               for shard, w, offset in zip(self.shards_, self.workers_,
                                                           self.offsets_)])
        dist = np.concatenate([d for d, _ in parts], axis=1)
        idx = np.concatenate([i for _, i in parts], axis=1)
        order = np.lexsort((np.where(idx < 0, np.iinfo(np.int64).max, idx), dist))[:, :k]
        return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)

    def close(self):
        """Release the shards on their workers and, where this index opened it
        (``scheduler=ADDRESS``), its Dask client; the index is unfitted again.

        A client that was running already (``scheduler=None``) stays open.  ``fit`` calls it
        first: a refit leaves no shards or client of the last fit behind.

        Examples
        --------
        >>> from distributed import LocalCluster
        >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        ...     index = ShardedIndex(scheduler=cluster.scheduler_address).fit(np.eye(4))
        ...     client = index.shards_[0].client
        ...     index.close()
        ...     print(client.status, hasattr(index, "shards_"))
        closed False
        """
        shards = getattr(self, "shards_", None)
        if shards is None:
            return
        client = shards[0].client
        for shard in shards:
            shard.release()
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
            delattr(self, name)                         # the fitted attributes
        if self.scheduler is not None:
            client.close()

    def __getstate__(self):
        if hasattr(self, "shards_"):
            raise TypeError("a fitted ShardedIndex lives on its Dask cluster and cannot be "
                            "saved: save the model before sharding its gallery")
        return super().__getstate__()


def _build_shard(X, index):
    """A shard as its worker keeps it: ``(rows, searcher)``, the searcher the rows themselves
    (exact search) or an index fitted on them."""
    return len(X), (X if isinstance(index, str) else clone(index).fit(X))


def _query_shard(shard, X, k, offset):
    """The shard's ``k`` nearest of each query, as gallery rows (``-1`` / ``inf`` padded)."""
    rows, searcher = shard
    if isinstance(searcher, np.ndarray):
        dist, idx = nearest_neighbors(X, searcher, min(k, rows), device="cpu")
    else:
        dist, idx = searcher.query(X, min(k, rows))
    pad = k - idx.shape[1]
    dist = np.pad(dist.astype(np.float32), ((0, 0), (0, pad)), constant_values=np.inf)
    idx = np.pad(idx.astype(np.int64), ((0, 0), (0, pad)), constant_values=-1)
    return dist, np.where(idx >= 0, idx + offset, -1)
