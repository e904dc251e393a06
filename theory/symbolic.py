"""Closed forms of the subspace denoising model, derived with sympy.

The model (Klug & Heckel, ICLR 2023): x = U c with U an n×d orthonormal basis, c ~ N(0, I_d),
y = x + z with z ~ N(0, σ² I_n), and a linear estimator x̂ = W y with risk

    R(W) = (‖(W − I)U‖_F² + σ²‖W‖_F²) / d.

Every estimator met here is a function W = g(P) of the projection P = UUᵀ (or of Σ_y = P + σ²I).
P has eigenvalue 1 on the signal subspace (multiplicity d) and 0 on its complement (multiplicity
n − d), so the spectral calculus turns traces into scalars:

    tr g(P) = d·g(1) + (n − d)·g(0),        Uᵀ g(P) U = g(1)·I_d.

The derivations below use only this rule plus sympy's ``diff``/``solve``/``subs``/``limit``/
``simplify``; the known answers appear only as checks (a failed check raises AssertionError).
sympy is imported inside the functions, so ``import theory.symbolic`` stays cheap; each derivation
is computed once and cached (sympy expressions are immutable).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover - typing only
    import sympy

__all__ = [
    "Derivation",
    "symbols",
    "risk_of_scaled_projection",
    "optimal_scale",
    "floor",
    "least_squares_expected_risk",
    "large_n_gd_risk",
    "large_n_gd_limit",
    "all_derivations",
    "teaching_notes",
]


@dataclass(frozen=True)
class Derivation:
    """One derived closed form.

    Attributes:
        name: short identifier (also the heading in :func:`teaching_notes`).
        expr: the derived sympy expression.
        symbols: the sympy Symbols that :meth:`numeric` takes, in order.
        latex: LaTeX of ``<lhs> = <expr>``.
    """

    name: str
    expr: "sympy.Expr"
    symbols: tuple
    latex: str

    def numeric(self) -> Callable[..., Any]:
        """A numpy function of ``self.symbols`` (positional, broadcasting over arrays)."""
        import sympy

        return sympy.lambdify(self.symbols, self.expr, "numpy")


def symbols() -> dict[str, "sympy.Symbol"]:
    """The model's symbols (a fresh dict each call; the Symbols themselves are shared).

    Returns:
        ``n``, ``d``, ``N`` (positive integers), ``sigma``, ``tau`` (positive), ``k`` (non-negative
        integer, the number of gradient steps) and ``a`` (real, the scale of W = a·UUᵀ).
    """
    return dict(_symbols())


@lru_cache(maxsize=None)
def _symbols() -> dict[str, "sympy.Symbol"]:
    import sympy

    return {
        "n": sympy.Symbol("n", positive=True, integer=True),
        "d": sympy.Symbol("d", positive=True, integer=True),
        "sigma": sympy.Symbol("sigma", positive=True),
        "N": sympy.Symbol("N", positive=True, integer=True),
        "tau": sympy.Symbol("tau", positive=True),
        "k": sympy.Symbol("k", nonnegative=True, integer=True),
        "a": sympy.Symbol("a", real=True),
    }


# --- spectral calculus of P = UUᵀ ----------------------------------------------------------------


def _trace(g: "sympy.Expr", p: "sympy.Symbol") -> "sympy.Expr":
    """tr g(P) = d·g(1) + (n − d)·g(0)."""
    s = symbols()
    return s["d"] * g.subs(p, 1) + (s["n"] - s["d"]) * g.subs(p, 0)


def _risk(g: "sympy.Expr", p: "sympy.Symbol") -> "sympy.Expr":
    """R(W) for W = g(P), built from the trace formula.

    ‖(W − I)U‖_F² = tr(Uᵀ(W − I)ᵀ(W − I)U) = tr(U Uᵀ (W − I)²) = tr(P (g(P) − 1)²) and
    ‖W‖_F² = tr(g(P)²); everything commutes with P.
    """
    s = symbols()
    return (_trace(p * (g - 1) ** 2, p) + s["sigma"] ** 2 * _trace(g**2, p)) / s["d"]


def _latex(lhs: str, expr: "sympy.Expr") -> str:
    import sympy

    return f"{lhs} = {sympy.latex(expr)}"


def _check_equal(expr: "sympy.Expr", target: "sympy.Expr", what: str) -> None:
    import sympy

    if sympy.simplify(expr - target) != 0:
        raise AssertionError(f"{what}: derived {expr} differs from {target}")


@lru_cache(maxsize=None)
def _residual_level() -> "sympy.Expr":
    """tr Σ_e / d for the residual e = x − W*y, Σ_e = Σ_x − W*Σ_y W*ᵀ (checked to equal R*)."""
    import sympy

    s = symbols()
    p = sympy.Dummy("p")
    sigma_x, sigma_y = p, p + s["sigma"] ** 2
    w_star = optimal_scale().expr * p
    level = sympy.simplify(_trace(sigma_x - w_star * sigma_y * w_star, p) / s["d"])
    _check_equal(level, floor().expr, "tr(Sigma_e)/d")
    return level


# --- derivations ---------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def risk_of_scaled_projection() -> Derivation:
    """R(a·UUᵀ) = (a − 1)² + σ² a², from the trace formula."""
    import sympy

    s = symbols()
    p = sympy.Dummy("p")
    expr = sympy.factor_terms(sympy.simplify(_risk(s["a"] * p, p)))
    return Derivation(
        name="risk_of_scaled_projection",
        expr=expr,
        symbols=(s["a"], s["sigma"]),
        latex=_latex(r"R(a\,UU^{\top})", expr),
    )


@lru_cache(maxsize=None)
def optimal_scale() -> Derivation:
    """a* = argmin_a R(a·UUᵀ), from the stationarity condition dR/da = 0."""
    import sympy

    s = symbols()
    a = s["a"]
    risk = risk_of_scaled_projection().expr
    roots = sympy.solve(sympy.Eq(sympy.diff(risk, a), 0), a)
    if len(roots) != 1:
        raise AssertionError(f"expected one stationary point, got {roots}")
    a_star = sympy.simplify(roots[0])
    # R is a quadratic in a with positive leading coefficient: the stationary point is the minimum.
    if not sympy.simplify(sympy.diff(risk, a, 2)).is_positive:
        raise AssertionError("R(a) is not strictly convex")
    return Derivation(
        name="optimal_scale",
        expr=a_star,
        symbols=(s["sigma"],),
        latex=_latex("a^{*}", a_star),
    )


@lru_cache(maxsize=None)
def floor() -> Derivation:
    """R* = R(a*·UUᵀ), the risk of the optimal (Wiener) estimator."""
    import sympy

    s = symbols()
    risk = risk_of_scaled_projection().expr
    r_star = sympy.simplify(risk.subs(s["a"], optimal_scale().expr))
    return Derivation(
        name="floor",
        expr=r_star,
        symbols=(s["sigma"],),
        latex=_latex("R^{*}", r_star),
    )


@lru_cache(maxsize=None)
def least_squares_expected_risk() -> Derivation:
    """E R(W^∞) for least squares W^∞ = X Y⁺ trained on N > n + 1 examples.

    Split X = W*Y + E, E independent of Y with column covariance Σ_e = Σ_x − W*Σ_y W*ᵀ. Then
    W^∞ − W* = E Y⁺ and, with E[(YYᵀ)⁻¹] = Σ_y⁻¹/(N − n − 1) (inverse-Wishart mean),

        E R(W^∞) = R* + (tr Σ_e / d) · tr(Σ_y E[(YYᵀ)⁻¹]).
    """
    import sympy

    s = symbols()
    n, sigma, N = s["n"], s["sigma"], s["N"]
    p = sympy.Dummy("p")
    r_star = floor().expr
    sigma_y = p + sigma**2
    noise_level = _residual_level()
    inv_wishart_mean = (1 / sigma_y) / (N - n - 1)
    spread = sympy.together(_trace(sigma_y * inv_wishart_mean, p))  # tr(Σ_y E[(YYᵀ)⁻¹])
    # R*·(1 + (tr Σ_e/d)/R* · spread), the bracket over one denominator.
    expr = r_star * sympy.together(1 + sympy.cancel(noise_level / r_star) * spread)
    _check_equal(expr, r_star * (N - 1) / (N - n - 1), "least-squares risk")
    return Derivation(
        name="least_squares_expected_risk",
        expr=expr,
        symbols=(n, sigma, N),
        latex=_latex(r"\mathbb{E}\,R(W^{\infty})", expr),
    )


def _large_n_law(rho_signal: "sympy.Symbol", rho_noise: "sympy.Symbol") -> "sympy.Expr":
    """Large-N risk of k gradient steps, in terms of the decay factors ρ = (1 − τμ)^k.

    With YYᵀ replaced by N Σ_y (eigenvalues N μ, μ = 1 + σ² on signal, σ² on noise), the filter is
    f(μ) = 1 − ρ(μ) and W^k = X Yᵀ f(Σ_y)/(N Σ_y). Its mean W̄ = Σ_x Σ_y⁻¹ f(Σ_y) gives the bias
    R(W̄); the part driven by E adds (tr Σ_e/d)·tr(Σ_y M N Σ_y M), M = f(Σ_y)/(N Σ_y).

    Returns:
        bias + variance, each simplified on its own (the sum is left unsimplified for display).
    """
    import sympy

    s = symbols()
    sigma, N = s["sigma"], s["N"]
    p = sympy.Dummy("p")
    mu = p + sigma**2  # eigenvalue of Σ_y as a function of P's eigenvalue
    # f is evaluated only at p ∈ {0, 1}; pick the decay factor of that eigenvalue.
    f = 1 - (p * rho_signal + (1 - p) * rho_noise)
    bias = sympy.simplify(_risk(p / mu * f, p))
    m = f / (N * mu)
    variance = sympy.factor_terms(sympy.simplify(_residual_level() * _trace(mu * m * (N * mu) * m, p)))
    return bias + variance


@lru_cache(maxsize=None)
def large_n_gd_risk() -> Derivation:
    """E R(W^k) for large N, as a function of (n, d, σ, N, τ = ηN, k)."""
    import sympy

    s = symbols()
    n, d, sigma, N, tau, k = (s[x] for x in ("n", "d", "sigma", "N", "tau", "k"))
    rho_s, rho_n = sympy.symbols("rho_s rho_n", real=True)
    expr = _large_n_law(rho_s, rho_n).subs(
        {rho_s: (1 - tau * (1 + sigma**2)) ** k, rho_n: (1 - tau * sigma**2) ** k}
    )
    # Checks: W^0 = 0 has risk 1, and the law matches the bias/variance form of the brief.
    _check_equal(expr.subs(k, 0), sympy.Integer(1), "risk at k = 0")
    f_s = 1 - (1 - tau * (1 + sigma**2)) ** k
    f_n = 1 - (1 - tau * sigma**2) ** k
    r_star = floor().expr
    _check_equal(
        expr,
        r_star + (1 - f_s) ** 2 / (1 + sigma**2) + r_star * (d * f_s**2 + (n - d) * f_n**2) / N,
        "large-N law",
    )
    return Derivation(
        name="large_n_gd_risk",
        expr=expr,
        symbols=(n, d, sigma, N, tau, k),
        latex=_latex(r"\mathbb{E}\,R(W^{k})", expr),
    )


@lru_cache(maxsize=None)
def large_n_gd_limit() -> Derivation:
    """lim_{k→∞} of the large-N law for 0 < τσ² and τ(1 + σ²) < 2.

    Both decay factors have |1 − τμ| < 1; writing |1 − τμ| = 1/(1 + h) with h > 0, sympy shows
    (1 + h)^(−k) → 0, so ρ → 0 and the (polynomial in ρ) law tends to its value at ρ = 0.
    """
    import sympy

    s = symbols()
    n, sigma, N, k = s["n"], s["sigma"], s["N"], s["k"]
    h = sympy.Symbol("h", positive=True)
    if sympy.limit((1 + h) ** (-k), k, sympy.oo) != 0:
        raise AssertionError("decay factor does not vanish")
    rho_s, rho_n = sympy.symbols("rho_s rho_n", real=True)
    law = _large_n_law(rho_s, rho_n)
    expr = sympy.factor(sympy.limit(sympy.limit(law, rho_s, 0), rho_n, 0))
    _check_equal(expr, floor().expr * (1 + n / N), "k → ∞ limit")
    return Derivation(
        name="large_n_gd_limit",
        expr=expr,
        symbols=(n, sigma, N),
        latex=_latex(r"\lim_{k\to\infty}\mathbb{E}\,R(W^{k})", expr),
    )


def all_derivations() -> list[Derivation]:
    """Every derivation, in teaching order."""
    return [
        risk_of_scaled_projection(),
        optimal_scale(),
        floor(),
        least_squares_expected_risk(),
        large_n_gd_risk(),
        large_n_gd_limit(),
    ]


_NOTES = {
    "risk_of_scaled_projection": (
        "Risk of shrinking onto the true subspace, W = a·UUᵀ, from the trace formula "
        "(tr UUᵀ = d): squared bias (a − 1)² plus the noise that passes, σ²a²."
    ),
    "optimal_scale": "Setting dR/da = 0 gives the Wiener shrinkage factor.",
    "floor": "Substituting a* gives the best achievable risk, the floor every estimator approaches.",
    "least_squares_expected_risk": (
        "Least squares on N > n + 1 examples, via the inverse-Wishart mean: the excess over the "
        "floor is R*·n/(N − n − 1), so it decays like n/N — all n directions are fitted."
    ),
    "large_n_gd_risk": (
        "Gradient descent from W = 0 for k steps (τ = ηN), with YYᵀ ≈ NΣ_y. The bias term "
        "(1 − f_s)²/(1 + σ²) shrinks with k; the variance term R*(d f_s² + (n − d) f_n²)/N grows "
        "as the noise directions get learned. With f_s ≈ 1 and f_n ≈ 0 the excess is R*·d/N."
    ),
    "large_n_gd_limit": (
        "Running gradient descent to convergence (|1 − τμ| < 1) recovers the large-N form of "
        "least squares, R*(1 + n/N)."
    ),
}


def teaching_notes() -> str:
    """Markdown with one section (name, explanation, display LaTeX) per derivation."""
    parts = [
        "## Subspace denoising: derived closed forms",
        "",
        r"Model: $x = Uc$, $y = x + z$, $z \sim \mathcal{N}(0, \sigma^2 I_n)$, risk "
        r"$R(W) = \left(\|(W - I)U\|_F^2 + \sigma^2 \|W\|_F^2\right)/d$.",
        "",
    ]
    for der in all_derivations():
        parts += [f"### `{der.name}`", "", _NOTES[der.name], "", f"$$ {der.latex} $$", ""]
    return "\n".join(parts)
