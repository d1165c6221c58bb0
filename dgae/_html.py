"""``dgae report``'s page: one self-contained HTML file a person reads, offline.

Everything is inside the file: figures and thumbnails as base64 ``data:`` URIs, the style
and a small script that sorts the table (no CDN, no map tiles, nothing fetched).  What it
shows: the accuracy table at the gallery's thresholds, the error curves, the map (coastlines
from :mod:`dgae._coastlines`), the confidence's reliability, and one row per photo --
thumbnail, truth, prediction, place name, error, confidence, top-k -- each linking out to
the location on OpenStreetMap.
"""
import base64
import datetime
import html
import io
import os
from pathlib import Path

import numpy as np

from ._metrics import DEFAULT_THRESHOLDS_KM
from ._places import place_labels
from ._report import accuracy_table, truth_by_path
from .utils import read_table
from ._version import __version__

#: Where a row's "map" link points (a public map site; the page itself loads nothing).
OSM_URL = "https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map={zoom}/{lat:.5f}/{lon:.5f}"
THUMB_PX = 112


def _floats(rows, column):
    out = np.full(len(rows), np.nan)
    for i, r in enumerate(rows):
        try:
            out[i] = float(r.get(column) or "nan")
        except ValueError:
            raise ValueError(f"line {i + 2}: {column} is not a number: {r.get(column)!r}") from None
    return out


def read_report_rows(predictions, truth=None):
    """The predictions CSV as columns: paths, truth (NaN where unknown), prediction, ...

    Parameters
    ----------
    predictions : str or path
        ``dgae predict`` output (``path,pred_lat,pred_lon,...``) or any CSV with
        ``pred_lat,pred_lon`` and optionally ``lat,lon``, ``method``.
    truth : str or path, optional
        CSV with ``path,lat,lon`` joined on ``path`` (rows without one keep NaN truth).

    Returns
    -------
    table : dict
        ``path`` (list of str), ``truth`` and ``pred`` (n, 2), ``confidence``,
        ``confidence_seen`` (NaN where the CSV has none), ``confidence_km``, ``method``,
        ``error`` (list of str), ``topk`` (n, k, 2).
    """
    columns, rows = read_table(predictions, required=["pred_lat", "pred_lon"])
    n = len(rows)
    if not n:
        raise ValueError(f"{predictions}: no prediction rows")
    true = np.c_[_floats(rows, "lat"), _floats(rows, "lon")]
    if truth is not None:
        known = truth_by_path(truth)
        for i, r in enumerate(rows):
            if r.get("path") in known:
                true[i] = [float(known[r["path"]][c]) for c in ("lat", "lon")]
    k = sum(1 for c in columns if c.startswith("top") and c.endswith("_lat"))
    topk = np.stack([np.c_[_floats(rows, f"top{j + 1}_lat"), _floats(rows, f"top{j + 1}_lon")]
                     for j in range(k)], axis=1) if k else np.zeros((n, 0, 2))
    return {"path": [r.get("path", str(i)) for i, r in enumerate(rows)], "truth": true,
            "pred": np.c_[_floats(rows, "pred_lat"), _floats(rows, "pred_lon")],
            "confidence": _floats(rows, "confidence"),
            "confidence_seen": _floats(rows, "confidence_seen"),
            "confidence_km": _floats(rows, "confidence_km"),
            "method": [r.get("method") or "" for r in rows],
            "error": [r.get("error") or "" for r in rows], "topk": topk}


def _png(fig):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _thumbnail(path, roots):
    """A JPEG data URI of the photo (EXIF-rotated), or "" when it cannot be found or read."""
    from PIL import Image, ImageOps

    for root in roots:
        full = path if os.path.isabs(path) or root is None else os.path.join(root, path)
        if os.path.isfile(full):
            try:
                with Image.open(full) as im:
                    im = ImageOps.exif_transpose(im).convert("RGB")
                    im.thumbnail((THUMB_PX, THUMB_PX))
                    buf = io.BytesIO()
                    im.save(buf, format="JPEG", quality=70)
                return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            except OSError:
                return ""
    return ""


