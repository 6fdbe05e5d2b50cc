r"""Matrix-calculus identities from *The Matrix Cookbook* (K. B. Petersen and M. S. Pedersen, version of
November 15, 2012), as plug-ins: ``jaxgrads run --problems-from bench/examples/identities.py``. Each
is cited by its formula and the Cookbook's section it is in (the formula, not an equation number:
it can be checked against any version of the Cookbook).

Each identity is registered twice or more: ``id_<name>`` with the Cookbook's closed form, and
``id_<name>__<mistake>`` with a classic mistake in it (a transpose forgotten, a symmetry assumed, a
factor of 2 dropped, a sign flipped): the accuracy verdict must pass every method of the first and
fail the closed form of the second (:mod:`bench.studies.identities` counts both). Layout: a scalar's
gradient w.r.t. X has entry (i, j) = ∂f/∂X_ij, the Cookbook's convention; a vector's Jacobian is
out × in. The inputs are well conditioned: X = I + G / (2√n), G Gaussian, so inverses and
determinants are far from singular.
"""

import numpy as np

import jaxgrads as jg


def _xp_T(A):
    return A.T


def _gaussian(shapes, *, well_conditioned=("X",)):
    def make(size, dtype, rng):
        out = {}
        for name, shape in shapes(size).items():
            v = rng.standard_normal(shape)
            if name in well_conditioned:
                n = shape[0]
                v = np.eye(n) + v / (2 * np.sqrt(n))
            out[name] = v.astype(dtype)
        return out

    return make


VEC = {"a": "n", "b": "n", "x": "n"}


def _shapes(*names):
    def shapes(s):
        return {k: ((s.n,) if k in VEC else (s.n, s.n)) for k in names}

    return shapes


FORMULAS = {  # each identity's formula and the Cookbook section it is in
    "inner": "d(a^T x)/dx = a [first-order vector forms]",
    "aXb": "d(a^T X b)/dX = a b^T [first-order matrix forms]",
    "aXTb": "d(a^T X^T b)/dX = b a^T [first-order matrix forms]",
    "bXTXc": "d(b^T X^T X c)/dX = X(b c^T + c b^T) [second-order forms]",
    "xTBx": "d(x^T B x)/dx = (B + B^T) x [second-order forms]",
    "det": "d det(X)/dX = det(X) X^-T [determinant]",
    "logdet": "d ln|det X|/dX = X^-T [determinant]",
    "inverse": "d(X^-1)_kl/dX_ij = -(X^-1)_ki (X^-1)_jl [inverse]",
    "aXinvb": "d(a^T X^-1 b)/dX = -X^-T a b^T X^-T [inverse]",
    "trXA": "d tr(XA)/dX = A^T [trace]",
    "trX2": "d tr(X^2)/dX = 2 X^T [trace]",
    "trXTBX": "d tr(X^T B X)/dX = B X + B^T X [trace]",
    "norm": "d||x - a||_2/dx = (x - a)/||x - a||_2 [norms]",
    "unit": "d((x - a)/||x - a||_2)/dx = I/||x - a|| - (x - a)(x - a)^T/||x - a||^3 [norms]",
    "sqnorm": "d||x||_2^2/dx = 2x [norms]",
    "frobenius": "d||X||_F^2/dX = 2X [norms]",
}

