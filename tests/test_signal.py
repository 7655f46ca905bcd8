"""Tests of fastconv's NumPy/SciPy-compatible signal API (convolve, correlate,
convolve2d, correlate2d, filter2d): property tests against numpy.convolve /
numpy.correlate and scipy.signal.convolve2d / correlate2d (values, dtype,
shape, and the exception type wherever they raise), the slow reference in
tests/reference_signal.py, FFT against direct, threads and ISA levels."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastconv
import reference_signal as ref

scipy_signal = pytest.importorskip("scipy.signal")

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
COMPLEX = [np.complex64, np.complex128]
ALL = INTS + [np.bool_] + FLOATS + COMPLEX
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm", "pad", "circular", "symmetric"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def random_array(rng, shape, dtype):
    """Values spanning the dtype: the whole range for integers (so sums wrap around)."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)


def outcome(fn):
    """('ok', result) or ('err', exception type), with warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", fn()
        except Exception as exc:  # noqa: BLE001 - the type is what we compare
            return "err", type(exc)


def compute_eps(dtype):
    """Unit roundoff of the arithmetic a result of this dtype is computed in."""
    dt = np.dtype(dtype)
    if dt.kind in "fc":
        real = np.dtype(np.float32) if dt.itemsize <= (4 if dt.kind == "f" else 8) else np.dtype(np.float64)
        return float(np.finfo(real).eps)
    return 0.0


def assert_matches(ours, theirs, bound=None, terms=1):
    """Same dtype and shape; equal values for integers and bool; for floats
    within the classical dot-product error bound of both sides:
    2 (terms + 1) eps * bound (bound = the same operation on absolute values)
    plus one rounding of the result dtype."""
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    if ours.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs)
        return
    eps_c = compute_eps(ours.dtype)
    eps_r = float(np.finfo(ours.dtype).eps)
    o = ours.astype(np.complex128)
    t = theirs.astype(np.complex128)
    tol = 2 * (terms + 1) * eps_c * np.asarray(bound, dtype=np.float64) + eps_r * np.maximum(abs(o), abs(t))
    tol = tol + 1e-300
    err = abs(o - t)
    assert np.all(err <= tol), f"max error {err.max()} at tolerance {tol.ravel()[np.argmax(err - tol)]}"


def magnitude(x):
    """|x| in float64 (computed after the conversion: abs(int8(-128)) wraps in int8)."""
    x = np.asarray(x)
    return np.abs(x.astype(np.complex128 if x.dtype.kind == "c" else np.float64))


dtype_st = st.sampled_from(ALL)


@st.composite
def dtype_pairs(draw):
    """Mostly one dtype for both inputs, sometimes a mixed pair (NumPy promotes it)."""
    d1 = draw(dtype_st)
    d2 = d1 if draw(st.booleans()) else draw(dtype_st)
    return d1, d2


# ---------------------------------------------------------------------------
# numpy.convolve / numpy.correlate
# ---------------------------------------------------------------------------

@SETTINGS
@given(n1=st.integers(1, 40), n2=st.integers(1, 40), mode=st.sampled_from(MODES + [0, 1, 2]),
       dts=dtype_pairs(), seed=st.integers(0, 2**32 - 1), fn=st.sampled_from(["convolve", "correlate"]))
def test_1d_matches_numpy(n1, n2, mode, dts, seed, fn):
    rng = np.random.default_rng(seed)
    a = random_array(rng, n1, dts[0])
    v = random_array(rng, n2, dts[1])
    a0, v0 = a.copy(), v.copy()
    theirs = getattr(np, fn)(a, v, mode)
    ours = getattr(fastconv, fn)(a, v, mode)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(v, v0)
    bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
    assert_matches(ours, theirs, bound, terms=2 * min(n1, n2))


@FEW
@given(n1=st.integers(1, 12), n2=st.integers(1, 12), mode=st.sampled_from(MODES),
       dts=dtype_pairs(), seed=st.integers(0, 2**32 - 1), fn=st.sampled_from(["convolve", "correlate"]))
def test_1d_matches_reference(n1, n2, mode, dts, seed, fn):
    rng = np.random.default_rng(seed)
    a = random_array(rng, n1, dts[0])
    v = random_array(rng, n2, dts[1])
    ours = getattr(fastconv, fn)(a, v, mode)
    expected = getattr(ref, "np_" + fn)(a, v, mode)
    bound = getattr(ref, "np_" + fn)(magnitude(a), magnitude(v), mode)
    assert_matches(ours, expected, bound, terms=2 * min(n1, n2))


@SETTINGS
@given(n1=st.integers(1, 3000), n2=st.integers(24, 200), mode=st.sampled_from(MODES),
       dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int16, np.complex64]),
       seed=st.integers(0, 2**32 - 1), fn=st.sampled_from(["convolve", "correlate"]),
       whole=st.booleans())
def test_1d_long_kernels_match_numpy(n1, n2, mode, dtype, seed, fn, whole):
    """Long kernels (the folded C path for multiples of 8 taps, and zero-padded kernels)."""
    if whole:
        n2 = n2 // 8 * 8
    rng = np.random.default_rng(seed)
    a = random_array(rng, n1, dtype)
    v = random_array(rng, n2, dtype)
    ours = getattr(fastconv, fn)(a, v, mode, method="direct")
    theirs = getattr(np, fn)(a, v, mode)
    bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
    assert_matches(ours, theirs, bound, terms=2 * min(n1, n2))


@pytest.mark.parametrize("taps", [113, 127, 128, 192, 250, 256, 512])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["direct", "auto"])
def test_1d_many_magnitudes_per_output_bound(taps, dtype, method):
    """A spike train (values over eight orders of magnitude) through a decaying kernel: every
    output within the dot-product bound of its own terms, as NumPy's (a norm-wise method, e.g.
    Karatsuba steps over the block, once tried, lost 1e-3 of the quiet outputs in float32)."""
    rng = np.random.default_rng(taps)
    a = (rng.random(4000) < 0.02) * 10.0 ** rng.uniform(-4, 4, 4000)
    a = (a * rng.choice([-1.0, 1.0], 4000)).astype(dtype)
    v = np.exp(-np.arange(taps) / 8.0).astype(dtype)
    for fn in ("convolve", "correlate"):
        for mode in MODES:
            ours = getattr(fastconv, fn)(a, v, mode, method=method)
            theirs = getattr(np, fn)(a, v, mode)
            bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
            assert_matches(ours, theirs, bound, terms=taps)


@pytest.mark.parametrize("taps", [128, 136, 256, 300, 512, 1024, 1100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
def test_1d_long_folded_kernels_match_numpy_for_any_thread_count(taps, dtype):
    """Kernels of 128+ taps (folded above the generic level, some zero-padded to the fold
    multiple first): NumPy's values within the dot-product bound (exact for integers), the
    same bits for 1, 2, 3 threads."""
    rng = np.random.default_rng(taps)
    a = random_array(rng, 20011, dtype)
    v = random_array(rng, taps, dtype)
    for fn in ("convolve", "correlate"):
        for mode in MODES:
            runs = []
            for nt in (1, 2, 3):
                with fastconv.threads(nt):
                    runs.append(getattr(fastconv, fn)(a, v, mode, method="direct"))
            for other in runs[1:]:
                np.testing.assert_array_equal(runs[0], other)
            theirs = getattr(np, fn)(a, v, mode)
            bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
            assert_matches(runs[0], theirs, bound, terms=2 * taps)


# Lengths around the SIMD kernels' vector sizes (8 float32 / 4 float64 lanes at
# AVX2, 16 / 8 at AVX-512), their register tiles (up to 12 vectors in a row, 16
# rows of one vector in the folded 1-D path) and the folded rows' tails.
_EDGE_LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65,
                 95, 96, 97, 127, 128, 129, 191, 192, 193, 255, 256, 257, 271, 272, 273]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_1d_vector_and_tile_edges_every_isa(isa, dtype):
    """Every kernel length 1..70 (unfolded, folded at 4 * the fold and up, zero-padded)
    against signals whose lengths straddle the vector and register-tile sizes of each
    ISA level, every mode, both functions: NumPy's values (exact for integers)."""
    rng = np.random.default_rng(70)
    for taps in range(1, 71):
        v = random_array(rng, taps, dtype)
        # a different handful of signal lengths for each kernel length, covering all
        for n in _EDGE_LENGTHS[taps % 5::5] + [taps, taps + 1, 4 * taps + 3]:
            a = random_array(rng, n, dtype)
            for fn, mode in (("convolve", MODES[taps % 3]), ("correlate", MODES[(taps + n) % 3])):
                ours = getattr(fastconv, fn)(a, v, mode, method="direct")
                theirs = getattr(np, fn)(a, v, mode)
                bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
                assert_matches(ours, theirs, bound, terms=2 * min(n, taps))


