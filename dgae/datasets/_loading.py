"""Loading geotagged photo collections (CSV or EXIF) and the shared data sets."""
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..utils import check_gps, conflicting_rows, read_table, warn
from ._time import GPS_IFD, parse_times, read_exif, read_exif_datetime, to_datetime64

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


def _to_degrees(dms, ref):
    """EXIF (degrees, minutes, seconds) rationals and an N/S/E/W ref → signed degrees."""
    vals = [float(v) for v in (dms if isinstance(dms, (tuple, list)) else (dms,))]
    vals += [0.0] * (3 - len(vals))
    deg = vals[0] + vals[1] / 60.0 + vals[2] / 3600.0
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    ref = (ref or "").strip().upper()[:1]
    if ref in ("S", "W"):
        deg = -deg
    return deg


def read_exif_gps(path):
    """GPS position stored in a photo's EXIF, or ``None`` when it has none.

    Degrees/minutes/seconds rationals and the N/S/E/W references are handled.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    gps : tuple of float ``(lat, lon)`` or None

    Raises
    ------
    ValueError
        The file is missing or is not an image Pillow can read.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "a.jpg")
    >>> Image.new("RGB", (4, 4)).save(p)
    >>> read_exif_gps(p) is None
    True
    """
    gps = read_exif(path).get_ifd(GPS_IFD)
    if not gps or 2 not in gps or 4 not in gps:
        return None
    try:
        lat = _to_degrees(gps[2], gps.get(1, "N"))
        lon = _to_degrees(gps[4], gps.get(3, "E"))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not (np.isfinite(lat) and np.isfinite(lon) and abs(lat) <= 90):
        return None
    return lat, lon


def _check_image(path, where):
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise ValueError(f"{where}: file not found: {path}")
    try:
        with Image.open(path):
            pass  # reads the header only
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{where}: not a readable image: {path} ({exc})") from None


def _column(values):
    """A CSV column as a float array when every value parses, else as strings."""
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=object)


def _read_csv(csv_path, root, check_images):
    columns, rows = read_table(csv_path, required=("path", "lat", "lon"))
    conflict = conflicting_rows(rows)
    if conflict:
        warn(f"{csv_path}: {conflict}")
    paths, gps = [], []
    for i, row in enumerate(rows):
        where = f"{csv_path} row {i + 2}"  # line number, header is line 1
        try:
            gps.append((float(row["lat"]), float(row["lon"])))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: bad lat/lon {row['lat']!r}, {row['lon']!r}") from None
        p = row["path"]
        p = str(p if os.path.isabs(p) else Path(root) / p)
        if check_images:
            _check_image(p, where)
        paths.append(p)
    try:
        gps = check_gps(np.array(gps, dtype=np.float64).reshape(-1, 2))
    except ValueError as exc:
        raise ValueError(f"{csv_path}: {exc} (data row numbering from 0)") from None
    extra = [c for c in columns if c not in ("path", "lat", "lon")]
    frame = {c: _column([r[c] for r in rows]) for c in extra}
    context = {c: np.array([r[c] for r in rows], dtype=object) for c in ("user", "album")
               if c in columns}
    context["time"] = (parse_times([r["time"] for r in rows], where=str(csv_path))
                       if "time" in columns else _exif_times(paths))
    return paths, gps, frame, context


def _exif_times(paths):
    """EXIF capture times (NaT where a photo does not say; see ``read_exif_datetime``)."""
    out = np.full(len(paths), np.datetime64("NaT"), dtype="datetime64[s]")
    for i, p in enumerate(paths):
        try:
            when = read_exif_datetime(p)
        except ValueError:
            continue
        if when is not None:
            out[i] = to_datetime64(when)
    return out


def _scan_exif(root):
    paths, gps, no_gps = [], [], []
    for p in sorted(Path(root).rglob("*")):
        if not p.is_file() or p.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        pos = read_exif_gps(p)
        if pos is None:
            no_gps.append(str(p))
        else:
            paths.append(str(p))
            gps.append(pos)
    if no_gps:
        shown = ", ".join(no_gps[:10]) + (" ..." if len(no_gps) > 10 else "")
        warn(f"{len(no_gps)} photo(s) without EXIF GPS left out: {shown}", UserWarning)
    return (paths, check_gps(np.array(gps, dtype=np.float64).reshape(-1, 2)), {},
            {"time": _exif_times(paths)})


