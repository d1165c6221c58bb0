"""A procedural stand-in for the DGAE paper's 35-area Flickr photo set.

The paper's 664,720 photos (Table 1) are not public.  :func:`make_city_world`
renders a synthetic replica with the same structure — 35 areas with the
paper's relative image counts, Zipf-popular POIs of 50 m to a few km spread,
scattered photos — on real pixels, so that the whole protocol (descriptors →
POIs → graphs → autoencoder → retrieval) runs end to end in seconds.

Rendering is vectorised NumPy over batches of images at a small resolution
(``render_size``), upscaled with OpenCV; only the JPEG round trip is per image.
"""
import csv
import os
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import Bunch, check_random_state

from ..utils import EARTH_RADIUS_KM, read_table, to_unit_vectors

SCENES = ("park", "beach", "street", "skyline", "temple", "market", "mountain", "night_street")
_ROOFS = ("flat", "gable", "dome", "stepped")
_N_COLS = 16  # building columns per image
_N_BLOBS = 6  # trees / stalls / lights per image


def load_areas(areas="cities35"):
    """The table of areas: name, centre, the paper's image count, radius.

    Parameters
    ----------
    areas : "cities35", path or sequence of str, default="cities35"
        ``"cities35"``: the DGAE paper's 35 areas (Table 1) shipped in
        ``dgae/data/cities35.csv``; a path: a CSV with the same columns
        (``area,lat,lon,n_images`` and optionally ``radius_km``); a sequence
        of names: that subset of the 35.

    Returns
    -------
    table : Bunch
        ``name`` (n_areas,) str, ``centre`` (n_areas, 2) float64 lat/lon,
        ``n_images`` (n_areas,) int64, ``radius_km`` (n_areas,) float64.

    Examples
    --------
    >>> t = load_areas()
    >>> len(t.name), int(t.n_images.sum())
    (35, 664720)
    """
    if isinstance(areas, str) and areas == "cities35":
        text = resources.files("dgae").joinpath("data", "cities35.csv").read_text()
        _, rows = read_table(text.splitlines(), name="cities35.csv")
    elif isinstance(areas, (str, os.PathLike)):
        _, rows = read_table(areas)
    else:
        table = load_areas("cities35")
        index = {n: i for i, n in enumerate(table.name)}
        missing = [a for a in areas if a not in index]
        if missing:
            raise ValueError(f"unknown area(s) {missing}; known: {list(table.name)}")
        keep = [index[a] for a in areas]
        return Bunch(**{k: v[keep] for k, v in table.items()})
    if not rows:
        raise ValueError(f"area table {areas!r} is empty")
    try:
        return Bunch(
            name=np.array([r["area"] for r in rows]),
            centre=np.array([[float(r["lat"]), float(r["lon"])] for r in rows]),
            n_images=np.array([int(r["n_images"]) for r in rows], dtype=np.int64),
            radius_km=np.array([float(r.get("radius_km") or 30.0) for r in rows]),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"area table {areas!r} needs columns area,lat,lon,n_images: {exc}") from None


def proportional_counts(weights, total):
    """Split ``total`` into integers proportional to ``weights`` (largest remainder).

    Examples
    --------
    >>> proportional_counts([1, 1, 2], 5).tolist()
    [1, 1, 3]
    """
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: total - counts.sum()]] += 1
    return counts


def _offset_gps(centre, east_km, north_km):
    """Move ``centre`` (…, 2) by local east/north offsets in km (small-offset approximation)."""
    lat = centre[..., 0] + np.degrees(north_km / EARTH_RADIUS_KM)
    coslat = np.maximum(np.cos(np.radians(centre[..., 0])), 1e-6)
    lon = centre[..., 1] + np.degrees(east_km / (EARTH_RADIUS_KM * coslat))
    return np.stack([lat, (lon + 180.0) % 360.0 - 180.0], axis=-1)


def _clip_norm(e, n, radius):
    """Shrink (e, n) offsets longer than ``radius`` onto the circle."""
    r = np.hypot(e, n)
    f = np.minimum(1.0, radius / np.maximum(r, 1e-12))
    return e * f, n * f