@pytest.mark.parametrize("n", [4607, 4608, 4609, 9216 + 17, 20011])
@pytest.mark.parametrize("taps", [64, 65, 128, 256, 264, 512])
def test_1d_folded_chunks_every_isa(isa, n, taps):
    """Signals around the per-thread chunk (4608 outputs) with folded kernels, some
    zero-padded first (unfolded at the generic level; float32, float64, int32): NumPy's
    values, the same bits for 1 and 3 threads."""
    rng = np.random.default_rng(n + taps)
    for dtype in (np.float32, np.float64, np.int32):
        a = random_array(rng, n, dtype)
        v = random_array(rng, taps, dtype)
        mode = MODES[(n + taps) % 3]
        runs = []
        for nt in (1, 3):
            with fastconv.threads(nt):
                runs.append(fastconv.correlate(a, v, mode, method="direct"))
        np.testing.assert_array_equal(runs[0], runs[1])
        theirs = np.correlate(a, v, mode)
        bound = np.correlate(magnitude(a), magnitude(v), mode)
        assert_matches(runs[0], theirs, bound, terms=2 * taps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_2d_tile_edges_every_isa(isa, dtype):
    """Images whose heights and widths straddle the 2-D register tiles (4 x 4 and
    8 x 2 vectors, 16 x 1 at AVX-512; 4 x 3 and 8 x 1 at AVX2) and their tails,
    kernels of 1 to 5 rows: SciPy's values."""
    rng = np.random.default_rng(71)
    shapes = [(3, 17), (4, 31), (5, 33), (8, 48), (9, 63), (16, 64), (17, 65), (20, 97), (33, 129)]
    for i, (h, w) in enumerate(shapes):
        x = random_array(rng, (h, w), dtype)
        for kh, kw in [(1, 3), (2, 2), (3, 3), (4, 5), (5, 1), (5, 7)]:
            k = random_array(rng, (kh, kw), dtype)
            mode = MODES[(i + kh) % 3]
            if mode == "valid" and kh > h:
                mode = "same"
            boundary = ["fill", "symm", "wrap"][(i + kw) % 3]
            ours = fastconv.correlate2d(x, k, mode, boundary, method="direct")
            theirs = scipy_signal.correlate2d(x, k, mode, boundary)
            bound = scipy_signal.correlate2d(magnitude(x), magnitude(k), mode, boundary)
            assert_matches(ours, theirs, bound, terms=2 * kh * kw)


@pytest.mark.parametrize("taps", [7, 32, 37, 40, 64, 99, 256, 520])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_1d_nonfinite_values_stay_local(taps, dtype):
    """inf and NaN spread only to the outputs whose window holds them, as in NumPy."""
    rng = np.random.default_rng(taps)
    a = random_array(rng, 1000, dtype)
    v = random_array(rng, taps, dtype)
    a[[10, 500]] = np.inf
    a[700] = -np.inf
    a[900] = np.nan
    for mode in MODES:
        for method in ("direct", "auto"):
            ours = fastconv.convolve(a, v, mode, method=method)
            theirs = np.convolve(a, v, mode)
            np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
            np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
            fin = np.isfinite(theirs)
            np.testing.assert_allclose(ours[fin], theirs[fin], rtol=1e-4, atol=1e-4 * taps)


@pytest.mark.parametrize("fn", ["convolve", "correlate"])
@pytest.mark.parametrize("args", [
    ([], [1]), ([1], []), ([], []), (3, [1, 2]), ([1, 2], 3), (3, 4),
    ([[1, 2]], [1]), ([1, 2], [[1]]), ([[1, 2], [3, 4]], [[1]]), (np.zeros((0, 3)), [1]),
    ([1, 2, 3], [1.5, 2j]), ([True, False], [True]), (np.array([1, 2], np.float16), [0.5]),
    (np.array([1, 2, 3], object), np.array([1, 1], object)), (np.array(["a", "b"]), np.array(["a"])),
    (np.array([1, 2], "m8[s]"), np.array([1], "m8[s]")), (np.array([1.0, 2.0], np.longdouble), [2.0]),
    (np.array([1, 2], ">i2"), np.array([3], ">f8")),
])
def test_1d_inputs_like_numpy(fn, args):
    """Scalars, empties, nesting and every dtype NumPy accepts or refuses."""
    theirs = outcome(lambda: getattr(np, fn)(*args))
    ours = outcome(lambda: getattr(fastconv, fn)(*args))
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "err":
        assert ours[1] is theirs[1]
    else:
        assert ours[1].dtype == theirs[1].dtype
        np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("fn", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", [
    "full", "same", "valid", "f", "s", "v", "F", "FULL", "fullx", "", "bogus", 0, 1, 2, 3, -1,
    np.int64(1), np.array(1), True, 1.0, np.float64(2.0), None, b"full", [0], 2**70,
])
def test_1d_modes_like_numpy(fn, mode):
    theirs = outcome(lambda: getattr(np, fn)([1, 2, 3], [1, 1], mode))
    ours = outcome(lambda: getattr(fastconv, fn)([1, 2, 3], [1, 1], mode))
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "err":
        assert ours[1] is theirs[1]
    else:
        np.testing.assert_array_equal(ours[1], theirs[1])


