"""fastconv on Dask arrays and dask.distributed clusters.

The functions of this module take a ``dask.array.Array`` and return one: the
work runs block by block on whatever Dask scheduler is active (threads,
processes or a ``dask.distributed`` cluster), and the computed result equals
the single-machine fastconv function on the whole computed array, **bitwise**
(same values, dtype and shape).

======================  =====================================================
:func:`conv2d`          batch chunks map block by block; chunks along H and W
                        get a halo of the right depth (kernel size, dilation,
                        stride, padding)
:func:`max_pool2d`,     batch chunks, and spatial chunks re-aligned to the
:func:`avg_pool2d`      stride
:func:`filter2d`        a huge image (or stack) chunked in H and W, every
                        mode and boundary ("fill", "wrap", "symm") exact
:func:`predict`         a fastconv model (or any picklable callable) applied
                        to a batch of images chunk by chunk
======================  =====================================================

Dask is an optional dependency (``pip install "fastconv[dask]"``): it is
imported when a function of this module is called, never by ``import
fastconv``.

How chunks are handled
----------------------
* The channel axis is brought to one chunk (a convolution or a model needs
  every channel of a pixel); batch chunks are kept as they are.
* Along H and W each output block reads the input rows of its windows: its
  own chunk plus a halo from the neighbouring chunks (``dask.array.overlap``
  with the depth ``padding_before`` before and ``dilation * (kernel - 1) + 1
  - stride - padding_before`` after), with the convolution's or pooling's
  zero padding applied only at the true borders of the image.  For a stride
  ``s`` the chunk boundaries are moved to multiples of ``s`` (so that every
  output window starts in one block), and chunks smaller than the halo are
  merged with their neighbour.  With ``rechunk=False`` nothing is rechunked
  and chunks that cannot be split that way raise ``ValueError`` naming the
  axis, the chunks and the geometry.
* :func:`filter2d` first extends the image by the boundary rule -- constant
  ``fillvalue``, periodic (``"wrap"``) or mirrored (``"symm"``) -- as
  slices of the image itself, so kernels larger than a chunk, or than the
  whole image, wrap and mirror exactly as on one machine (Dask's own
  ``boundary="periodic"`` only wraps a halo no deeper than the image); then
  every block is a "valid" correlation of its extended rows.

Threads
-------
Each block runs fastconv with :func:`get_threads_per_task` OpenMP threads
(default **1**), so a Dask worker with ``t`` threads runs ``t`` fastconv calls
of one thread each and a cluster is never oversubscribed.  Change it with
:func:`set_threads_per_task` or the ``threads_per_task=`` keyword of every
function, e.g. for a worker with one Dask thread per machine and several
cores.  The value is read when the graph is built and travels inside the
tasks, so it also holds on remote workers.  (For fastconv calls of your own
inside ``map_blocks``, wrap them in ``fastconv.threads(1)`` likewise;
``dask.distributed``'s nanny also starts workers with ``OMP_NUM_THREADS=1``.)

Models ship to the workers pickled with ``cloudpickle`` (fastconv layers and
models pickle without their cached activations).
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict

import numpy as np

from . import _threads
from .conv import _ConvPlan, _layout as _conv_layout, _LAYOUT_NCHW
from ._validate import as_float_array, compute_dtype, filter2d_batch

__all__ = [
    "avg_pool2d",
    "conv2d",
    "filter2d",
    "get_threads_per_task",
    "max_pool2d",
    "predict",
    "set_threads_per_task",
]

_threads_per_task = 1


def _dask_array():
    """dask.array, or an ImportError naming the extra that installs it."""
    try:
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            "fastconv.dask needs Dask: install the 'dask' extra, "
            "pip install \"fastconv[dask]\" (dask[array] and distributed)"
        ) from exc
    return da


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------

def set_threads_per_task(n: int) -> int:
    """Set how many OpenMP threads each Dask task gives fastconv; returns the previous value.

    The default, 1, matches one fastconv thread to each Dask thread, so a
    worker with ``t`` threads keeps ``t`` cores busy and never more.  Raise
    it only when a worker runs fewer Dask threads than it has cores.  Read
    when a graph is built: set it before calling the functions of this module.
    """
    global _threads_per_task
    n = _threads._check_n(n)
    previous, _threads_per_task = _threads_per_task, n
    return previous


def get_threads_per_task() -> int:
    """OpenMP threads each Dask task gives fastconv (default 1)."""
    return _threads_per_task


def _nthreads(threads_per_task):
    return _threads_per_task if threads_per_task is None else _threads._check_n(threads_per_task, "threads_per_task")


# ---------------------------------------------------------------------------
# arrays and chunk plans
# ---------------------------------------------------------------------------

def _as_dask(x, name="x"):
    da = _dask_array()
    if not isinstance(x, da.Array):
        x = da.asarray(x)
    if any(math.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first")
    return x


def _bounds(chunks):
    """Interior boundaries of a chunking: (3, 4, 2) -> [3, 7]."""
    out, pos = [], 0
    for c in chunks[:-1]:
        pos += c
        out.append(pos)
    return out


class _Axis:
    """How one spatial axis is split: windows of ``span`` rows, stride ``s``.

    Output ``o`` reads input rows ``[o*s - top, o*s - top + span)`` (rows
    outside ``[0, n)`` are padding).  Output block ``j`` holds outputs
    ``[a_j, a_j+1)``; its input chunk is ``[a_j*s, a_j+1*s)`` (the last one
    ends at ``n``), widened by the halo ``before`` = top rows from the
    previous chunk and ``after`` = span - s - top (if positive) from the next.
    """

    def __init__(self, n, out, span, s, top, bottom, out_bounds):
        self.n, self.out, self.span, self.s, self.top, self.bottom = n, out, span, s, top, bottom
        self.before = top
        self.after = max(span - s - top, 0)
        self.out_bounds = list(out_bounds)
        a = [0] + self.out_bounds
        self.in_chunks = tuple(np.diff([v * s for v in a] + [n]).tolist())
        self.out_chunks = tuple(np.diff(a + [out]).tolist())

    @property
    def split(self):
        return len(self.out_chunks) > 1

    def params(self):
        return (self.n, self.s, self.span, self.top, self.bottom, self.before)


def _block_geometry(params, loc, j, last):
    """(slice of the overlapped block, pad before, pad after) of output block j."""
    n, s, span, top, bottom, before = params
    o0, o1 = loc
    ostart = 0 if j == 0 else o0 * s - before
    start = max(o0 * s - top, 0)
    stop = n if last else o1 * s - top + span - s
    pad_lo = max(top - o0 * s, 0)
    pad_hi = bottom if last else 0
    return slice(start - ostart, stop - ostart), pad_lo, pad_hi


def _plan_axis(chunks, n, out, span, s, top, bottom, *, rechunk, what, axis_name, out_bounds=None):
    """Choose the output blocks of one axis from the input's chunks.

    Output boundaries start at the first window at or after each input chunk
    boundary (``ceil(b / s)``, or ``out_bounds`` when given); a boundary is
    dropped when it would leave a chunk shorter than the halo it lends, a
    first block without an input row, or a last block without outputs.
    """
    before, after = top, max(span - s - top, 0)
    need = max(before, after, 1)
    if out_bounds is None:
        cand = sorted({-(-b // s) for b in _bounds(chunks)})
    else:
        cand = sorted(set(out_bounds))
    kept = []
    prev_a = 0
    for a in cand:
        B = a * s
        if a <= prev_a or a >= out or B >= n:
            continue
        if B - prev_a * s < need:
            continue
        if not kept and B - top + span - s < 1:  # the first block would read only padding
            continue
        kept.append(a)
        prev_a = a
    while kept and (n - kept[-1] * s < need or out - kept[-1] < 1 or kept[-1] * s - top >= n):
        kept.pop()
    plan = _Axis(n, out, span, s, top, bottom, kept)
    if not rechunk and out_bounds is None and tuple(chunks) != plan.in_chunks:
        raise ValueError(
            f"{what}: chunks {tuple(chunks)} along {axis_name} cannot be split for a window of "
            f"{span} rows (kernel size and dilation), stride {s} and padding ({top}, {bottom}): "
            f"every chunk boundary must be a multiple of the stride and every chunk at least "
            f"{need} long (the halo); rechunk=True (the default) rechunks to {plan.in_chunks}"
        )
    return plan


def _spatial_map(da, x, axes, plans, fn, args, out_chunks, dtype, name):
    """map_blocks of fn over x rechunked and overlapped along the spatial axes."""
    x = x.rechunk({ax: p.in_chunks for ax, p in zip(axes, plans)})
    depth = {ax: (p.before, p.after) for ax, p in zip(axes, plans) if p.split and (p.before or p.after)}
    if depth:
        boundary = {ax: "none" for ax in depth}
        try:  # the plans already made every chunk at least as long as the halo it lends
            x = da.overlap.overlap(x, depth=depth, boundary=boundary, allow_rechunk=False)
        except TypeError:  # Dask before allow_rechunk existed
            x = da.overlap.overlap(x, depth=depth, boundary=boundary)
    meta = np.empty((0,) * len(out_chunks), dtype=dtype)
    return da.map_blocks(fn, x, *args, chunks=out_chunks, dtype=dtype, meta=meta, name=name)


def _locate(block_info, axes, plans):
    """Per spatial axis: (slice, pad before, pad after, outputs) of this task's block."""
    info = block_info[None]
    out = []
    for ax, params in zip(axes, plans):
        j = info["chunk-location"][ax]
        last = j == info["num-chunks"][ax] - 1
        loc = info["array-location"][ax]
        sl, lo, hi = _block_geometry(params, loc, j, last)
        out.append((sl, lo, hi, loc[1] - loc[0]))
    return out


