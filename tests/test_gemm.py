"""fastconv.gemm against numpy.matmul computed in float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv
from fastconv import _runtime

BLOCK32 = _runtime.gemm_blocking(4)
BLOCK64 = _runtime.gemm_blocking(8)


def reference(a, b, c=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    r = alpha * ((a64.T if trans_a else a64) @ (b64.T if trans_b else b64))
    if c is not None and beta != 0:
        r = r + beta * np.asarray(c, dtype=np.float64)
    return r


def assert_close(got, ref, k, dtype, scale=1.0):
    """Error bound of a length-k dot product: k * eps * (sum of |terms|)."""
    eps = np.finfo(dtype).eps
    tol = 4 * max(k, 1) * eps * scale + np.finfo(dtype).tiny
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


def magnitude(a, b, trans_a=False, trans_b=False):
    """max over C of sum_k |a_ik b_kj|: the scale the rounding error grows with."""
    aa = np.abs(np.asarray(a, np.float64))
    bb = np.abs(np.asarray(b, np.float64))
    return float(((aa.T if trans_a else aa) @ (bb.T if trans_b else bb)).max(initial=0.0)) + 1.0


def sizes_around(block):
    return sorted({1, 2, block - 1, block, block + 1})


EDGE_SHAPES = [
    (1, 1, 1), (1, 7, 1), (5, 1, 9), (3, 5, 2), (17, 33, 65), (64, 576, 37),
    (BLOCK32["mr"] + 1, BLOCK32["kc"] + 1, BLOCK32["nr"] + 1),
    (BLOCK32["mc"] + 1, BLOCK32["kc"] - 1, BLOCK32["nr"] * 2 - 1),
    (BLOCK64["mc"] - 1, BLOCK64["kc"] * 2 + 3, BLOCK64["nr"] * 3 + 1),
    (2, 3, BLOCK32["nc"] + 5),
    (300, 2, 3), (3, 2, 300),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", EDGE_SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matches_numpy(isa, rng, dtype, m, k, n, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    got = fastconv.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert got.dtype == dtype and got.shape == (m, n)
    assert_close(got, reference(a, b, trans_a=trans_a, trans_b=trans_b), k, dtype,
                 magnitude(a, b, trans_a, trans_b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.5, 0.0), (-0.5, 3.0), (1.0, -1.0), (0.0, 2.0)])
def test_alpha_beta(isa, rng, dtype, alpha, beta):
    m, k, n = 37, 301, 45
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    c_before = c.copy()
    got = fastconv.gemm(a, b, c, alpha=alpha, beta=beta)
    np.testing.assert_array_equal(c, c_before)  # c is an input: untouched
    scale = abs(alpha) * magnitude(a, b) + abs(beta) * np.abs(c).max()
    assert_close(got, reference(a, b, c, alpha, beta), k, dtype, scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_accumulates_in_place(rng, dtype):
    a = rng.standard_normal((20, 30)).astype(dtype)
    b = rng.standard_normal((30, 40)).astype(dtype)
    out = rng.standard_normal((20, 40)).astype(dtype)
    expected = reference(a, b, out, 1.0, 0.5)
    res = fastconv.gemm(a, b, out, beta=0.5, out=out)
    assert res is out
    assert_close(out, expected, 30, dtype, magnitude(a, b) + np.abs(expected).max())


def test_beta_zero_ignores_nan_in_out(rng):
    a = rng.standard_normal((9, 4)).astype(np.float32)
    b = rng.standard_normal((4, 11)).astype(np.float32)
    out = np.full((9, 11), np.nan, np.float32)
    fastconv.gemm(a, b, out=out)
    assert np.isfinite(out).all()
    assert_close(out, reference(a, b), 4, np.float32, magnitude(a, b))


@pytest.mark.parametrize("layout", ["F", "slice", "negative", "broadcast", "transposed-view"])
def test_any_strides(rng, layout):
    base_a = rng.standard_normal((50, 70))
    base_b = rng.standard_normal((70, 60))
    if layout == "F":
        a, b = np.asfortranarray(base_a), np.asfortranarray(base_b)
    elif layout == "slice":
        a, b = rng.standard_normal((100, 140))[::2, ::2], rng.standard_normal((140, 180))[::2, ::3]
    elif layout == "negative":
        a, b = base_a[::-1, ::-1], base_b[:, ::-1]
    elif layout == "broadcast":
        a = np.broadcast_to(rng.standard_normal((1, 70)), (50, 70))
        b = np.broadcast_to(rng.standard_normal((70, 1)), (70, 60))
    else:
        a, b = np.ascontiguousarray(base_a.T).T, np.ascontiguousarray(base_b.T).T
    got = fastconv.gemm(a, b)
    assert_close(got, reference(a, b), a.shape[1], np.float64, magnitude(a, b))


def test_out_with_strides_and_overlap(rng):
    a = rng.standard_normal((30, 30)).astype(np.float32)
    b = rng.standard_normal((30, 30)).astype(np.float32)
    expected = reference(a, b)
    big = np.zeros((30, 60), np.float32)
    out = big[:, ::2]  # non-unit column stride: computed aside, copied in
    fastconv.gemm(a, b, out=out)
    assert_close(out, expected, 30, np.float32, magnitude(a, b))
    # out aliasing an input: the result must be as if computed out of place
    a2 = a.copy()
    fastconv.gemm(a2, b, out=a2)
    assert_close(a2, expected, 30, np.float32, magnitude(a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(257, 300, 513), (6, 25, 5000), (512, 1000, 49), (1, 500, 3000), (3000, 500, 1)])
def test_bitwise_identical_across_threads(isa, rng, dtype, m, k, n):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    results = []
    for nt in (1, 2, 3, 4):
        with fastconv.threads(nt):
            results.append(fastconv.gemm(a, b))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("dtypes,expected", [
    ((np.float32, np.float32), np.float32),
    ((np.float32, np.float64), np.float64),
    ((np.float16, np.float32), np.float32),
    ((np.int32, np.int64), np.float64),
    ((np.bool_, np.float32), np.float32),
    ((np.bool_, np.bool_), np.float64),
    ((np.int8, np.float32), np.float32),
])
def test_dtype_promotion(rng, dtypes, expected):
    a = (rng.standard_normal((5, 6)) * 4).astype(dtypes[0])
    b = (rng.standard_normal((6, 7)) * 4).astype(dtypes[1])
    got = fastconv.gemm(a, b)
    assert got.dtype == expected
    assert_close(got, reference(a, b), 6, expected, magnitude(a, b))


def test_integer_inputs_exact(rng):
    a = rng.integers(-100, 100, size=(13, 17))
    b = rng.integers(-100, 100, size=(17, 19))
    np.testing.assert_array_equal(fastconv.gemm(a, b), (a @ b).astype(np.float64))


def test_empty_operands():
    assert fastconv.gemm(np.ones((0, 3)), np.ones((3, 4))).shape == (0, 4)
    np.testing.assert_array_equal(fastconv.gemm(np.ones((2, 0)), np.ones((0, 4))), np.zeros((2, 4)))
    c = np.ones((2, 4))
    np.testing.assert_array_equal(fastconv.gemm(np.ones((2, 0)), np.ones((0, 4)), c, beta=2.0), 2 * c)


def test_read_only_inputs(rng):
    a = rng.standard_normal((8, 9))
    b = rng.standard_normal((9, 10))
    a.flags.writeable = False
    b.flags.writeable = False
    assert_close(fastconv.gemm(a, b), reference(a, b), 9, np.float64, magnitude(a, b))


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 70), k=st.integers(1, 70), n=st.integers(1, 70),
    trans_a=st.booleans(), trans_b=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_shapes(m, k, n, trans_a, trans_b, dtype, seed):
    r = np.random.default_rng(seed)
    a = r.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = r.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    got = fastconv.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_close(got, reference(a, b, trans_a=trans_a, trans_b=trans_b), k, dtype,
                 magnitude(a, b, trans_a, trans_b))


# ---- bad input -----------------------------------------------------------

def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        fastconv.gemm(np.ones((3, 4)), np.ones((5, 6)))


def test_not_2d():
    with pytest.raises(ValueError, match="a must be 2-D"):
        fastconv.gemm(np.ones(3), np.ones((3, 4)))
    with pytest.raises(ValueError, match="b must be 2-D"):
        fastconv.gemm(np.ones((3, 4)), np.ones((4, 2, 1)))


def test_complex_raises_type_error():
    with pytest.raises(TypeError, match="complex"):
        fastconv.gemm(np.ones((2, 2), np.complex64), np.ones((2, 2)))
    with pytest.raises(TypeError):
        fastconv.gemm(np.ones((2, 2)), np.ones((2, 2)), alpha=1j)


def test_bad_out():
    a, b = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(ValueError, match="out.*shape"):
        fastconv.gemm(a, b, out=np.empty((5, 3)))
    with pytest.raises(ValueError, match="out.*dtype"):
        fastconv.gemm(a, b, out=np.empty((3, 5), np.float32))
    ro = np.empty((3, 5))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out.*writeable"):
        fastconv.gemm(a, b, out=ro)
    with pytest.raises(TypeError, match="out"):
        fastconv.gemm(a, b, out=[[0.0] * 5] * 3)


def test_bad_c_and_beta():
    a, b = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(ValueError, match="c has shape"):
        fastconv.gemm(a, b, np.ones((4, 4)), beta=1.0)
    with pytest.raises(ValueError, match="beta"):
        fastconv.gemm(a, b, beta=1.0)