def test_1d_defaults_and_order_of_checks():
    a, v = [1.0, 2.0, 3.0, 4.0], [1.0, -1.0]
    np.testing.assert_array_equal(fastconv.convolve(a, v), np.convolve(a, v))
    np.testing.assert_array_equal(fastconv.correlate(a, v), np.correlate(a, v))
    # convolve checks for empty inputs before the mode; correlate the mode first
    with pytest.raises(ValueError, match="a cannot be empty"):
        fastconv.convolve([], [1], mode="bogus")
    with pytest.raises(ValueError, match="mode"):
        fastconv.correlate([], [1], mode="bogus")
    with pytest.raises(ValueError, match="method"):
        fastconv.convolve(a, v, method="winograd")


@pytest.mark.parametrize("dtype", INTS)
def test_1d_integer_wraparound_is_exact(dtype):
    """Products and sums that overflow the dtype (and int64) wrap exactly as in NumPy."""
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.max, 1, info.max], dtype=dtype)
    v = np.array([info.max, info.max - 1, info.min], dtype=dtype)
    for mode in MODES:
        for fn in ("convolve", "correlate"):
            ours = getattr(fastconv, fn)(a, v, mode)
            theirs = getattr(np, fn)(a, v, mode)
            assert ours.dtype == theirs.dtype
            np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------
# scipy.signal.convolve2d / correlate2d
# ---------------------------------------------------------------------------

def fill_for(rng, dtype, kind):
    """A fillvalue SciPy accepts for this dtype (kind 'int', 'float' or 'complex')."""
    dt = np.dtype(dtype)
    if kind == "int" or dt.kind in "iub":
        return int(rng.integers(-3 if dt.kind != "u" else 0, 4))
    if kind == "float" or dt.kind == "f":
        return float(rng.standard_normal())
    return complex(rng.standard_normal(), rng.standard_normal())


@SETTINGS
@given(h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 7), kw=st.integers(1, 7),
       mode=st.sampled_from(MODES), boundary=st.sampled_from(BOUNDARIES), dts=dtype_pairs(),
       fill_kind=st.sampled_from(["int", "float", "complex"]), seed=st.integers(0, 2**32 - 1),
       fn=st.sampled_from(["convolve2d", "correlate2d"]))
def test_2d_matches_scipy(h, w, kh, kw, mode, boundary, dts, fill_kind, seed, fn):
    rng = np.random.default_rng(seed)
    x = random_array(rng, (h, w), dts[0])
    k = random_array(rng, (kh, kw), dts[1])
    fill = fill_for(rng, np.result_type(x, k), fill_kind)
    x0, k0 = x.copy(), k.copy()
    theirs = outcome(lambda: getattr(scipy_signal, fn)(x, k, mode, boundary, fill))
    ours = outcome(lambda: getattr(fastconv, fn)(x, k, mode, boundary, fill))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(k, k0)
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "err":
        assert ours[1] is theirs[1]
        return
    bfill = abs(fill) if boundary in ("fill", "pad") else 0
    bound = getattr(scipy_signal, fn)(magnitude(x), magnitude(k), mode, boundary, bfill)
    assert_matches(ours[1], theirs[1], bound, terms=2 * kh * kw)


