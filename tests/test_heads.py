"""Heads against brute-force references (scikit-learn MeanShift, direct KDE sums)."""
import numpy as np
import pytest
from sklearn.cluster import MeanShift

from dgae.utils import great_circle_km, km_to_chord, spherical_mean, to_unit_vectors
from dgae._heads import apply_head, kde_head, meanshift_head, resolve_k


def _neighbour_sets(n, k, seed):
    """Clustered neighbour locations: a few blobs of 50-400 km at random places."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, k, 2))
    for q in range(n):
        centres = np.column_stack([rng.uniform(-60, 60, 4), rng.uniform(-180, 180, 4)])
        which = rng.choice(4, size=k, p=rng.dirichlet(np.ones(4)))
        spread = rng.uniform(0.3, 4.0, 4)[which, None]
        out[q] = centres[which] + rng.normal(size=(k, 2)) * spread
    out[..., 0] = np.clip(out[..., 0], -89, 89)
    out[..., 1] = (out[..., 1] + 180) % 360 - 180
    return out


def _sklearn_meanshift(points, bandwidth_km, min_votes):
    xyz = to_unit_vectors(points)
    ms = MeanShift(bandwidth=float(km_to_chord(bandwidth_km))).fit(xyz)
    votes = np.bincount(ms.labels_)
    best = int(np.argmax(votes))  # sklearn's labels are in rank order: ties -> higher rank
    if votes[best] < min_votes:
        return points[0]
    return spherical_mean(points[ms.labels_ == best])


@pytest.mark.parametrize("block", [2, 256])    # 2: the 5 queries clustered in three blocks
@pytest.mark.parametrize("bandwidth_km,min_votes", [(500, 4), (150, 4), (500, 15)])
def test_meanshift_matches_sklearn(bandwidth_km, min_votes, block, monkeypatch):
    from dgae import _heads

    monkeypatch.setattr(_heads, "_VOTE_ROWS", block)
    nbrs = _neighbour_sets(5, 40, seed=bandwidth_km + min_votes)
    nbrs[:, 10:14] = nbrs[:, 2:3]   # repeated locations (views of one place)
    got = meanshift_head(nbrs, bandwidth_km, min_votes)
    want = np.array([_sklearn_meanshift(p, bandwidth_km, min_votes) for p in nbrs])
    assert np.all(great_circle_km(got, want) < 1e-6)


def test_meanshift_falls_back_to_1nn_and_handles_the_dateline():
    spread = np.array([[[0, 0], [30, 30], [-30, 60], [60, -100], [0, 0.1]]], float)
    assert meanshift_head(spread, 500, 4).tolist() == [[0.0, 0.0]]  # no cluster of 4
    dateline = np.array([[[10, 179.9], [10, -179.9], [10, 179.8], [10, -179.8], [-40, 0]]], float)
    centre = meanshift_head(dateline, 500, 4)[0]
    assert great_circle_km(centre, [10, 180]) < 0.1


def _direct_kde(points, dists, sigma_km, m):
    """The density of Vo et al. Eq. 1 evaluated term by term at each neighbour."""
    w = (1.0 / dists) ** m
    dens = [sum(w[i] * np.exp(-(great_circle_km(x, points[i]) / sigma_km) ** 2 / 2)
                for i in range(len(points))) for x in points]
    return points[int(np.argmax(dens))]


@pytest.mark.parametrize("block", [4, 256])    # 4: the 6 queries voted for in two blocks
@pytest.mark.parametrize("sigma_km", [25.0, 300.0, 2000.0])
def test_kde_matches_direct_evaluation(sigma_km, block, monkeypatch):
    from dgae import _heads

    monkeypatch.setattr(_heads, "_VOTE_ROWS", block)
    nbrs = _neighbour_sets(6, 40, seed=int(sigma_km))
    rng = np.random.default_rng(1)
    dists = np.sort(rng.uniform(0.5, 2.0, (6, 40)), axis=1)
    got = kde_head(nbrs, dists, sigma_km, 10)
    # the chord Gaussian equals the arc Gaussian to O(arc^4): compare the chosen points
    want = np.array([_direct_kde(p, d, sigma_km, 10) for p, d in zip(nbrs, dists)])
    assert np.all(great_circle_km(got, want) < 1e-9)


@pytest.mark.parametrize("block", [4, 256])
def test_kde_modes_at_several_widths_match_direct_evaluation(block, monkeypatch):
    """One shared geometry, several widths, coarse to fine: each against the direct sums (the
    refined mode: the direct KDE among the neighbours within the coarse width of the coarse
    mode)."""
    from dgae import _heads

    monkeypatch.setattr(_heads, "_VOTE_ROWS", block)
    nbrs = _neighbour_sets(6, 40, seed=7)
    dists = np.sort(np.random.default_rng(2).uniform(0.5, 2.0, (6, 40)), axis=1)
    widths = [(25.0, None), (800.0, None), (800.0, 25.0), (3000.0, 100.0)]
    found = _heads.kde_modes(nbrs, dists, widths, 10.0)
    for (sigma, refine), best in zip(widths, found):
        got = nbrs[np.arange(6), best]
        for p, d, g in zip(nbrs, dists, got):
            want = _direct_kde(p, d, sigma, 10)
            if refine is not None:
                region = great_circle_km(p, want) <= sigma
                want = _direct_kde(p[region], d[region], refine, 10)
            assert great_circle_km(g, want) < 1e-9


def test_score_heads_shares_kde_geometry_without_changing_a_score():
    """score_heads computes every KDE candidate and the gates' fine KDE from one geometry per
    neighbour count; each score equals scoring that head alone through apply_head."""
    from dgae._metrics import mean_within
    from dgae._selection import head_candidates, match_gates, score_heads

    nbrs = _neighbour_sets(20, 130, seed=3)
    rng = np.random.default_rng(4)
    dists = np.sort(rng.uniform(0.5, 2.0, (20, 130)), axis=1)
    truth = nbrs[:, 3] + rng.normal(scale=0.5, size=(20, 2))
    cands = head_candidates({"kde_sigmas_km": (25.0, 300.0), "meanshift_km": 500.0})
    gates = match_gates(nbrs, dists, 25.0)
    scores, heads = score_heads(cands, nbrs, dists, truth, (25.0, 750.0), gates=gates,
                                gate_km=25.0, kde_power=10.0)
    assert len(scores) == 1 + 4 * (1 + 2 * len(gates))
    for label, (head, params) in heads.items():
        k = resolve_k(head, "auto", 130)
        pred = apply_head(head, nbrs[:, :k], dists[:, :k], kde_power=10.0, **params)
        assert scores[label] == mean_within(great_circle_km(truth, pred), (25.0, 750.0))


def test_kde_weights_are_safe_for_zero_and_huge_ratios():
    nbrs = np.array([[[0, 0], [0, 50], [0, 50.01], [0, 50.02]]], float)
    # a zero distance takes all the weight (no division by zero, no overflow)
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        out = kde_head(nbrs, np.array([[0.0, 1.0, 1.0, 1.0]]), 10, 10)
    assert out.tolist() == [[0.0, 0.0]]
    # ratios whose 10th powers overflow float64 in linear space
    out = kde_head(nbrs, np.array([[1e-40, 1e30, 1e30, 1e30]]), 10, 10)
    assert out.tolist() == [[0.0, 0.0]]
    # equal weights: the 3-point cluster wins
    assert kde_head(nbrs, np.ones((1, 4)), 10, 10).tolist() == [[0.0, 50.01]]
    # padding (inf distance) is never chosen
    padded = kde_head(nbrs, np.array([[1.0, np.inf, np.inf, np.inf]]), 10, 10)
    assert padded.tolist() == [[0.0, 0.0]]


def test_apply_head_dispatch_and_k():
    nbrs = _neighbour_sets(3, 10, seed=0)
    d = np.tile(np.arange(1.0, 11.0), (3, 1))
    np.testing.assert_array_equal(apply_head("1nn", nbrs, d), nbrs[:, 0])
    np.testing.assert_array_equal(apply_head("kde", nbrs, d, kde_sigma_km=5.0), kde_head(nbrs, d, 5.0))
    with pytest.raises(ValueError, match="head must be one of"):
        apply_head("knn", nbrs, d)
    assert resolve_k("1nn", "auto", 10) == 1 and resolve_k("meanshift", "auto", 50) == 50