def load_geotagged(root, table=None, check_images=True):
    """Load a folder of geotagged photos.

    With a CSV (columns ``path,lat,lon`` and any extra ones such as ``area``,
    ``user``, ``location_id``), positions come from it and ``path`` is relative
    to ``root`` (or absolute).  Without one, every image under ``root`` is read
    and its position taken from EXIF; photos without GPS are listed in a
    warning and left out.

    Parameters
    ----------
    root : str or PathLike
        Folder of the photos.
    table : str or PathLike, optional
        The photo table (a CSV); a bare file name is looked up in ``root``.
    check_images : bool, default=True
        Open each listed file's header to check it is an image (cheap; no
        decoding).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``paths`` (list of str, n), ``gps`` ndarray (n, 2) float64,
        ``frame`` (dict column -> ndarray (n,) of the extra CSV columns;
        float when every value parses, else object), ``root`` (Path);
        ``time`` ndarray (n,) datetime64[s]: the CSV's ``time`` column (ISO
        8601; UTC when it carries an offset, else naive local -- see
        :mod:`dgae.datasets._time`) or, without one, each photo's EXIF
        capture time (NaT where unknown); ``user`` and ``album`` (n,) str
        arrays from the columns of those names, or None.  ``time``, ``user``
        and ``album`` stay in ``frame`` too.

    Raises
    ------
    ValueError
        Missing file, non-image, bad row or missing column; the message names
        the file and the CSV line.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> Image.new("RGB", (4, 4)).save(os.path.join(d, "a.jpg"))
    >>> _ = open(os.path.join(d, "p.csv"), "w").write("path,lat,lon,area\\na.jpg,45.8,15.9,zagreb\\n")
    >>> data = load_geotagged(d, "p.csv")
    >>> data.gps.tolist(), data.frame["area"].tolist()
    ([[45.8, 15.9]], ['zagreb'])
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    if table is not None:
        csv_path = Path(table)
        if not csv_path.is_file() and (root / csv_path).is_file():
            csv_path = root / csv_path
        if not csv_path.is_file():
            raise ValueError(f"{table}: CSV file not found")
        paths, gps, frame, context = _read_csv(csv_path, root, check_images)
    else:
        paths, gps, frame, context = _scan_exif(root)
    return Bunch(paths=paths, gps=gps, frame=frame, root=root, time=context["time"],
                 user=context.get("user"), album=context.get("album"))


def shared_data_dir():
    """The team's shared data folder, or ``None`` when it is absent.

    Looked up in ``$DGAE_SHARED_DATA``, then ``../shared/data`` beside the
    source checkout, then ``../shared/data`` from the working directory.

    Examples
    --------
    >>> d = shared_data_dir()
    >>> d is None or d.is_dir()
    True
    """
    candidates = [os.environ.get("DGAE_SHARED_DATA")]
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    candidates.append(Path.cwd().parent / "shared" / "data")
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def _coordinates_csv(path):
    """A coordinates table (``LAT,LON`` / ``lat,lon`` columns, any others kept)."""
    _, rows = read_table(path, header_marker="lat")  # skip preambles
    cols = {c.lower(): c for c in rows[0]} if rows else {}
    lat = cols.get("lat") or cols.get("latitude_mean") or cols.get("latitude")
    lon = cols.get("lon") or cols.get("longitude_mean") or cols.get("longitude")
    if lat is None or lon is None:
        raise ValueError(f"{path}: no latitude/longitude columns")
    gps = check_gps([(float(r[lat]), float(r[lon])) for r in rows])
    frame = {c: _column([r[c] for r in rows]) for c in rows[0] if c not in (lat, lon)}
    return Bunch(gps=gps, frame=frame, path=Path(path))


def load_shared(name):
    """Load a data set of the shared data folder by name.

    Parameters
    ----------
    name : str
        A photo folder holding ``photos.csv`` (``"croatia_streetview"``) or a
        coordinates CSV without its extension (``"cities35"``,
        ``"gps/mp16_coordinates_100k"``, ``"gps/im2gps3k_places365"``,
        ``"gps/cells_50_1000"`` ...).

    Returns
    -------
    data : sklearn.utils.Bunch
        For a photo folder as :func:`load_geotagged`; for a coordinates CSV
        ``gps`` (n, 2) and ``frame`` (the other columns).

    Raises
    ------
    FileNotFoundError
        The shared folder or the named set is absent (tests skip on it).

    Examples
    --------
    >>> try:
    ...     data = load_shared("cities35")
    ... except FileNotFoundError:
    ...     pass
    """
    base = shared_data_dir()
    if base is None:
        raise FileNotFoundError("the shared data folder (../shared/data or $DGAE_SHARED_DATA) is absent")
    folder, table = base / name, base / f"{name}.csv"
    if (folder / "photos.csv").is_file():
        return load_geotagged(folder, folder / "photos.csv")
    if table.is_file():
        return _coordinates_csv(table)
    raise FileNotFoundError(f"no shared data set named {name!r} under {base}")


def load_croatia_streetview():
    """The 800 Croatian street-level photos (200 places × 4 headings).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``paths``, ``gps`` (800, 2), ``frame`` with ``location_id`` and
        ``heading``.

    Raises
    ------
    FileNotFoundError
        When the shared data folder is absent.

    Examples
    --------
    >>> try:
    ...     len(load_croatia_streetview().paths)
    ... except FileNotFoundError:
    ...     800
    800
    """
    return load_shared("croatia_streetview")