@FEW
@given(h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 5), kw=st.integers(1, 5),
       mode=st.sampled_from(MODES), boundary=st.sampled_from(["fill", "wrap", "symm"]),
       dtype=st.sampled_from([np.int8, np.uint16, np.int64, np.uint64, np.float32, np.float64,
                              np.complex64, np.complex128, np.longdouble, np.clongdouble]),
       seed=st.integers(0, 2**32 - 1), flip=st.booleans())
def test_2d_matches_reference(h, w, kh, kw, mode, boundary, dtype, seed, flip):
    """Against the slow reference, including the longdouble types fastconv loops over in NumPy."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).itemsize > 16 or np.dtype(dtype) == np.longdouble:
        x = random_array(rng, (h, w), np.complex128 if np.dtype(dtype).kind == "c" else np.float64).astype(dtype)
        k = random_array(rng, (kh, kw), x.dtype.type)
    else:
        x = random_array(rng, (h, w), dtype)
        k = random_array(rng, (kh, kw), dtype)
    if mode == "valid" and not (h >= kh and w >= kw or h <= kh and w <= kw):
        mode = "same"
    fill = 2 if np.dtype(dtype).kind in "iu" else 0.5
    fn = fastconv.convolve2d if flip else fastconv.correlate2d
    ours = fn(x, k, mode, boundary, fill)
    expected = ref.scipy_2d(x, k, mode, boundary, fill, convolve=flip)
    bound = ref.scipy_2d(magnitude(x), magnitude(k), mode, boundary, abs(fill), convolve=flip)
    if np.dtype(dtype).itemsize > 8 and np.dtype(dtype).kind == "f" or np.dtype(dtype).itemsize > 16:
        # the reference sums in double precision: compare at double precision
        assert ours.dtype == expected.dtype and ours.shape == expected.shape
        np.testing.assert_allclose(ours.astype(np.complex128), expected.astype(np.complex128),
                                   rtol=0, atol=float(4 * kh * kw * np.finfo(np.float64).eps * bound.max() + 1e-300))
    else:
        assert_matches(ours, expected, bound, terms=2 * kh * kw)


def test_reference_agrees_with_scipy():
    """The slow reference itself, on every mode and boundary (float64 and int8)."""
    rng = np.random.default_rng(7)
    for dtype in (np.float64, np.int8):
        x = random_array(rng, (5, 4), dtype)
        for kshape in [(2, 3), (6, 7), (5, 4)]:
            k = random_array(rng, kshape, dtype)
            for mode in MODES:
                for boundary in ("fill", "wrap", "symm"):
                    for flip, fn in ((True, scipy_signal.convolve2d), (False, scipy_signal.correlate2d)):
                        try:
                            expected = fn(x, k, mode, boundary, 3)
                        except ValueError:
                            continue
                        got = ref.scipy_2d(x, k, mode, boundary, 3, convolve=flip)
                        if expected.dtype.kind == "f":
                            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
                        else:
                            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fn", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("case", [
    dict(in1=np.ones(3), in2=np.ones((2, 2))),
    dict(in1=np.ones((2, 2, 2)), in2=np.ones((2, 2))),
    dict(in1=np.ones((2, 5)), in2=np.ones((3, 3)), mode="valid"),
    dict(in1=np.ones((3, 3)), in2=np.ones((2, 5)), mode="valid"),
    dict(in1=np.ones((3, 3)), in2=np.ones((5, 5)), mode="valid"),
    dict(in1=np.ones((3, 3)), in2=np.ones((2, 2)), mode="bogus"),
    dict(in1=np.ones((3, 3)), in2=np.ones((2, 2)), mode=["full"]),
    dict(in1=np.ones((3, 3)), in2=np.ones((2, 2)), boundary="reflect"),
    dict(in1=np.ones((3, 3)), in2=np.ones((2, 2)), boundary="bogus"),
    dict(in1=np.ones((3, 3), bool), in2=np.ones((2, 2), bool)),
    dict(in1=np.ones((3, 3), np.float16), in2=np.ones((2, 2), np.float16)),
    dict(in1=np.ones((3, 3), np.int8), in2=np.ones((2, 2), np.float16)),
    dict(in1=np.ones((3, 3), object), in2=np.ones((2, 2), object)),
    dict(in1=np.ones((3, 3), bool), in2=np.ones((2, 2), np.int8)),
    dict(in1=np.ones((3, 3), np.int64), in2=np.ones((2, 2), np.uint64)),
    dict(in1=np.ones((3, 3), np.longdouble), in2=np.ones((2, 2))),
    dict(in1=np.zeros((0, 3)), in2=np.ones((2, 2))),
    dict(in1=np.zeros((0, 3)), in2=np.ones((2, 2)), mode="same"),
    dict(in1=np.zeros((0, 3)), in2=np.ones((2, 2)), fillvalue=2.0),
    dict(in1=np.zeros((0, 3)), in2=np.zeros((0, 3))),
    dict(in1=np.zeros((0, 3)), in2=np.zeros((0, 3)), mode="valid"),
    dict(in1=np.ones((3, 4)), in2=np.zeros((0, 3))),
    dict(in1=np.ones((3, 4)), in2=np.zeros((0, 3)), mode="valid"),
    dict(in1=np.ones((3, 4)), in2=np.zeros((0, 3)), boundary="wrap"),
    dict(in1=np.ones((3, 4)), in2=np.zeros((2, 0)), boundary="symm", mode="same"),
    dict(in1=[[1, 2], [3, 4]], in2=[[1.5]]),
])
def test_2d_inputs_like_scipy(fn, case):
    """Shapes, modes, boundaries, dtypes and empty inputs: SciPy's result or SciPy's exception type."""
    theirs = outcome(lambda: getattr(scipy_signal, fn)(**case))
    ours = outcome(lambda: getattr(fastconv, fn)(**case))
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "err":
        assert ours[1] is theirs[1]
    else:
        assert ours[1].dtype == theirs[1].dtype and ours[1].shape == theirs[1].shape
        np.testing.assert_allclose(ours[1], theirs[1])


@pytest.mark.parametrize("boundary", ["wrap", "symm"])
def test_2d_empty_input_cannot_wrap(boundary):
    """SciPy divides by zero (it crashes the process) here; fastconv raises ValueError."""
    with pytest.raises(ValueError, match="non-empty"):
        fastconv.correlate2d(np.zeros((0, 4)), np.ones((2, 3)), boundary=boundary)


FILL_VALUES = [2.5, np.float64(2.5), np.array(2.5), np.int64(5), np.array(5), np.int8(3),
               np.float32(1.5), 5, 300, -1, True, np.bool_(True), np.complex128(1), 1 + 0j, 1 + 2j,
               [2], [[2.0]], np.array([2.0]), [1, 2], [], None, "3", "x", np.nan, np.inf, 2**70,
               object()]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.uint64, np.float32, np.float64,
                                   np.complex64, np.complex128])
@pytest.mark.parametrize("fillvalue", FILL_VALUES, ids=lambda v: repr(v)[:20])
def test_2d_fillvalue_like_scipy(dtype, fillvalue):
    """SciPy's fillvalue conversion: value, exception type, and no check for other boundaries."""
    x = np.arange(12).reshape(3, 4).astype(dtype)
    k = np.ones((2, 3), dtype)
    for boundary in ("fill", "wrap"):
        theirs = outcome(lambda: scipy_signal.correlate2d(x, k, "full", boundary, fillvalue))
        ours = outcome(lambda: fastconv.correlate2d(x, k, "full", boundary, fillvalue))
        assert ours[0] == theirs[0], (boundary, ours, theirs)
        if theirs[0] == "err":
            assert ours[1] is theirs[1]
        else:
            assert ours[1].dtype == theirs[1].dtype
            np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("dtype", INTS)