def _spatial_axes(layout):
    """(channel axis, (H axis, W axis)) of a 4-D array in this layout."""
    return (1, (2, 3)) if layout == _LAYOUT_NCHW else (3, (1, 2))


def _unbatched(x, name, layout):
    if x.ndim == 3:
        return x[None], True
    if x.ndim != 4:
        want = "(N, C, H, W) or (C, H, W)" if layout == "NCHW" else "(N, H, W, C) or (H, W, C)"
        raise ValueError(f"{name} must be 4-D {want} for layout={layout!r}, got shape {x.shape}")
    return x, False


def _delayed(value):
    """value as one key of the graph (shipped once per worker, not once per task)."""
    import dask

    return dask.delayed(value, pure=True)


# ---------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------

def _conv_task(blk, params, geom, plans, nthreads, block_info=None):
    from .conv import conv2d as local_conv2d

    weight, bias = params
    stride, dilation, groups, layout, algorithm, axes = geom
    idx = [slice(None)] * 4
    pads = []
    shape = []
    for ax, (sl, lo, hi, nout) in zip(axes, _locate(block_info, axes, plans)):
        idx[ax] = sl
        pads.append((lo, hi))
        shape.append(nout)
    with _threads.threads(nthreads):
        y = local_conv2d(blk[tuple(idx)], weight, bias, stride, tuple(pads), dilation, groups,
                         layout=layout, algorithm=algorithm)
    got = tuple(y.shape[ax] for ax in axes)
    assert got == tuple(shape), (got, shape)
    return y


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, layout="NCHW",
           algorithm="auto", rechunk=True, threads_per_task=None):
    """2-D convolution of a Dask array: :func:`fastconv.conv2d` block by block.

    Parameters
    ----------
    x : dask.array.Array (or array_like), shape (N, C_in, H, W) or (N, H, W, C_in)
        Any chunking: batch chunks map block by block, the channel axis is
        rechunked to one chunk, chunks along H and W get a halo (see the
        module documentation).  An unbatched 3-D array gives a 3-D result.
    weight, bias, stride, padding, dilation, groups, layout, algorithm
        As in :func:`fastconv.conv2d`; ``weight`` and ``bias`` are NumPy
        arrays (a Dask array is computed first) shipped once to each worker.
    rechunk : bool
        Move H/W chunk boundaries to multiples of the stride and merge chunks
        smaller than the halo (default); ``False`` raises ``ValueError``
        instead.
    threads_per_task : int, optional
        OpenMP threads per task (default :func:`get_threads_per_task`, 1).

    Returns
    -------
    dask.array.Array
        Lazily ``fastconv.conv2d(x.compute(), weight, bias, ...)``, bitwise;
        batch chunks as ``x``'s, output channels in one chunk.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv.dask
    >>> x = da.ones((8, 3, 32, 32), chunks=(2, 3, 16, 16), dtype=np.float32)
    >>> y = fastconv.dask.conv2d(x, np.ones((4, 3, 3, 3), np.float32), padding=1)
    >>> y.shape, y.chunks[0]
    ((8, 4, 32, 32), (2, 2, 2, 2))
    """
    da = _dask_array()
    nthreads = _nthreads(threads_per_task)
    x = _as_dask(x)
    lay = _conv_layout(layout, 2)
    x4, unbatched = _unbatched(x, "x", layout)
    weight = np.asarray(weight)
    if bias is not None:
        bias = np.asarray(bias)
    if weight.ndim != 4:
        raise ValueError(f"weight must be 4-D, got shape {weight.shape}")
    plan = _ConvPlan(x4.shape, weight.shape, 2, stride, padding, dilation, groups, lay)
    if bias is not None and bias.shape != (plan.c_out,):
        raise ValueError(f"bias must have shape ({plan.c_out},), got {bias.shape}")
    dtype = compute_dtype(*([np.empty(0, x.dtype), weight] + ([bias] if bias is not None else [])),
                          name="conv2d")
    c_axis, axes = _spatial_axes(lay)
    x4 = x4.rechunk({c_axis: -1})
    plans = []
    for i, (ax, name) in enumerate(zip(axes, ("H", "W"))):
        span = plan.dilation[i] * (plan.kernel[i] - 1) + 1
        plans.append(_plan_axis(x4.chunks[ax], plan.in_sp[i], plan.out_sp[i], span, plan.stride[i],
                                plan.pads[i][0], plan.pads[i][1], rechunk=rechunk, what="conv2d",
                                axis_name=name))
    out_chunks = [None] * 4
    out_chunks[0] = x4.chunks[0]
    out_chunks[c_axis] = (plan.c_out,)
    for ax, p in zip(axes, plans):
        out_chunks[ax] = p.out_chunks
    geom = (plan.stride, plan.dilation, plan.groups, layout, algorithm, axes)
    token = _tokenize("conv2d", x4, weight, bias, geom, [p.params() for p in plans], out_chunks, nthreads)
    y = _spatial_map(da, x4, axes, plans, _conv_task,
                     (_delayed((weight, bias)), geom, [p.params() for p in plans], nthreads),
                     tuple(out_chunks), dtype, f"fastconv-conv2d-{token}")
    return y[0] if unbatched else y


