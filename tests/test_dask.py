"""Dask for real: a LocalCluster of two worker *processes*, started in the test.

Descriptor extraction (the library and ``dgae extract --dask-scheduler``) and
the exact easy-confusing search (row blocks as Dask tasks through the same
``joblib.parallel_config(backend="dask")``) must give exactly the local result.
"""
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

SMALL = ("tiny5", "lab_hist", "texton", "edge_hist", "gist")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def photo_csv(tmp_path_factory):
    """60 small JPEGs of a few textures and a CSV listing them."""
    import cv2

    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    names = []
    for i in range(60):
        base = rng.integers(0, 256, (6, 8, 3)).astype(np.float32)
        img = np.kron(base, np.ones((8, 8, 1), np.float32)) + rng.normal(0, 4 * (i % 7), (48, 64, 3))
        names.append(f"p{i:02d}.jpg")
        cv2.imwrite(str(folder / names[-1]), np.clip(img, 0, 255).astype(np.uint8))
    (folder / "photos.csv").write_text("path\n" + "\n".join(names) + "\n")
    return folder / "photos.csv"


def _worker_tasks(client):
    """Tasks each worker has run so far (its pid -> count)."""
    return client.run(lambda dask_worker: len(dask_worker.state.log))


def test_descriptors_on_two_worker_processes_equal_the_local_run(client, photo_csv):
    from dgae.features import Im2GPSDescriptor

    paths = [str(photo_csv.parent / f"p{i:02d}.jpg") for i in range(60)]
    d = Im2GPSDescriptor(descriptors=SMALL, n_textons=8, random_state=0).fit(paths[:20])
    ref = d.transform(paths)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        got = d.set_params(n_jobs=-1).transform(paths)
    workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2                       # both processes took work
    np.testing.assert_array_equal(got, ref)


def test_cli_extract_with_a_scheduler_address_equals_the_local_run(client, photo_csv, tmp_path):
    from dgae.cli import main

    common = [str(photo_csv), "--descriptors", ",".join(SMALL), "--n-textons", "8",
              "--fit-size", "20", "--chunk-size", "16", "-q"]
    assert main(["extract", *common, "--out", str(tmp_path / "local.npy")]) == 0
    before = sum(_worker_tasks(client).values())
    assert main(["extract", *common, "--out", str(tmp_path / "dask.npy"),
                 "--dask-scheduler", client.scheduler.address]) == 0
    assert sum(_worker_tasks(client).values()) > before
    np.testing.assert_array_equal(np.load(tmp_path / "dask.npy"), np.load(tmp_path / "local.npy"))


def test_exact_easy_confusing_search_as_dask_tasks_equals_the_local_result(client):
    from dgae.graphs import easy_confusing_pairs

    rng = np.random.default_rng(1)
    X = rng.normal(size=(900, 24)).astype(np.float32)
    labels = rng.integers(0, 40, 900)
    gps = np.column_stack([rng.uniform(40, 50, 900), rng.uniform(0, 20, 900)])
    ref = easy_confusing_pairs(X, labels, 6, device="cpu", gps=gps, q_min_km=25.0)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        got = easy_confusing_pairs(X, labels, 6, device="cpu", gps=gps, q_min_km=25.0, n_jobs=-1)
    assert len({task["worker"] for task in stream.data}) == 2
    assert (got != ref).nnz == 0