def test_2d_integer_wraparound_is_exact(dtype):
    rng = np.random.default_rng(3)
    x = random_array(rng, (17, 23), dtype)
    k = random_array(rng, (4, 5), dtype)
    for mode in MODES:
        for boundary in ("fill", "wrap", "symm"):
            for fn in ("convolve2d", "correlate2d"):
                theirs = getattr(scipy_signal, fn)(x, k, mode, boundary, 3)
                ours = getattr(fastconv, fn)(x, k, mode, boundary, 3)
                assert ours.dtype == theirs.dtype
                np.testing.assert_array_equal(ours, theirs)


def test_2d_views_and_byte_order():
    """Strided, reversed, Fortran-ordered and big-endian inputs give SciPy's result."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((30, 40))
    k = rng.standard_normal((3, 4))
    for x in (base[::2, ::3], base[::-1, ::-2], np.asfortranarray(base), base.astype(">f8"),
              base.T, base[5:20, 7:9]):
        for fn in ("convolve2d", "correlate2d"):
            theirs = getattr(scipy_signal, fn)(x, k[::-1], "same", "symm")
            ours = getattr(fastconv, fn)(x, k[::-1], "same", "symm")
            assert ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# filter2d
# ---------------------------------------------------------------------------

@st.composite
def stack_shapes(draw):
    """Broadcasting leading shapes for images and kernels."""
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    img, ker = [], []
    for n in lead:
        choice = draw(st.sampled_from(["both", "img", "ker"]))
        img.append(n if choice != "ker" else 1)
        ker.append(n if choice != "img" else 1)
    cut_i = draw(st.integers(0, len(img)))
    cut_k = draw(st.integers(0, len(ker)))
    # either side may drop leading axes (broadcasting prepends them)
    return tuple(img[cut_i if draw(st.booleans()) else 0:]), tuple(ker[cut_k if draw(st.booleans()) else 0:])


@SETTINGS
@given(shapes=stack_shapes(), h=st.integers(1, 8), w=st.integers(1, 8), kh=st.integers(1, 5),
       kw=st.integers(1, 5), mode=st.sampled_from(MODES), boundary=st.sampled_from(["fill", "wrap", "symm"]),
       dtype=st.sampled_from([np.uint8, np.int32, np.float32, np.float64, np.complex64, np.complex128]),
       flip=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_filter2d_matches_loop_of_scipy(shapes, h, w, kh, kw, mode, boundary, dtype, flip, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, shapes[0] + (h, w), dtype)
    k = random_array(rng, shapes[1] + (kh, kw), dtype)
    fill = 1 if np.dtype(dtype).kind in "iu" else -0.75
    fn = scipy_signal.convolve2d if flip else scipy_signal.correlate2d
    batch = np.broadcast_shapes(x.shape[:-2], k.shape[:-2])
    xb = np.broadcast_to(x, batch + (h, w))
    kb = np.broadcast_to(k, batch + (kh, kw))
    theirs = outcome(lambda: [fn(xb[i], kb[i], mode, boundary, fill) for i in np.ndindex(*batch)])
    ours = outcome(lambda: fastconv.filter2d(x, k, mode, boundary, fill, convolve=flip))
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "err":
        assert ours[1] is theirs[1]
        return
    first = theirs[1][0]
    expected = np.stack(theirs[1]).reshape(batch + first.shape)
    bound_fn = fastconv.convolve2d if flip else fastconv.correlate2d
    bound = np.stack([fn(magnitude(xb[i]), magnitude(kb[i]), mode, boundary, abs(fill))
                      for i in np.ndindex(*batch)]).reshape(expected.shape)
    del bound_fn
    assert_matches(ours[1], expected, bound, terms=2 * kh * kw)


def test_filter2d_gaussian_stack_and_sobel():
    rng = np.random.default_rng(11)
    stack = rng.random((6, 40, 50), dtype=np.float32)
    g = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float32) / 256
    blurred = fastconv.filter2d(stack, g, boundary="symm")
    for i in range(6):
        np.testing.assert_allclose(blurred[i], scipy_signal.correlate2d(stack[i], g, "same", "symm"),
                                   rtol=1e-5, atol=1e-6)
    sobel = np.array([[[1, 0, -1], [2, 0, -2], [1, 0, -1]], [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]], np.float32)
    edges = fastconv.filter2d(stack[:, None], sobel, convolve=True)  # every image x both kernels
    assert edges.shape == (6, 2, 40, 50)
    for i in range(6):
        for j in range(2):
            np.testing.assert_allclose(edges[i, j], scipy_signal.convolve2d(stack[i], sobel[j], "same"),
                                       rtol=1e-5, atol=1e-5)


def test_filter2d_bad_arguments():
    with pytest.raises(ValueError):
        fastconv.filter2d(np.ones(5), np.ones((2, 2)))
    with pytest.raises(ValueError):
        fastconv.filter2d(np.ones((3, 5, 5)), np.ones(2))
    with pytest.raises(ValueError, match="broadcast"):
        fastconv.filter2d(np.ones((3, 5, 5)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError):
        fastconv.filter2d(np.ones((3, 5, 5)), np.ones((2, 2)), mode="bogus")
    with pytest.raises(ValueError):
        fastconv.filter2d(np.ones((3, 5, 5)), np.ones((2, 2)), boundary="bogus")
    with pytest.raises(ValueError):
        fastconv.filter2d(np.ones((3, 5, 5), bool), np.ones((2, 2), bool))
    with pytest.raises(ValueError):
        fastconv.filter2d(np.ones((3, 2, 5)), np.ones((3, 3)), mode="valid")
    assert fastconv.filter2d(np.ones((0, 5, 5)), np.ones((2, 2))).shape == (0, 5, 5)


# ---------------------------------------------------------------------------
# FFT against direct
# ---------------------------------------------------------------------------

def assert_fft_close(fft, direct, bound, n):
    """FFT error is norm-wise: eps * log2(n) relative to the largest output bound."""
    assert fft.dtype == direct.dtype and fft.shape == direct.shape
    eps = compute_eps(direct.dtype)
    tol = 8 * eps * max(np.log2(max(n, 2)), 1) * float(np.max(bound)) + 1e-300
    assert np.max(np.abs(fft.astype(np.complex128) - direct.astype(np.complex128))) <= tol


def check_1d_fft(fn, a, v, mode):
    """method="fft" within the FFT's norm-wise bound of method="direct"."""
    f = getattr(fastconv, fn)
    direct = f(a, v, mode, method="direct")
    fft = f(a, v, mode, method="fft")
    bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
    assert_fft_close(fft, direct, bound, a.size + v.size)