def _tokenize(*args):
    from dask.base import tokenize

    return tokenize(*args)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------

def _pool_task(blk, kind, geom, plans, nthreads, block_info=None):
    from . import _pool, pooling

    kernel, stride, dilation, layout, dtype, count_include_pad, divisor, whole = geom
    axes = (2, 3) if layout == "NCHW" else (1, 2)
    idx = [slice(None)] * 4
    pads, outs = [], []
    for ax, (sl, lo, hi, nout) in zip(axes, _locate(block_info, axes, plans)):
        idx[ax] = sl
        pads.append((lo, hi))
        outs.append(nout)
    arr = blk[tuple(idx)]
    with _threads.threads(nthreads):
        if whole is not None:  # H and W unsplit: the public function itself
            fn, kwargs = whole
            return getattr(pooling, fn)(arr, **kwargs)
        # a block inside the image: its own (asymmetric) padding and output size
        arr = as_float_array(arr, dtype, "x")
        if arr.shape[3] > 1 and arr.strides[3] != arr.itemsize:
            arr = np.ascontiguousarray(arr)
        n, c, h, w = pooling._dims(arr.shape, layout)
        y = np.empty(pooling._shape(layout, n, c, outs[0], outs[1]), dtype=dtype)
        if y.size:
            g = (n, c, h, w, outs[0], outs[1], kernel[0], kernel[1], stride[0], stride[1],
                 dilation[0], dilation[1], pads[0][0], pads[0][1], pads[1][0], pads[1][1],
                 pooling._LAYOUTS[layout])
            if kind == "max":
                _pool.forward(_pool.MAX, g, arr, y, None)
            else:
                _pool.forward(_pool.AVG, g, arr, y, None, count_include_pad, divisor)
    return y


