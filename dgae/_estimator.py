"""DGAE: the Deep Geo-constrained Auto-Encoder as a scikit-learn estimator."""
import time
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from dgae.graphs import PAPER_POI_BANDWIDTH_KM, REGION_WEIGHT

from . import _autoencoder as ae
from .base import RUN_CONSTRAINTS, CodesTransformerMixin, check_targets
from .utils import (array_module, get_xp, great_circle_km, resolve_device, say, to_device,
                    to_host, warn)
from ._diagnostics import code_diagnostics, format_diagnostics
from ._heads import apply_head, resolve_k
from ._knn import GeoEstimatorMixin, GeoKNN
from ._optim import AUTO_LR, Solver
from ._scale import gallery_scales
from ._selection import (INPUT_SHARES, VIEW, ConfidenceCalibrator, GeoMonitor, block_scale,
                         check_groups, choose_retrieval, confidence_by_kind, confidence_features,
                         confidence_share, gallery_held_out, head_candidates, held_out_kinds,
                         mix_weights, monitor_rows, retrieval_features, retrieval_label)
from ._whitening import ShrunkWhitening

#: Largest gallery that ``batch_size="auto"`` trains full-batch.
AUTO_FULL_BATCH_MAX = 20000
#: Mini-batch size that ``batch_size="auto"`` uses above that.
AUTO_BATCH_SIZE = 1024
#: ``n_iter_no_change="auto"``: patience of full-batch training (iterations: one step each)
#: and of mini-batch training (rounds: an epoch of n / batch steps, cut into parts of at most
#: ``ROUND_STEPS`` -- 7 of ~93 at 664,720 photos; scikit-learn's MLP waits 10 epochs).
AUTO_PATIENCE = {"full batch": 20, "mini-batch": 5}
#: Mean per-unit standard deviation of a layer's gallery codes under which fit warns.
COLLAPSE_STD = 1e-3
#: Rows per block when encoding.
ENCODE_CHUNK = ae.ROW_CHUNK

#: What the codes can be made of (``code_layers``): the code layer or every encoder layer,
#: with the scaled network input prepended or not.
CODE_LAYERS = ("top", "all", "input+top", "input+all")

#: DGAE's retrieval when ``knn=None``: ``GeoKNN(**KNN_DEFAULTS, device=..., random_state=...)``
#: -- the head chosen in ``fit``, its widths read off the gallery.
KNN_DEFAULTS = dict(head="auto", meanshift_bandwidth_km="auto", kde_sigma_km="auto")

#: The paper's own setting in full (§4.4, §6.4-6.5): ``DGAE(**PAPER_PARAMS)`` is Eq. 4 as
#: written, trained by Algorithm 1, with the paper's layer sizes, weights and POI bandwidth.
PAPER_PARAMS = dict(objective="paper", hidden_layer_sizes=(2000, 1000, 500), alpha=0.2, beta=0.1,
                    gamma=0.05, k1=20, k2=10, q_min_km=0.0,
                    poi_bandwidth_km=PAPER_POI_BANDWIDTH_KM, optimizer="gd",
                    batch_size=None, early_stopping=False, max_iter=100)


class _Clock:
    """Seconds between successive ``lap(name)`` calls, in ``laps``."""

    def __init__(self):
        self.laps, self._t = {}, time.perf_counter()

    def lap(self, name):
        now = time.perf_counter()
        self.laps[name], self._t = now - self._t, now