@FEW
@given(n1=st.integers(1, 3000), n2=st.integers(1, 300), mode=st.sampled_from(MODES),
       dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
       fn=st.sampled_from(["convolve", "correlate"]), seed=st.integers(0, 2**32 - 1))
def test_1d_fft_matches_direct(n1, n2, mode, dtype, fn, seed):
    rng = np.random.default_rng(seed)
    a = random_array(rng, n1, dtype)
    v = random_array(rng, n2, dtype)
    check_1d_fft(fn, a, v, mode)


@FEW
@given(shapes=stack_shapes(), h=st.integers(1, 40), w=st.integers(1, 40), kh=st.integers(1, 12),
       kw=st.integers(1, 12), mode=st.sampled_from(MODES), boundary=st.sampled_from(["fill", "wrap", "symm"]),
       dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]), flip=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_2d_fft_matches_direct(shapes, h, w, kh, kw, mode, boundary, dtype, flip, seed):
    rng = np.random.default_rng(seed)
    x = random_array(rng, shapes[0] + (h, w), dtype)
    k = random_array(rng, shapes[1] + (kh, kw), dtype)
    assume(not (mode == "valid" and not (h >= kh and w >= kw or h <= kh and w <= kw)))
    fill = complex(0.5, -1) if np.dtype(dtype).kind == "c" else 0.5
    direct = fastconv.filter2d(x, k, mode, boundary, fill, convolve=flip, method="direct")
    fft = fastconv.filter2d(x, k, mode, boundary, fill, convolve=flip, method="fft")
    bound = fastconv.filter2d(magnitude(x), magnitude(k), mode, boundary, abs(fill), convolve=flip,
                              method="direct")
    assert_fft_close(fft, direct, bound, (h + kh) * (w + kw))


def test_auto_uses_fft_for_long_kernels_and_agrees():
    rng = np.random.default_rng(2)
    a = rng.standard_normal(50_000)
    v = rng.standard_normal(3000)
    auto = fastconv.convolve(a, v, "same")
    direct = fastconv.convolve(a, v, "same", method="direct")
    assert_fft_close(auto, direct, np.convolve(np.abs(a), np.abs(v), "same"), 53_000)
    np.testing.assert_allclose(auto, np.convolve(a, v, "same"), atol=1e-9 * np.abs(direct).max())
    # non-finite values keep 'auto' direct: a NaN stays local, as in NumPy
    a[100] = np.nan
    out = fastconv.convolve(a, v, "same")
    assert np.isnan(out[100]) and np.isfinite(out[20_000])
    # integers are always exact
    ai = rng.integers(-1000, 1000, 20_000)
    vi = rng.integers(-1000, 1000, 3000)
    np.testing.assert_array_equal(fastconv.convolve(ai, vi), np.convolve(ai, vi))


def test_fft_method_on_integers_stays_exact():
    a = np.arange(100, dtype=np.int64) ** 3
    v = np.arange(7, dtype=np.int64)
    np.testing.assert_array_equal(fastconv.convolve(a, v, method="fft"), np.convolve(a, v))


# ---------------------------------------------------------------------------
# the C overlap-save FFT of real 1-D signals (signal_fft.c)
# ---------------------------------------------------------------------------