def _pool(kind, x, kernel_size, stride, padding, dilation, ceil_mode, layout, options, rechunk,
          threads_per_task):
    from . import pooling

    da = _dask_array()
    nthreads = _nthreads(threads_per_task)
    x = _as_dask(x)
    layout = pooling._layout(layout)
    kernel = pooling._ints(kernel_size, "kernel_size", 2, 1)
    stride = pooling._stride(stride, kernel)
    padding = pooling._ints(padding, "padding", 2, 0)
    dilation = pooling._ints(dilation, "dilation", 2, 1)
    pooling._check_padding(padding, kernel)
    divisor = pooling._divisor(options.get("divisor_override")) if kind == "avg" else 0
    x4, unbatched = _unbatched(x, "x", layout)
    dtype = compute_dtype(np.empty(0, x.dtype), name="x")
    c_axis, axes = (1, (2, 3)) if layout == "NCHW" else (3, (1, 2))
    if layout == "NHWC":
        # the kernels vectorise along the (innermost) channels: keep a pixel's channels in
        # one block (average pooling's rounding depends on the channel count of the call)
        x4 = x4.rechunk({c_axis: -1})
    hw = tuple(x4.shape[ax] for ax in axes)
    if min(hw) == 0:
        raise ValueError(f"x has an empty spatial size: shape {x.shape}")
    out_hw = pooling._pooled_sizes(hw, kernel, stride, padding, dilation, ceil_mode)
    what = f"{kind}_pool2d"
    plans = []
    for i, (ax, name) in enumerate(zip(axes, ("H", "W"))):
        span = dilation[i] * (kernel[i] - 1) + 1
        plans.append(_plan_axis(x4.chunks[ax], hw[i], out_hw[i], span, stride[i], padding[i],
                                padding[i], rechunk=rechunk, what=what, axis_name=name))
    whole = None
    if not any(p.split for p in plans):
        kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                      layout=layout)
        if kind == "max":
            kwargs["dilation"] = dilation
        else:
            kwargs["count_include_pad"] = options["count_include_pad"]
            kwargs["divisor_override"] = options.get("divisor_override")
        whole = (what, kwargs)
    geom = (kernel, stride, dilation, layout, dtype, bool(options.get("count_include_pad", True)),
            divisor, whole)
    out_chunks = list(x4.chunks)
    for ax, p in zip(axes, plans):
        out_chunks[ax] = p.out_chunks
    token = _tokenize(what, x4, geom, padding, ceil_mode, [p.params() for p in plans], out_chunks, nthreads)
    y = _spatial_map(da, x4, axes, plans, _pool_task, (kind, geom, [p.params() for p in plans], nthreads),
                     tuple(out_chunks), dtype, f"fastconv-{what}-{token}")
    return y[0] if unbatched else y


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCHW", rechunk=True, threads_per_task=None):
    """2-D max pooling of a Dask array: :func:`fastconv.max_pool2d` block by block.

    Batch chunks (and channel chunks, for NCHW; NHWC channels are brought to
    one chunk) map block by block; chunks along H and W are
    re-aligned to the stride and given the halo of the overlapping windows
    (see the module documentation), the padding applying only at the image's
    true borders.

    Parameters
    ----------
    x : dask.array.Array (or array_like), shape (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    kernel_size, stride, padding, dilation, ceil_mode, layout
        As in :func:`fastconv.max_pool2d`.
    return_indices : bool
        Not supported on Dask arrays (``NotImplementedError`` when true).
    rechunk, threads_per_task
        As in :func:`conv2d`.

    Returns
    -------
    dask.array.Array
        Lazily ``fastconv.max_pool2d(x.compute(), ...)``, bitwise.

    Examples
    --------
    >>> import dask.array as da, fastconv.dask
    >>> x = da.arange(64.0, chunks=16).reshape(1, 1, 8, 8).rechunk((1, 1, 3, 8))
    >>> fastconv.dask.max_pool2d(x, 2).compute()[0, 0, :, 0]
    array([ 9., 25., 41., 57.])
    """
    if return_indices:
        raise NotImplementedError("fastconv.dask.max_pool2d: return_indices is not supported on Dask "
                                  "arrays; call fastconv.max_pool2d on the computed array")
    return _pool("max", x, kernel_size, stride, padding, dilation, bool(ceil_mode), layout, {},
                 rechunk, threads_per_task)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, layout="NCHW", rechunk=True, threads_per_task=None):
    """2-D average pooling of a Dask array: :func:`fastconv.avg_pool2d` block by block.

    Chunks are handled as in :func:`max_pool2d`; each window's divisor
    (``count_include_pad``, ``ceil_mode``'s overhang, ``divisor_override``)
    is the one of the whole image.

    Parameters
    ----------
    x : dask.array.Array (or array_like)
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, layout
        As in :func:`fastconv.avg_pool2d`.
    rechunk, threads_per_task
        As in :func:`conv2d`.

    Returns
    -------
    dask.array.Array
        Lazily ``fastconv.avg_pool2d(x.compute(), ...)``, bitwise.
    """
    return _pool("avg", x, kernel_size, stride, padding, (1, 1), bool(ceil_mode), layout,
                 {"count_include_pad": bool(count_include_pad), "divisor_override": divisor_override},
                 rechunk, threads_per_task)