def _area_styles(centres, rng):
    """Per-area style: a smooth function of position (neighbouring areas look
    alike, as real regions do) plus an area-specific part."""
    n = len(centres)
    xyz = to_unit_vectors(centres)
    omega = rng.normal(0.0, 2.0, size=(3, 24))  # ~3,000 km correlation length
    z = np.cos(xyz @ omega + rng.uniform(0, 2 * np.pi, 24))

    def field(k):  # k smooth features in (0, 1), mixed with area noise
        a = rng.normal(0, 1.0, size=(24, k)) / np.sqrt(6)
        return 1 / (1 + np.exp(-(z @ a + 0.7 * rng.normal(size=(n, k)))))

    hsv = np.stack([field(4), 0.25 + 0.6 * field(4), 0.35 + 0.6 * field(4)], axis=-1)
    palette = _hsv_to_rgb(hsv)  # (n, 4, 3)
    veg = _hsv_to_rgb(np.stack([0.12 + 0.25 * field(1), 0.3 + 0.6 * field(1), 0.25 + 0.4 * field(1)], -1))
    ground = _hsv_to_rgb(np.stack([0.05 + 0.1 * field(1), 0.1 + 0.4 * field(1), 0.4 + 0.4 * field(1)], -1))
    return Bunch(
        palette=palette.astype(np.float32),
        veg=veg[:, 0].astype(np.float32),
        ground=ground[:, 0].astype(np.float32),
        roof=np.argmax(field(len(_ROOFS)), axis=1),
        width=(0.05 + 0.07 * field(1)[:, 0]).astype(np.float32),
        windows=(10 + 30 * field(1)[:, 0]).astype(np.float32),
        scene_mix=rng.dirichlet(np.full(len(SCENES), 1.5), size=n),
    )


def _hsv_to_rgb(hsv):
    """HSV in [0, 1] → RGB in [0, 1], vectorised over leading axes."""
    h, s, v = hsv[..., 0] % 1.0, hsv[..., 1], hsv[..., 2]
    k = (np.array([5.0, 3.0, 1.0]) + 6 * h[..., None]) % 6
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def city_world_layout(n_photos, rng=0, areas="cities35", photos_per_poi=30,
                      scatter_fraction=0.15):
    """Where the replica's photos are, without drawing them: positions, areas and POIs.

    The layout :func:`make_city_world` draws its photos at (each area's share of the paper's
    photo counts, POIs of about ``photos_per_poi`` photos, ``scatter_fraction`` of the photos
    scattered over the area); for benchmarks that need the replica's geography at sizes where
    drawing the photos would take hours.

    Parameters
    ----------
    n_photos : int
    rng : int or numpy.random.Generator, default=0
        A Generator is drawn from (and advanced), so that a caller can go on drawing from it.
    areas : str, default="cities35"
    photos_per_poi : float, default=30
    scatter_fraction : float, default=0.15

    Returns
    -------
    layout : sklearn.utils.Bunch
        ``gps`` (n, 2) float64, ``area`` (n,) and ``poi`` (n,) int (-1: scattered), ``poi_gps``
        (n_pois, 2) and ``poi_area`` (n_pois,), grouped by area (not shuffled).

    Examples
    --------
    >>> layout = city_world_layout(1000, rng=0)
    >>> layout.gps.shape, int(layout.area.max()) + 1
    ((1000, 2), 35)
    """
    from sklearn.utils import Bunch

    table = load_areas(areas)
    counts = proportional_counts(table.n_images, int(n_photos))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    gps, area, poi, poi_gps, poi_area = _place_photos(table, counts, rng, photos_per_poi,
                                                       scatter_fraction)
    return Bunch(gps=gps, area=area, poi=poi, poi_gps=poi_gps, poi_area=poi_area)


def _place_photos(table, counts, rng, photos_per_poi, scatter_fraction):
    """GPS, POI id and POI centres for every photo, area by area."""
    gps, area, poi, poi_centre, poi_area = [], [], [], [], []
    for a, n in enumerate(counts):
        if n == 0:
            continue
        radius = table.radius_km[a]
        n_scatter = rng.binomial(n, scatter_fraction)
        n_poi = max(1, int(np.ceil((n - n_scatter) / photos_per_poi)))
        ce, cn = _clip_norm(*rng.normal(0, radius / 2.5, size=(2, n_poi)), 0.9 * radius)
        zipf = 1.0 / np.arange(1, n_poi + 1) ** 1.1
        which = rng.choice(n_poi, size=n - n_scatter, p=zipf / zipf.sum())
        spread = np.exp(rng.uniform(np.log(0.05), np.log(3.0), size=n_poi))  # 50 m .. 3 km
        e = np.concatenate([ce[which] + rng.normal(size=len(which)) * spread[which],
                            rng.uniform(-radius, radius, n_scatter)])
        nn = np.concatenate([cn[which] + rng.normal(size=len(which)) * spread[which],
                             rng.uniform(-radius, radius, n_scatter)])
        e, nn = _clip_norm(e, nn, radius)
        gps.append(_offset_gps(table.centre[a], e, nn))
        area.append(np.full(n, a))
        poi.append(np.concatenate([which + len(poi_area), np.full(n_scatter, -1)]))
        poi_centre.append(_offset_gps(table.centre[a], ce, cn))
        poi_area.extend([a] * n_poi)
    return (np.concatenate(gps), np.concatenate(area), np.concatenate(poi),
            np.concatenate(poi_centre), np.asarray(poi_area, dtype=np.int64))