def assert_auto_matches_numpy(fn, a, v, mode):
    """method="auto" against NumPy's direct sum in float64, per output, within the
    dot-product bound the direct tests use (the FFT's guard must keep it)."""
    ours = getattr(fastconv, fn)(a, v, mode)
    a64, v64 = a.astype(np.float64), v.astype(np.float64)
    theirs = getattr(np, fn)(a64, v64, mode).astype(ours.dtype)
    bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
    assert_matches(ours, theirs, bound, terms=2 * min(len(a), len(v)))
    return ours


@FEW
@given(n1=st.integers(1, 30000), n2=st.integers(1, 1300), mode=st.sampled_from(MODES),
       dtype=st.sampled_from([np.float32, np.float64]), fn=st.sampled_from(["convolve", "correlate"]),
       seed=st.integers(0, 2**32 - 1))
def test_1d_own_fft_matches_numpy(n1, n2, mode, dtype, fn, seed):
    """Random sizes (kernels longer than the signal, 1 sample, odd lengths): method="fft"
    (the C FFT, no guard) within the FFT's norm-wise bound of the direct result;
    method="auto" (the C FFT from 224 taps, with its guard) within NumPy's per-output
    bound."""
    rng = np.random.default_rng(seed)
    a = random_array(rng, n1, dtype)
    v = random_array(rng, n2, dtype)
    check_1d_fft(fn, a, v, mode)
    assert_auto_matches_numpy(fn, a, v, mode)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_1d_own_fft_every_isa(isa, dtype):
    """Each ISA level's batch kernels (512-, 256- and 128-bit vectors): full batches,
    edge batches, blocks of 2**k and 2 * 4**k points, every mode."""
    rng = np.random.default_rng(31)
    for n, taps in [(200_003, 256), (70_001, 300), (9000, 1000), (5000, 4096), (300, 17), (64, 64)]:
        a = random_array(rng, n, dtype)
        v = random_array(rng, taps, dtype)
        for i, mode in enumerate(MODES):
            fn = ("convolve", "correlate")[(i + taps) % 2]
            fft = getattr(fastconv, fn)(a, v, mode, method="fft")
            direct = getattr(fastconv, fn)(a, v, mode, method="direct")
            bound = getattr(np, fn)(magnitude(a), magnitude(v), mode)
            assert_fft_close(fft, direct, bound, n + taps)
            assert_auto_matches_numpy(fn, a, v, mode)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_1d_own_fft_thread_counts_are_bitwise_equal(dtype):
    """The blocks, their pairing and the block length never depend on the thread
    count, nor do the guard's decisions, nor auto's choice between FFT and direct
    (a short signal, one batch: direct would win on more threads): the same bits
    for 1, 2 and 3 threads."""
    rng = np.random.default_rng(32)
    a = random_array(rng, 333_333, dtype)
    a[100_000:100_050] *= 1e-9  # a quiet stretch: some pairs recomputed directly
    for taps in (256, 700, 4096, 300):
        if taps == 300:
            a = random_array(rng, 3000, dtype)
        v = random_array(rng, taps, dtype)
        runs = []
        for nt in (1, 2, 3):
            with fastconv.threads(nt):
                runs.append((fastconv.convolve(a, v, "full", method="fft"),
                             fastconv.correlate(a, v, "same"), fastconv.convolve(a, v, "valid")))
        for other in runs[1:]:
            for x, y in zip(runs[0], other):
                assert x.tobytes() == y.tobytes()


