"""MvMFRegressor and the vMF density against independent references: SciPy's vonmises_fisher,
central finite differences, quadrature over the sphere, and recovery of a known mixture."""
import joblib
import numpy as np
import pytest
from scipy.stats import vonmises_fisher
from sklearn.base import BaseEstimator

from dgae.utils import from_unit_vectors, to_unit_vectors
from dgae._mvmf import MvMFRegressor, _MvMFObjective, cell_size_kappa
from dgae._vmf import KAPPA_RANGE, log_vmf
from dgae.geo import great_circle_km


def _unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


@pytest.mark.parametrize("kappa", [1e-3, 0.5, 16.0, 3e3, 8.9e6, 1e8])
def test_log_vmf_matches_scipy(kappa):
    rng = np.random.default_rng(0)
    mu = _unit(rng.normal(size=3))
    # points near the mean (where a large kappa keeps mass) and anywhere
    y = _unit(np.vstack([mu + rng.normal(0, 1 / np.sqrt(kappa), (5, 3)), rng.normal(size=(5, 3))]))
    ours = log_vmf(y, mu[None], np.array([kappa]))[:, 0]
    np.testing.assert_allclose(ours, vonmises_fisher(mu, kappa).logpdf(y), rtol=1e-9, atol=1e-6)
    assert np.isfinite(ours).all()


class FixedCells(BaseEstimator):
    """A partition with given centres; each point goes to the nearest (a brute-force reference)."""

    def __init__(self, centers=None):
        self.centers = centers

    def fit(self, gps, y=None):
        self.centers_ = self.imagery_centroids_ = np.asarray(self.centers, dtype=float)
        self.n_cells_ = len(self.centers_)
        return self

    def predict(self, gps):
        return np.argmin(great_circle_km(np.asarray(gps)[:, None], self.centers_[None]), axis=1)


def _mixture(n_per, means, kappas, rng, noise=0.3):
    """Photos drawn from known vMF components; features = the component's one-hot + noise."""
    Y = np.vstack([vonmises_fisher(_unit(to_unit_vectors(m)), k).rvs(n_per, random_state=rng)
                   for m, k in zip(means, kappas)])
    comp = np.repeat(np.arange(len(means)), n_per)
    X = np.eye(len(means))[comp] + rng.normal(0, noise, (len(comp), len(means)))
    return X, from_unit_vectors(Y), comp


@pytest.mark.parametrize("kappas", [(2e3, 2e3, 2e3), (5e2, 2e4, 1e5)])
def test_recovers_the_means_of_a_known_mixture(kappas):
    rng = np.random.default_rng(1)
    truth = np.array([[48.0, 2.0], [40.0, -74.0], [-33.9, 151.2]])
    X, gps, _ = _mixture(300, truth, kappas, rng)
    start = truth + [[1.5, -1.0], [-1.0, 1.5], [1.0, 1.0]]             # ~150 km off
    model = MvMFRegressor(partition=FixedCells(start), kappa_init=100.0, learning_rate=0.05,
                          alpha=0.0, max_iter=400, random_state=0).fit(X, gps)
    off = great_circle_km(model.centers_, truth)
    # the spherical mean of 300 draws lies within ~2.5 / sqrt(kappa n) rad of the truth
    bound = 6371 * 2.5 / np.sqrt(np.array(kappas) * 300) + 1.0
    assert (off < bound).all(), (off, bound)
    np.testing.assert_allclose(model.kappa_, kappas, rtol=0.3)
    assert model.loss_curve_[-1] < model.loss_curve_[0]


@pytest.mark.parametrize("kappa", [1e-3, 1.0, 16.0, 1e4, 1e8])
def test_gradient_matches_finite_differences(kappa):
    if kappa > 1e6 and np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("no extended precision on this platform: the differences drown in rounding")
    rng = np.random.default_rng(2)
    n, d, c = 7, 4, 3
    X = rng.normal(size=(n, d))
    base = _unit(rng.normal(size=(c, 3)))
    # photos near the components so that a large kappa leaves finite, informative terms
    Y = _unit(base[rng.integers(c, size=n)] + rng.normal(0, 0.5 / np.sqrt(kappa) + 1e-3, (n, 3)))
    sigma0 = np.full(c, 1 / np.sqrt(kappa))
    problem = _MvMFObjective(base, sigma0, alpha=0.3, n_train=n, xp=np)
    params = [rng.normal(size=(d, c)), rng.normal(size=c), rng.normal(0, 0.3, (c, 3)),
              np.log(np.full(c, kappa)) + rng.normal(0, 0.1, c)]
    _, grads = problem.loss_grad(X, Y, params)
    # the differences in extended precision: kappa (mu.y - 1) carries ~eps * kappa of rounding
    wide = [np.longdouble(a) for a in (X, Y, base, sigma0)]
    problem = _MvMFObjective(wide[2], wide[3], alpha=0.3, n_train=n, xp=np)
    X, Y, params = wide[0], wide[1], [p.astype(np.longdouble) for p in params]
    for p, g in zip(params, grads):
        for idx in np.ndindex(p.shape):
            h = 1e-6 * max(1.0, abs(p[idx]))
            keep = p[idx]
            p[idx] = keep + h
            up = problem.loss_grad(X, Y, params)[0]
            p[idx] = keep - h
            down = problem.loss_grad(X, Y, params)[0]
            p[idx] = keep
            assert g[idx] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-6)