def _figures(t, errors, has, by_method, thresholds):
    """{name: data URI} of the error curves, the map and the reliability plot (rows ``has``
    a truth and a prediction; ``by_method``: their errors per method)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import reliability
    from .plotting import plot_error_curves, plot_prediction_map

    figs = {}
    if has.any():
        ax = plot_error_curves(by_method, marks_km=thresholds)
        figs["Error curves"] = _png(ax.figure)
        fig, ax = plt.subplots(figsize=(8, 5))
        plot_prediction_map(t["truth"][has], t["pred"][has], ax=ax, thresholds_km=thresholds)
        figs["Map: truth → prediction"] = _png(fig)
        km = t["confidence_km"][has]
        columns = {c: t[c][has] for c in ("confidence", "confidence_seen")
                   if np.isfinite(t[c][has]).any()}
        if columns and np.isfinite(km).any():
            fig, ax = plt.subplots(figsize=(4.8, 4.2))
            ax.plot([0, 1], [0, 1], color="0.6", ls=":", label="calibrated")
            for column, conf in columns.items():
                ok = np.isfinite(conf) & np.isfinite(km)
                table = reliability(conf[ok], errors[has][ok] <= km[ok], n_bins=5)
                filled = table["count"] > 0
                ax.plot(table["predicted"][filled], table["observed"][filled], "o-",
                        label=f"observed, by {column}")
                for x, y, c in zip(table["predicted"][filled], table["observed"][filled],
                                   table["count"][filled]):
                    ax.annotate(str(c), (x, y), textcoords="offset points", xytext=(4, -10),
                                fontsize="small")
            ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability",
                   ylabel=f"fraction within {np.nanmedian(km):g} km",
                   title="Reliability of the confidence")
            ax.legend(loc="upper left", fontsize="small")
            figs["Reliability"] = _png(fig)
    elif np.isfinite(t["pred"]).all(1).any():
        fig, ax = plt.subplots(figsize=(8, 5))
        pred = t["pred"][np.isfinite(t["pred"]).all(1)]
        plot_prediction_map(pred, pred, ax=ax, colorbar=False)
        figs["Map: predictions"] = _png(fig)
    return figs


def _cell(text, value=None, cls=None):
    attrs = "" if value is None else f' data-value="{html.escape(str(value))}"'
    attrs += "" if cls is None else f' class="{cls}"'
    return f"<td{attrs}>{text}</td>"


def _coord(gps):
    if not np.isfinite(gps).all():
        return ""
    url = OSM_URL.format(lat=gps[0], lon=gps[1], zoom=14)
    return f'<a href="{html.escape(url)}" target="_blank">{gps[0]:.5f}, {gps[1]:.5f}</a>'


def _photo_rows(t, errors, places, roots, max_rows, common):
    lines = []
    for i in range(min(len(t["path"]), max_rows)):
        thumb = _thumbnail(t["path"][i], roots)
        img = f'<img src="{thumb}" alt="">' if thumb else ""
        topk = "".join(f"<li>{_coord(g)}</li>" for g in t["topk"][i] if np.isfinite(g).all())
        topk = f"<ol>{topk}</ol>" if topk else ""
        err = errors[i]
        method = f"<br><em>{html.escape(t['method'][i])}</em>" if t["method"][i] else ""
        cells = [_cell(i + 1, i + 1), _cell(img),
                 _cell(html.escape(t["path"][i][len(common):]) + method, t["path"][i]),
                 _cell(_coord(t["truth"][i])), _cell(_coord(t["pred"][i])),
                 _cell(html.escape(places[i]), places[i]),
                 _cell("" if np.isnan(err) else f"{err:,.2f}", "" if np.isnan(err) else err, "num"),
                 *(_probability_cell(t[c][i]) for c in ("confidence", "confidence_seen")),
                 _cell(topk), _cell(html.escape(t["error"][i]), t["error"][i], "err")]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return lines


def _probability_cell(p):
    """A sortable table cell for a probability, empty where it is NaN (unknown)."""
    return _cell("", "", "num") if np.isnan(p) else _cell(f"{p:.2f}", p, "num")


def _common_folder(paths):
    """The folder all paths share, with its separator ("" when none): shown once, not per row."""
    try:
        common = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
    except ValueError:  # absolute and relative paths mixed
        return ""
    return common + os.sep if common and all(p.startswith(common + os.sep) for p in paths) else ""


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.88em} td,th{border-bottom:1px solid #ddd;padding:4px 8px;
vertical-align:middle;text-align:left} th{background:#f3f3f3;position:sticky;top:0}
th.sortable{cursor:pointer} th.sortable:after{content:" \\2195";color:#999}
td.num{text-align:right;font-variant-numeric:tabular-nums} td.err{color:#b00}
pre{background:#f7f7f7;padding:.8em;overflow:auto} .figs{display:flex;flex-wrap:wrap;gap:1em}
.figs img{height:330px;max-width:100%} figure{margin:0} img{display:block}
#problems{color:#b00} #problems:empty{display:none} ol{margin:0;padding-left:1.4em}
"""

