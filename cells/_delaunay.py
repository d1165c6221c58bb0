"""The adaptive triangular mesh of "Geolocation with Delaunay triangles" (``delaunay_mesh.txt`` §3.1.1).

Initial mesh: the paper says only "a 31 x 31 structured grid with equal
surface area in each triangle".  Here: 31 x 31 vertices evenly spaced in
longitude and in sin(latitude) (Lambert's cylindrical equal-area grid, so the
grid's quads have equal area) plus the two poles, triangulated on the sphere
by SciPy (the convex hull of points on a sphere is their spherical Delaunay
triangulation): 1,922 triangles of nearly equal area.  Refinement splits a
triangle into four (the edge midpoints pushed onto the sphere) while it holds
more than ``refinement_limit`` photos; leaves with fewer than
``min_examples`` photos are dropped with their photos.  The mesh is a tree, so
locating a point costs a search among the first triangles and one test per
level.
"""
from numbers import Integral

import numpy as np
from scipy.spatial import ConvexHull, cKDTree
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from dgae.utils import check_gps, from_unit_vectors, to_unit_vectors

from ._base import PartitionMixin

#: Table 1 of the mesh paper: (refinement limit, minimum examples, photos the mesh was made from).
PRESETS = {
    "coarse": (8000, 1000, 2_000_000),
    "fine": (5000, 500, 14_000_000),
    "fineP": (10000, 50, 14_000_000),
}
#: Vertices per side of the initial grid.
GRID = 31


def initial_mesh(grid=GRID):
    """Unit vertices (V, 3) and outward-oriented triangles (T, 3) of the initial mesh.

    Examples
    --------
    >>> v, t = initial_mesh()
    >>> v.shape, t.shape
    ((963, 3), (1922, 3))
    """
    lon = np.radians(-180 + 360 * (np.arange(grid) + 0.5) / grid)
    z = -1 + 2 * (np.arange(grid) + 0.5) / grid
    zz, ll = np.meshgrid(z, lon, indexing="ij")
    r = np.sqrt(1 - zz ** 2)
    pts = np.column_stack([(r * np.cos(ll)).ravel(), (r * np.sin(ll)).ravel(), zz.ravel()])
    pts = np.vstack([pts, [[0, 0, 1], [0, 0, -1]]])
    tri = ConvexHull(pts).simplices
    return pts, _outward(pts, tri)


def _outward(v, tri):
    a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a) < 0
    tri = tri.copy()
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri


def _inside(p, a, b, c, tol=1e-12):
    """Whether unit vectors ``p`` lie in the spherical triangles ``(a, b, c)`` (row-wise)."""
    return ((np.einsum("ij,ij->i", np.cross(a, b), p) >= -tol)
            & (np.einsum("ij,ij->i", np.cross(b, c), p) >= -tol)
            & (np.einsum("ij,ij->i", np.cross(c, a), p) >= -tol))