# ---------------------------------------------------------------------------
# filter2d
# ---------------------------------------------------------------------------

def _runs(idx):
    """Mapped indices as runs: ("fill", length), ("up", a, b) = x[a:b], ("down", a, b) = x[a:b] reversed."""
    runs, i, m = [], 0, len(idx)
    while i < m:
        j = i
        if idx[i] < 0:
            while j + 1 < m and idx[j + 1] < 0:
                j += 1
            runs.append(("fill", j - i + 1))
        else:
            step = 0
            while j + 1 < m and idx[j + 1] >= 0:
                d = int(idx[j + 1] - idx[j])
                if d not in (1, -1) or (step and d != step):
                    break
                step, j = d, j + 1
            if step >= 0:
                runs.append(("up", int(idx[i]), int(idx[j]) + 1))
            else:
                runs.append(("down", int(idx[j]), int(idx[i]) + 1))
        i = j + 1
    return runs


def _extend_axis(da, x, axis, lo, hi, boundary, fill):
    """x extended by lo rows before and hi after along axis, by the boundary rule (lazily)."""
    from .signal import _map_index

    if lo == 0 and hi == 0:
        return x
    n = x.shape[axis]
    pieces = []

    def take(a, b):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(a, b)
        return x[tuple(sl)]

    for part in (np.arange(-lo, 0), np.arange(n, n + hi)):
        chunk_pieces = []
        if part.size:
            for run in _runs(_map_index(part, n, boundary)):
                if run[0] == "fill":
                    shape = list(x.shape)
                    shape[axis] = run[1]
                    chunks = list(x.chunks)
                    chunks[axis] = (run[1],)
                    chunk_pieces.append(da.full(tuple(shape), fill, dtype=x.dtype, chunks=tuple(chunks)))
                elif run[0] == "up":
                    chunk_pieces.append(take(run[1], run[2]))
                else:
                    chunk_pieces.append(da.flip(take(run[1], run[2]), axis))
        pieces.append(chunk_pieces)
    return da.concatenate(pieces[0] + [x] + pieces[1], axis=axis)


