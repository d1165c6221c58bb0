"""Each Im2GPS block against an independent reference."""
import numpy as np
import pytest
from scipy import ndimage
from skimage.color import rgb2lab

from dgae.features import Im2GPSDescriptor
from dgae.features._blocks import (
    EDGE_LENGTH_EDGES, LAB_BINS, LAB_RANGES, WORK, Views, edge_histogram, gabor_energy_grid,
    gabor_transfer, grid_means, line_segments, nearest_centre, texton_histogram, texton_responses,
)


def _raw(img, *names):
    """Unscaled blocks of one image through the public transformer."""
    d = Im2GPSDescriptor(descriptors=names, hellinger=False, normalize_blocks=False).fit([img])
    row = d.transform([img])[0]
    return {n: row[s] for n, s in d.feature_slices_.items()}


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return np.kron(small, np.ones((8, 8, 1), np.uint8))  # 256 x 256, blocky colours


# ----------------------------------------------------------------- thumbnails
def test_thumbnails_equal_direct_area_averages(photo):
    got = _raw(photo, "tiny5", "tiny16")
    x = photo.astype(np.float64) / 255
    tiny16 = x.reshape(16, 16, 16, 16, 3).mean(axis=(1, 3))
    # 256 / 5 is fractional: repeat every pixel 5 times, then 5 x 5 blocks of 256 are exact areas
    up = np.repeat(np.repeat(x, 5, axis=0), 5, axis=1)
    tiny5 = up.reshape(5, 256, 5, 256, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(got["tiny16"], tiny16.ravel(), atol=1e-5)
    np.testing.assert_allclose(got["tiny5"], tiny5.ravel(), atol=1e-5)


def test_thumbnail_of_a_larger_photo_is_the_area_average_of_the_original():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    got = _raw(img, "tiny16")["tiny16"]
    ref = (img.astype(np.float64) / 255).reshape(16, 32, 16, 32, 3).mean(axis=(1, 3))
    # one uint8 resize to the 256 canvas on the way: rounding error <= 0.5 / 255 per pixel
    np.testing.assert_allclose(got, ref.ravel(), atol=2.5e-3)


# -------------------------------------------------------------- Lab histogram
@pytest.mark.parametrize("seed", [0, 1])
def test_lab_histogram_matches_skimage_and_histogramdd(seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (WORK, WORK, 3), dtype=np.uint8)
    got = _raw(img, "lab_hist")["lab_hist"]
    lab = rgb2lab(img).reshape(-1, 3)
    edges = [np.linspace(lo, hi, n + 1) for n, (lo, hi) in zip(LAB_BINS, LAB_RANGES)]
    for c, e in enumerate(edges):  # out-of-range values count in the end bins
        lab[:, c] = np.clip(lab[:, c], e[0], e[-1] - 1e-9)
    ref, _ = np.histogramdd(lab, bins=edges)
    ref = ref.ravel() / len(lab)
    assert got.shape == (784,) and got.sum() == pytest.approx(1.0)
    # OpenCV's float Lab differs from skimage's by < 0.5 units: only pixels that close to a
    # bin edge may fall in another bin, each moving 2 / n of L1 mass
    near = np.zeros(len(lab), bool)
    for c, e in enumerate(edges):
        near |= (np.abs(lab[:, c, None] - e[None, 1:-1]) < 0.5).any(axis=1)
    assert np.abs(got - ref).sum() <= 2 * near.mean()
    assert np.abs(got - ref).sum() < 0.05


# ----------------------------------------------------------------------- gist
def _spatial_gist(img, pad, grid):
    """Reference: spatial-domain circular convolution with the same (complex) Gabor kernels."""
    padded = np.pad(img.astype(np.float64), pad, mode="symmetric")
    h, w = img.shape
    bank = gabor_transfer(padded.shape)
    ry = np.floor(np.linspace(0, h, grid + 1)).astype(int)
    rx = np.floor(np.linspace(0, w, grid + 1)).astype(int)
    out = []
    for transfer in bank:
        kernel = np.fft.fftshift(np.fft.ifft2(transfer))  # centre at (H//2, W//2), ndimage's origin
        re = ndimage.convolve(padded, kernel.real, mode="wrap")
        im = ndimage.convolve(padded, kernel.imag, mode="wrap")
        energy = np.hypot(re, im)[pad:pad + h, pad:pad + w]
        out.append([[energy[ry[i]:ry[i + 1], rx[j]:rx[j + 1]].mean() for j in range(grid)]
                    for i in range(grid)])
    return np.asarray(out).ravel()


@pytest.mark.parametrize("shape,pad,grid", [((20, 20), 4, 5), ((18, 24), 3, 4)])
def test_fft_gist_matches_spatial_convolution(shape, pad, grid):
    img = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    got = gabor_energy_grid(img, pad=pad, grid=grid)
    np.testing.assert_allclose(got, _spatial_gist(img, pad, grid), rtol=1e-4, atol=1e-5)


def test_gabor_bank_peaks_at_its_centre_frequency_and_orientation():
    bank = gabor_transfer((64, 64))
    fy, fx = np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij")
    for k in (0, 6, 12, 18):  # orientation 0 of each scale: peak on the +x axis at 0.3 / 1.85^s
        i = np.unravel_index(np.argmax(bank[k]), bank[k].shape)
        assert fy[i] == 0 and fx[i] > 0
        assert abs(fx[i] - 0.3 / 1.85 ** (k // 6)) <= 1 / 64


def test_grid_means_against_loops():
    maps = np.random.default_rng(3).random((2, 13, 11))
    got = grid_means(maps, 5)
    ry, rx = np.floor(np.linspace(0, 13, 6)).astype(int), np.floor(np.linspace(0, 11, 6)).astype(int)
    for i in range(5):
        for j in range(5):
            np.testing.assert_allclose(got[:, i, j], maps[:, ry[i]:ry[i + 1], rx[j]:rx[j + 1]].mean(axis=(1, 2)))


# -------------------------------------------------------------------- textons
def test_nearest_centre_equals_brute_force():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3000, 8)).astype(np.float32)
    c = rng.standard_normal((64, 8)).astype(np.float32)
    d = ((x[:, None, :].astype(np.float64) - c[None]) ** 2).sum(-1)
    got = nearest_centre(x, c, chunk=700)
    ref = d.argmin(axis=1)
    mismatch = got != ref
    # float32 GEMM may only disagree on (near) ties
    assert np.all(d[mismatch, got[mismatch]] - d[mismatch, ref[mismatch]] < 1e-4)
    assert mismatch.mean() < 0.001
    np.testing.assert_allclose(texton_histogram(x, c), np.bincount(got, minlength=64) / 3000)


def test_texton_responses_are_rotation_invariant():
    img = np.random.default_rng(5).random((64, 64)).astype(np.float32)
    img = ndimage.gaussian_filter(img, 2)
    a = texton_responses(img, stride=1).reshape(64, 64, 8)
    b = texton_responses(np.rot90(img).copy(), stride=1).reshape(64, 64, 8)
    inner = slice(16, 48)  # away from the borders
    np.testing.assert_allclose(np.rot90(a)[inner, inner], b[inner, inner], atol=1e-4)


@pytest.fixture
def photos():
    rng = np.random.default_rng(6)
    return [ndimage.zoom(rng.integers(0, 256, (12, 16, 3)), (4, 4, 1), order=1).astype(np.uint8)
            for _ in range(4)]


def test_texton_fit_is_deterministic(photos):
    def fit(seed):
        return Im2GPSDescriptor(descriptors=("texton",), n_textons=8, random_state=seed).fit(photos).textons_

    a, b, c = fit(0), fit(0), fit(1)
    assert a.shape == (8, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_texton_block_is_histogram_of_brute_force_nearest_textons(photos):
    d = Im2GPSDescriptor(descriptors=("texton",), n_textons=8, hellinger=False,
                         normalize_blocks=False, random_state=0).fit(photos)
    resp = Views(photos[0]).texton_responses
    labels = ((resp[:, None, :].astype(np.float64) - d.textons_[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_allclose(d.transform(photos[:1])[0], np.bincount(labels, minlength=8) / len(labels),
                               atol=2 / len(labels))


# ----------------------------------------------------------------- line edges
@pytest.mark.parametrize("angle_deg,length", [(0, 10), (22.5, 3), (90, 50), (135, 170), (179, 1.0)])
def test_edge_histogram_bins_against_direct_rule(angle_deg, length):
    t = np.radians(angle_deg)
    seg = np.array([[5, 5, 5 + length * np.cos(t), 5 + length * np.sin(t)]])
    h = edge_histogram(seg).reshape(8, 29)
    o = int(round(angle_deg / 22.5)) % 8
    ln = min(max(np.searchsorted(EDGE_LENGTH_EDGES, length, side="right") - 1, 0), 28)
    assert h[o, ln] == pytest.approx(1.0)


def test_edge_histogram_of_a_photo_with_vertical_stripes():
    img = np.zeros((200, 300, 3), np.uint8)
    img[:, 100:200] = 255  # two long vertical edges
    h = _raw(img, "edge_hist")["edge_hist"].reshape(8, 29)
    assert h[4].sum() > 0.9  # orientation bin of 90 degrees
    assert h[:, -10:].sum() > 0.9  # long segments


def test_flat_photo_has_no_lines():
    assert len(line_segments(np.full((64, 64), 128, np.uint8))) == 0
    assert not edge_histogram(np.zeros((0, 4))).any()
