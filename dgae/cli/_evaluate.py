"""``dgae evaluate PREDICTIONS.csv``: accuracy table and error curves of any predictions.

The predictions file is a CSV with a header and, per photo, the true and the
predicted position in degrees: columns ``lat,lon,pred_lat,pred_lon``.  An
optional ``method`` column holds several methods in one file (one table row
and one curve each).  The output of ``dgae predict`` (``path,pred_lat,pred_lon``)
can be given as is together with ``--truth PHOTOS.csv`` (``path,lat,lon``):
rows are joined on ``path``.

The reading, table and plotting helpers are :mod:`dgae.report`'s.
"""
from pathlib import Path

from ._common import HelpFormatter, check_output, plain_text
from ..report import accuracy_table, read_predictions, save_error_curves, save_prediction_map


def _run(args):
    import numpy as np

    from ..metrics import resolve_thresholds
    from ..metrics import geolocation_errors_km

    if not Path(args.predictions).is_file():
        raise FileNotFoundError(2, "No such file or directory", args.predictions)
    curves = args.out or Path(args.predictions).with_suffix(".curve.png")
    map_png = None if args.no_map else (args.map or Path(args.predictions).with_suffix(".map.png"))
    for out in (curves, map_png):
        if out is not None:
            check_output(out)
    pairs = read_predictions(args.predictions, truth=args.truth)
    errors = {m: geolocation_errors_km(t, p) for m, (t, p) in pairs.items()}
    thresholds = resolve_thresholds(args.thresholds,
                                    np.concatenate([t for t, _ in pairs.values()]))
    how = args.thresholds if isinstance(args.thresholds, str) else "given"
    print(f"thresholds: {', '.join(f'{t:g}' for t in thresholds)} km ({how})")
    print(accuracy_table(errors, thresholds))
    name = Path(args.predictions).name
    print(f"error curves: {save_error_curves(errors, curves, title=name, marks_km=thresholds)}")
    if map_png is not None:
        print(f"map: {save_prediction_map(pairs, map_png, title=name, thresholds_km=thresholds)}")
    return 0


def thresholds_arg(text):
    """``--thresholds`` as an argparse type (:func:`dgae._scale.parse_thresholds`)."""
    import argparse

    from ..metrics import parse_thresholds

    try:
        return parse_thresholds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers):
    """Register ``dgae evaluate``."""
    p = subparsers.add_parser(
        "evaluate", help="accuracy table and error curves of a predictions CSV",
        formatter_class=HelpFormatter,
        description=plain_text(__doc__.split("\n\n")[1]))
    p.add_argument("predictions", help="CSV with lat,lon,pred_lat,pred_lon [,method] [,path]")
    p.add_argument("--truth", help="CSV with path,lat,lon to join when PREDICTIONS has no lat,lon")
    p.add_argument("--out", help="PNG for the error curves (default: PREDICTIONS.curve.png)")
    p.add_argument("--map", help="PNG of truth -> prediction lines (default: PREDICTIONS.map.png)")
    p.add_argument("--no-map", action="store_true", help="do not draw the map")
    p.add_argument("--thresholds", default="auto", type=thresholds_arg,
                   help="accuracy thresholds in km, comma-separated; 'paper' (1,25,200,750,2500) "
                        "or 'auto': suited to the extent of the true positions (0.1-5 km for "
                        "one city, 1-750 km for a country, 1-2500 km world-wide)")
    p.set_defaults(func=_run)
    return p