def _kernel_block(k, batch, lead_loc):
    """The kernels of one block of the broadcast leading dimensions (a view, broadcasting kept)."""
    lead = k.ndim - 2
    if lead == 0:
        return k
    idx = []
    offset = len(batch) - lead
    for i in range(lead):
        a, b = lead_loc[offset + i]
        idx.append(slice(a, b) if k.shape[i] != 1 else slice(None))
    return k[tuple(idx)]


def _filter_task(blk, kernel, geom, plans, nthreads, block_info=None):
    from .signal import filter2d as local_filter2d

    batch, mode, boundary, fillvalue, flip, method = geom
    info = block_info[None]
    nd = len(info["array-location"])
    k = _kernel_block(kernel, batch, info["array-location"][:-2])
    if plans is None:  # H and W unsplit: the whole planes of this block
        with _threads.threads(nthreads):
            return local_filter2d(blk, k, mode, boundary, fillvalue, convolve=flip, method=method)
    axes = (nd - 2, nd - 1)
    idx = [slice(None)] * nd
    for ax, (sl, _, _, _) in zip(axes, _locate(block_info, axes, plans)):
        idx[ax] = sl
    # blk is already extended by the boundary rule: a "valid" correlation of its rows
    with _threads.threads(nthreads):
        return local_filter2d(blk[tuple(idx)], k, "valid", "fill", 0, convolve=flip, method="direct")


