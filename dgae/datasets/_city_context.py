"""What real Flickr photos carry beside pixels, for the synthetic replica: posting time, user, album.

Drawn from a random stream of its own, so the photos themselves do not change
with ``make_city_world(context=True)``.
"""
import numpy as np

#: Mean photos per album beyond the first, and the most an album holds (the mesh paper's 24).
ALBUM_EXTRA_MEAN, ALBUM_MAX = 7, 24
#: Share of users who also shoot outside their home area.
TRAVELLER_SHARE = 0.2
#: Day of the year (2015) when the replica's calendar starts.
EPOCH = np.datetime64("2015-01-01T00:00:00", "s")

#: Local hours (start, end) of each rendered time of day: day, dusk (dawn or evening), night.
_HOURS = {0: ((8.0, 18.0),), 1: ((6.0, 8.0), (18.0, 21.0)), 2: ((21.0, 24.0), (0.0, 5.0))}


def albums(area, rng):
    """Albums: consecutive runs of each area's photos (1 + Poisson(7) photos, at most 24).

    Returns
    -------
    album : ndarray of shape (n,), int64 (album ids 0 .. n_albums - 1)
    album_area : ndarray of shape (n_albums,)
    """
    album = np.empty(len(area), np.int64)
    album_area, next_id = [], 0
    for a in np.unique(area):
        idx = np.flatnonzero(area == a)
        start = 0
        while start < len(idx):
            size = min(1 + rng.poisson(ALBUM_EXTRA_MEAN), ALBUM_MAX)
            album[idx[start:start + size]] = next_id
            album_area.append(a)
            next_id, start = next_id + 1, start + size
    return album, np.array(album_area)


def owners(album_area, area_weights, rng):
    """A user for each album: mostly one whose home is the album's area, sometimes a traveller."""
    n_users = max(1, len(album_area) // 3)
    home = rng.choice(len(area_weights), size=n_users, p=area_weights / area_weights.sum())
    traveller = np.flatnonzero(rng.uniform(size=n_users) < TRAVELLER_SHARE)
    user = np.empty(len(album_area), np.int64)
    for i, a in enumerate(album_area):
        locals_ = np.flatnonzero(home == a)
        pool = traveller if (len(locals_) == 0 or rng.uniform() < TRAVELLER_SHARE) else locals_
        user[i] = rng.choice(pool if len(pool) else np.arange(n_users))
    return user


def album_days(album_area, area_lat, rng):
    """First day (0 .. 364) of each album: some areas seasonal (local summer), some weekend-bound."""
    n_areas = len(area_lat)
    seasonal = rng.uniform(size=n_areas) < 1 / 3
    weekend = rng.uniform(size=n_areas) < 1 / 3
    day = rng.integers(0, 365, size=len(album_area))
    summer = np.where(area_lat[album_area] >= 0, 196, 15)          # mid-July / mid-January
    peaked = (summer + np.round(rng.normal(0, 25, len(album_area)))).astype(np.int64) % 365
    day = np.where(seasonal[album_area], peaked, day)
    # 2015-01-01 was a Thursday: day d is a Saturday when (d + 4) % 7 == 6
    to_saturday = (6 - (day + 4) % 7) % 7
    shift = weekend[album_area] & (rng.uniform(size=len(album_area)) < 0.7)
    return np.where(shift, (day + to_saturday) % 365, day)


def local_hours(tod, rng):
    """A local clock hour (float) consistent with each photo's rendered time of day."""
    hours = np.empty(len(tod))
    for t, windows in _HOURS.items():
        idx = np.flatnonzero(tod == t)
        pick = rng.integers(0, len(windows), size=len(idx))
        lo = np.array([w[0] for w in windows])[pick]
        hi = np.array([w[1] for w in windows])[pick]
        hours[idx] = rng.uniform(lo, hi)
    return hours


def make_context(area, lon, tod, area_lat, area_weights, rng):
    """Posting time (UTC), user and album of each photo.

    Parameters
    ----------
    area : ndarray of shape (n,), int
    lon : ndarray of shape (n,)
        Longitude of each photo (its solar time zone: round(lon / 15) hours).
    tod : ndarray of shape (n,), int
        Rendered time of day (0 day, 1 dusk, 2 night).
    area_lat, area_weights : ndarray of shape (n_areas,)
    rng : numpy.random.Generator

    Returns
    -------
    time : ndarray of shape (n,), datetime64[s] (UTC)
    user, album : ndarray of shape (n,), int64
    """
    album, album_area = albums(area, rng)
    user = owners(album_area, area_weights, rng)[album]
    first = album_days(album_area, area_lat, rng)
    day = first[album] + rng.poisson(1.0, size=len(area))          # albums span a few days
    local = day * 86400 + np.round(local_hours(tod, rng) * 3600)
    utc = local - np.round(lon / 15.0) * 3600
    return EPOCH + utc.astype("timedelta64[s]"), user, album