def _poi_looks(n_poi, poi_area, styles, rng):
    """What makes a POI recognisable: its scene, skyline, motif."""
    mix = styles.scene_mix[poi_area]
    scene = (mix.cumsum(1) > rng.uniform(size=(n_poi, 1))).argmax(1)
    return Bunch(
        scene=scene,
        heights=rng.uniform(size=(n_poi, _N_COLS)).astype(np.float32),
        colidx=rng.integers(0, 4, size=(n_poi, _N_COLS)),
        horizon=rng.uniform(0.45, 0.6, n_poi),
        shape=rng.integers(0, 4, n_poi),
        colour=_hsv_to_rgb(np.stack([rng.uniform(size=n_poi), rng.uniform(0.6, 1, n_poi),
                                     rng.uniform(0.6, 1, n_poi)], -1)).astype(np.float32),
        mu=rng.uniform(0.25, 0.75, n_poi), dv=rng.uniform(-0.25, 0.12, n_poi),
        size=rng.uniform(0.07, 0.15, n_poi), freq=rng.uniform(6, 25, n_poi),
        angle=rng.uniform(0, np.pi, n_poi),
    )


def _photo_params(area, poi, styles, looks, rng):
    """Per-photo scene, viewpoint and nuisances (all arrays of length n)."""
    n = len(area)
    has_poi = poi >= 0
    p = np.maximum(poi, 0)
    mix = styles.scene_mix[area]
    scene = (mix.cumsum(1) > rng.uniform(size=(n, 1))).argmax(1)
    keep = has_poi & (rng.uniform(size=n) < 0.75)  # the POI's usual scene most of the time
    scene[keep] = looks.scene[p[keep]]
    tod = rng.choice(3, size=n, p=[0.6, 0.2, 0.2])
    tod[scene == SCENES.index("night_street")] = 2
    heights = rng.uniform(size=(n, _N_COLS)).astype(np.float32)
    heights[has_poi] = 0.7 * looks.heights[p[has_poi]] + 0.3 * heights[has_poi]
    colidx = rng.integers(0, 4, size=(n, _N_COLS))
    colidx[has_poi] = looks.colidx[p[has_poi]]
    horizon = rng.uniform(0.42, 0.62, n)
    horizon[has_poi] = looks.horizon[p[has_poi]] + rng.normal(0, 0.03, has_poi.sum())
    zoom = rng.uniform(0.6, 1.0, n)
    return Bunch(
        scene=scene, tod=tod, heights=heights, zoom=zoom,
        ox=rng.uniform(size=n) * (1 - zoom), oy=rng.uniform(size=n) * (1 - zoom),
        flip=rng.uniform(size=n) < 0.5, horizon=horizon,
        fog=np.where(rng.uniform(size=n) < 0.3, rng.uniform(0.1, 0.6, n), 0.0),
        overcast=rng.uniform(size=n) < 0.3,
        colidx=colidx,
        blob_u=rng.uniform(size=(n, _N_BLOBS)), blob_v=rng.uniform(size=(n, _N_BLOBS)),
        blob_r=rng.uniform(0.03, 0.09, size=(n, _N_BLOBS)),
        blob_c=rng.uniform(0.2, 1.0, size=(n, _N_BLOBS, 3)),
        motif=has_poi & (rng.uniform(size=n) < 0.85),
        noise=rng.uniform(0.005, 0.04, n), quality=rng.integers(35, 95, n),
    )