def filter2d(images, kernel, mode="same", boundary="fill", fillvalue=0, *, convolve=False,
             method="direct", rechunk=True, threads_per_task=None):
    """Filter a huge image (or a stack) chunked in H and W: :func:`fastconv.filter2d` on Dask.

    Parameters
    ----------
    images : dask.array.Array (or array_like), shape (..., H, W)
        Any chunking.  Leading (stack) chunks map block by block; chunks along
        H and W get a halo of ``kH - 1`` rows / ``kW - 1`` columns.
    kernel : array_like, shape (..., kH, kW)
        A NumPy array (a Dask array is computed), broadcast against the
        leading dimensions of ``images`` as in :func:`fastconv.filter2d`.
    mode : {"same", "full", "valid"}
    boundary : {"fill", "wrap", "symm"} (or "pad", "circular", "symmetric")
        Applied to the whole image: the chunked result wraps around the image
        (not the chunk) for "wrap" and mirrors at the image's edges for
        "symm", also for kernels larger than a chunk or than the image.
    fillvalue : scalar
        Value outside the image for "fill".
    convolve : bool
        Convolve (flip the kernel) instead of correlating.
    method : {"direct", "auto", "fft"}
        ``"direct"`` (default) gives the bitwise result of
        ``fastconv.filter2d(..., method="direct")`` -- the same as its
        default ``"auto"`` whenever that stays direct (kernels up to about
        15x15).  ``"auto"`` and ``"fft"`` are passed to the blocks when H and
        W are each one chunk; with H or W split they raise ``ValueError``
        (an FFT of a block is not the FFT of the image).
    rechunk : bool
        Merge H/W chunks shorter than the halo (default); ``False`` raises
        ``ValueError`` instead.
    threads_per_task : int, optional

    Returns
    -------
    dask.array.Array, shape (broadcast leading dims..., out_h, out_w)
        Lazily ``fastconv.filter2d(images.compute(), kernel, ...)``, bitwise;
        in "same" mode the chunks of ``images`` (merged where needed).

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv.dask
    >>> img = da.random.default_rng(0).random((1000, 1000), chunks=(333, 250))
    >>> g = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256
    >>> fastconv.dask.filter2d(img, g, boundary="wrap").chunks
    ((333, 333, 333, 1), (250, 250, 250, 250))
    """
    from . import signal

    da = _dask_array()
    nthreads = _nthreads(threads_per_task)
    x = _as_dask(images, "images")
    k = np.asarray(kernel)
    batch = filter2d_batch(x.shape, k.shape)
    mode = signal._mode_2d(mode)
    bcode = signal._boundary_2d(boundary)
    method = signal._method(method)
    flip = bool(convolve)
    # dtype, fillvalue and dtype support exactly as the local function decides them
    dtype = signal.filter2d(np.zeros((1, 1), x.dtype), np.zeros((1, 1), k.dtype), "same", boundary,
                            fillvalue, convolve=flip, method="direct").dtype
    H, W = x.shape[-2:]
    kh, kw = k.shape[-2:]
    swap = signal._inputs_swap_needed(mode, (H, W), (kh, kw))
    if x.shape[:-2] != batch:
        new = len(batch) - (x.ndim - 2)
        lead = [(b,) for b in batch[:new]]
        lead += [c if size == b else (b,) for c, size, b in zip(x.chunks[:-2], x.shape[:-2], batch[new:])]
        x = da.broadcast_to(x, batch + (H, W), chunks=tuple(lead) + x.chunks[-2:])
    nd = x.ndim
    split = len(x.chunks[-2]) > 1 or len(x.chunks[-1]) > 1
    if split and (swap or kh == 0 or kw == 0 or H == 0 or W == 0):
        # 'valid' with the kernel larger than the image swaps the two (SciPy's rule): no halo
        # to speak of, the image is small; degenerate sizes too
        x = x.rechunk({nd - 2: -1, nd - 1: -1})
        split = False
    if not split:
        if mode == "full":
            out = (H + kh - 1, W + kw - 1)
        elif mode == "same":
            out = (H, W)
        else:  # swapped or not, SciPy's 'valid' size
            out = (abs(H - kh) + 1, abs(W - kw) + 1)
        if min(out) < 0:
            raise ValueError(f"negative dimensions are not allowed: the {mode!r} output of inputs "
                             f"of shapes {(H, W)} and {(kh, kw)} would be {out}")
        geom = (batch, mode, boundary, fillvalue, flip, method)
        out_chunks = x.chunks[:-2] + ((out[0],), (out[1],))
        token = _tokenize("filter2d", x, k, geom, out_chunks, nthreads)
        meta = np.empty((0,) * nd, dtype=dtype)
        return da.map_blocks(_filter_task, x, _delayed(k), geom, None, nthreads, chunks=out_chunks,
                             dtype=dtype, meta=meta, name=f"fastconv-filter2d-{token}")
    if method != "direct":
        raise ValueError(f"filter2d: method={method!r} cannot be split over chunks of H and W (an FFT "
                         "of a block is not the FFT of the image); use method='direct', or one chunk "
                         "along H and W")
    # output size and the extended rows/columns, as fastconv.signal computes them
    if mode == "full":
        out_h, out_w, pad_top, pad_left = H + kh - 1, W + kw - 1, kh - 1, kw - 1
    elif mode == "same":
        out_h, out_w = H, W
        pad_top, pad_left = (kh // 2, kw // 2) if flip else ((kh - 1) // 2, (kw - 1) // 2)
    else:
        out_h, out_w, pad_top, pad_left = H - kh + 1, W - kw + 1, 0, 0
    fill = signal._fill_value(fillvalue, dtype) if bcode == signal._FILL else dtype.type(0)
    xe = x.astype(dtype)
    for ax, lo, hi in ((nd - 2, pad_top, out_h + kh - 1 - pad_top - H),
                       (nd - 1, pad_left, out_w + kw - 1 - pad_left - W)):
        xe = _extend_axis(da, xe, ax, lo, hi, bcode, fill)
    plans = []
    for ax, n_out, kk, name in ((nd - 2, out_h, kh, "H"), (nd - 1, out_w, kw, "W")):
        ob = [min(b, n_out) for b in _bounds(x.chunks[ax])]
        p = _plan_axis(None, n_out + kk - 1, n_out, kk, 1, 0, 0, rechunk=True, what="filter2d",
                       axis_name=name, out_bounds=ob)
        if not rechunk and p.out_chunks != x.chunks[ax] and mode == "same":
            raise ValueError(
                f"filter2d: chunks {x.chunks[ax]} along {name} cannot be split for a kernel of "
                f"{kk} along that axis: every chunk but the first must be at least {kk - 1} long "
                f"(the halo); rechunk=True (the default) rechunks to {p.out_chunks}")
        plans.append(p)
    geom = (batch, mode, boundary, fillvalue, flip, method)
    out_chunks = x.chunks[:-2] + tuple(p.out_chunks for p in plans)
    token = _tokenize("filter2d-split", x, k, geom, [p.params() for p in plans], out_chunks, nthreads)
    return _spatial_map(da, xe, (nd - 2, nd - 1), plans, _filter_task,
                        (_delayed(k), geom, [p.params() for p in plans], nthreads), out_chunks,
                        dtype, f"fastconv-filter2d-{token}")


# ---------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------

_models = threading.local()
_MODELS_PER_THREAD = 2


def _thread_model(token, payload):
    """This thread's own copy of a pickled model, in evaluation mode (a small LRU cache).

    Layers cache their inputs in forward(); a copy per thread keeps threads
    sharing a worker from racing on those caches.
    """
    import pickle

    cache = getattr(_models, "cache", None)
    if cache is None:
        cache = _models.cache = OrderedDict()
    model = cache.get(token)
    if model is None:
        model = pickle.loads(payload)
        if callable(getattr(model, "eval", None)):
            model.eval()
        cache[token] = model
        while len(cache) > _MODELS_PER_THREAD:
            cache.popitem(last=False)
    else:
        cache.move_to_end(token)
    return model


def _apply_model(model, x):
    y = model(x) if callable(model) else model.forward(x)
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"predict: the model returned shape {y.shape} for a batch of {x.shape[0]} "
                         "(the first axis must be the batch)")
    return y