class DelaunayMesh(PartitionMixin, BaseEstimator):
    """Adaptive spherical triangles: refine the crowded ones, drop the empty ones.

    Parameters
    ----------
    refinement_limit : int, default=5000
        A triangle with more photos is split into four.
    min_examples : int, default=500
        Leaves with fewer photos are dropped (their photos too).
    max_depth : int, default=16
        Splits at most this many times below the initial mesh (duplicate
        coordinates would split forever).

    Attributes
    ----------
    vertices_ : ndarray of shape (V, 3)
        Unit vectors of every vertex made.
    triangles_ : ndarray of shape (T, 3)
        Every triangle made (initial ones first), vertex indices.
    children_ : ndarray of shape (T, 4)
        The four children of a split triangle, -1 for a leaf.
    n_root_triangles_ : int
        Triangles of the initial mesh (the first rows of ``triangles_``).
    cell_triangles_ : ndarray of shape (n_cells,)
        The kept leaves.
    cell_of_triangle_ : ndarray of shape (T,)
        Cell index of each triangle, -1 for split or dropped ones.
    counts_, centers_, imagery_centroids_, n_cells_
        As for :class:`S2Cells`; the centre is the normalised mean of the
        triangle's vertices.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> gps = np.vstack([rng.normal([45, 16], 2, (600, 2)), rng.uniform([-60, -180], [70, 180], (200, 2))])
    >>> mesh = DelaunayMesh(refinement_limit=100, min_examples=5).fit(gps)
    >>> bool((mesh.counts_ <= 100).all()), bool((mesh.counts_ >= 5).all())
    (True, True)
    >>> DelaunayMesh.preset("fine", n_photos=140_000).get_params()["refinement_limit"]
    50
    """

    #: The mesh paper's Table 1 presets: name -> (refinement limit, minimum examples, photos).
    PRESETS = PRESETS

    _parameter_constraints = {
        "refinement_limit": [Interval(Integral, 1, None, closed="left")],
        "min_examples": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, refinement_limit=5000, min_examples=500, max_depth=16):
        self.refinement_limit = refinement_limit
        self.min_examples = min_examples
        self.max_depth = max_depth

    @classmethod
    def preset(cls, name, n_photos=None, **kwargs):
        """Table 1's meshes (``"coarse"``, ``"fine"``, ``"fineP"``), scaled to a gallery.

        Both thresholds are multiplied by ``n_photos`` over the number of
        photos the paper made that mesh from (2 M for coarse, 14 M for fine
        and fineP), at least 1 — so a gallery gets about as many cells per
        photo density as the paper's.  ``n_photos=None`` keeps the paper's values.
        """
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        limit, minimum, made_from = PRESETS[name]
        if n_photos is not None:
            scale = n_photos / made_from
            limit, minimum = max(1, round(limit * scale)), max(1, round(minimum * scale))
        return cls(refinement_limit=limit, min_examples=minimum, **kwargs)

    def fit(self, gps, y=None):
        """Build the mesh of ``gps`` (shape (n, 2), ``[lat, lon]`` degrees).

        Returns
        -------
        self : DelaunayMesh
        """
        self._validate_params()
        gps = check_gps(gps)
        points = to_unit_vectors(gps)
        verts, tri = initial_mesh()
        self.n_root_triangles_ = len(tri)
        verts, tri = list(verts), [tuple(t) for t in tri]
        children = [[-1] * 4 for _ in tri]
        where = self._locate_roots(points, np.array(verts), np.array(tri))
        depth = 0
        while True:
            counts = np.bincount(where, minlength=len(tri))
            split = np.flatnonzero(counts > self.refinement_limit)  # split ones hold no photo
            if not split.size or depth >= self.max_depth:
                break
            for t in split:
                kids = self._split(t, verts, tri)
                children[t] = kids
                members = np.flatnonzero(where == t)
                where[members] = self._which_child(points[members], kids, verts, tri)
                children += [[-1] * 4 for _ in kids]
            depth += 1
        self.vertices_, self.triangles_ = np.array(verts), np.array(tri)
        self.children_ = np.array(children, dtype=np.int64).reshape(-1, 4)
        leaves = self.children_[:, 0] < 0
        counts = np.bincount(where, minlength=len(tri))
        self.cell_triangles_ = np.flatnonzero(leaves & (counts >= self.min_examples))
        self.n_cells_ = len(self.cell_triangles_)
        self.cell_of_triangle_ = np.full(len(tri), -1, dtype=np.int64)
        self.cell_of_triangle_[self.cell_triangles_] = np.arange(self.n_cells_)
        corners = self.vertices_[self.triangles_[self.cell_triangles_]]
        self.centers_ = from_unit_vectors(corners.sum(axis=1))
        labels = self.cell_of_triangle_[where]
        self.counts_ = np.bincount(labels[labels >= 0], minlength=self.n_cells_).astype(np.int64)
        self.imagery_centroids_ = self._imagery_centroids(gps, labels)
        return self

    @staticmethod
    def _split(t, verts, tri):
        """Append the four children of triangle ``t`` (midpoints on the sphere); their indices."""
        a, b, c = tri[t]
        mids = []
        for i, j in ((a, b), (b, c), (c, a)):
            m = verts[i] + verts[j]
            verts.append(m / np.linalg.norm(m))
            mids.append(len(verts) - 1)
        ab, bc, ca = mids
        start = len(tri)
        tri += [(a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca)]
        return list(range(start, start + 4))

    @staticmethod
    def _which_child(p, kids, verts, tri):
        """The child of each point (corner children tested first, the middle one otherwise)."""
        out = np.full(len(p), kids[3], dtype=np.int64)
        free = np.ones(len(p), dtype=bool)
        for k in kids[:3]:
            a, b, c = (np.broadcast_to(verts[i], p.shape) for i in tri[k])
            hit = free & _inside(p, a, b, c)
            out[hit] = k
            free &= ~hit
        return out

    @staticmethod
    def _locate_roots(p, verts, roots, n_candidates=12):
        """Initial triangle of each point: nearest centroids first, brute force for the rest."""
        cent = verts[roots].sum(axis=1)
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
        _, cand = cKDTree(cent).query(p, k=min(n_candidates, len(roots)))
        out = np.full(len(p), -1, dtype=np.int64)
        for j in range(cand.shape[1]):
            todo = np.flatnonzero(out < 0)
            t = roots[cand[todo, j]]
            hit = _inside(p[todo], verts[t[:, 0]], verts[t[:, 1]], verts[t[:, 2]])
            out[todo[hit]] = cand[todo[hit], j]
        for i in np.flatnonzero(out < 0):  # numerically on an edge far from the centroids
            a, b, c = verts[roots[:, 0]], verts[roots[:, 1]], verts[roots[:, 2]]
            out[i] = int(np.argmax(_inside(np.broadcast_to(p[i], a.shape), a, b, c, tol=1e-9)))
        return out

    def _assign(self, gps):
        p = to_unit_vectors(gps)
        where = self._locate_roots(p, self.vertices_, self.triangles_[:self.n_root_triangles_])
        while True:
            kids = self.children_[where]
            inner = np.flatnonzero(kids[:, 0] >= 0)
            if not inner.size:
                break
            for t in np.unique(where[inner]):
                members = inner[where[inner] == t]
                where[members] = self._which_child(p[members], list(self.children_[t]),
                                                   self.vertices_, self.triangles_)
        return self.cell_of_triangle_[where]

    def _outlines(self):
        out = []
        for t in self.cell_triangles_:
            corners = self.vertices_[self.triangles_[t][[0, 1, 2, 0]]]
            out.append(from_unit_vectors(corners))
        return out
