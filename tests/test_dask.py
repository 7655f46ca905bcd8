"""fastconv.dask: every result bitwise equal to single-machine fastconv.

Two schedulers: Dask's threaded scheduler and a real
``dask.distributed.LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)`` started here.  Skipped without the ``dask`` extra.
"""
import logging
import os
import pickle
import sys

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastconv  # noqa: E402
import fastconv.dask as fd  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------
# schedulers
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A 2-process, 1-thread-each local cluster, started away from the source tree.

    Worker processes inherit the current directory (and '' on sys.path means
    it): from the repository root they could import the unbuilt ./fastconv.
    """
    workdir = tmp_path_factory.mktemp("dask-cluster")
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": "60s"}):
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                local_directory=str(workdir), silence_logs=logging.ERROR,
            )
            cl = distributed.Client(cluster, timeout="60s", set_as_default=False)
            cl.wait_for_workers(2, timeout=60)
    finally:
        os.chdir(previous)
    yield cl
    cl.close(timeout=30)
    cluster.close(timeout=30)


@pytest.fixture(params=["threads", "distributed"])
def compute(request):
    """compute(*dask_arrays) -> list of ndarrays, on the threaded scheduler or the cluster.

    Several arrays go in one call: one round trip to the cluster for all.
    """
    if request.param == "threads":
        return threaded
    cl = request.getfixturevalue("client")

    def run(*arrays):
        return list(dask.compute(*arrays, scheduler=cl))
    return run


def threaded(*arrays):
    return list(dask.compute(*arrays, scheduler="threads"))


def check_all(run, pairs):
    """Compute every (dask array, expected ndarray) pair in one go; all bitwise equal."""
    pairs = list(pairs)
    for got, (_, want) in zip(run(*[p[0] for p in pairs]), pairs):
        assert_bitwise(got, want)


def assert_bitwise(got, want):
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    # array_equal treats NaN as different; compare the bits instead
    assert np.array_equal(got.view(np.uint8), np.ascontiguousarray(want).view(np.uint8)), (
        f"max |diff| {np.nanmax(np.abs(got.astype(np.float64) - want.astype(np.float64)))}")


def images(rng, shape, dtype, layout="NCHW"):
    x = rng.standard_normal(shape) * 4
    if np.dtype(dtype).kind in "iu":
        x = np.round(x)
    x = x.astype(dtype)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "NHWC" else x


def chunks_for(layout, n, c, h, w):
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


# ---------------------------------------------------------------------------
# the cluster itself
# ---------------------------------------------------------------------------

def test_workers_import_the_same_fastconv_outside_the_source_tree(client):
    def where():
        import os

        import fastconv

        return fastconv.__file__, os.getcwd()

    for path, cwd in client.run(where).values():
        assert path == fastconv.__file__
        assert os.path.realpath(cwd) != os.path.realpath(REPO_ROOT)


# ---------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------

CONV_CASES = [  # kernel, stride, padding, dilation, groups
    (3, 1, 1, 1, 1),
    (3, 2, "same", 1, 1),
    (5, 3, 2, 1, 2),
    (3, 1, "full", 2, 1),
    (1, 1, 0, 1, 1),
    (4, 2, ((1, 2), (0, 3)), 1, 2),
    (3, (2, 1), (0, 2), (1, 2), 1),
]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int16])
def test_conv2d_batch_chunks(compute, layout, dtype):
    rng = np.random.default_rng(1)
    x = images(rng, (7, 4, 13, 11), dtype, layout)
    wdt = np.float64 if dtype == np.float64 else np.float32
    # batch chunks of 4 (7 = 4 + 3), channels split in two: brought to one chunk
    xd = da.from_array(x, chunks=chunks_for(layout, 4, 2, 13, 11))
    pairs = []
    for k, s, p, d, g in CONV_CASES[:4]:
        w = rng.standard_normal((6, 4 // g, k, k)).astype(wdt)
        b = rng.standard_normal(6).astype(wdt)
        y = fd.conv2d(xd, w, b, s, p, d, g, layout=layout)
        assert y.chunks[0] == (4, 3)
        pairs.append((y, fastconv.conv2d(x, w, b, s, p, d, g, layout=layout)))
    check_all(compute, pairs)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_spatial_chunks(layout, case):
    k, s, p, d, g = case
    rng = np.random.default_rng(2)
    x = images(rng, (3, 4, 29, 31), np.float32, layout)
    w = rng.standard_normal((5 if g == 1 else 6, 4 // g, k, k)).astype(np.float32)
    b = rng.standard_normal(w.shape[0]).astype(np.float32)
    want = fastconv.conv2d(x, w, b, s, p, d, g, layout=layout)
    chunkings = [(11, 9), (4, 31)]  # odd sizes and leftovers; chunks thinner than the halo
    check_all(threaded, [
        (fd.conv2d(da.from_array(x, chunks=chunks_for(layout, 3, 3, hc, wc)), w, b, s, p, d, g,
                   layout=layout), want)
        for hc, wc in chunkings])


def test_conv2d_spatial_chunks_on_the_cluster(client):
    rng = np.random.default_rng(3)
    x = images(rng, (2, 3, 40, 37), np.float32)
    w = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    xd = da.from_array(x, chunks=(2, 3, 21, 19))
    check_all(lambda *a: list(dask.compute(*a, scheduler=client)),
              [(fd.conv2d(xd, w, None, s, p), fastconv.conv2d(x, w, None, s, p))
               for s, p in [(1, 2), (2, "same"), (3, 1)]])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_conv2d_depthwise_spatial_chunks(layout):
    """Depthwise (the direct kernel) with H split anywhere and W blocks of 8 or more outputs."""
    rng = np.random.default_rng(4)
    x = images(rng, (2, 4, 23, 35), np.float32, layout)
    for mult, s, p in [(1, 1, 1), (2, 1, "same"), (1, 2, 1)]:
        w = rng.standard_normal((4 * mult, 1, 3, 3)).astype(np.float32)
        b = rng.standard_normal(4 * mult).astype(np.float32)
        want = fastconv.conv2d(x, w, b, s, p, 1, 4, layout=layout)
        xd = da.from_array(x, chunks=chunks_for(layout, 2, 4, 5, 18 if s == 1 else 20))
        assert_bitwise(threaded(fd.conv2d(xd, w, b, s, p, 1, 4, layout=layout))[0], want)


def test_conv2d_depthwise_narrow_w_blocks():
    rng = np.random.default_rng(5)
    x = images(rng, (2, 4, 19, 23), np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    xd = da.from_array(x, chunks=(1, 4, 19, 7))  # the last W block is 2 columns wide
    assert_bitwise(threaded(fd.conv2d(xd, w, b, 1, 1, 1, 4))[0], fastconv.conv2d(x, w, b, 1, 1, 1, 4))


def test_conv2d_chunk_plans():
    x = da.zeros((2, 3, 30, 30), chunks=(1, 3, 7, 10), dtype=np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    # stride 2: H boundaries 7, 14, 21, 28 move to 8, 14, 22, 28 (multiples of the stride)
    y = fd.conv2d(x, w, stride=2, padding=1)
    assert y.chunks[2] == (4, 3, 4, 3, 1) and y.chunks[3] == (5, 5, 5)
    assert y.chunks[1] == (4,)
    # rechunk=False: aligned chunks pass, misaligned ones name the axis and geometry
    fd.conv2d(x.rechunk((1, 3, 10, 10)), w, stride=2, padding=1, rechunk=False)
    with pytest.raises(ValueError, match=r"conv2d: chunks \(7, 7, 7, 7, 2\) along H .*stride 2"):
        fd.conv2d(x, w, stride=2, padding=1, rechunk=False)
    # a halo deeper than a chunk: merged with rechunk=True, an error without
    w9 = np.ones((4, 3, 9, 9), np.float32)
    xs = x.rechunk((1, 3, 3, 30))
    assert all(c >= 4 for c in fd.conv2d(xs, w9, padding=4).chunks[2])
    with pytest.raises(ValueError, match="at least 4 long"):
        fd.conv2d(xs, w9, padding=4, rechunk=False)


def test_calls_differing_only_in_geometry_get_their_own_graph_keys():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 2, 20, 22))
    xd = da.from_array(x, chunks=(1, 2, 9, 8))
    w = rng.standard_normal((3, 2, 3, 3))
    check_all(threaded, [
        (fd.conv2d(xd, w, padding=0), fastconv.conv2d(x, w, padding=0)),
        (fd.conv2d(xd, w, padding=1), fastconv.conv2d(x, w, padding=1)),
        (fd.conv2d(xd, w, padding=1, stride=2), fastconv.conv2d(x, w, padding=1, stride=2)),
        (fd.max_pool2d(xd, 3, 2), fastconv.max_pool2d(x, 3, 2)),
        (fd.max_pool2d(xd, 3, 2, 1), fastconv.max_pool2d(x, 3, 2, 1)),
        (fd.max_pool2d(xd, 3, 2, 1, ceil_mode=True), fastconv.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
        (fd.avg_pool2d(xd, 3, 2, 1, count_include_pad=False),
         fastconv.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
        (fd.filter2d(xd, w[0, 0], "same", "wrap"), fastconv.filter2d(x, w[0, 0], "same", "wrap")),
        (fd.filter2d(xd, w[0, 0], "same", "symm"), fastconv.filter2d(x, w[0, 0], "same", "symm")),
    ])


def test_conv2d_unbatched_numpy_input_and_errors():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 12, 10))
    w = rng.standard_normal((2, 3, 3, 3))
    y = fd.conv2d(da.from_array(x, chunks=(3, 5, 4)), w, padding=1)
    assert y.shape == (2, 12, 10)
    check_all(threaded, [(y, fastconv.conv2d(x, w, padding=1)),
                         (fd.conv2d(x, w), fastconv.conv2d(x, w))])  # a NumPy array is accepted
    with pytest.raises(ValueError, match="does not match"):
        fd.conv2d(da.zeros((1, 4, 8, 8), chunks=2), w)
    with pytest.raises(ValueError, match="layout"):
        fd.conv2d(da.zeros((1, 3, 8, 8), chunks=2), w, layout="CHWN")
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        xu = da.zeros((4, 3, 8, 8), chunks=2)
        fd.conv2d(xu[xu[:, 0, 0, 0] > -1], w)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------

POOL_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 2, 1, 1, True),
    (3, 1, 1, 1, False),
    (2, 3, 1, 1, True),
    ((3, 2), (2, 1), (1, 0), 1, True),
    (5, 3, 2, 1, True),
]


def _pool_pairs(x, layout, case):
    k, s, p, d, ceil = case
    yield (lambda a: fd.max_pool2d(a, k, s, p, d, ceil, layout=layout),
           fastconv.max_pool2d(x, k, s, p, d, ceil, layout=layout))
    for cip, div in [(True, None), (False, None), (True, 3)]:
        yield (lambda a, cip=cip, div=div: fd.avg_pool2d(a, k, s, p, ceil, cip, div, layout=layout),
               fastconv.avg_pool2d(x, k, s, p, ceil, cip, div, layout=layout))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_pooling_batch_chunks(compute, layout):
    rng = np.random.default_rng(7)
    x = images(rng, (9, 5, 14, 15), np.float32, layout)
    xd = da.from_array(x, chunks=chunks_for(layout, 5, 2, 14, 15))
    check_all(compute, [(fn(xd), want) for case in POOL_CASES[1:3]
                        for fn, want in _pool_pairs(x, layout, case)])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_pooling_spatial_chunks(layout, dtype):
    rng = np.random.default_rng(8)
    x = images(rng, (3, 4, 23, 29), dtype, layout)
    if dtype == np.float32:
        x[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]  # NaN propagates, infinities win/lose
    xd = da.from_array(x, chunks=chunks_for(layout, 3, 4, 7, 9))
    cases = POOL_CASES if dtype == np.float32 else POOL_CASES[1:3]
    check_all(threaded, [(fn(xd), want) for case in cases for fn, want in _pool_pairs(x, layout, case)])


def test_pooling_spatial_chunks_on_the_cluster(client):
    rng = np.random.default_rng(9)
    x = images(rng, (2, 3, 33, 35), np.float64)
    xd = da.from_array(x, chunks=(2, 3, 17, 19))
    check_all(lambda *a: list(dask.compute(*a, scheduler=client)),
              [(fn(xd), want) for case in [POOL_CASES[2], POOL_CASES[6]]
               for fn, want in _pool_pairs(x, "NCHW", case)])


def test_pooling_chunks_and_errors():
    x = da.zeros((2, 3, 30, 30), chunks=(1, 3, 7, 30), dtype=np.float32)
    y = fd.max_pool2d(x, 2)
    assert y.chunks[2] == (4, 3, 4, 3, 1)  # boundaries 7, 14, 21, 28 -> 8, 14, 22, 28
    # NCHW keeps channel chunks (planes are independent), NHWC brings channels to one chunk
    assert fd.avg_pool2d(x.rechunk((1, 1, 30, 30)), 2).chunks[1] == (1, 1, 1)
    assert fd.avg_pool2d(x.rechunk((1, 30, 30, 1)), 2, layout="NHWC").chunks[3] == (30,)
    with pytest.raises(ValueError, match="max_pool2d: chunks .* along H"):
        fd.max_pool2d(x, 2, rechunk=False)
    with pytest.raises(NotImplementedError, match="return_indices"):
        fd.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match="at most half"):
        fd.avg_pool2d(x, 2, padding=2)
    xu = da.from_array(np.arange(48.0).reshape(3, 4, 4), chunks=(3, 3, 2))  # unbatched
    check_all(threaded, [(fd.avg_pool2d(xu, 2, 1, 1), fastconv.avg_pool2d(xu.compute(), 2, 1, 1))])


# ---------------------------------------------------------------------------
# filter2d
# ---------------------------------------------------------------------------

# kernels smaller than a chunk (even sizes included: "same" centres them off by one),
# larger than a chunk (the 23 x 17 chunks below), and larger than the whole image
# (for "same" and "full": the fill value, or the image wrapped / mirrored repeatedly)
FILTER_KERNELS = [((3, 3), False), ((4, 6), True), ((30, 20), True), ((70, 5), False), ((3, 80), True)]


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("mode", ["same", "full", "valid"])
def test_filter2d_chunked_large_image(boundary, mode):
    rng = np.random.default_rng(10)
    img = rng.standard_normal((61, 67))
    xd = da.from_array(img, chunks=(23, 17))  # odd chunks, odd leftovers (15, 16)
    pairs = []
    for (kh, kw), flip in FILTER_KERNELS:
        if mode == "valid" and (kh > 61 or kw > 67):
            continue
        k = rng.standard_normal((kh, kw))
        pairs.append((fd.filter2d(xd, k, mode, boundary, 0.5, convolve=flip),
                      fastconv.filter2d(img, k, mode, boundary, 0.5, convolve=flip, method="direct")))
    check_all(threaded, pairs)


def test_filter2d_chunked_on_the_cluster(client):
    rng = np.random.default_rng(11)
    img = rng.standard_normal((47, 53)).astype(np.float32)
    xd = da.from_array(img, chunks=(25, 27))
    pairs = []
    for boundary, mode, (kh, kw) in [("fill", "same", (5, 4)), ("wrap", "full", (30, 3)),
                                     ("symm", "same", (60, 7))]:
        k = rng.standard_normal((kh, kw)).astype(np.float32)
        pairs.append((fd.filter2d(xd, k, mode, boundary),
                      fastconv.filter2d(img, k, mode, boundary, method="direct")))
    check_all(lambda *a: list(dask.compute(*a, scheduler=client)), pairs)


def test_filter2d_wrap_is_periodic_over_the_image_not_the_chunk():
    # an impulse at the bottom-right corner: wrap brings it to the top-left corner
    img = np.zeros((10, 12))
    img[-1, -1] = 1.0
    xd = da.from_array(img, chunks=(3, 5))
    y, = threaded(fd.filter2d(xd, np.ones((3, 3)), "same", "wrap"))
    assert y[0, 0] == 1.0 and y[0, 1] == 0.0 and y[-1, -1] == 1.0
    assert y.sum() == 9.0


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int16, np.uint8, np.complex64])
def test_filter2d_dtypes_and_stacks(dtype):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((2, 3, 30, 31)) * 10).astype(dtype)
    kdt = np.uint8 if dtype == np.uint8 else np.float32
    k = (rng.standard_normal((2, 1, 5, 4)) * 3).astype(kdt)  # one kernel per leading index 0
    xd = da.from_array(x, chunks=(1, 3, 13, 17))
    pairs = [(fd.filter2d(xd, k, "same", boundary, 2),
              fastconv.filter2d(x, k, "same", boundary, 2, method="direct"))
             for boundary in ("fill", "wrap", "symm")]
    k2 = rng.standard_normal((4, 1, 1, 3, 3)).astype(np.float32)  # every kernel for every image
    y = fd.filter2d(xd, k2, "full", "symm")
    assert y.shape == (4, 2, 3, 32, 33)
    pairs.append((y, fastconv.filter2d(x, k2, "full", "symm", method="direct")))
    check_all(threaded, pairs)


def test_filter2d_unsplit_planes_methods_and_errors():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((6, 20, 21))
    k = rng.standard_normal((5, 5))
    xd = da.from_array(x, chunks=(4, 20, 21))  # H and W one chunk: whole planes per block
    pairs = [(fd.filter2d(xd, k, "same", "symm", method=method),
              fastconv.filter2d(x, k, "same", "symm", method=method))
             for method in ("direct", "auto", "fft")]
    # 'valid' with the kernel larger than the image swaps them, as SciPy does
    small = rng.standard_normal((3, 4))
    big = rng.standard_normal((7, 8))
    pairs.append((fd.filter2d(da.from_array(small, chunks=(2, 2)), big, "valid"),
                  fastconv.filter2d(small, big, "valid")))
    check_all(threaded, pairs)
    with pytest.raises(ValueError, match="cannot be split"):
        fd.filter2d(da.from_array(x, chunks=(6, 7, 7)), k, method="fft")
    with pytest.raises(ValueError, match="boundary"):
        fd.filter2d(xd, k, boundary="reflect")
    with pytest.raises(ValueError, match="do not broadcast"):
        fd.filter2d(xd, np.ones((4, 3, 3)))
    with pytest.raises(ValueError, match="not available"):
        fd.filter2d(da.zeros((8, 8), dtype=bool, chunks=4), np.ones((3, 3), bool))


# ---------------------------------------------------------------------------
# predict, pickling, threads
# ---------------------------------------------------------------------------

def _model():
    models = getattr(fastconv, "models", None)
    if models is not None and hasattr(models, "lenet5"):
        return models.lenet5(rng=0)

    class ConvPool:  # a stand-in model: conv -> tanh -> average pooling -> flatten
        def __init__(self):
            self.w = np.random.default_rng(0).standard_normal((6, 1, 5, 5)).astype(np.float32)

        def __call__(self, x):
            y = np.tanh(fastconv.conv2d(x, self.w))
            return fastconv.avg_pool2d(y, 2).reshape(len(x), -1)

    return ConvPool()


def test_models_pickle_and_round_trip():
    cloudpickle = pytest.importorskip("cloudpickle")
    net = _model()
    x = np.random.default_rng(14).standard_normal((8, 1, 32, 32)).astype(np.float32)
    if hasattr(net, "eval"):
        net.eval()
    want = net(x)
    for dumps, loads in [(cloudpickle.dumps, pickle.loads), (pickle.dumps, pickle.loads)]:
        copy = loads(dumps(net))
        assert_bitwise(copy(x), want)
    # the functions of fastconv ship by reference
    assert pickle.loads(cloudpickle.dumps(fastconv.conv2d)) is fastconv.conv2d
    assert pickle.loads(cloudpickle.dumps(fd.conv2d)) is fd.conv2d


def test_predict_equals_the_local_model(compute):
    net = _model()
    x = np.random.default_rng(15).standard_normal((50, 1, 32, 32)).astype(np.float32)
    training = getattr(net, "training", None)
    y = fd.predict(net, da.from_array(x, chunks=(20, 1, 16, 32)))
    assert y.chunks[0] == (20, 20, 10)
    # batch_chunk: balanced chunks of at most 16 images
    y16 = fd.predict(net, da.from_array(x, chunks=50), batch_chunk=16)
    assert y16.chunks[0] == (13, 13, 12, 12)
    got = compute(y, y16)
    assert getattr(net, "training", None) == training  # the caller's model is left alone
    if hasattr(net, "eval"):
        net.eval()
    want = net(x)
    assert_bitwise(got[0], want)
    assert_bitwise(got[1], want)


def test_predict_tiny_batch_chunks():
    """Chunks of 1-4 images run linear's streaming path: layers.Linear passes
    batch_invariant=True, so it sums in the GEMM's order."""
    net = _model()
    x = np.random.default_rng(16).standard_normal((10, 1, 32, 32)).astype(np.float32)
    got, = threaded(fd.predict(net, da.from_array(x, chunks=3)))
    if hasattr(net, "eval"):
        net.eval()
    assert_bitwise(got, net(x))