def test_cli_dask_workers_flag_starts_a_local_cluster(photo_csv, tmp_path):
    from dgae.cli import main

    common = [str(photo_csv), "--descriptors", "tiny5", "--fit-size", "10", "-q"]
    assert main(["extract", *common, "--out", str(tmp_path / "a.npy")]) == 0
    assert main(["extract", *common, "--out", str(tmp_path / "b.npy"), "--dask-workers", "2"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


@pytest.mark.parametrize("n_shards, k", [(None, 5), (3, 7), (2, 130)])
def test_sharded_exact_index_equals_the_single_machine_search(client, n_shards, k):
    """Each worker holds a shard; a query goes to every shard; the top-k merge is exact (k
    beyond a shard's rows too: 130 > 100 rows per shard)."""
    from dgae.graphs import ShardedIndex
    from dgae.utils import nearest_neighbors

    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    Q = rng.normal(size=(40, 16)).astype(np.float32)
    index = ShardedIndex(n_shards=n_shards).fit(X)
    holders = [set(client.who_has(fut)[fut.key]) for fut in index.shards_]
    assert holders == [{w} for w in index.workers_]          # each shard on its own worker
    assert len(set(index.workers_)) == 2                     # both workers hold rows
    dist, idx = index.query(Q, k)
    want_d, want_i = nearest_neighbors(Q, X, k, device="cpu")
    np.testing.assert_array_equal(idx, want_i)
    np.testing.assert_allclose(dist, want_d, rtol=1e-5, atol=1e-5)


def test_sharded_index_closes_the_client_it_opened_and_only_that(client):
    """scheduler=ADDRESS: each fit opens a client; a refit and close() close it.  The running
    client (scheduler=None) stays open; a closed index is unfitted."""
    from sklearn.exceptions import NotFittedError

    from dgae.graphs import ShardedIndex

    X = np.random.default_rng(5).normal(size=(50, 4)).astype(np.float32)
    index = ShardedIndex(scheduler=client.scheduler.address).fit(X)
    first = index.shards_[0].client
    assert first is not client and first.status == "running"
    index.fit(X)
    second = index.shards_[0].client
    assert first.status == "closed" and second.status == "running"
    index.close()
    assert second.status == "closed" and client.status == "running"
    with pytest.raises(NotFittedError):
        index.query(X[:2], 1)
    shared = ShardedIndex().fit(X)
    shared.close()
    shared.close()                                       # twice: nothing left to close
    assert client.status == "running" and not hasattr(shared, "shards_")
    np.testing.assert_array_equal(ShardedIndex().fit(X).query(X[:3], 1)[1][:, 0], [0, 1, 2])


def test_sharded_ivf_shards_and_what_cannot_be_saved(client):
    import pickle

    from dgae.graphs import IVFIndex, ShardedIndex
    from dgae.utils import nearest_neighbors

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 8)).astype(np.float32)
    index = ShardedIndex(IVFIndex(n_lists=16, n_probe=8, random_state=0)).fit(X)
    _, idx = index.query(X[:100], 10)
    _, want = nearest_neighbors(X[:100], X, 10, device="cpu")
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, want)]) >= 0.9
    pickle.dumps(ShardedIndex())                           # unfitted: a parameter like any
    with pytest.raises(TypeError, match="cannot be saved"):
        pickle.dumps(index)


def test_models_predict_the_same_with_their_gallery_on_the_cluster(client, tmp_path):
    """GeoKNN / DGAE .shard_index() and dgae predict --dask-scheduler: the same predictions."""
    import csv

    import joblib as jl

    from dgae import DGAE, GeoKNN
    from dgae.cli import main

    rng = np.random.default_rng(4)
    gps = np.column_stack([rng.uniform(-50, 50, 120), rng.uniform(-150, 150, 120)])
    X = (gps @ rng.normal(size=(2, 10)) / 50 + rng.normal(size=(120, 10))).astype(np.float32)
    for model in (GeoKNN(head="kde"), DGAE(hidden_layer_sizes=(8, 4), k1=3, k2=3, max_iter=5,
                                           random_state=0)):
        model.fit(X[:100], gps[:100])
        want = model.predict(X[100:])
        np.testing.assert_array_equal(model.shard_index().predict(X[100:]), want)
    model = GeoKNN().fit(X[:100], gps[:100])
    jl.dump(model, tmp_path / "m.joblib")
    np.save(tmp_path / "q.npy", X[100:])
    out = {}
    for name, extra in (("local", []), ("dask", ["--dask-scheduler", client.scheduler.address])):
        assert main(["predict", str(tmp_path / "m.joblib"), str(tmp_path / "q.npy"),
                     "--out", str(tmp_path / f"{name}.csv"), *extra]) == 0
        out[name] = [(r["pred_lat"], r["pred_lon"]) for r in csv.DictReader(open(tmp_path / f"{name}.csv"))]
    assert out["dask"] == out["local"] and len(out["local"]) == 20
