"""Fitted state lives in fitted attributes: after ``fit``, no ``set_params`` changes what
``predict`` / ``transform`` / ``predict_proba`` return (scikit-learn's contract; a changed
parameter takes effect at the next ``fit``)."""
import copy
from numbers import Integral

import numpy as np
import pytest
from sklearn.utils._param_validation import Interval, StrOptions

from dgae import (DGAE, AlbumRefiner, CellClassifier, ClassificationRetrieval, GeoKNN,
                  MvMFRegressor, TimeRefiner)
from dgae.cells import DelaunayMesh, LatLonCells, S2Cells
from dgae.features import Im2GPSDescriptor
from dgae.graphs import POIMiner

#: Parameters about how the work runs, not what it returns (how loud, how parallel, what to do
#: with an unreadable photo).
SKIP = {"verbose", "n_jobs", "on_error"}


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[45.0, 16.0], [35.0, 139.0], [-33.9, 151.2], [40.7, -74.0]])
    place = np.repeat(np.arange(24), n // 24)
    gps = centres[place % 4] + rng.normal(0, 0.3, (24, 2))[place] + rng.normal(0, 1e-4, (n, 2))
    X = (np.eye(4)[place % 4] @ rng.normal(size=(4, 6)) + rng.normal(0, 0.3, (n, 6)))
    time = np.datetime64("2020-06-01", "s") + rng.integers(0, 86400, n).astype("timedelta64[s]")
    return X.astype(np.float32), gps, place, time


def _alternatives(constraints, value):
    """Valid values other than ``value`` for a parameter with these constraints."""
    out = []
    for c in constraints:
        if isinstance(c, StrOptions):
            out += sorted(o for o in c.options if o != value)
        elif c == "boolean":
            out += [not value] if isinstance(value, bool) else [True, False]
        elif c is None:
            out += [None] if value is not None else []
        elif c == "random_state":
            out += [12345]
        elif isinstance(c, Interval):
            num = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            tries = ([2 * num, num / 2, num + 1] if num not in (None, 0) else [1, 0.5, 3])
            for t in tries:
                t = int(round(t)) if c.type is Integral else float(t)
                if t != value and t in c and t not in out and (c.type is not Integral or t >= 1):
                    out.append(t)
    return [v for v in out if not (isinstance(v, type(value)) and v == value)]


def _outputs(est, X, kw):
    out = {"predict": est.predict(X, **kw)} if hasattr(est, "predict") else {}
    for name in ("transform", "predict_proba"):
        if hasattr(est, name):
            out[name] = getattr(est, name)(X, **kw)
    return out


def _cases():
    X, gps, place, time = _data()
    small_ae = dict(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=8, random_state=0,
                    device="cpu")
    cells = LatLonCells(max_per_cell=30)
    yield "DGAE", DGAE(**small_ae), (X, gps), dict(groups=place), {}
    yield "fDGAE", DGAE(**small_ae, graph="anchor"), (X, gps), {}, {}
    yield "GeoKNN", GeoKNN(), (X, gps), {}, {}
    yield "CellClassifier", CellClassifier(partition=cells), (X, gps), {}, {}
    yield "ClassificationRetrieval", ClassificationRetrieval(top_cells=2), (X, gps), {}, {}
    yield "MvMFRegressor", MvMFRegressor(max_iter=5, device="cpu", random_state=0), (X, gps), {}, {}
    yield ("TimeRefiner", TimeRefiner(base=CellClassifier(partition=cells), random_state=0),
           (X, gps), dict(time=time), dict(time=time))
    yield ("AlbumRefiner", AlbumRefiner(base=CellClassifier(partition=cells)), (X, gps),
           dict(album=place // 3, time=time), dict(album=place // 3, time=time))
    yield "POIMiner", POIMiner(bandwidth_km=111.0), (gps,), {}, {}
    photos = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)
              for i in range(24)]
    yield ("Im2GPSDescriptor", Im2GPSDescriptor(n_textons=8, random_state=0, n_jobs=1),
           (photos,), {}, {})
    for part in (LatLonCells(max_per_cell=30), S2Cells(min_per_cell=2, max_per_cell=30),
                 DelaunayMesh(refinement_limit=30, min_examples=2)):
        yield type(part).__name__, part, (gps,), {}, {}


CASES = list(_cases())


@pytest.mark.parametrize("name, est, fit_args, fit_kw, predict_kw", CASES,
                         ids=[c[0] for c in CASES])
def test_set_params_after_fit_changes_no_output(name, est, fit_args, fit_kw, predict_kw):
    est.fit(*fit_args, **fit_kw)
    query = fit_args[0][:20 if name != "Im2GPSDescriptor" else 3]
    predict_kw = {k: v[:20] for k, v in predict_kw.items()}
    want = _outputs(est, query, predict_kw)
    tried = 0
    for param, value in est.get_params(deep=False).items():
        if param in SKIP:
            continue
        for other in _alternatives(getattr(est, "_parameter_constraints", {}).get(param, []),
                                   value):
            changed = copy.deepcopy(est).set_params(**{param: other})
            got = _outputs(changed, query, predict_kw)
            for method, w in want.items():
                np.testing.assert_array_equal(
                    got[method], w, err_msg=f"{name}.set_params({param}={other!r}) after fit "
                                            f"changed {method}")
            tried += 1
    assert tried >= 1


def _changed_params(est):
    """(param, other value) for every parameter of ``est`` that may change."""
    for param, value in est.get_params(deep=False).items():
        if param not in SKIP:
            for other in _alternatives(est._parameter_constraints.get(param, []), value):
                yield param, other


@pytest.mark.parametrize("name", ["DGAE", "GeoKNN"])
@pytest.mark.parametrize("step", ["set_head", "partial_fit"])
def test_what_runs_after_fit_reads_no_parameter_set_since(name, step):
    """``set_head`` and ``partial_fit`` after ``set_params``: the same outputs as without it."""
    if name == "GeoKNN" and step == "partial_fit":
        pytest.skip("GeoKNN has no partial_fit")
    (_, est, fit_args, fit_kw, _), = [c for c in CASES if c[0] == name]
    X, gps = fit_args
    est = copy.deepcopy(est).fit(X, gps, **fit_kw)

    def run(model):
        if step == "partial_fit":
            model.partial_fit(X[:6], gps[:6])
            return _outputs(model, X[:20], {})
        out = {}
        for head in ("kde", "meanshift"):
            details = model.set_head(head).predict_details(X[:20])
            out[head], out[head + " confidence"] = details.gps, details.confidence
        return out

    want = run(copy.deepcopy(est))
    tried = 0
    for param, other in _changed_params(est):
        got = run(copy.deepcopy(est).set_params(**{param: other}))
        for method, w in want.items():
            np.testing.assert_array_equal(got[method], w, err_msg=f"{name}.set_params({param}="
                                          f"{other!r}) then {step} changed {method}")
        tried += 1
    assert tried >= 5