def _fitted(kappa_init=50.0, **kw):
    rng = np.random.default_rng(3)
    truth = np.array([[45.0, 16.0], [35.0, 139.0], [-10.0, -60.0]])
    X, gps, comp = _mixture(40, truth, (50.0, 200.0, 20.0), rng)
    model = MvMFRegressor(partition=FixedCells(truth), kappa_init=kappa_init, learning_rate=0.05,
                          random_state=0, **kw)
    return model.fit(X, gps), X, gps


def test_density_integrates_to_one_over_the_sphere():
    model, X, _ = _fitted()
    lat = np.linspace(-90, 90, 361)
    lon = np.linspace(-180, 180, 721)[:-1]
    grid = np.array(np.meshgrid(lat, lon, indexing="ij")).reshape(2, -1).T
    dens = model.predict_density(X[:4], grid, batch_size=2).reshape(4, len(lat), len(lon))
    cell = np.radians(0.5) ** 2 * np.cos(np.radians(lat))[None, :, None]     # steradians
    np.testing.assert_allclose((dens * cell).sum(axis=(1, 2)), 1.0, rtol=1e-3)


def test_score_samples_is_the_negative_loss_and_extreme_kappas_stay_finite():
    model, X, gps = _fitted()
    problem = _MvMFObjective(to_unit_vectors(model.centers_), np.ones(3), alpha=0.0, n_train=len(X),
                       xp=np)
    Xs = model._standardise(X).astype(np.float64)
    for kappa in KAPPA_RANGE:
        model.kappa_ = np.full(3, kappa)
        params = [model.coef_.astype(np.float64), model.intercept_.astype(np.float64),
                  np.zeros((3, 3)), np.log(model.kappa_)]
        loss = problem.loss_grad(Xs, to_unit_vectors(gps), params)[0]
        scores = model.score_samples(X, gps)
        assert np.isfinite(scores).all()
        assert -scores.mean() == pytest.approx(loss, rel=1e-6)


def test_prediction_is_the_heaviest_component_and_refinement_climbs():
    model, X, gps = _fitted(kappa_init=5.0, learn_kappa=False)
    np.testing.assert_array_equal(model.predict(X),
                                  model.centers_[np.argmax(model.predict_proba(X), axis=1)])
    refined = model.set_params(refine_steps=5).predict(X)
    model.set_params(refine_steps=0)
    assert (model.score_samples(X, refined) >= model.score_samples(X) - 1e-9).all()
    assert model.score_samples(X).shape == (len(X),)


def test_cell_size_kappa_is_the_concentrated_vmf_estimate():
    rng = np.random.default_rng(4)
    mu = _unit(np.array([1.0, 2.0, 3.0]))
    y = vonmises_fisher(mu, 5e4).rvs(4000, random_state=rng)
    k = cell_size_kappa(from_unit_vectors(y), np.zeros(4000, int), from_unit_vectors(mu[None]))
    assert k[0] == pytest.approx(5e4, rel=0.05)


def test_joblib_round_trip_and_default_partition(tmp_path):
    rng = np.random.default_rng(5)
    gps = np.column_stack([rng.uniform(40, 50, 150), rng.uniform(0, 20, 150)])
    X = gps + rng.normal(0, 0.5, gps.shape)
    model = MvMFRegressor(max_iter=5, random_state=0)
    with pytest.warns(Warning, match="epochs reached"):
        model.fit(X, gps)
    joblib.dump(model, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert model.n_iter_ == len(model.loss_curve_) == 5


def test_frozen_centres_and_kappas_stay_put():
    model, _, _ = _fitted(learn_centers=False, learn_kappa=False)
    np.testing.assert_allclose(model.kappa_, 50.0)
    np.testing.assert_allclose(great_circle_km(model.centers_, model.partition_.centers_), 0,
                               atol=1e-6)


def test_early_stopping_keeps_the_best_epoch_of_the_held_out_error():
    model, X, gps = _fitted(early_stopping=True, n_iter_no_change=3, max_iter=50)
    scores = np.asarray(model.validation_scores_)
    assert len(scores) == model.n_iter_ == len(model.loss_curve_)
    assert model.best_iter_ == 1 + int(np.argmin(scores)) or \
        scores[model.best_iter_ - 1] <= scores.min() + model.tol
    assert _fitted()[0].validation_scores_ is None


@pytest.mark.gpu
def test_gpu_and_cpu_agree():
    cpu, X, gps = _fitted(device="cpu", max_iter=20)
    gpu, _, _ = _fitted(device="gpu", max_iter=20)
    assert isinstance(gpu.coef_, np.ndarray)
    np.testing.assert_allclose(cpu.loss_curve_, gpu.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(cpu.kappa_, gpu.kappa_, rtol=1e-3)
    np.testing.assert_allclose(great_circle_km(cpu.centers_, gpu.centers_), 0, atol=0.1)
    np.testing.assert_allclose(cpu.predict_proba(X), gpu.predict_proba(X), atol=1e-4)
