"""Reading CSV tables: the one place that opens a CSV (a base module: imports nothing from dgae).

The standard library's reader (pandas is not a dependency); UTF-8 with or without a byte-order
mark, header names stripped.
"""
import csv
import os


def read_table(source, required=(), name=None, header_marker=None):
    """``(columns, rows)`` of a CSV with a header.

    Parameters
    ----------
    source : str, os.PathLike or list of str
        A file, or the table's lines.
    required : sequence of str
        Columns that must be present.
    name : str, optional
        How errors name the table (default: the file name).
    header_marker : str, optional
        Lines before the first one containing this (case-insensitive) are a
        preamble and skipped (tables that start with notes).

    Returns
    -------
    columns : list of str
    rows : list of dict (column -> str)

    Raises
    ------
    ValueError
        A required column is missing (naming the table and its columns).

    Examples
    --------
    >>> read_table(["path, lat ,lon", "a.jpg,1,2"], required=["lat"])
    (['path', 'lat', 'lon'], [{'path': 'a.jpg', 'lat': '1', 'lon': '2'}])
    >>> read_table(["n: 3", "id,LAT", "7,1.5"], header_marker="lat")[1]
    [{'id': '7', 'LAT': '1.5'}]
    """
    if isinstance(source, (str, bytes, os.PathLike)):
        name = name or os.fspath(source)
        # utf-8-sig: a byte-order mark, as spreadsheets write one, is not part of the first name
        with open(source, newline="", encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
    else:
        name, lines = name or "table", list(source)
    if header_marker is not None:
        marker = header_marker.lower()
        start = next((i for i, line in enumerate(lines) if marker in line.lower()), None)
        if start is None:
            raise ValueError(f"{name}: no header line containing {header_marker!r}")
        lines = lines[start:]
    reader = csv.DictReader(lines)
    columns = [c.strip() for c in reader.fieldnames or []]
    rows = [{k.strip(): v for k, v in r.items() if k} for r in reader]
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing} (columns: {columns})")
    return columns, rows


def comma_ints(text):
    """``"512, 128"`` -> ``(512, 128)`` (layer widths and the like).

    Examples
    --------
    >>> comma_ints("512, 128,")
    (512, 128)
    """
    return tuple(int(v) for v in str(text).split(",") if v.strip())


def comma_floats(text):
    """``"0.1, 1, 5"`` -> ``(0.1, 1.0, 5.0)`` (thresholds and the like).

    Examples
    --------
    >>> comma_floats("0.1, 1,5")
    (0.1, 1.0, 5.0)
    """
    return tuple(float(v) for v in str(text).split(",") if v.strip())


def conflicting_rows(rows, key="path", values=("lat", "lon"), limit=3):
    """Keys listed more than once with different values, as a short text (None when none).

    Parameters
    ----------
    rows : list of dict
        As :func:`read_table` returns them (data line ``i`` is file line ``i + 2``).
    key : str
    values : sequence of str
    limit : int
        Keys named in the text at most.

    Returns
    -------
    text : str or None

    Examples
    --------
    >>> rows = [{"path": "a.jpg", "lat": "1", "lon": "2"}, {"path": "b.jpg", "lat": "1", "lon": "2"},
    ...         {"path": "a.jpg", "lat": "5", "lon": "2"}]
    >>> conflicting_rows(rows)
    "1 path(s) listed twice or more with different lat, lon: 'a.jpg' on lines 2, 4"
    >>> conflicting_rows(rows[:2]) is None
    True
    """
    seen = {}
    for i, row in enumerate(rows):
        seen.setdefault(row.get(key), []).append((i + 2, tuple(row.get(v) for v in values)))
    bad = {k: [line for line, _ in hits] for k, hits in seen.items()
           if len({vals for _, vals in hits}) > 1}
    if not bad:
        return None
    named = "; ".join(f"{k!r} on lines {', '.join(map(str, lines))}"
                      for k, lines in list(bad.items())[:limit])
    more = f" (and {len(bad) - limit} more)" if len(bad) > limit else ""
    return (f"{len(bad)} {key}(s) listed twice or more with different {', '.join(values)}: "
            f"{named}{more}")