# Sorting by a column: numbers by value, text alphabetically, empty cells last.
_SCRIPT = """
window.onerror=function(m){document.getElementById('problems').textContent+=m+'\\n';};
(function(){
  var table=document.getElementById('photos'), body=table.tBodies[0];
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,col){
    if(!th.classList.contains('sortable'))return;
    th.addEventListener('click',function(){
      var asc=th.dataset.dir!=='asc'; th.dataset.dir=asc?'asc':'desc';
      var num=th.dataset.type==='num';
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[col].dataset.value||'', y=b.cells[col].dataset.value||'';
        if(x===''||y==='')return (x==='')-(y==='');
        var d=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);
        return asc?d:-d;});
      rows.forEach(function(r){body.appendChild(r);});});});
  document.body.dataset.rendered=body.rows.length;
})();
"""


def write_html_report(predictions, out, truth=None, photos_root=None, thresholds="auto",
                      max_rows=2000, title=None):
    """Write the self-contained HTML report of a predictions CSV; returns its path.

    Parameters
    ----------
    predictions : str or path
        ``dgae predict`` output (or any CSV with ``pred_lat,pred_lon``; ``lat,lon`` give
        the truth).
    out : str or path
        The ``.html`` file.
    truth : str or path, optional
        CSV with ``path,lat,lon`` joined on ``path``.
    photos_root : str or path, optional
        Folder relative photo paths start from (default: the working directory, then
        the predictions CSV's folder).
    thresholds : "auto", "paper" or sequence of float, default="auto"
        Accuracy thresholds (km); "auto": suited to the extent of the true positions.
    max_rows : int, default=2000
        Photo rows shown (the accuracy table and figures use every row).
    title : str, optional

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> csv = os.path.join(d, "p.csv")
    >>> _ = open(csv, "w").write("path,lat,lon,pred_lat,pred_lon\\na.jpg,45.81,15.98,45.33,14.44\\n")
    >>> page = write_html_report(csv, os.path.join(d, "r.html")).read_text()
    >>> "Rijeka" in page and "<script" in page and "http" not in page.split("<body")[0]
    True
    """
    from ._scale import resolve_thresholds
    from .metrics import geolocation_errors_km

    t = read_report_rows(predictions, truth)
    n = len(t["path"])
    errors = np.full(n, np.nan)
    has = np.isfinite(t["truth"]).all(1) & np.isfinite(t["pred"]).all(1)
    if has.any():
        errors[has] = geolocation_errors_km(t["truth"][has], t["pred"][has])
    places = place_labels(t["pred"])
    read = np.isfinite(t["pred"]).all(1)
    thresholds = resolve_thresholds(thresholds, t["truth"][has]) if has.any() else ()
    name = title or f"Where were these photos taken? — {Path(predictions).name}"
    parts = [f"<h1>{html.escape(name)}</h1>",
             f"<p>{n} photos; {int(read.sum())} predicted, {n - int(read.sum())} could not be "
             f"read; {int(has.sum())} with a known position. Made by dgae {__version__} on "
             f"{datetime.date.today().isoformat()}.</p>", '<pre id="problems"></pre>']
    methods = np.array(t["method"])
    by_method = {m or "predictions": errors[has & (methods == m)]
                 for m in dict.fromkeys(methods[has])}
    if has.any():
        table = accuracy_table(by_method, thresholds)
        parts += ["<h2>Accuracy (% of photos within each distance)</h2>",
                  f"<pre>{html.escape(table)}</pre>"]
    figs = _figures(t, errors, has, by_method, thresholds or DEFAULT_THRESHOLDS_KM)
    parts.append('<div class="figs">' + "".join(
        f'<figure><img src="{uri}" alt="{html.escape(k)}"><figcaption>{html.escape(k)}'
        f"</figcaption></figure>" for k, uri in figs.items()) + "</div>")
    roots = [photos_root] if photos_root else [None, os.path.dirname(os.path.abspath(predictions))]
    head = ('<tr><th class="sortable" data-type="num">#</th><th>photo</th>'
            '<th class="sortable">path</th><th>truth</th><th>prediction</th>'
            '<th class="sortable">place (prediction)</th>'
            '<th class="sortable" data-type="num">error km</th>'
            '<th class="sortable" data-type="num">confidence</th>'
            '<th class="sortable" data-type="num">if a known place</th><th>top-k</th>'
            '<th class="sortable">problem</th></tr>')
    common = _common_folder(t["path"])
    rows = _photo_rows(t, errors, places, roots, max_rows, common)
    shown = "" if n <= max_rows else f" (the first {max_rows} of {n})"
    parts += [f"<h2>Photos{shown}</h2><p>Click a column's header to sort by it; a position "
              "links to OpenStreetMap." + (f" Paths are under <code>{html.escape(common)}</code>."
                                           if common else "") + "</p>",
              f'<table id="photos"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>']
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(name)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(parts) + f"<script>{_SCRIPT}</script></body></html>")
    out = Path(out)
    out.write_text(page, encoding="utf-8")
    return out