def _dynamic_range_signals(rng, n):
    t = np.arange(n)
    yield rng.standard_normal(n)
    yield np.where((t // 2500) % 2 == 0, 1e6, 1e-6) * rng.standard_normal(n)  # loud and quiet
    yield 1e4 + rng.standard_normal(n)  # a large offset
    yield (rng.random(n) < 0.02) * rng.standard_normal(n)  # sparse
    yield np.repeat(rng.standard_normal(n // 400 + 1), 400)[:n] * 10.0 ** rng.integers(-8, 8, 1)
    yield np.exp(-t / (n / 30))  # decaying over 13 decades
    yield rng.random(n)  # all positive


def _dynamic_range_kernels(rng, taps):
    m = np.arange(taps) - (taps - 1) / 2
    yield rng.standard_normal(taps)
    yield np.ones(taps)
    yield np.sinc(0.05 * m) * np.hanning(taps)
    yield np.eye(1, taps, taps // 3)[0]  # a delay: the FFT could not meet the per-output bound
    yield np.exp(-np.arange(taps) * (20.0 / taps))  # 2e-9 at the far end (no float32 underflow)
    yield (-1.0) ** np.arange(taps) * (1 + rng.random(taps))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("taps", [224, 256, 640, 2000])
def test_1d_auto_keeps_numpy_accuracy_on_large_dynamic_range(dtype, taps):
    """method="auto" keeps NumPy's per-output accuracy where an FFT's norm-wise error
    would not (quiet stretches next to loud ones, offsets, sparse signals, delays,
    fast-decaying kernels): its guard sends those outputs to the direct engine, as
    a plain dot product."""
    rng = np.random.default_rng(taps)
    for sig in _dynamic_range_signals(rng, 40_000):
        for ker in _dynamic_range_kernels(rng, taps):
            a = sig.astype(dtype)
            v = ker.astype(dtype)
            for mode in MODES:
                assert_auto_matches_numpy("convolve", a, v, mode)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_1d_auto_fft_nonfinite_values_stay_local(dtype):
    """inf and NaN under "auto" with a kernel long enough for the FFT: the pairs of
    blocks holding them are recomputed directly, so they spread only as in NumPy."""
    rng = np.random.default_rng(33)
    a = random_array(rng, 60_000, dtype)
    v = random_array(rng, 300, dtype)
    a[[1000, 30_000]] = np.inf
    a[45_000] = -np.inf
    a[50_000] = np.nan
    for mode in MODES:
        ours = fastconv.convolve(a, v, mode)
        theirs = np.convolve(a, v, mode)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
        fin = np.isfinite(theirs)
        bound = np.convolve(magnitude(a), magnitude(v), mode)[fin]
        assert_matches(ours[fin], theirs[fin], bound, terms=600)
    ker = v.copy()
    ker[7] = np.nan  # a non-finite tap: NaN wherever NumPy multiplies it
    a = random_array(rng, 60_000, dtype)
    for mode in MODES:
        np.testing.assert_array_equal(np.isnan(fastconv.convolve(a, ker, mode)),
                                      np.isnan(np.convolve(a, ker, mode)))


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_own_fft_one_row_images(boundary):
    """A single 1-row image through filter2d takes the 1-D FFT (wrap and symm extend
    the row first): SciPy's values."""
    rng = np.random.default_rng(34)
    x = random_array(rng, (1, 5000), np.float64)
    k = random_array(rng, (1, 300), np.float64)
    for mode in MODES:
        fft = fastconv.filter2d(x, k, mode, boundary, 0.25, method="fft")
        auto = fastconv.filter2d(x, k, mode, boundary, 0.25)
        theirs = scipy_signal.correlate2d(x, k, mode, boundary, 0.25)
        bound = scipy_signal.correlate2d(magnitude(x), magnitude(k), mode, boundary, 0.25)
        assert_fft_close(fft, theirs, bound, 5300)
        assert_matches(auto, theirs, bound, terms=600)


def test_own_fft_guard_flags():
    """The C entry point's guard: a pair of blocks is flagged where a quiet stretch
    sits inside it, not elsewhere; flagged or not, the outputs meet NumPy's bound."""
    from fastconv import _signal

    rng = np.random.default_rng(35)
    n, taps, N = 100_000, 256, 1024
    x = rng.standard_normal(n)
    x[50_000:50_100] *= 1e-12
    k = rng.standard_normal(taps)
    params = (n, 0, taps, n - taps + 1, N, 1, fastconv.signal.FFT_GUARD_C)
    bad = np.zeros(_signal.fftcorr1d_pairs(params), dtype=np.uint8)
    y = np.empty(n - taps + 1)
    _signal.fftcorr1d_f64(params, x, k, 0.0, y, bad)
    step = N - taps + 1
    quiet = {(50_000 + d) // (2 * step) for d in (-step, 0, 100)}
    assert set(np.nonzero(bad)[0]) <= quiet and bad[50_000 // (2 * step)]
    assert bad.sum() <= 3
    assert_matches(y, np.correlate(x, k, "valid"), np.correlate(np.abs(x), np.abs(k), "valid"),
                   terms=2 * taps)
    with pytest.raises(ValueError):
        _signal.fftcorr1d_f64((n, 0, taps, n - taps + 1, 1000, 1, 4.0), x, k, 0.0, y, bad)


# ---------------------------------------------------------------------------
# threads and ISA levels
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int16])
def test_thread_counts_are_bitwise_equal(dtype):
    rng = np.random.default_rng(9)
    img = random_array(rng, (3, 97, 131), dtype)
    ker = random_array(rng, (5, 4), dtype)
    sig = random_array(rng, 40_001, dtype)
    taps = random_array(rng, 37, dtype)
    results = []
    for n in (1, 2, 3):
        with fastconv.threads(n):
            results.append((
                fastconv.filter2d(img, ker, "full", "symm", method="direct"),
                fastconv.convolve(sig, taps, "same", method="direct"),
                fastconv.correlate2d(img[0], ker, "valid", method="direct"),
            ))
    for other in results[1:]:
        for x, y in zip(results[0], other):
            assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_fft_thread_counts_are_bitwise_equal(dtype):
    """The FFT path's blocks do not depend on the thread count either."""
    rng = np.random.default_rng(10)
    sig = random_array(rng, 300_000, dtype)
    taps = random_array(rng, 700, dtype)
    stack = random_array(rng, (3, 60, 70), dtype)
    ker = random_array(rng, (9, 8), dtype)
    results = []
    for n in (1, 2, 3):
        with fastconv.threads(n):
            results.append((fastconv.correlate(sig, taps, "full", method="fft"),
                            fastconv.filter2d(stack, ker, "same", "wrap", method="fft")))
    for other in results[1:]:
        for x, y in zip(results[0], other):
            assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int32])
def test_isa_levels(isa, dtype):
    """Each ISA level, on shapes that exercise every register tile and tail."""
    rng = np.random.default_rng(13)
    for (h, w), (kh, kw) in [((9, 203), (3, 3)), ((7, 5), (2, 6)), ((13, 100), (5, 1)), ((1, 777), (1, 21))]:
        x = random_array(rng, (h, w), dtype)
        k = random_array(rng, (kh, kw), dtype)
        for mode in MODES:
            if mode == "valid" and (kh > h or kw > w):
                continue
            ours = fastconv.correlate2d(x, k, mode, "symm", method="direct")
            theirs = scipy_signal.correlate2d(x, k, mode, "symm")
            bound = scipy_signal.correlate2d(magnitude(x), magnitude(k), mode, "symm")
            assert_matches(ours, theirs, bound, terms=2 * kh * kw)
    a = random_array(rng, 5000, dtype)
    v = random_array(rng, 300, dtype)
    assert_matches(fastconv.convolve(a, v, method="direct"), np.convolve(a, v),
                   np.convolve(magnitude(a), magnitude(v)), terms=600)


def test_top_level_names():
    for name in ("convolve", "correlate", "convolve2d", "correlate2d", "filter2d"):
        assert name in fastconv.__all__
        assert getattr(fastconv, name) is getattr(fastconv.signal, name)
