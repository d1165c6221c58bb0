"""``dgae report PREDICTIONS.csv --out report.html``: one self-contained page a person reads.

The page holds the accuracy table at the gallery's thresholds, the error
curves, the map, the confidence's reliability and one row per photo (thumbnail, truth,
prediction, place name, error, confidence, top-k), sortable, each position linking out to
OpenStreetMap.  It opens offline: figures and thumbnails are embedded, nothing is fetched.

The page is written by ``dgae._html``.
"""
from ._common import HelpFormatter, at_least, check_output, plain_text
from ._evaluate import thresholds_arg


def add_parser(subparsers):
    """Register ``dgae report``.

    Examples
    --------
    >>> from dgae.cli import build_parser
    >>> build_parser().parse_args(["report", "p.csv", "--out", "r.html"]).max_rows
    2000
    """
    p = subparsers.add_parser(
        "report", help="an HTML report of a predictions CSV (one offline file)",
        formatter_class=HelpFormatter, description=plain_text(__doc__.split("\n\n")[1]))
    p.add_argument("predictions", help="dgae predict output (or any CSV with pred_lat,pred_lon "
                                       "and, for the accuracy, lat,lon)")
    p.add_argument("--out", required=True, help="the .html file")
    p.add_argument("--truth", default=None,
                   help="CSV with path,lat,lon joined on path (the photos' true positions)")
    p.add_argument("--photos", default=None, metavar="FOLDER",
                   help="folder relative photo paths start from (None: the working folder, "
                        "then the predictions CSV's)")
    p.add_argument("--thresholds", default="auto", type=thresholds_arg,
                   help="accuracy thresholds in km: 'auto' (suited to the truth's extent), "
                        "'paper' or a comma-separated list")
    p.add_argument("--max-rows", type=at_least(1), default=2000, help="photo rows shown")
    p.add_argument("--title", default=None, help="the page's title")
    p.set_defaults(func=_run)
    return p


def _run(args):
    from ..report import write_html_report

    check_output(args.out)
    out = write_html_report(args.predictions, args.out, truth=args.truth,
                            photos_root=args.photos, thresholds=args.thresholds,
                            max_rows=args.max_rows, title=args.title)
    print(f"wrote {out}")
    return 0