def _sky(v, horizon, tod, overcast):
    top = np.array([[0.25, 0.45, 0.85], [0.35, 0.3, 0.55], [0.02, 0.03, 0.1]], np.float32)[tod]
    bottom = np.array([[0.7, 0.85, 1.0], [1.0, 0.6, 0.35], [0.08, 0.08, 0.2]], np.float32)[tod]
    grey = np.float32(0.65) * (tod == 0) + np.float32(0.2)
    top = np.where(overcast[:, None], grey[:, None], top)
    bottom = np.where(overcast[:, None], grey[:, None] + 0.1, bottom)
    t = np.clip(v / horizon[:, None, None], 0, 1)[..., None]  # (B, r, 1, 1)
    return top[:, None, None] * (1 - t) + bottom[:, None, None] * t


def _profile(u, prm, st, scene):
    """Height above the horizon of the far layer (buildings, ridges, canopy), (B, 1, r)."""
    w = st.width[:, None, None]
    col = np.floor(u / w).astype(np.int64) % _N_COLS
    frac = (u / w) % 1.0
    h = np.take_along_axis(prm.heights, col[:, 0], axis=1)[:, None]
    roof = st.roof[:, None, None]
    tri = 0.5 - np.abs(frac - 0.5)
    bump = np.select([roof == 1, roof == 2, roof == 3],
                     [tri * w, np.sqrt(np.maximum(0.25 - (frac - 0.5) ** 2, 0)) * w,
                      np.floor(tri * 6) * w / 6], 0.0)
    city = 0.08 + 0.32 * h + bump
    s = scene[:, None, None]
    ridge = 0.2 + 0.08 * np.sin(7 * u + 6 * prm.heights[:, :1, None]) + 0.05 * np.sin(19 * u + prm.heights[:, 1:2, None] * 9)
    canopy = 0.06 + 0.05 * np.abs(np.sin(25 * u + 5 * prm.heights[:, 2:3, None])) + 0.04 * h
    street = (0.1 + 0.35 * h) * (np.abs(u - 0.5) * 2) ** 0.7
    temple = np.maximum(0.05 * h, 0.4 - 1.6 * np.abs(u - 0.5) + bump * 2)
    market = 0.04 + 0.1 * h + 0.5 * bump
    return np.select([s == 0, s == 1, s == 6, (s == 2) | (s == 7), s == 3, s == 4, s == 5],
                     [canopy, 0.02 * h, ridge, street, city, temple, market], city)