def _thread_probe():
    class ThreadProbe:  # defined locally: cloudpickle ships it by value
        def __call__(self, x):
            import fastconv

            return np.full((len(x), 1), fastconv.get_num_threads())

    return ThreadProbe()


def test_thread_and_chunk_arguments_are_named_in_errors():
    x = da.zeros((4, 1, 6, 6), chunks=(2, 1, 6, 6))
    w = np.ones((2, 1, 3, 3))
    with pytest.raises(ValueError, match="threads_per_task"):
        fd.conv2d(x, w, threads_per_task=0)
    with pytest.raises(ValueError, match="batch_chunk"):
        fd.predict(_thread_probe(), da.zeros((8, 2), chunks=2), batch_chunk=0)
    with pytest.raises(TypeError, match="threads_per_task"):
        fd.filter2d(x[:, 0], np.ones((3, 3)), threads_per_task="2")


def test_one_openmp_thread_per_dask_thread_by_default(compute):
    assert fd.get_threads_per_task() == 1
    x = da.zeros((8, 2), chunks=2)
    previous = fd.set_threads_per_task(3)
    try:
        assert previous == 1
        y3 = fd.predict(_thread_probe(), x)  # read when the graph is built
    finally:
        fd.set_threads_per_task(previous)
    y1, y2, y3 = compute(fd.predict(_thread_probe(), x),
                         fd.predict(_thread_probe(), x, threads_per_task=2), y3)
    assert set(y1.ravel()) == {1}
    assert set(y2.ravel()) == {2}
    assert set(y3.ravel()) == {3}
    with pytest.raises(ValueError):
        fd.set_threads_per_task(0)


def test_block_calls_restore_the_callers_thread_count(monkeypatch):
    seen = []
    real = fastconv.conv.conv2d

    def spy(*args, **kwargs):
        seen.append(fastconv.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(fastconv.conv, "conv2d", spy)
    x = da.ones((4, 1, 8, 8), chunks=(1, 1, 8, 8))
    with dask.config.set(scheduler="sync"):  # in this very thread
        before = fastconv.get_num_threads()
        fd.conv2d(x, np.ones((1, 1, 3, 3))).compute()
        assert fastconv.get_num_threads() == before
    assert seen == [1, 1, 1, 1]


def test_clear_import_error_without_dask(monkeypatch):
    for name in [m for m in sys.modules if m == "dask" or m.startswith("dask.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"fastconv\[dask\]"):
        fd.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))