# name: (formula, args, wrt, f, closed form, {mistake: wrong closed form}, scalar output)
IDENTITIES = {
    "inner": (FORMULAS["inner"], ("a", "x"), "x", lambda xp, a, x: a @ x, lambda xp, a, x: a,
              {"sign": lambda xp, a, x: -a}, True),
    "aXb": (FORMULAS["aXb"], ("a", "X", "b"), "X", lambda xp, a, X, b: a @ X @ b,
            lambda xp, a, X, b: xp.outer(a, b), {"transpose": lambda xp, a, X, b: xp.outer(b, a)}, True),
    "aXTb": (FORMULAS["aXTb"], ("a", "X", "b"), "X", lambda xp, a, X, b: a @ X.T @ b,
             lambda xp, a, X, b: xp.outer(b, a), {"transpose": lambda xp, a, X, b: xp.outer(a, b)}, True),
    "bXTXc": (FORMULAS["bXTXc"], ("a", "X", "b"), "X", lambda xp, a, X, b: a @ X.T @ X @ b,
              lambda xp, a, X, b: X @ (xp.outer(a, b) + xp.outer(b, a)),
              {"symmetry": lambda xp, a, X, b: 2 * X @ xp.outer(a, b)}, True),
    "xTBx": (FORMULAS["xTBx"], ("X", "x"), "x", lambda xp, X, x: x @ X @ x, lambda xp, X, x: (X + X.T) @ x,
             {"symmetry": lambda xp, X, x: 2 * X @ x, "factor2": lambda xp, X, x: X @ x}, True),
    "det": (FORMULAS["det"], ("X",), "X", lambda xp, X: xp.linalg.det(X),
            lambda xp, X: xp.linalg.det(X) * xp.linalg.inv(X).T,
            {"transpose": lambda xp, X: xp.linalg.det(X) * xp.linalg.inv(X)}, True),
    "logdet": (FORMULAS["logdet"], ("X",), "X", lambda xp, X: xp.log(xp.abs(xp.linalg.det(X))),
               lambda xp, X: xp.linalg.inv(X).T, {"transpose": lambda xp, X: xp.linalg.inv(X)}, True),
    "inverse": (FORMULAS["inverse"], ("X",), "X", lambda xp, X: xp.linalg.inv(X),
                lambda xp, X: -xp.einsum("ki,jl->klij", xp.linalg.inv(X), xp.linalg.inv(X)),
                {"sign": lambda xp, X: xp.einsum("ki,jl->klij", xp.linalg.inv(X), xp.linalg.inv(X)),
                 "transpose": lambda xp, X: -xp.einsum("ik,lj->klij", xp.linalg.inv(X), xp.linalg.inv(X))},
                False),
    "aXinvb": (FORMULAS["aXinvb"], ("a", "X", "b"), "X", lambda xp, a, X, b: a @ xp.linalg.inv(X) @ b,
               lambda xp, a, X, b: -xp.linalg.inv(X).T @ xp.outer(a, b) @ xp.linalg.inv(X).T,
               {"transpose": lambda xp, a, X, b: -xp.linalg.inv(X) @ xp.outer(a, b) @ xp.linalg.inv(X)},
               True),
    "trXA": (FORMULAS["trXA"], ("X", "a"), "X", lambda xp, X, a: xp.trace(X @ xp.outer(a, a + 1)),
             lambda xp, X, a: xp.outer(a, a + 1).T, {"transpose": lambda xp, X, a: xp.outer(a, a + 1)}, True),
    "trX2": (FORMULAS["trX2"], ("X",), "X", lambda xp, X: xp.trace(X @ X), lambda xp, X: 2 * X.T,
             {"transpose": lambda xp, X: 2 * X, "factor2": lambda xp, X: X.T}, True),
    "trXTBX": (FORMULAS["trXTBX"], ("X", "a"), "X", lambda xp, X, a: xp.trace(X.T @ xp.outer(a, a + 1) @ X),
               lambda xp, X, a: (xp.outer(a, a + 1) + xp.outer(a, a + 1).T) @ X,
               {"symmetry": lambda xp, X, a: 2 * xp.outer(a, a + 1) @ X}, True),
    "norm": (FORMULAS["norm"], ("x", "a"), "x", lambda xp, x, a: xp.sqrt(xp.sum((x - a) ** 2)),
             lambda xp, x, a: (x - a) / xp.sqrt(xp.sum((x - a) ** 2)),
             {"sign": lambda xp, x, a: (a - x) / xp.sqrt(xp.sum((x - a) ** 2))}, True),
    "unit": (FORMULAS["unit"], ("x", "a"), "x", lambda xp, x, a: (x - a) / xp.sqrt(xp.sum((x - a) ** 2)),
             lambda xp, x, a: xp.eye(x.shape[0], dtype=x.dtype) / xp.sqrt(xp.sum((x - a) ** 2))
             - xp.outer(x - a, x - a) / xp.sqrt(xp.sum((x - a) ** 2)) ** 3,
             {"sign": lambda xp, x, a: xp.eye(x.shape[0], dtype=x.dtype) / xp.sqrt(xp.sum((x - a) ** 2))
              + xp.outer(x - a, x - a) / xp.sqrt(xp.sum((x - a) ** 2)) ** 3}, False),
    "sqnorm": (FORMULAS["sqnorm"], ("x",), "x", lambda xp, x: xp.sum(x * x), lambda xp, x: 2 * x,
               {"factor2": lambda xp, x: x}, True),
    "frobenius": (FORMULAS["frobenius"], ("X",), "X", lambda xp, X: xp.sum(X * X), lambda xp, X: 2 * X,
                  {"factor2": lambda xp, X: X, "sign": lambda xp, X: -2 * X}, True),
}  # fmt: skip


def _register(name: str, args, wrt, fn, closed, scalar: bool, doc: str) -> None:
    jg.register(
        jg.Problem(
            name=name, fn=fn, args=args, make_inputs=_gaussian(_shapes(*args)),
            derivatives=(jg.Derivative(wrt, closed, doc=doc),), dims=("n",), scalar_output=scalar, doc=doc,
        ),
        replace=True,
    )  # fmt: skip


for _name, (_eq, _args, _wrt, _fn, _closed, _mistakes, _scalar) in IDENTITIES.items():
    _register(f"id_{_name}", _args, _wrt, _fn, _closed, _scalar, f"Matrix Cookbook: {_eq}")
    for _mistake, _wrong in _mistakes.items():
        _register(f"id_{_name}__{_mistake}", _args, _wrt, _fn, _wrong, _scalar,
                  f"Matrix Cookbook: {_eq}, with a mistake: {_mistake}")  # fmt: skip