def _render_batch(prm, st, looks, poi, r):
    """Render one batch of photos as float32 RGB (B, r, r, 3) in [0, 1]."""
    B = len(prm.scene)
    x = (np.arange(r, dtype=np.float32) + 0.5) / r
    xs = np.where(prm.flip[:, None], 1 - x, x)
    u = (prm.ox[:, None] + prm.zoom[:, None] * xs)[:, None, :].astype(np.float32)  # (B, 1, r)
    v = (prm.oy[:, None] + prm.zoom[:, None] * x)[:, :, None].astype(np.float32)  # (B, r, 1)
    hz = prm.horizon.astype(np.float32)
    scene = prm.scene
    img = _sky(v, hz, prm.tod, prm.overcast)
    img = np.broadcast_to(img, (B, r, r, 3)).copy()
    hz3 = hz[:, None, None]
    below = v >= hz3  # (B, r, 1)
    # ground: area tint, scene-specific colours and texture
    ground = np.select(
        [np.isin(scene, (0, 6))[:, None], (scene == 1)[:, None]],
        [st.veg, np.array([0.85, 0.75, 0.55], np.float32)], st.ground)
    tex = 0.85 + 0.15 * np.sin(st.windows[:, None, None] * 3 * (u + 2 * v))
    img = np.where(below[..., None], (ground[:, None, None] * tex[..., None]), img)
    # sea band on beaches
    sea = (scene == 1)[:, None, None] & below & (v < hz3 + 0.12 + 0.05 * prm.heights[:, 3:4, None])
    img = np.where(sea[..., None], np.array([0.1, 0.35, 0.6], np.float32) * (0.9 + 0.1 * np.sin(60 * v))[..., None], img)
    # road in streets: a perspective trapezoid with a centre line
    street = np.isin(scene, (2, 7))[:, None, None]
    depth = np.clip((v - hz3) / (1 - hz3), 0, 1)
    road = street & below & (np.abs(u - 0.5) < 0.03 + 0.45 * depth)
    img = np.where(road[..., None], np.float32(0.3), img)
    line = road & (np.abs(u - 0.5) < 0.004 + 0.01 * depth) & (np.sin(40 * v / np.maximum(depth, 0.05)) > 0)
    img = np.where(line[..., None], np.float32(0.95), img)
    # far layer: buildings in the area palette with windows, ridges, canopy
    prof = _profile(u, prm, st, scene)
    far = (v < hz3) & (v > hz3 - prof)
    w = st.width[:, None, None]
    col = np.floor(u / w).astype(np.int64) % _N_COLS
    cidx = np.take_along_axis(prm.colidx, col[:, 0], axis=1)[:, None]
    build = st.palette[np.arange(B)[:, None, None], cidx]  # (B, 1, r, 3)
    natural = np.isin(scene, (0, 6))[:, None, None, None]
    rock = 0.5 * st.veg[:, None, None] + 0.2
    build = np.where(natural, rock, build)
    wf = st.windows[:, None, None]
    win = (np.sin(wf * 6.283 * u) > 0.3) & (np.sin(wf * 6.283 * v) > 0.2) & ~natural[..., 0]
    lit = np.where(prm.tod[:, None, None] == 2, 1.6, 0.7).astype(np.float32)
    shade = np.where(win, lit, np.float32(1.0))
    img = np.where(far[..., None], build * shade[..., None], img)
    # blobs: trees (park), stalls (market), lamps (night street); the POI motif
    sel = np.flatnonzero(np.isin(scene, (0, 5, 7)))
    img[sel] = _draw_blobs(img[sel], u[sel], v[sel], hz3[sel], _take(prm, sel), _take(st, sel))
    sel = np.flatnonzero(prm.motif)
    img[sel] = _draw_motif(img[sel], u[sel], v[sel], hz[sel], _take(looks, np.maximum(poi[sel], 0)))
    # time of day and weather
    light = np.array([[1.0, 1.0, 1.0], [1.0, 0.8, 0.6], [0.35, 0.35, 0.45]], np.float32)[prm.tod]
    img = np.where(far[..., None] & win[..., None] & (prm.tod == 2)[:, None, None, None],
                   img, img * light[:, None, None])
    fog = prm.fog.astype(np.float32)[:, None, None, None]
    return np.clip(img * (1 - fog) + 0.75 * fog, 0, 1)


def _draw_blobs(img, u, v, hz3, prm, st):
    """Paint trees (park), stalls (market) or lamps (night street) one blob at a time."""
    scene = prm.scene[:, None, None]
    base = np.select([scene == 0, scene == 7],
                     [st.veg[:, None] * 0.8, np.array([1.0, 0.85, 0.4], np.float32)],
                     st.palette[:, 1][:, None])  # (B, 1, 3)
    for k in range(_N_BLOBS):
        cv = hz3 + 0.35 * prm.blob_v[:, k, None, None] * (1 - hz3)
        d2 = (u - prm.blob_u[:, k, None, None]) ** 2 + (v - cv) ** 2
        colour = base * (0.7 + 0.3 * prm.blob_c[:, k, None])
        img = np.where((d2 < prm.blob_r[:, k, None, None] ** 2)[..., None], colour[:, None], img)
    return img


def _draw_motif(img, u, v, hz, looks):
    """The POI motif: a striped shape (colour, shape, stripes, place fixed per POI)."""
    du = u - looks.mu[:, None, None]
    dv = v - (hz + looks.dv)[:, None, None]
    size = looks.size[:, None, None]
    shape = looks.shape[:, None, None]
    inside = np.select(
        [shape == 0, shape == 1, shape == 2],
        [du ** 2 + dv ** 2 < size ** 2,
         (np.abs(du) < size) & (np.abs(dv) < 0.6 * size),
         (dv > -size) & (dv < size) & (np.abs(du) < (dv + size) * 0.6)],
        np.abs(du) + np.abs(dv) < size)
    ang = looks.angle[:, None, None]
    stripes = np.sin(looks.freq[:, None, None] * 6.283 * (du * np.cos(ang) + dv * np.sin(ang))) > 0
    colour = looks.colour[:, None, None] * np.where(stripes, 1.0, 0.45).astype(np.float32)[..., None]
    return np.where(inside[..., None], colour, img)