def _predict_task(blk, payload, token, nthreads):
    model = _thread_model(token, payload)
    with _threads.threads(nthreads):
        return _apply_model(model, blk)


def predict(model, x, batch_chunk=None, *, threads_per_task=None):
    """Apply a model to a Dask array of images chunk by chunk (inference).

    Parameters
    ----------
    model : fastconv model or layer, or any callable
        Called as ``model(batch)`` (``model.forward(batch)`` when it is not
        callable) on NumPy batches; put in evaluation mode with ``eval()``
        when it has one.  It is pickled with ``cloudpickle`` once and shipped
        once to each worker; every worker thread runs its own copy, so your
        ``model`` itself is never modified.
    x : dask.array.Array (or array_like), shape (N, ...)
        Axis 0 is the batch; the other axes are brought to one chunk.
    batch_chunk : int, optional
        At most this many images per task: axis 0 is rechunked into chunks of
        balanced sizes (100 images with ``batch_chunk=32`` give 25, 25, 25,
        25); default: ``x``'s batch chunks.
    threads_per_task : int, optional
        OpenMP threads per task (default :func:`get_threads_per_task`, 1).

    Returns
    -------
    dask.array.Array, shape (N, ...)
        The model's output, batch chunks as requested; shape and dtype from
        one local call on a single zero image.  Equal to ``model(x.compute())``
        bitwise whenever the model computes each image of a batch the same way
        whatever the batch size, as fastconv's layers do
        (:class:`~fastconv.layers.Linear` calls ``fastconv.linear`` with
        ``batch_invariant=True``).  A model that calls ``fastconv.linear``
        itself with the default ``batch_invariant=False`` may differ in the
        last bits for chunks of at most 16 images.

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastconv, fastconv.dask
    >>> net = fastconv.models.lenet5(rng=0)
    >>> x = da.zeros((64, 1, 32, 32), dtype=np.float32, chunks=16)
    >>> fastconv.dask.predict(net, x).shape
    (64, 10)
    """
    import pickle

    import cloudpickle

    da = _dask_array()
    nthreads = _nthreads(threads_per_task)
    x = _as_dask(x)
    if x.ndim < 1:
        raise ValueError("predict: x must have a batch axis")
    if batch_chunk is not None:
        batch_chunk = _threads._check_n(batch_chunk, "batch_chunk")
        # balanced chunks of at most batch_chunk images (no small leftover at the end)
        parts = -(-x.shape[0] // batch_chunk) if x.shape[0] else 1
        q, r = divmod(x.shape[0], parts)
        batch_chunks = (q + 1,) * r + (q,) * (parts - r)
    else:
        batch_chunks = x.chunks[0]
    x = x.rechunk({0: batch_chunks, **{ax: -1 for ax in range(1, x.ndim)}})
    payload = cloudpickle.dumps(model)
    token = hashlib.sha256(payload).hexdigest()
    # shape and dtype of the output: one zero image through a local copy
    probe = pickle.loads(payload)
    if callable(getattr(probe, "eval", None)):
        probe.eval()
    with _threads.threads(nthreads):
        y1 = _apply_model(probe, np.zeros((1,) + x.shape[1:], dtype=x.dtype))
    del probe
    out_chunks = (x.chunks[0],) + tuple((s,) for s in y1.shape[1:])
    meta = np.empty((0,) * y1.ndim, dtype=y1.dtype)
    name = f"fastconv-predict-{_tokenize(x, token, nthreads)}"
    drop = tuple(range(y1.ndim, x.ndim)) if x.ndim > y1.ndim else ()
    new = tuple(range(x.ndim, y1.ndim)) if y1.ndim > x.ndim else ()
    kwargs = {}
    if drop:
        kwargs["drop_axis"] = drop
    if new:
        kwargs["new_axis"] = new
    return da.map_blocks(_predict_task, x, _delayed(payload), token, nthreads, chunks=out_chunks,
                         dtype=y1.dtype, meta=meta, name=name, **kwargs)
