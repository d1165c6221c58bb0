"""Partitions of the globe (dgae.cells) against brute force and the published PlaNet-style tables."""
import numpy as np
import pytest
import s2geometry as s2

from dgae.cells import LatLonCells, S2Cells
from dgae.cells._latlon import box_area_km2
from dgae.cells._s2 import id_level, leaf_ids, parent_ids
from dgae.datasets import shared_data_dir
from dgae.geo import spherical_mean


def _photos(seed=0):
    rng = np.random.default_rng(seed)
    parts = [rng.normal([45.8, 16.0], 0.05, (400, 2)), rng.normal([35.7, 139.7], 2.0, (300, 2)),
             rng.uniform([-60, -180], [75, 180], (300, 2)), np.tile([[48.85, 2.35]], (120, 1))]
    return np.vstack(parts)


@pytest.mark.parametrize("level", [0, 1, 7, 13, 29, 30])
def test_parent_ids_and_levels_match_s2(level):
    gps = _photos()[::37]
    leaves = leaf_ids(gps)
    expected = [s2.S2CellId(int(c)).parent(level).id() for c in leaves]
    np.testing.assert_array_equal(parent_ids(leaves, level), np.array(expected, np.uint64))
    assert (id_level(parent_ids(leaves, level)) == level).all()


@pytest.mark.parametrize("max_per_cell,min_per_cell", [(50, 5), (200, 20), (1000, 1)])
def test_s2_cells_against_brute_force(max_per_cell, min_per_cell):
    """Each photo lies in the one kept cell S2 says contains it; the split rule holds."""
    gps = _photos()
    cells = S2Cells(max_per_cell=max_per_cell, min_per_cell=min_per_cell, max_level=20).fit(gps)
    ids = [s2.S2CellId(int(c)) for c in cells.cell_ids_]
    labels = cells.predict(gps)
    for leaf, lab in zip(leaf_ids(gps), labels):
        containing = [i for i, c in enumerate(ids) if c.contains(s2.S2CellId(int(leaf)))]
        assert containing == ([] if lab < 0 else [lab])
    np.testing.assert_array_equal(cells.counts_, np.bincount(labels[labels >= 0],
                                                             minlength=cells.n_cells_))
    assert (cells.counts_ >= min_per_cell).all()
    over = cells.counts_ > max_per_cell
    assert (cells.levels_[over] == 20).all()  # only the finest level may stay over (duplicates)
    for i in np.flatnonzero(cells.levels_ > 0)[:50]:  # the parent had to be split
        parent = ids[i].parent(int(cells.levels_[i]) - 1)
        inside = sum(parent.contains(s2.S2CellId(int(leaf))) for leaf in leaf_ids(gps))
        assert inside > max_per_cell


def test_duplicate_coordinates_stop_at_max_level():
    gps = np.tile([[10.0, 20.0]], (500, 1))
    cells = S2Cells(max_per_cell=10, min_per_cell=1, max_level=12).fit(gps)
    assert cells.n_cells_ == 1 and cells.levels_[0] == 12 and cells.counts_[0] == 500


@pytest.mark.parametrize("make", [lambda: S2Cells(max_per_cell=100, min_per_cell=3),
                                  lambda: LatLonCells(max_per_cell=100, min_area_km2=1.0)])
def test_imagery_centroids_are_the_spherical_means(make):
    gps = _photos()
    cells = make().fit(gps)
    labels = cells.predict(gps)
    for i in range(0, cells.n_cells_, 7):
        np.testing.assert_allclose(cells.imagery_centroids_[i], spherical_mean(gps[labels == i]),
                                   atol=1e-9)


@pytest.mark.parametrize("max_per_cell,min_area", [(40, 1.0), (200, 1e4), (5, 500.0)])
def test_latlon_cells_against_brute_force(max_per_cell, min_area):
    gps = _photos(1)
    cells = LatLonCells(max_per_cell=max_per_cell, min_area_km2=min_area).fit(gps)
    b = cells.boxes_
    labels = cells.predict(gps)
    for (lat, lon), lab in zip(gps, labels):
        inside = np.flatnonzero((b[:, 0] <= lat) & ((lat < b[:, 1]) | (b[:, 1] == 90))
                                & (b[:, 2] <= lon) & ((lon < b[:, 3]) | (b[:, 3] == 180)))
        assert inside.tolist() == [lab]  # every photo in exactly one kept cell
    small = box_area_km2(b) < min_area
    same = np.array([len(np.unique(gps[labels == i], axis=0)) == 1 for i in range(cells.n_cells_)])
    # over the limit only when too small, or when every photo shares one coordinate
    assert (cells.counts_[~small & ~same] <= max_per_cell).all()
    assert (cells.counts_ > 0).all()
    assert box_area_km2(b).sum() <= box_area_km2([-90, 90, -180, 180]) * (1 + 1e-12)


