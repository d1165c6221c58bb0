"""Posting / capture times: EXIF ``DateTimeOriginal`` and CSV ``time`` columns, as UTC datetime64.

Convention: a time with a known offset (EXIF ``OffsetTimeOriginal`` /
``OffsetTime``, or an ISO string with ``Z`` / ``+hh:mm``) is converted to UTC.
A time without one is a *naive local* clock reading and is kept as it reads;
``dgae.TimeRefiner`` then takes its hour as it would a UTC hour, so a
collection should not mix the two kinds (the refiner learns whichever it is
given; mixed, the hour means two things).
"""
import datetime as _dt

import numpy as np

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _DATETIME = 36867, 306
_OFFSET_ORIGINAL, _OFFSET = 36881, 36880


def read_exif(path):
    """A photo's EXIF (``PIL.Image.Exif``, empty when it has none); a missing or unreadable
    file raises ``ValueError`` naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)   # read the sub-IFDs while open
            return exif
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None


def _parse_offset(text):
    """'+02:00' / '-0530' -> timedelta, or None."""
    text = (text.decode("ascii", "ignore") if isinstance(text, bytes) else str(text)).strip()
    if len(text) < 5 or text[0] not in "+-":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[-2:])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    sign = 1 if text[0] == "+" else -1
    return sign * _dt.timedelta(hours=hours, minutes=minutes)


def read_exif_datetime(path):
    """When a photo was taken, from its EXIF, or ``None`` when it does not say.

    ``DateTimeOriginal`` (else ``DateTime``); with ``OffsetTimeOriginal`` (else
    ``OffsetTime``) the result is timezone-aware and in UTC, without one it is
    naive local time (see the module's convention).  Missing or malformed
    tags give ``None``.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    time : datetime.datetime or None

    Raises
    ------
    ValueError
        The file is missing or is not an image Pillow can read.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "a.jpg")
    >>> exif = Image.Exif()
    >>> exif.get_ifd(0x8769).update({36867: "2021:07:04 18:30:00", 36881: "+02:00"})
    >>> Image.new("RGB", (4, 4)).save(p, exif=exif)
    >>> read_exif_datetime(p).isoformat()
    '2021-07-04T16:30:00+00:00'
    """
    exif = read_exif(path)
    sub = exif.get_ifd(EXIF_IFD)
    stamp = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not stamp:
        return None
    try:
        stamp = stamp.decode("ascii") if isinstance(stamp, bytes) else str(stamp)
        when = _dt.datetime.strptime(stamp.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except (ValueError, UnicodeDecodeError):
        return None
    offset = _parse_offset(sub.get(_OFFSET_ORIGINAL) or sub.get(_OFFSET) or "")
    if offset is None:
        return when
    return (when - offset).replace(tzinfo=_dt.timezone.utc)


def to_datetime64(value):
    """One time (datetime, ISO string, datetime64, '' / None) -> datetime64[s], UTC when it had an offset.

    Examples
    --------
    >>> str(to_datetime64("2021-07-04T18:30:00+02:00")), str(to_datetime64(""))
    ('2021-07-04T16:30:00', 'NaT')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return np.datetime64("NaT", "s")
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[s]")
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return np.datetime64(value, "s")


def parse_times(values, where="time"):
    """A column of times -> datetime64[s] array (NaT where empty); errors name the row.

    Examples
    --------
    >>> parse_times(["2015-01-04T10:00:00Z", ""]).tolist()[1] is None
    True
    """
    out = np.empty(len(values), dtype="datetime64[s]")
    for i, v in enumerate(values):
        try:
            out[i] = to_datetime64(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where} row {i}: {exc}") from None
    return out
