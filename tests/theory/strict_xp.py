"""A strict stand-in for cupy on the CPU, so the ``backend="cupy"`` code path runs in CI.

Arrays wrap numpy arrays but behave as cupy's do where it matters: they refuse implicit conversion
to numpy (``np.asarray(dev)`` raises), refuse arithmetic with numpy arrays of ndim > 0, return 0-d
arrays instead of scalars, and count every host sync (``float``/``int``/``bool``/``.get()``).
Only the functions the theory code calls are provided; a missing one raises AttributeError, which
is also a finding (cupy may lack it too). Not a performance model.
"""

from __future__ import annotations

import types

import numpy as np

SYNCS = {"float": 0, "int": 0, "bool": 0, "get": 0}


class Dev:
    """A "device" array."""

    __array_ufunc__ = None  # numpy must not coerce us: np_array * dev → Dev.__rmul__
    __hash__ = None

    def __init__(self, a: np.ndarray) -> None:
        assert isinstance(a, np.ndarray), type(a)
        self.a = a

    def __array__(self, *args, **kw):
        raise TypeError("implicit conversion of a device array to a NumPy array (cupy forbids it)")

    def get(self) -> np.ndarray:
        SYNCS["get"] += 1
        return self.a.copy()

    def __float__(self) -> float:
        SYNCS["float"] += 1
        return float(self.a)

    def __int__(self) -> int:
        SYNCS["int"] += 1
        return int(self.a)

    __index__ = __int__

    def __bool__(self) -> bool:
        SYNCS["bool"] += 1
        return bool(self.a)

    def __iter__(self):
        raise TypeError("iterating over a device array (a host sync per element)")

    def __len__(self) -> int:
        return len(self.a)

    shape = property(lambda s: s.a.shape)
    ndim = property(lambda s: s.a.ndim)
    size = property(lambda s: s.a.size)
    dtype = property(lambda s: s.a.dtype)
    T = property(lambda s: Dev(s.a.T))

    def reshape(self, *a, **k):
        return Dev(self.a.reshape(*a, **k))

    def sum(self, *a, **k):
        return _wrap(self.a.sum(*a, **k))

    def __getitem__(self, i):
        return _wrap(self.a[_unwrap(i)])

    def __setitem__(self, i, v):
        _refuse_host(v)
        self.a[_unwrap(i)] = _unwrap(v)

    def __neg__(self):
        return Dev(-self.a)

    def __invert__(self):
        return Dev(~self.a)


def _unwrap(x):
    if isinstance(x, Dev):
        return x.a
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return Dev(x)
    if isinstance(x, np.generic):
        return Dev(np.asarray(x))  # cupy reductions return 0-d arrays, not scalars
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    return x


def _refuse_host(*args) -> None:
    for v in args:
        if isinstance(v, np.ndarray) and v.ndim > 0:
            raise TypeError(f"a numpy array {v.shape} mixed with a device array (cupy forbids it)")


def _binary(fn):
    def op(self, other):
        _refuse_host(other)
        return _wrap(fn(self.a, _unwrap(other)))

    def rop(self, other):
        _refuse_host(other)
        return _wrap(fn(_unwrap(other), self.a))

    def iop(self, other):
        _refuse_host(other)
        fn(self.a, _unwrap(other), out=self.a)
        return self

    return op, rop, iop


for _name, _fn in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.true_divide),
                   ("matmul", np.matmul), ("pow", np.power), ("mod", np.mod), ("lt", np.less),
                   ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal), ("eq", np.equal),
                   ("ne", np.not_equal), ("and", np.logical_and), ("or", np.logical_or)]:
    _op, _rop, _iop = _binary(_fn)
    setattr(Dev, f"__{_name}__", _op)
    setattr(Dev, f"__r{_name}__", _rop)
    setattr(Dev, f"__i{_name}__", _iop)


def _function(fn):
    def call(*args, **kw):
        if any(isinstance(a, Dev) for a in args):
            _refuse_host(*(a for a in args if not isinstance(a, Dev)))
        return _wrap(fn(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kw.items()}))

    return call


def asarray(a, dtype=None):
    """Host → device copy (or a dtype cast of a device array)."""
    if isinstance(a, Dev):
        return a if dtype is None else Dev(a.a.astype(dtype))
    return Dev(np.array(a, dtype=dtype))


xp = types.ModuleType("strict_xp")
for _n in ["sqrt", "maximum", "minimum", "sum", "exp", "expm1", "log1p", "log", "all", "any", "where", "fmod",
           "ones_like", "zeros_like", "einsum", "abs", "argmin", "concatenate", "eye", "zeros", "ones", "empty",
           "stack", "mean"]:
    setattr(xp, _n, _function(getattr(np, _n)))
xp.asarray = asarray
xp.finfo = np.finfo
xp.float64 = np.float64
xp.ndarray = Dev
xp.linalg = types.SimpleNamespace(**{n: _function(getattr(np.linalg, n)) for n in ("eigh", "svd", "qr", "solve", "cholesky")})