def test_plot_draws_every_outline():
    import matplotlib

    matplotlib.use("Agg")
    gps = _photos()
    cells = LatLonCells(max_per_cell=100).fit(gps)
    ax = cells.plot(gps)
    assert len(ax.collections[-1].get_segments()) == cells.n_cells_


needs_shared = pytest.mark.skipif(
    shared_data_dir() is None or not (shared_data_dir() / "gps" / "cells_50_5000.csv").is_file(),
    reason="needs ../shared/data/gps")


@needs_shared
@pytest.mark.parametrize("t_max", [1000, 2000, 5000])
def test_published_s2_partitions(t_max):
    """The issue's three checks on PlaNet-style partitions of MP-16 (4.72 M photos)."""
    from dgae.datasets import load_shared

    published = S2Cells.from_table(shared_data_dir() / "gps" / f"cells_50_{t_max}.csv")
    # every cell's mean coordinate lies inside the cell its token names
    assert (published.predict(published.imagery_centroids_) == np.arange(published.n_cells_)).all()
    # a random 100k of the same photos fall into the cells in proportion
    sample = load_shared("gps/mp16_coordinates_100k").gps
    labels = published.predict(sample)
    counts = np.bincount(labels[labels >= 0], minlength=published.n_cells_)
    assert np.corrcoef(counts, published.counts_)[0, 1] >= 0.85
    # refitting on the 100k with thresholds scaled by 100k / 4.72 M gives about as many cells
    scale = len(sample) / 4723695
    ours = S2Cells(max_per_cell=round(t_max * scale), min_per_cell=max(1, round(50 * scale)))
    assert abs(ours.fit(sample).n_cells_ / published.n_cells_ - 1) <= 0.2


def _spherical_area(a, b, c):
    """Area of spherical triangles (unit sphere), Van Oosterom & Strackee."""
    num = np.abs(np.einsum("ij,ij->i", a, np.cross(b, c)))
    den = 1 + np.einsum("ij,ij->i", a, b) + np.einsum("ij,ij->i", b, c) + np.einsum("ij,ij->i", c, a)
    return 2 * np.arctan2(num, den)


def test_initial_mesh_covers_the_sphere_with_near_equal_triangles():
    from dgae.cells._delaunay import initial_mesh

    v, t = initial_mesh()
    area = _spherical_area(v[t[:, 0]], v[t[:, 1]], v[t[:, 2]])
    assert area.sum() == pytest.approx(4 * np.pi, rel=1e-9)  # no gap, no overlap
    assert area.max() / area.min() < 3.0  # near-equal (exactly equal quads, split in two)


@pytest.mark.parametrize("limit,minimum", [(60, 5), (300, 1), (20, 10)])
def test_delaunay_mesh_against_brute_force(limit, minimum):
    from dgae.cells import DelaunayMesh
    from dgae.cells._delaunay import _inside
    from dgae.geo import to_unit_vectors

    gps = _photos(2)
    mesh = DelaunayMesh(refinement_limit=limit, min_examples=minimum).fit(gps)
    labels = mesh.predict(gps)
    p = to_unit_vectors(gps)
    tri = mesh.vertices_[mesh.triangles_[mesh.cell_triangles_]]
    for i in range(0, len(gps), 3):
        inside = np.flatnonzero(_inside(np.broadcast_to(p[i], tri[:, 0].shape),
                                        tri[:, 0], tri[:, 1], tri[:, 2], tol=1e-12))
        assert (labels[i] in inside) if labels[i] >= 0 else inside.size == 0
    assert (mesh.counts_ >= minimum).all()
    leaves = mesh.children_[:, 0] < 0
    assert leaves[mesh.cell_triangles_].all()
    over = mesh.counts_ > limit  # only duplicates (120 photos at one point) may stay over
    assert over.sum() <= 1
    kept = labels >= 0
    area = _spherical_area(tri[:, 0], tri[:, 1], tri[:, 2])
    assert area.sum() <= 4 * np.pi + 1e-9 and kept.mean() > 0.5


def test_delaunay_presets_scale_with_the_gallery():
    from dgae.cells import DelaunayMesh

    assert DelaunayMesh.preset("coarse").get_params()["refinement_limit"] == 8000
    small = DelaunayMesh.preset("fineP", n_photos=140_000).get_params()
    assert (small["refinement_limit"], small["min_examples"]) == (100, 1)
    with pytest.raises(ValueError, match="preset must be one of"):
        DelaunayMesh.preset("medium")


def test_latlon_duplicates_stop_splitting():
    gps = np.vstack([np.tile([[10.0, 20.0]], (50, 1)), [[10.0, 20.5]]])
    cells = LatLonCells(max_per_cell=5, min_area_km2=0.0).fit(gps)
    assert sorted(cells.counts_.tolist()) == [1, 50]