def _finish(batch, prm, size, rng):
    """Upscale, add sensor noise, JPEG round trip; returns uint8 RGB (B, size, size, 3)."""
    out = np.empty((len(batch), size, size, 3), np.uint8)
    # one noise field per batch, a random crop of it per photo: drawing fresh
    # Gaussian noise for every pixel of every photo dominated the run time
    bank = rng.standard_normal((2 * size, 2 * size, 3), dtype=np.float32)
    offs = rng.integers(0, size, size=(len(batch), 2))
    for i, im in enumerate(batch):
        im = cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR)
        oy, ox = offs[i]
        im = im + prm.noise[i] * bank[oy:oy + size, ox:ox + size]
        im = (np.clip(im, 0, 1) * 255 + 0.5).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, int(prm.quality[i])])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def _take(bunch, idx):
    return Bunch(**{k: v[idx] for k, v in bunch.items()})


def _as_float32(bunch):
    """Float arrays to float32 in place (rendering runs in float32)."""
    for k, v in bunch.items():
        if isinstance(v, np.ndarray) and v.dtype == np.float64:
            bunch[k] = v.astype(np.float32)
    return bunch


def make_city_world(n_images=3000, image_size=128, areas="cities35", random_state=None,
                    out_dir=None, render_size=64, photos_per_poi=30,
                    scatter_fraction=0.15, batch_size=256, n_jobs=None, verbose=0, context=False):
    """Generate a synthetic replica of the DGAE paper's 35-area photo set.

    Numbers measured on this replica are **not** the paper's numbers: the
    photos are procedural drawings, built only to exercise the same protocol
    (and the same two difficulties: photos of one place look different, and
    distant places look alike) on real pixels.

    Each area (default: the paper's 35 of Table 1, image counts proportional
    to the paper's) holds POIs with Zipf popularity and spreads from 50 m to
    3 km, plus scattered photos (``scatter_fraction``) anywhere in the area.
    A picture is one of eight scene types shared by every area (park, beach,
    street, skyline, temple, market, mountain, night street — so distant
    areas look alike); the area's style (palette, roof-line, vegetation,
    ground, building width; smooth over the globe, so neighbouring areas
    look alike too) and the POI's motif and skyline carry the location
    signal; nuisances — time of day, weather (overcast, fog), viewpoint
    crop/zoom/flip, horizon tilt, occlusion of the motif, sensor noise, JPEG
    artefacts — make photos of one POI differ.

    Parameters
    ----------
    n_images : int, default=3000
        Number of photos, split over the areas in proportion to their
        ``n_images`` column (largest remainder; small areas may get none).
    image_size : int, default=128
        Side of the square output images, in pixels.
    areas : "cities35", path or sequence of str, default="cities35"
        See :func:`load_areas`.
    random_state : int, RandomState instance or None, default=None
        Everything (places, looks, pixels) is a function of it.
    out_dir : str or path, optional
        When given, photos are written as ``out_dir/images/NNNNNN.jpg`` with
        ``out_dir/photos.csv`` (``path,lat,lon,area,poi,scene``, path
        relative to ``out_dir``) and ``images`` holds the paths.
    render_size : int, default=64
        Resolution the scene is drawn at before upscaling (speed).
    photos_per_poi : float, default=30
        Mean photos per POI; sets the number of POIs of each area.
    scatter_fraction : float, default=0.15
        Fraction of photos that belong to no POI.
    batch_size : int, default=256
        Photos rendered per vectorised batch.
    n_jobs : int, default=None
        Threads rendering batches (-1: all cores); the result does not
        depend on it.
    verbose : int, default=0
        Progress bar when non-zero.
    context : bool, default=False
        Also draw what real Flickr photos carry (from a random stream of its
        own: the photos and every other field are bitwise those of
        ``context=False``): ``time``, the UTC posting time, whose local
        clock (solar time zone round(lon / 15) h) agrees with the rendered
        time of day (day 8-18 h, dusk 6-8 or 18-21 h, night 21-5 h), on
        dates of 2015 where a third of the areas are seasonal (albums near
        local mid-summer) and a third favour weekends; ``album``: runs of
        one area's photos (1 + Poisson(7), at most 24) over a few days;
        ``user``: each album's owner, mostly living in its area, one user in
        five a traveller shooting elsewhere too.  With ``out_dir`` they are
        ``time`` (ISO 8601, ``Z``), ``user`` and ``album`` columns.

    Returns
    -------
    data : Bunch
        ``images``: uint8 array (n, image_size, image_size, 3) RGB, or a list
        of n paths when ``out_dir`` is given; ``gps`` (n, 2) float64 lat/lon;
        ``area`` (n,) str; ``area_id`` (n,) int; ``poi`` (n,) int (-1 for
        scattered photos); ``poi_gps`` (n_pois, 2) and ``poi_area``
        (n_pois,) POI centres and areas; ``scene`` (n,) str; ``scene_id``
        (n,) int; ``area_names`` (n_areas,); ``area_centres`` (n_areas, 2);
        ``DESCR``; with ``context``: ``time`` (n,) datetime64[s] UTC,
        ``user`` and ``album`` (n,) int64.

    Examples
    --------
    >>> d = make_city_world(n_images=40, image_size=32, random_state=0)
    >>> d.images.shape, d.gps.shape, d.images.dtype
    ((40, 32, 32, 3), (40, 2), dtype('uint8'))
    """
    from ..utils import progress

    if int(n_images) != n_images or n_images < 1:
        raise ValueError(f"n_images must be a positive integer, got {n_images!r}")
    if image_size < 8 or render_size < 8:
        raise ValueError("image_size and render_size must be at least 8 pixels")
    if not 0 <= scatter_fraction <= 1:
        raise ValueError(f"scatter_fraction must be in [0, 1], got {scatter_fraction}")
    n_images = int(n_images)
    rng = check_random_state(random_state)
    gen = np.random.default_rng(rng.randint(2**31 - 1))
    table = load_areas(areas)
    counts = proportional_counts(table.n_images, n_images)
    gps, area, poi, poi_gps, poi_area = _place_photos(table, counts, gen, photos_per_poi,
                                                       scatter_fraction)
    styles = _area_styles(table.centre, gen)
    looks = _as_float32(_poi_looks(len(poi_area), poi_area, styles, gen))
    order = gen.permutation(n_images)  # photos not grouped by area
    gps, area, poi = gps[order], area[order], poi[order]
    prm = _as_float32(_photo_params(area, poi, styles, looks, gen))
    styles = _as_float32(styles)
    images = np.empty((n_images, image_size, image_size, 3), np.uint8)
    starts = range(0, n_images, batch_size)
    seeds = gen.integers(2**63 - 1, size=len(starts))  # one noise stream per batch: any order

    def render(s, seed):
        idx = slice(s, s + batch_size)
        bp = _take(prm, idx)
        batch = _render_batch(bp, _take(styles, area[idx]), looks, poi[idx], render_size)
        images[idx] = _finish(batch, bp, image_size, np.random.default_rng(seed))
        return idx.stop - s

    # NumPy and OpenCV release the GIL, so threads share the batches
    with progress(total=n_images, verbose=verbose, desc="rendering", unit="photo") as bar:
        for done in Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
                delayed(render)(s, seed) for s, seed in zip(starts, seeds)):
            bar.update(done)
    data = Bunch(
        images=images, gps=gps, area=table.name[area], area_id=area, poi=poi,
        poi_gps=poi_gps, poi_area=poi_area, scene=np.array(SCENES)[prm.scene],
        scene_id=prm.scene, area_names=table.name, area_centres=table.centre,
        DESCR="Synthetic replica of the DGAE paper's 35-area set (procedural; "
              "numbers on it are not the paper's).",
    )
    if context:
        from ._city_context import make_context

        weights = np.bincount(area, minlength=len(table.name)).astype(np.float64)
        data.time, data.user, data.album = make_context(
            area, gps[:, 1], prm.tod, table.centre[:, 0], weights,
            np.random.default_rng(rng.randint(2**31 - 1)))
    if out_dir is not None:
        data.images = _write(data, Path(out_dir))
    return data


def _write(data, out):
    """Write the photos as JPEGs plus photos.csv; returns the list of paths."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    paths = []
    with open(out / "photos.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        context = "time" in data
        w.writerow(["path", "lat", "lon", "area", "poi", "scene"]
                   + (["time", "user", "album"] if context else []))
        for i, im in enumerate(data.images):
            rel = f"images/{i:06d}.jpg"
            # already JPEG-degraded: write at high quality so the artefacts are the generator's
            cv2.imwrite(str(out / rel), im[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            w.writerow([rel, repr(float(data.gps[i, 0])), repr(float(data.gps[i, 1])),
                        data.area[i], int(data.poi[i]), data.scene[i]]
                       + ([f"{data.time[i]}Z", f"u{data.user[i]}", f"a{data.album[i]}"]
                          if context else []))
            paths.append(str(out / rel))
    return paths