class DGAE(GeoEstimatorMixin, CodesTransformerMixin, BaseEstimator):
    """Deep Geo-constrained Auto-Encoder (Jiang, Kong & Fu) with a retrieval head.

    ``fit(X, gps)`` mines POIs on the GPS coordinates, builds the same-area
    graph ``P`` and the easy-confusing graph ``Q`` (:mod:`dgae.graphs`) on the
    features, trains the stacked autoencoder with the geo-constraints on its
    top encoder layer and indexes the gallery's codes for k-NN retrieval.
    ``alpha = beta = 0`` is the paper's AE baseline (no graphs are built).

    Two objectives (formulas in :mod:`dgae._autoencoder`):

    - ``"whitened"`` (default): inputs PCA-whitened, sigmoid hidden layers and a
      linear code layer, pair terms as distance ratios over random pairs
      (``P`` and ``Q`` normalised per row), the easy-confusing push capped at
      a random pair's distance, a penalty ``covariance_weight * K`` that keeps
      the codes white (without it the pull collapses them), a scale-free weight
      decay, and ``Q`` pairs at least ``q_min_km`` apart.  Trained by Adam with
      early stopping on a held-out tenth of the gallery.  Retrieval uses the
      code layer.
    - ``"paper"``: Eq. 4 as written (sigmoid codes, ``1/k1`` and ``1/k2``
      normalisers, ``gamma`` on the unnormalised ``||W||^2 + ||b||^2``,
      min-max scaled inputs, codes ``[scaled X, h1, ..., hM]``).
      ``DGAE(**PAPER_PARAMS)`` is the paper's setting in full (Algorithm 1,
      full-batch gradient descent, no early stopping, no Q floor).  On real
      photos it collapses the codes (see ``docs/estimator.md``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(512, 128)
        Encoder widths (the decoder mirrors them); the last one is the code.
    alpha, beta : float, default=16.0, 1.0
        Weights of the same-area and easy-confusing terms.  The defaults of
        this and of ``covariance_weight``, ``whiten_shrinkage``,
        ``q_min_km`` and the layer sizes were chosen by cross-validation on
        galleries only (``experiments/select_defaults.py``;
        ``docs/estimator.md``); the paper's are in :data:`PAPER_PARAMS`.
    gamma : float, default=0.0
        Weight decay: on the mean squared weight (``"whitened"``) or on the
        paper's unnormalised sum (``"paper"``; the paper's value is 0.05).
    covariance_weight : float, default=0.3
        Weight of the whitening penalty ``K`` (``"whitened"`` only).
    k1, k2 : int, default=20, 10
        Same-area / easy-confusing neighbours per photo (Table 4).
    q_min_km : float or "auto", default="auto"
        Distance floor of ``Q``: only look-alikes at least this far away count
        (a deviation from §4.2, which excludes only the photo's own POI).
        ``"auto"``: under ``"whitened"``, the gallery's fine scale
        (:func:`dgae.metrics.gallery_scales`: 25 km world-wide, 1 km for a
        country, 0.1 km for one city -- a fixed 25 km empties Q inside a
        city); 0 (the paper) under ``"paper"``.
    graph : {"exact", "anchor", "ann"}, default="exact"
        How Q is built: exact search, the paper's anchor graph (fDGAE) or
        pynndescent.
    poi_bandwidth_km : float or "auto", default="auto"
        POI mean-shift bandwidth (km of arc); ``"auto"``: the paper's 0.005° (0.556 km,
        §6.5.1), shrunk on galleries only a few km across
        (:func:`dgae.graphs.auto_poi_bandwidth_km`).
    region_km : float, "auto" or None, default="auto"
        Multi-scale same-area pairs: P also holds each photo's ``k1`` nearest
        photos of its *region*, POIs mined a second time at this bandwidth
        (km), so that the codes learn the look of a neighbourhood, which
        carries to places the gallery has never seen, besides the identity of
        a place.  ``"auto"``: the gallery's fine scale under ``"whitened"``
        (as ``q_min_km``), none under ``"paper"``; None: the paper's P.
    region_weight : float, default=0.25
        Share of a photo's same-area pull on its region pairs (the rest on
        its POI pairs; each scale's pairs of a photo weigh equally).
    objective : {"whitened", "paper"}, default="whitened"
    n_components : int, default=256
        PCA components of the whitened input (``"whitened"``; at most
        ``n_samples - 1`` and ``n_features``).
    whiten_shrinkage : float, default=3.0
        Component ``i`` of the input is scaled by ``1 / sqrt(l_i + s * mean(l))``
        (:class:`~dgae._whitening.ShrunkWhitening`): 0 is plain PCA whitening,
        which lets the weakest, noisiest components weigh as much as the
        strongest on a small gallery.
    optimizer : {"adam", "sgd", "gd"} or Solver, default="adam"
        Adam, heavy-ball SGD, or plain gradient steps (with
        ``batch_size=None``: the paper's Algorithm 1); a
        :class:`dgae.autoencoder.Solver` sets the momentum, Adam's betas, the
        step decay and the stopping tolerance (a name: its defaults).
    learning_rate : float or "auto", default="auto"
        Initial step; ``"auto"``: 1e-3 (Adam), 0.05 (SGD), 2.0 (GD).
    max_iter : int, default=300
        Iterations: full-batch steps, or mini-batch rounds -- an epoch, or an
        equal part of one of at most 100 steps (:data:`dgae.autoencoder.ROUND_STEPS`;
        664,720 photos in batches of 1,024: 7 rounds an epoch).
    batch_size : int, None or "auto", default="auto"
        ``None``: full batch.  An int: mini-batches with sampled partners (see
        :mod:`dgae._autoencoder`).  ``"auto"``: full batch up to 20,000
        photos, batches of 1,024 above.
    early_stopping : bool, default=True
        Train without the held-out photos (see ``validation_fraction``),
        follow how well they are located among the training photos' codes
        (:class:`~dgae._selection.GeoMonitor`: the candidate heads' mean
        accuracy at the gallery's thresholds on the held-out places and
        regions, and how soon each held-out view finds its own place, weighted
        to the query mix, averaged over 5 iterations; searched among at most
        50,000 training photos: :func:`~dgae._selection.monitor_rows`) and keep
        the best weights; stop after ``n_iter_no_change`` iterations without a
        better score.  The held-out photos stay in the retrieval gallery.
    validation_fraction : float, default=0.1
        Share of the gallery held out to choose the stopping iteration, the
        head, the retrieval space and the confidence, a third of each kind
        (:func:`~dgae._selection.held_out_split`): whole *regions* -- spatial
        blocks, mean-shift clusters of the positions at twice the confidence
        radius (:func:`~dgae._selection.region_blocks`: 50 km world-wide, 2 km
        in a country, 200 m in a city) --, whole *places* (``groups`` of
        ``fit``, else the mined POIs) and single photos of places that stay in
        training (another view of a known place); at most 5,000 photos in all
        (:data:`~dgae._selection.MAX_HELD_OUT`: the scores' cost grows with
        held-out x gallery).
    new_place_share : float in [0, 1] or None, default=None
        The share of queries expected on ground the gallery does not hold (new
        places and new regions, half each; the rest: other views of places in
        the gallery).  The held-out photos ``fit`` stops training, chooses the
        head, its gate and the retrieval space and calibrates the confidence
        on are weighted to that mix (:func:`~dgae._selection.mix_weights`):
        ``1.0`` for a user whose photos are all of new ground, ``0.0`` for
        other views of places in the gallery.  ``None``: the choices are made
        for 2/3 -- a third each of views, new places and new regions (nothing
        is known of the user's queries, so each kind a gallery can be asked
        about weighs the same) -- and the confidence is calibrated for new
        ground (:data:`~dgae._selection.CONFIDENCE_NEW_SHARE`): the features
        barely tell a view from new ground, so a confidence calibrated for a
        mix gives every query the mix's rate and promises on new cities what
        only views get; ``predict_details``' ``confidence_seen`` is the
        probability for a view of a known place.
    n_iter_no_change : int or "auto", default="auto"
        Patience of early stopping; ``"auto"``: 20 iterations in full-batch
        training, 5 rounds with mini-batches (see ``max_iter``: 5 epochs up to
        ~100 steps an epoch, ~500 steps beyond).
    input_dropout : float, default=0
        Share of input units dropped afresh at every step, the reconstruction
        target staying clean (a denoising autoencoder, §4.5's reading of DGAE).
    input_share : float in [0, 1] or "auto", default="auto"
        Share of the raw input ``X`` in the retrieval distance: the head
        searches ``[sqrt(1 - s) a h, sqrt(s) b X]`` (``h`` the codes, ``a`` and
        ``b`` giving each block unit mean squared distance over the training
        photos; :func:`~dgae._selection.retrieval_features`): 0 searches the
        code alone, 1 the input alone (as :class:`GeoKNN` on ``X``).  The code
        drops signal the raw features keep (near-duplicate shots of one
        facade), and each wins on some galleries.  ``"auto"``: chosen in
        ``fit`` among 0, 0.25, 0.5, 0.75 and 1 on the held-out photos, with
        their head, by the same mix-weighted score as the head
        (``retrieval_space_``, ``retrieval_scores_``): on its own held-out
        score the model is never below retrieval on the features it was given.
    code_layers : {"auto", "top", "all", "input+top", "input+all"}, default="auto"
        What the codes are: the code layer only, or all encoder layers stacked
        (§5), each with the (scaled) network input prepended (``"input+"``,
        §3); ``"auto"``: ``"input+all"`` under ``"paper"``, ``"top"`` under
        ``"whitened"``.
    knn : GeoKNN or None, default=None
        The retrieval and its head, scikit-learn's ``estimator=`` pattern: the
        :class:`GeoKNN`'s ``head``, ``n_neighbors``, widths, ``min_votes``,
        ``kde_power``, ``index``, ``device`` and ``random_state`` serve the
        gallery's :meth:`retrieval_features`; it is cloned and fitted as
        ``knn_``, which holds the head state (``head_``, ``head_params_`` and
        ``n_neighbors_`` are its; ``knn_.predict(retrieval_features(X))`` is
        ``predict(X)``).  ``head="auto"``: chosen in ``fit`` among 1-NN, KDE at
        four widths of the gallery's scale (also coarse to fine) and
        Mean-Shift, by how well each locates the held-out photos; then a
        ``match_gate`` under which the nearest photo or the fine KDE answers --
        both on all held-out photos weighted to the query mix (``head_label_``,
        ``head_scores_``, ``gate_scores_``).  A named head has its width chosen
        the same way when the width is ``"auto"`` (Mean-Shift: the gallery's
        scale, 750 km world-wide; Im2GPS used 500).  None:
        ``GeoKNN(**KNN_DEFAULTS, device=device, random_state=random_state)``,
        ``KNN_DEFAULTS = {"head": "auto", "meanshift_bandwidth_km": "auto",
        "kde_sigma_km": "auto"}``.
    device : {"auto", "cpu", "gpu"}, default="auto"
        Where graphs, training, encoding and search run (CuPy on "gpu").
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Progress bars (graphs, training with the loss terms and the
        validation score).

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[l]`` of shape (n_in, n_out), float32, NumPy (also after GPU
        training); layers ``0 .. M-1`` encode, ``M .. 2M-1`` decode.
    intercepts_ : list of ndarray
    loss_curve_ : structured ndarray of shape (n_iter_,)
        Fields ``J, J1, J2, J3, K, R`` per iteration (mini-batches:
        |B|/N-weighted means over each round); :meth:`partial_fit` appends its
        rounds.
    validation_scores_ : ndarray of shape (n_iter_,) or None
        The early-stopping score per iteration (None without early stopping).
    best_validation_score_ : float or None
    best_iter_ : int
        Iteration whose weights were kept (best validation score; without
        early stopping the lowest J seen).
    fit_times_ : dict
        Seconds of the stages of the last ``fit``: ``scale`` (input scaling),
        ``graphs`` (POIs, P and Q), ``train``, ``index`` (gallery codes,
        diagnostics and the retrieval index), ``head`` (the head and the
        confidence chosen on the held-out photos).
    n_iter_ : int
    learning_rate_ : float
        The decayed step after training (where :meth:`partial_fit` goes on).
    batch_size_ : int or None
    scaler_ : ShrunkWhitening or MinMaxScaler
        The network's input scaling, fitted on the gallery.
    poi_bandwidth_km_ : float
        The POI bandwidth used (km).
    q_min_km_ : float
        The Q distance floor used.
    region_km_ : float or None
        The region bandwidth of the multi-scale P (km).
    scales_ : dict
        The gallery's scales (:func:`dgae.metrics.gallery_scales`).
    thresholds_km_ : tuple of float
        Accuracy thresholds suited to the gallery, which the head and the
        early stopping are scored at.
    training_indices_, validation_indices_, view_indices_, region_indices_ : ndarray of int
        Rows trained on, held-out places' photos, held-out views, held-out regions' photos.
    input_share_ : float
        Share of the raw input in the retrieval distance (``input_share`` resolved).
    retrieval_space_ : str
        Its name: ``"code"``, ``"input"`` or ``"code+input@<share>"``.
    retrieval_scales_ : tuple of float
        The code's and the input's block scales in the retrieval space.
    retrieval_scores_ : dict
        ``{retrieval_space: score}``: each space's mix-weighted held-out score with its
        best head and gate (empty without held-out photos).
    confidence_by_kind_ : dict
        The confidence on the held-out photos it was calibrated on, kind by kind
        (:func:`~dgae._selection.confidence_by_kind`): ``{"views" | "places" | "regions":
        {"n", "observed", "confidence", "confidence_seen"}}`` and ``"auroc"``: how well the
        confidence tells views from new ground and places from regions (0.5: not at all).
        A kind whose mean confidence is far from its observed rate is one the features
        cannot tell apart from the others.
    head_, head_params_, head_label_ : str, dict, str
        The head ``predict`` uses, its parameters (``kde_sigma_km``,
        ``kde_refine_km``, ``meanshift_bandwidth_km``, ``match_gate``) -- both
        ``knn_``'s, read here -- and its name in ``head_scores_`` /
        ``gate_scores_``.
    head_scores_, gate_scores_ : dict
        Mean accuracy at ``thresholds_km_`` of each candidate head, and of the
        chosen head under each gate, on the held-out photos weighted to the
        query mix (empty without held-out photos).
    confidence_km_ : float
        ``predict_details``' confidence is the probability of an error at
        most this (the gallery's fine scale).
    confidence_calibrator_ : dgae._selection.ConfidenceCalibrator or None
        Learned on the held-out photos' predictions, weighted to the confidence's mix
        (``new_place_share``; unstated: new ground).  None with the head ``"auto"`` when nothing
        could be held out (a gallery of one place): the confidence is then NaN, unknown;
        with a fixed head, the share of the neighbours that vote for the prediction.
    seen_calibrator_ : dgae._selection.ConfidenceCalibrator or None
        The same, learned on the held-out views alone (``confidence_seen``); None where no
        view was held out (``confidence_seen`` NaN, or the vote share with a fixed head and
        nothing held out).
    poi_miner_ : dgae.graphs.POIMiner or None
    poi_labels_ : ndarray of shape (n_gallery,)
        POI of each gallery photo (-1 everywhere when no POIs were mined).
    P_, Q_ : scipy.sparse.csr_matrix of shape (n_gallery, n_gallery)
    diagnostics_ : dict of ndarray
        Per layer (row 0: the network input, then each encoder layer) the
        gallery codes' ``width``, ``spread``, ``effective_dim``, ``p_ratio``
        and ``q_ratio`` (:func:`~dgae._diagnostics.code_diagnostics`), on the
        training pairs.
    X_fit_ : ndarray of shape (n_gallery, n_features), float32
        The gallery's raw features (graph rows for new photos); None after
        :meth:`compact`.
    compacted_ : bool
        Whether :meth:`compact` dropped the decoder, ``X_fit_``, ``P_`` and
        ``Q_``.
    gallery_gps_ : ndarray of shape (n_gallery, 2)
    knn_ : GeoKNN
        The retrieval over the gallery's :meth:`retrieval_features`, with the head
        ``predict`` uses.
    hidden_layer_sizes_, activations_ : tuple
        The network's widths and each layer's activation.
    code_layers_ : {"top", "all", "input+top", "input+all"}
        What codes are made of (``code_layers`` resolved).
    n_neighbors_ : int
        Neighbours the head votes over (``knn_``'s).
    fit_params_ : dict
        The parameters at ``fit`` (``knn``: a clone of the retrieval used, the default one
        where ``knn`` was None); ``set_head`` and ``partial_fit`` read them, not the current
        ones (a parameter set after ``fit`` takes effect at the next ``fit``).
    device_ : {"cpu", "gpu"}
        Where transform and predict run (``device`` resolved in ``fit``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> gps = np.repeat([[45.0, 15.0], [45.0, 16.0], [10.0, 10.0]], 10, axis=0)
    >>> X = rng.random((30, 6)) + np.repeat(np.eye(3, 6), 10, axis=0)
    >>> model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=20,
    ...              random_state=0).fit(X, gps)
    >>> model.transform(X).shape
    (30, 4)
    >>> model.predict(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **RUN_CONSTRAINTS,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "covariance_weight": [Interval(Real, 0, None, closed="left")],
        "k1": [Interval(Integral, 1, None, closed="left")],
        "k2": [Interval(Integral, 1, None, closed="left")],
        "q_min_km": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "graph": [StrOptions({"exact", "anchor", "ann"})],
        "poi_bandwidth_km": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "region_km": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither"), None],
        "region_weight": [Interval(Real, 0, 1, closed="both")],
        "objective": [StrOptions(set(ae.OBJECTIVES))],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "whiten_shrinkage": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(ae.OPTIMIZERS)), Solver],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "new_place_share": [Interval(Real, 0, 1, closed="both"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "code_layers": [StrOptions({"auto", *CODE_LAYERS})],
        "knn": [None, GeoKNN],
        "random_state": ["random_state"],
        "input_share": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, hidden_layer_sizes=(512, 128), alpha=16.0, beta=1.0, gamma=0.0,
                 covariance_weight=0.3, k1=20, k2=10, q_min_km="auto", graph="exact",
                 poi_bandwidth_km="auto", region_km="auto", region_weight=REGION_WEIGHT,
                 objective="whitened", n_components=256, whiten_shrinkage=3.0, optimizer="adam",
                 learning_rate="auto", max_iter=300, batch_size="auto", early_stopping=True,
                 validation_fraction=0.1, new_place_share=None, n_iter_no_change="auto",
                 input_dropout=0.0, input_share="auto", code_layers="auto",
                 knn=None, device="auto", random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.covariance_weight = covariance_weight
        self.k1 = k1
        self.k2 = k2
        self.q_min_km = q_min_km
        self.graph = graph
        self.poi_bandwidth_km = poi_bandwidth_km
        self.region_km = region_km
        self.region_weight = region_weight
        self.objective = objective
        self.n_components = n_components
        self.whiten_shrinkage = whiten_shrinkage
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.new_place_share = new_place_share
        self.n_iter_no_change = n_iter_no_change
        self.input_dropout = input_dropout
        self.input_share = input_share
        self.code_layers = code_layers
        self.knn = knn
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, areas=None, groups=None):
        """Mine POIs, build P and Q, train the autoencoder, choose the head, index the gallery.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Low-level features of the gallery (finite).
        y : array-like of shape (n, 2)
            ``[lat, lon]`` degrees.
        areas : array-like of shape (n,), optional
            Area of each photo: POIs are mined per area (as in the paper).
        groups : array-like of shape (n,), optional
            Place of each photo (e.g. a location id): the places held out to
            choose the stopping iteration, the head and the confidence are
            whole groups.  Default: the mined POIs.

        Returns
        -------
        self : DGAE
        """
        self._resolve_fitted_parameters()  # once: set_params after fit changes no output
        X = self._check_X(X, reset=True, ensure_min_samples=2)
        gps = check_targets(y, len(X))
        self._read_scales(gps)  # before anything reads them
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        clock = _Clock()
        self.scaler_ = self._make_scaler(seed).fit(X)
        Xs = self._scaled(X)
        self.X_fit_, self.gallery_gps_ = np.ascontiguousarray(X), gps
        self.compacted_ = False
        clock.lap("scale")
        self._build_graphs(X, gps, areas, seed)
        clock.lap("graphs")
        self.batch_size_ = self._resolve_batch_size(len(X))
        self.learning_rate_ = (AUTO_LR[self._solver()["kind"]] if self.learning_rate == "auto"
                               else float(self.learning_rate))
        result = self._fit_weights(Xs, seed, groups)
        clock.lap("train")
        self.loss_curve_ = result["loss_curve"]
        self.best_iter_ = result["best_iter"]
        self.n_iter_ = result["n_iter"]
        self.validation_scores_ = result["scores"] if len(result["scores"]) else None
        self.best_validation_score_ = (float(result["scores"].max())
                                       if self.validation_scores_ is not None else None)
        self._index_gallery(Xs)
        clock.lap("index")
        self._choose_head(seed, Xs)
        clock.lap("head")
        self.fit_times_ = clock.laps
        return self

    def _hidden(self):
        hidden = tuple(int(h) for h in np.atleast_1d(self.hidden_layer_sizes))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        return hidden

    def _whitened(self):
        return self.objective == "whitened"

    def _loss(self):
        return ae.LossWeights(alpha=self.alpha, beta=self.beta, gamma=self.gamma, k1=self.k1, k2=self.k2,
                       objective=self.objective,
                       covariance_weight=self.covariance_weight if self._whitened() else 0.0)

    def _resolve_fitted_parameters(self):
        """What transform and predict read, resolved from the parameters once, in ``fit``:
        ``device_``, ``hidden_layer_sizes_``, ``activations_``, ``code_layers_``."""
        whitened = self._whitened()
        self.fit_params_ = {**self.get_params(deep=False), "knn": clone(self._retrieval())}
        self.device_ = resolve_device(self.device)
        self.hidden_layer_sizes_ = self._hidden()
        self.activations_ = tuple(ae.layer_activations(len(self.hidden_layer_sizes_),
                                                       self.objective))
        self.code_layers_ = (("top" if whitened else "input+all") if self.code_layers == "auto"
                             else self.code_layers)

    def __sklearn_is_fitted__(self):
        # the gallery index is built last: a fit stopped by Ctrl-C leaves its first steps'
        # attributes but no model that predicts
        return hasattr(self, "knn_")

    def _make_scaler(self, seed):
        """Shrunk PCA whitening (``"whitened"``) or min-max scaling into [0, 1] (``"paper"``)."""
        if not self._whitened():
            return MinMaxScaler(clip=True)
        return ShrunkWhitening(n_components=self.n_components, shrinkage=self.whiten_shrinkage,
                               random_state=seed)

    def _scaled(self, X):
        # float64 projection: a float32 GEMM rounds a row differently with its position
        # in the block, and the same photo must get the same code in any batch
        X = np.asarray(X)
        width = getattr(self.scaler_, "n_components_", None) or self.scaler_.n_features_in_
        out = np.empty((len(X), width), dtype=np.float32)
        for r0 in range(0, len(X), ENCODE_CHUNK):
            out[r0:r0 + ENCODE_CHUNK] = self.scaler_.transform(X[r0:r0 + ENCODE_CHUNK].astype(np.float64))
        return out

    def _resolve_batch_size(self, n):
        if self.batch_size == "auto":
            return None if n <= AUTO_FULL_BATCH_MAX else AUTO_BATCH_SIZE
        return None if self.batch_size is None else int(self.batch_size)

    def _patience(self, batch_size):
        if self.n_iter_no_change != "auto":
            return int(self.n_iter_no_change)
        return AUTO_PATIENCE["full batch" if batch_size is None else "mini-batch"]

    def _solver(self):
        """The optimiser's settings (:meth:`dgae.autoencoder.Solver.settings`)."""
        solver = Solver(self.optimizer) if isinstance(self.optimizer, str) else self.optimizer
        return solver.settings()

    def _uses_graphs(self):
        return self.alpha > 0 or self.beta > 0

    def _build_graphs(self, X, gps, areas, seed):
        """POIs (mean-shift on GPS), P and Q (nothing for the AE baseline but the POIs
        early stopping needs)."""
        from dgae.graphs import build_geo_graphs

        n = len(X)
        empty = sp.csr_matrix((n, n), dtype=np.float32)
        self.poi_miner_, self.region_miner_, self.region_labels_ = None, None, None
        self.poi_labels_ = np.full(n, -1, dtype=np.int64)
        self.P_, self.Q_ = empty, empty.copy()
        if not (self._uses_graphs() or self.early_stopping):
            return
        # X and gps were validated at fit's entry: the graphs take them as they are
        self.P_, self.Q_, self.poi_miner_, self.region_miner_ = build_geo_graphs(
            X, gps, areas=areas, k1=self.k1, k2=self.k2, method=self.graph,
            poi_bandwidth_km=self.poi_bandwidth_km_, q_min_km=self.q_min_km_, device=self.device_,
            random_state=seed, verbose=self.verbose, pairs=self._uses_graphs(),
            region_bandwidth_km=self.region_km_,
            region_weight=self.region_weight, return_miners=True, check_input=False)
        self.poi_labels_ = self.poi_miner_.labels_.astype(np.int64)
        if self.region_miner_ is not None:
            self.region_labels_ = self.region_miner_.labels_.astype(np.int64)

    def _read_scales(self, gps):
        """The gallery's scales, resolved once from its positions
        (:func:`dgae.metrics.gallery_scales`): ``scales_``, ``thresholds_km_``,
        ``confidence_km_``, and the parameters that follow them where they are ``"auto"``
        (``poi_bandwidth_km_``, ``q_min_km_``, ``region_km_``). Everything after -- graphs, early
        stopping, the head, the confidence -- reads these."""
        from dgae.graphs import auto_poi_bandwidth_km

        self.scales_ = gallery_scales(gps)
        self.thresholds_km_ = self.scales_["thresholds_km"]
        self.confidence_km_ = float(self.scales_["confidence_km"])
        self.poi_bandwidth_km_ = (auto_poi_bandwidth_km(gps) if self.poi_bandwidth_km == "auto"
                                  else float(self.poi_bandwidth_km))
        self.q_min_km_ = ((self.scales_["q_min_km"] if self._whitened() else 0.0)
                          if self.q_min_km == "auto" else float(self.q_min_km))
        self.region_km_ = ((self.scales_["confidence_km"] if self._whitened() else None)
                           if self.region_km == "auto" else self.region_km)

    def _fit_weights(self, Xs, seed, groups):
        """Train on the whole gallery, or on all but the held-out photos with early stopping."""
        groups = self._split_places(seed, groups)
        rows, (val, kind) = self.training_indices_, self._held_out()
        monitor = None
        P, Q = self.P_, self.Q_
        if self.early_stopping and val is not None:
            P, Q = P[rows][:, rows], Q[rows][:, rows]
            xp = get_xp(self.device_)
            # the training photos the score searches among: at most MONITOR_GALLERY
            mon = rows[monitor_rows(groups[rows], groups[val][kind == VIEW], seed)]
            monitor = GeoMonitor(to_device(Xs[mon], xp, np.float32), to_device(Xs[val], xp, np.float32),
                                 self.gallery_gps_[mon], self.gallery_gps_[val], kind, groups[mon],
                                 groups[val], self._encode_device,
                                 self._head_candidates(), self.thresholds_km_,
                                 self._knn_settings()["n_neighbors"],
                                 self.new_place_share)
        elif self.early_stopping:
            warn(f"early stopping skipped: the gallery holds a single place, none to hold out; "
                 f"trained without it (up to max_iter={self.max_iter} iterations)", UserWarning)
        Xt = Xs if monitor is None else Xs[rows]
        return self._train(Xt, P, Q, init=None, anchors=None, batch_size=self.batch_size_,
                           max_iter=self.max_iter, seed=seed, monitor=monitor)

    def _split_places(self, seed, groups):
        """``training_indices_``, ``region_indices_`` (whole spatial blocks held out:
        :func:`~dgae._selection.region_blocks`), ``validation_indices_`` (whole places --
        ``groups``, else the POIs, else single photos) and ``view_indices_`` (one photo each
        of places kept in training), a third of ``validation_fraction`` each; returns the
        place of each photo."""
        n = len(self.gallery_gps_)
        if groups is not None:
            groups = check_groups(groups, n)
        elif self.poi_labels_.max() >= 0:
            groups = self.poi_labels_
        else:
            groups = np.arange(n)
        (self.training_indices_, self.validation_indices_, self.view_indices_,
         self.region_indices_) = gallery_held_out(groups, self.gallery_gps_, self.confidence_km_,
                                                  self.validation_fraction, seed)
        return groups

    def _components(self, Xs):
        """``(Xs, 1 / scale_)``: the input's principal components for
        :func:`~dgae._selection.space_neighbors`, where the scaler is the whitening."""
        if Xs is None or not self._whitened():
            return None
        return Xs, (1.0 / np.asarray(self.scaler_.scale_, np.float64)).astype(np.float32)

    def _held_out(self):
        """The held-out rows, sorted, and their kinds (:func:`~dgae._selection.held_out_kinds`);
        ``(None, None)`` without any."""
        held, kind = held_out_kinds(self.validation_indices_, self.view_indices_,
                                    self.region_indices_)
        return (held, kind) if held.size else (None, None)

    def _head_candidates(self):
        """The heads ``fit`` chooses among: all for ``head="auto"``, else the set head at the
        set or candidate widths."""
        cands = head_candidates(self.scales_)
        setting = self._knn_settings()
        fixed = {"kde": ("kde_sigma_km", setting["kde_sigma_km"]),
                 "meanshift": ("meanshift_bandwidth_km", setting["meanshift_bandwidth_km"])}
        out = {}
        for label, (head, params) in cands.items():
            if setting["head"] not in ("auto", head):
                continue
            key, value = fixed.get(head, (None, "auto"))
            if value != "auto":
                label, params = f"{head}@{float(value):g}km", {key: float(value)}
            out[label] = (head, params)
        return out

    def _choose_head(self, seed, Xs=None):
        """``head_``, ``head_params_`` and the retrieval space (``input_share_``), chosen on
        the held-out photos located among the training photos, and the confidence
        calibrated on the same predictions.  ``Xs``: the scaled input; when it is the
        whitening's principal components, a large gallery's held-out photos are searched
        there first and re-ranked exactly (:func:`~dgae._selection.space_neighbors`).

        In each candidate space (:func:`~dgae._selection.choose_retrieval`), two stages
        (:func:`~dgae._selection.choose_head`): the head (and its width) that locates the
        held-out photos best (mean accuracy at the gallery's thresholds: ``head_scores_``;
        among heads within one standard error of the best, the smallest median error), then
        its ``match_gate`` -- none, or a :func:`~dgae._heads.match_ratio` under which the
        nearest photo or the fine KDE answers (``gate_scores_``), both weighted to the query
        mix; the space whose best is highest is kept.
        """
        cands, setting = self._head_candidates(), self._knn_settings()
        self.head_scores_, self.gate_scores_, self.confidence_calibrator_ = {}, {}, None
        self.seen_calibrator_ = None
        self.retrieval_scores_, self.confidence_by_kind_ = {}, {}
        label = next(iter(cands))
        head, params = cands[label]
        share = 0.0 if self.input_share == "auto" else float(self.input_share)
        held, kind = self._held_out()
        choice = None
        if held is None:  # nothing held out: the whole gallery's block scales
            self.retrieval_scales_ = (block_scale(self.knn_.features_), block_scale(self.X_fit_))
            warn("too few places to hold any out: the head is the default one and the "
                 "confidence is unknown (NaN) -- nothing to calibrate it on", UserWarning)
        else:
            shares = INPUT_SHARES if self.input_share == "auto" else (share,)
            choice = choose_retrieval(self.knn_.features_, self.X_fit_, self.gallery_gps_,
                                      self.training_indices_, held, kind, cands,
                                      self.thresholds_km_, self.confidence_km_, shares=shares,
                                      n_neighbors=setting["n_neighbors"],
                                      min_votes=setting["min_votes"],
                                      kde_power=setting["kde_power"], device=self.device_,
                                      new_place_share=self.new_place_share,
                                      reduced=self._components(Xs))
            head, params, label = choice.head, choice.params, choice.label
            self.head_scores_, self.gate_scores_ = choice.head_scores, choice.gate_scores
            self.retrieval_scores_, share = choice.retrieval_scores, choice.input_share
            self.retrieval_scales_ = choice.scales
        self.input_share_, self.retrieval_space_ = share, retrieval_label(share)
        if share:  # the gallery indexed again, in the chosen space
            self._fit_knn(retrieval_features(self.knn_.features_, self.X_fit_, share,
                                             self.retrieval_scales_))
        self._set_head(head, params)
        if choice is not None:  # on the same held-out predictions, by the head now set
            kh = resolve_k(head, setting["n_neighbors"], choice.neighbors.shape[1])
            pred = apply_head(head, choice.neighbors[:, :kh], choice.distances[:, :kh],
                              **self.head_params_)
            within = great_circle_km(pred, choice.truth) <= self.confidence_km_
            self._calibrate(confidence_features(choice.neighbors, choice.distances, pred,
                                                self.confidence_km_, setting["kde_power"]),
                            within, choice.kind, seed)
        self.head_label_ = label
        say(f"DGAE retrieval space: {self.retrieval_space_} (held-out score: "
            + ", ".join(f"{k} {v:.3f}" for k, v in self.retrieval_scores_.items()) + ")",
            verbose=self.verbose)
        say(f"DGAE head: {label} (held-out new ground, mean accuracy at {self.thresholds_km_} "
            "km: " + ", ".join(f"{k} {v:.3f}" for k, v in self.head_scores_.items()) + ")",
            verbose=self.verbose)

    def _calibrate(self, features, within, kind, seed):
        """``confidence_calibrator_`` on the held-out photos weighted to the confidence's mix
        (:func:`~dgae._selection.confidence_share`: new ground unless one is stated),
        ``seen_calibrator_`` on the held-out views alone, and ``confidence_by_kind_``."""
        def calibrator(share):
            return ConfidenceCalibrator(self.confidence_km_, seed).fit(
                features, within, mix_weights(kind, share))

        self.confidence_calibrator_ = calibrator(confidence_share(self.new_place_share))
        if (kind == VIEW).any():
            self.seen_calibrator_ = calibrator(0.0)
        self.confidence_by_kind_ = confidence_by_kind(
            self.confidence_calibrator_.predict(features), within, kind,
            seen=self._confidence_seen(features))

    def _retrieval(self):
        """The :class:`GeoKNN` whose head settings and index serve the gallery: ``knn``, or
        ``GeoKNN(**KNN_DEFAULTS)`` on the model's device and random state."""
        if self.knn is not None:
            return self.knn
        return GeoKNN(**KNN_DEFAULTS, device=self.device, random_state=self.random_state)

    def _knn_settings(self):
        """The head settings of :meth:`_retrieval`: its parameters (``head``, ``n_neighbors``,
        ``min_votes``, ``kde_power``, the widths, ...)."""
        return self._retrieval().get_params(deep=False)

    # the head state lives in knn_ alone; DGAE reads it there
    head_ = property(lambda self: self.knn_.head_)
    head_params_ = property(lambda self: self.knn_.head_params_)
    n_neighbors_ = property(lambda self: self.knn_.n_neighbors_)

    def _set_head(self, head, params=None, n_neighbors=None):
        """Set ``knn_``'s head: ``head`` at the model's widths (``params`` over them) and the
        setting's neighbour count (or ``n_neighbors``)."""
        k = self._knn_settings()["n_neighbors"] if n_neighbors is None else n_neighbors
        self.knn_._set_head(head, {**self._head_widths(head), **(params or {})}, k)

    def _head_widths(self, head):
        """The head's parameters at the gallery's widths, or the set ones where not "auto"."""
        setting = self._knn_settings()
        widths = dict(meanshift_bandwidth_km=float(self.scales_["meanshift_km"]),
                      min_votes=int(setting["min_votes"]),
                      kde_sigma_km=float(self.scales_["kde_sigmas_km"][0]),
                      kde_power=float(setting["kde_power"]))
        for key in ("meanshift_bandwidth_km", "kde_sigma_km"):
            if setting[key] != "auto":
                widths[key] = float(setting[key])
        return widths

    def set_head(self, head):
        """Locate queries with another head from now on, without fitting again (``dgae
        predict --head``): ``head`` at the set widths, or the gallery's where they are "auto";
        the confidence stays the one calibrated for the chosen head.

        Parameters
        ----------
        head : {"1nn", "meanshift", "kde"}

        Returns
        -------
        self : DGAE

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> gps = np.repeat([[45.0, 15.0], [45.0, 16.0], [10.0, 10.0]], 10, axis=0)
        >>> X = rng.random((30, 6)) + np.repeat(np.eye(3, 6), 10, axis=0)
        >>> model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5, random_state=0)
        >>> model.fit(X, gps).set_head("meanshift").head_label_
        'meanshift'
        """
        super().set_head(head)
        self.head_label_ = head
        return self

    def _confidence(self, features):
        if self.confidence_calibrator_ is not None:
            return self.confidence_calibrator_.predict(features)
        if self._fitted_head_setting() == "auto":  # nothing held out to calibrate on: unknown
            return np.full(len(features), np.nan)
        return features[:, 0]

    def _fitted_head_setting(self):
        return self.fit_params_["knn"].get_params(deep=False)["head"]

    def _confidence_seen(self, features):
        if self.seen_calibrator_ is not None:
            return self.seen_calibrator_.predict(features)
        if self.confidence_calibrator_ is None and self._fitted_head_setting() != "auto":
            return features[:, 0]
        return np.full(len(features), np.nan)  # no view held out: unknown

    def _confidence_km(self):
        return self.confidence_km_

    def _train(self, Xs, P, Q, init, anchors, batch_size, max_iter, seed, monitor=None):
        solver = self._solver()
        result = ae.train(
            Xs, P, Q, hidden_layer_sizes=self.hidden_layer_sizes_, loss=self._loss(),
            optimizer=solver["kind"], learning_rate=self.learning_rate_,
            lr_decay=solver["lr_decay"], momentum=solver["momentum"],
            adam_betas=solver["adam_betas"], max_iter=max_iter, tol=solver["tol"],
            batch_size=batch_size, xp=get_xp(self.device_), init=init, anchors=anchors,
            random_state=seed, monitor=monitor, n_iter_no_change=self._patience(batch_size),
            input_dropout=self.input_dropout, verbose=self.verbose)
        self.coefs_, self.intercepts_ = result["coefs"], result["intercepts"]
        self.learning_rate_ *= solver["lr_decay"] ** (result["n_iter"] / result["per_epoch"])
        return result

    def _index_gallery(self, Xs, grown=False):
        """The gallery's codes, their diagnostics and ``knn_`` over them -- in the retrieval
        space already chosen when the gallery ``grown`` (``partial_fit``), else the codes
        (``fit`` chooses after; a refit chooses again)."""
        layers = self._layers(Xs)
        self._diagnose(layers)
        codes = self._codes(layers)
        if grown:  # partial_fit: the gallery grew, the space and head stay
            head, params = self.head_, self.head_params_
            self._fit_knn(retrieval_features(codes, self.X_fit_, self.input_share_,
                                             self.retrieval_scales_))
            self._set_head(head, params)
        else:
            self._fit_knn(codes)

    def _fit_knn(self, features):
        """``knn_``: :meth:`_retrieval` cloned and fitted on ``features`` at the model's widths
        (its head is set after, by :meth:`_set_head`; the clone indexes, it does not choose)."""
        w = self._head_widths("1nn")
        self.knn_ = clone(self._retrieval()).set_params(
            head="1nn", meanshift_bandwidth_km=w["meanshift_bandwidth_km"],
            kde_sigma_km=w["kde_sigma_km"]).fit(features, self.gallery_gps_)

    def _diagnose(self, layers):
        """``diagnostics_`` of the gallery codes; a warning per collapsed layer."""
        P = self.P_ if self.P_.nnz else None
        Q = self.Q_ if self.Q_.nnz else None
        self.diagnostics_ = code_diagnostics(layers, P, Q)
        say(f"DGAE gallery codes (layer 0: the network input; ratios: pair / random-pair "
            f"distance):\n{format_diagnostics(self.diagnostics_)}", verbose=self.verbose)
        for m, spread in enumerate(self.diagnostics_["spread"][1:], start=1):
            if len(layers[0]) > 1 and spread < COLLAPSE_STD:
                warn(
                    f"layer {m}: the learned codes barely vary across the gallery (mean std "
                    f"{spread:.2g}); retrieval on them is meaningless. With objective='paper' "
                    f"the weight decay gamma={self.gamma} may dominate the reconstruction "
                    f"(try gamma=1e-4), and nothing keeps the codes apart.", UserWarning)

    # ------------------------------------------------------------- encode
    def _encode_device(self, coefs, intercepts, Xs):
        """Retrieval codes of device inputs under given weights (device array), chunk by
        chunk: every layer of every row at once was 3.4 GiB at 664,720 photos, twice."""
        parts = [self._codes([Xs[r0:r0 + ENCODE_CHUNK]] + ae.encode(
                     coefs, intercepts, Xs[r0:r0 + ENCODE_CHUNK], ENCODE_CHUNK,
                     activations=self.activations_))
                 for r0 in range(0, len(Xs), ENCODE_CHUNK)]
        return parts[0] if len(parts) == 1 else array_module(parts[0]).concatenate(parts)

    def _code_parts(self, outputs):
        """The hidden layers' outputs that codes are made of (all, or the last)."""
        return list(outputs) if self.code_layers_.endswith("all") else [outputs[-1]]

    def _layers(self, Xs):
        """``[network input, h1, ..., hM]`` of scaled rows (host, float32).

        Computed in float64, stored in float32: a float32 GEMM rounds a row differently with
        its position in the block, and a photo must get the same code in any batch (a 1-NN
        tie turns on the last bit)."""
        xp = get_xp(self.device_)
        coefs = [to_device(W, xp, np.float64) for W in self.coefs_]
        intercepts = [to_device(b, xp, np.float64) for b in self.intercepts_]
        layers = [np.asarray(Xs, dtype=np.float32)]       # filled in place: no stacking copy
        layers += [np.empty((len(Xs), width), dtype=np.float32) for width in self.hidden_layer_sizes_]
        for r0 in range(0, len(Xs), ENCODE_CHUNK):
            part = to_device(Xs[r0:r0 + ENCODE_CHUNK], xp, np.float64)
            outputs = ae.encode(coefs, intercepts, part, ENCODE_CHUNK, activations=self.activations_)
            for out, h in zip(layers[1:], outputs):
                out[r0:r0 + ENCODE_CHUNK] = to_host(h)
        return layers

    def _codes(self, layers):
        """Retrieval codes from ``[network input, h1, ..., hM]`` (host or device arrays)."""
        with_input = self.code_layers_.startswith("input+")
        parts = ([layers[0]] if with_input else []) + self._code_parts(layers[1:])
        return parts[0] if len(parts) == 1 else array_module(parts[0]).concatenate(parts, axis=1)

    def transform(self, X):
        """Codes used for retrieval.

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        codes : ndarray of shape (n, n_codes), float32
            ``[scaled X,] h1, ..., hM`` or ``[scaled X,] hM`` as
            ``code_layers`` says (``"whitened"`` default: the code layer ``hM``
            alone; ``"paper"``: the input and every layer).
        """
        check_is_fitted(self, "coefs_")
        X = self._check_X(X, reset=False)
        return self._codes(self._layers(self._scaled(X)))

    def retrieval_features(self, X):
        """The features ``predict`` searches the gallery in: the codes, the input or both, as
        ``retrieval_space_`` says (:func:`~dgae._selection.retrieval_features`).

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        features : ndarray of shape (n, d), float32
            :meth:`transform` (``input_share_ = 0``), ``X`` itself (1), or both blocks
            scaled by ``retrieval_scales_``.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> gps = np.repeat([[45.0, 15.0], [45.0, 16.0], [10.0, 10.0]], 10, axis=0)
        >>> X = rng.random((30, 6)) + np.repeat(np.eye(3, 6), 10, axis=0)
        >>> model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5, input_share=0.5,
        ...              random_state=0).fit(X, gps)
        >>> model.retrieval_space_, model.retrieval_features(X).shape
        ('code+input@0.5', (30, 10))
        """
        check_is_fitted(self, "coefs_")
        X = self._check_X(X, reset=False)
        codes = self._codes(self._layers(self._scaled(X))) if self.input_share_ < 1 else None
        return retrieval_features(codes, X, self.input_share_, self.retrieval_scales_)

    def _neighbors(self, X, k):
        return self.knn_.kneighbors(self.retrieval_features(X), n_neighbors=k)

    def shard_index(self, n_shards=None, scheduler=None):
        """Spread the gallery's codes over the workers of a Dask cluster from now on
        (:meth:`GeoKNN.shard_index`: exact shards, the same predictions).

        Parameters
        ----------
        n_shards : int or None, default=None
        scheduler : str or None, default=None

        Returns
        -------
        self : DGAE
        """
        check_is_fitted(self, "knn_")
        self.knn_.shard_index(n_shards, scheduler)
        return self

    def compact(self):
        """Drop what prediction does not use: the decoder, the training features and graphs.

        Predictions, ``transform`` and ``predict_topk`` are unchanged; the
        model gets much smaller (see ``docs/estimator.md``), and
        ``partial_fit`` is no longer possible.

        Returns
        -------
        self : DGAE

        Examples
        --------
        >>> import numpy as np, pickle
        >>> rng = np.random.default_rng(0)
        >>> gps = np.repeat([[45.0, 15.0], [45.0, 16.0], [10.0, 10.0]], 10, axis=0)
        >>> X = rng.random((30, 6)) + np.repeat(np.eye(3, 6), 10, axis=0)
        >>> model = DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5, random_state=0).fit(X, gps)
        >>> before = model.predict(X)
        >>> np.array_equal(model.compact().predict(X), before), model.compacted_
        (True, True)
        """
        check_is_fitted(self, "coefs_")
        n_enc = len(self.coefs_) // 2
        empty = np.empty((0, 0), np.float32)
        # the list keeps its length: encode() takes the first half as the encoder
        self.coefs_ = list(self.coefs_[:n_enc]) + [empty] * n_enc
        self.intercepts_ = list(self.intercepts_[:n_enc]) + [np.empty(0, np.float32)] * n_enc
        self.X_fit_ = self.P_ = self.Q_ = None
        self.compacted_ = True
        return self

    # -------------------------------------------------------- new photos
    def partial_fit(self, X, y, areas=None):
        """Add new photos (paper §4.6): POIs, P/Q rows, one epoch of steps, gallery.

        Each new photo joins the POI (and the region) whose centre is nearest
        (a new one, mined among the new photos, when none covers it); its P row
        (top-``k1`` visual neighbours in its POI, and in its region) and Q row
        (top-``k2`` in other POIs, beyond the Q floor, built as ``graph`` says)
        are searched among the old and new gallery
        (:func:`dgae.graphs.extend_geo_graphs`); one epoch of mini-batch steps
        runs with the new photos as anchors (their partners may be old
        photos); then they join the gallery and its codes are recomputed.  The
        input scaling, the old photos' rows, the head and the confidence are
        not updated (the paper re-mines and retrains after each period; refit
        to choose them again).  An unfitted model is simply fitted.

        Parameters
        ----------
        X : array-like of shape (m, n_features)
        y : array-like of shape (m, 2)
        areas : array-like of shape (m,), optional

        Returns
        -------
        self : DGAE
        """
        if not hasattr(self, "coefs_"):
            return self.fit(X, y, areas=areas)
        with self._as_fitted():
            return self._extend(X, y, areas)

    def _extend(self, X, y, areas):
        """``partial_fit`` on a fitted model, with the parameters as they were at ``fit``."""
        if self.compacted_:
            raise ValueError("this model was compacted (compact() / dgae fit --compact): it keeps "
                             "no decoder nor training features, so partial_fit cannot extend it")
        X = self._check_X(X, reset=False)
        gps = check_targets(y, len(X))
        n_old = len(self.X_fit_)
        X_all = np.concatenate([self.X_fit_, X])
        gps_all = np.concatenate([self.gallery_gps_, gps])
        labels_all = np.concatenate([self.poi_labels_,
                                     _join(self.poi_miner_, self.poi_labels_, gps, areas)])
        regions_all = None if self.region_miner_ is None else np.concatenate(
            [self.region_labels_, _join(self.region_miner_, self.region_labels_, gps, areas)])
        if self._uses_graphs():
            from dgae.graphs import extend_geo_graphs

            self.P_, self.Q_ = extend_geo_graphs(
                self.P_, self.Q_, X_all, gps_all, labels_all, len(X), region_labels=regions_all,
                k1=self.k1, k2=self.k2, method=self.graph, q_min_km=self.q_min_km_,
                region_weight=self.region_weight, device=self.device_,
                random_state=self.random_state, verbose=self.verbose, check_input=False)
        else:
            self.P_ = sp.csr_matrix((len(X_all),) * 2, dtype=np.float32)
            self.Q_ = self.P_.copy()
        self.region_labels_ = regions_all
        self.X_fit_, self.poi_labels_, self.gallery_gps_ = X_all, labels_all, gps_all
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max) + self.n_iter_
        batch = min(self.batch_size_ or AUTO_BATCH_SIZE, len(X))
        Xs = self._scaled(X_all)
        result = self._train(Xs, self.P_, self.Q_, init=(self.coefs_, self.intercepts_),
                             anchors=np.arange(n_old, len(X_all)), batch_size=batch, max_iter=1,
                             seed=seed)
        self.loss_curve_ = np.concatenate([self.loss_curve_, result["loss_curve"]])
        self.n_iter_ += result["n_iter"]
        self._index_gallery(Xs, grown=True)
        return self


def _join(miner, labels, gps, areas):
    """Labels of new photos under a fitted :class:`~dgae.graphs.POIMiner` whose photos have
    ``labels``: the nearest centre within its bandwidth, else new clusters mined among the
    uncovered photos (-1 for all without a miner)."""
    if miner is None:
        return np.full(len(gps), -1, dtype=np.int64)
    with_areas = areas is not None and miner.cluster_areas_ is not None
    new, dist = miner.predict(gps, areas=areas if with_areas else None, return_distance=True)
    far = ~(dist <= miner.bandwidth_km_)
    if far.any():
        from dgae.graphs import POIMiner

        fresh = POIMiner(bandwidth_km=miner.bandwidth_km_).fit(gps[far]).labels_
        new[far] = fresh + labels.max() + 1
    return new.astype(np.int64)
