"""Write notebooks/03_bridge.ipynb (without outputs) from the cells below.

Run from anywhere:  python notebooks/_build_03_bridge.py
CI executes the notebook (tests/test_notebooks.py); keep it under a minute on 2 CPU cores.
The notebook needs numpy/scipy/matplotlib, the ``theory`` and ``bridge`` packages and scikit-image
(for its bundled photographs); it never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from _nbcells import Cells  # noqa: E402 (sibling module; builders run as scripts)

OUT = Path(__file__).resolve().parent / "03_bridge.ipynb"

CELLS = Cells()
md, code = CELLS.md, CELLS.code


# ------------------------------------------------------------------------------------------ intro
md(
    r"""
    # Why data scaling slows down — fitting scaling laws, theory vs experiment

    Klug & Heckel (ICLR 2023) report that the error of learned image reconstruction falls as an
    **initially steep power law in the number of training examples $N$ that slows down** at
    moderate $N$. They fit pure power laws $R \approx \beta N^\alpha$ over hand-picked windows of
    $N$, and explain the slowing with a linear model (notebook `01_theory`): the error is a fixed
    **floor** plus an **excess** that shrinks with $N$.

    This notebook is about the step from curves to conclusions, with the `bridge` package:

    1. **The theory's learning curve** — exact, deterministic, and already showing the slowdown.
    2. **Fitting it three ways** (`bridge.laws`) — a power law over a window (the paper's method),
       a power law plus a floor, and a broken power law whose break replaces the hand-picked window.
    3. **Uncertainty** (`bridge.uncertainty`) — bootstrap intervals over runs, extrapolation to
       $N = 10^5, 10^6$, and "how much data until we are within 1% of the floor?".
    4. **A real experiment without a GPU** — the same linear estimator, learned by gradient descent
       on patches of real photographs, and the linear theory calibrated to it (`bridge.calibrate`).

    Everything runs on a CPU in well under a minute; all randomness comes from explicitly seeded
    `np.random.default_rng`. No torch anywhere: `bridge` never needs it.
    """
)

code(
    r"""
    import os

    # Matrices here are at most 100 x 100: one BLAS thread beats several competing ones
    # (set before numpy is imported; an existing setting is kept).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    import time

    import matplotlib.pyplot as plt
    import numpy as np

    import bridge
    from bridge import BrokenPowerLaw, Curve, FloorPowerLaw, PowerLaw
    from bridge import plot as bplot
    from theory import Estimator, Problem, SubspaceSignal, expected_risk, gradient_descent

    %matplotlib inline
    plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})
    T0 = time.perf_counter()


    def restyle_fits(ax, colors, fontsize=7):
        # bridge.plot draws every fitted law as a thin dark dashed line; give each its own colour
        fits = [line for line in ax.get_lines() if line.get_gid() == "fit"]
        for line, color in zip(fits, colors):
            line.set_color(color)
            line.set_linewidth(1.4)
        ax.legend(fontsize=fontsize)
    """
)

# ------------------------------------------------------------------------------------ section 1
md(
    r"""
    ## 1. The linear theory's learning curve

    The subspace model of the paper: $x = Uc$ with $U \in \mathbb{R}^{n\times d}$ orthonormal and
    $c \sim \mathcal N(0, I_d)$, observed as $y = x + z$, $z \sim \mathcal N(0, \sigma^2 I_n)$. A linear
    estimator $W$ is learned from $N$ pairs by gradient descent on $\tfrac12\|WY - X\|_F^2$, stopped at
    the best step $k \le k_\max$ (the paper's oracle). Its risk $R(W) = \mathbb{E}\|Wy - x\|^2/d$ splits
    into

    $$ \mathbb{E} R(W^{k_{opt}}) \;=\; \underbrace{\frac{\sigma^2}{1+\sigma^2}}_{\text{floor } R^*}
       \;+\; \underbrace{\mathbb{E}R - R^*}_{\text{excess}}, \qquad
       \text{excess} \approx R^*\,\frac{d}{N} \ \ (N \gg n). $$

    `theory.expected_risk(..., method="asymptotic")` gives the expected risk from a random-matrix
    deterministic equivalent: no random draws, so the curve is exact up to the $n \to \infty$
    approximation and costs a fraction of a second per $N$.

    On log-log axes the local slope of the total risk is the excess's slope weighted by the
    excess's share of the risk,

    $$ \frac{d\log R}{d\log N} = \frac{R - R^*}{R}\cdot\frac{d\log(R - R^*)}{d\log N}, $$

    so even a perfectly regular excess produces a total curve that is steep while the excess
    dominates and **flattens once the excess falls below the floor**.
    """
)

code(
    r"""
    n, d, sigma = 100, 10, 0.1                    # one of the paper's setups
    prob = Problem(SubspaceSignal(n=n, d=d), sigma=sigma)
    gd = Estimator("gd-oracle", kmax=2000)        # early-stopped GD, oracle k <= 2000
    N_grid = np.unique(np.round(np.geomspace(8, 16384, 14)).astype(int))

    t = time.perf_counter()
    (det,) = expected_risk(prob, N_grid, [gd], method="asymptotic", rng=np.random.default_rng(0))
    print(f"{N_grid.size} deterministic-equivalent points in {time.perf_counter() - t:.1f} s")
    R = det.mean[:, 0]                            # (14,) expected risk at each N
    floor = sigma**2 / (1 + sigma**2)
    assert np.allclose(det.floor, floor)
    excess = R - floor

    slope_R = np.gradient(np.log(R), np.log(N_grid))
    slope_ex = np.gradient(np.log(excess), np.log(N_grid))
    print(f"floor R* = sigma^2/(1+sigma^2) = {floor:.5f}")
    print(f"{'N':>6} {'R':>8} {'excess/R*':>10} {'R* d/N / excess':>16} {'slope R':>8} {'slope excess':>13}"
          f" {'share x slope':>14} {'k_opt':>6}")
    for j, N in enumerate(N_grid):
        print(f"{N:>6} {R[j]:>8.5f} {excess[j] / floor:>10.4f} {floor * d / N / excess[j]:>16.3f}"
              f" {slope_R[j]:>8.3f} {slope_ex[j]:>13.3f} {excess[j] / R[j] * slope_ex[j]:>14.3f}"
              f" {det.k_opt[0, j]:>6.0f}")

    N_cross = N_grid[np.argmax(excess < floor)]   # first grid N where the excess is below the floor
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
    bplot.theory_risk_vs_N(ax0, {"gd-oracle": (N_grid, R, None)}, floor=floor,
                           title=rf"expected risk, $n={n}$, $d={d}$, $\sigma={sigma}$")
    ax1.loglog(N_grid, excess, "^-", color="tab:green", ms=4, label=r"excess $R - R^*$")
    ax1.loglog(N_grid, floor * d / N_grid, "k--", lw=1, label=r"$R^*\,d/N$ (large-N law)")
    ax1.axhline(floor, color="0.4", ls="--", lw=1, label=r"floor $R^*$")
    ax1.axvline(N_cross, color="tab:red", lw=0.8, label=f"excess < floor from N = {N_cross}")
    ax1.set(xlabel="training examples $N$", ylabel=r"$R - R^*$", title="the excess keeps falling")
    ax1.legend(fontsize=7)
    plt.show()
    """
)

md(
    r"""
    Reading the table and the figure:

    * The **excess** falls steadily over the whole range; at large $N$ its slope tends to $-1$ and
      its size to that of the large-N law $R^* d/N$ (the column `R* d/N / excess` creeps towards 1):
      only the $d$ signal directions are learned before early stopping, and each costs a $1/N$
      share of the noise.
    * At small $N$ the excess falls *faster* than $1/N$ (slope below $-1$): the subspace itself is
      being found. (`k_opt` is the oracle's stopping step, capped at $k_\max$: long while the data
      are unreliable, short once they are.)
    * The **total** risk's slope (`slope R`) equals `share x slope` — the excess's slope times its
      share of the risk. Past the red line the excess is smaller than the floor and the slope of
      the total collapses towards 0, although nothing about the learning itself has slowed down.

    That is the whole mechanism: a pure power law cannot describe such a curve, and any exponent
    fitted to it depends on where one looks.
    """
)

# ------------------------------------------------------------------------------------ section 2
md(
    r"""
    ## 2. Fitting it three ways

    `bridge.laws` has the laws as scikit-learn-style objects (`fit(N, y)` returns the law,
    fitted attributes end in `_`, `predict(N)`, `label()`). Risks are fitted in log space
    (residuals $\ln y - \ln\hat y$), so every decade of $N$ and of risk counts alike.

    * `PowerLaw(window=(N_lo, N_hi))`: $R = \beta N^\alpha$, least squares of $\log_{10}R$ on
      $\log_{10}N$ inside a hand-picked window — the paper's method.
    * `FloorPowerLaw()`: $R = c + aN^\alpha$ with a floor $c \ge 0$ — the floor-plus-excess
      picture of section 1 with a single exponent for the excess.
    * `BrokenPowerLaw(breaks=1)`: the broken neural scaling law of Caballero et al. (2022),
      $R = c + bN^{-c_0}\big(1 + (N/d_1)^{1/f_1}\big)^{-c_1 f_1}$: slope $-c_0$ before the break
      $d_1$, $-c_0 - c_1$ after it (plus a floor). The fitted break is a data-driven version of
      the boundary between "early" and "late" windows.
    """
)

code(
    r"""
    windows = {"early": (8, 50), "late": (150, 3000)}
    power = {name: PowerLaw(window=w).fit(N_grid, R) for name, w in windows.items()}
    for name, law in power.items():
        lo, hi = windows[name]
        print(f"PowerLaw on the {name} window [{lo}, {hi}]: {law.label():<16} exponent {law.exponent_:+.3f}")

    floor_law = FloorPowerLaw().fit(N_grid, R)
    broken = BrokenPowerLaw(breaks=1).fit(N_grid, R)
    print(f"\nFloorPowerLaw, all N:  {floor_law.label()}   floor/true floor - 1 = {floor_law.floor_ / floor - 1:+.4f}")
    print(f"BrokenPowerLaw, all N: {broken.label()}")
    print(f"   break at N = {broken.breaks_[0]:.0f}; slopes {broken.exponents_[0]:+.2f} before, "
          f"{broken.exponents_[1]:+.2f} after; floor/true floor - 1 = {broken.floor_ / floor - 1:+.4f}")

    # The N at which the truth is within 1% of the floor (log-log interpolation of excess/floor)
    ratio = excess / floor
    N_1pct_true = float(np.exp(np.interp(np.log(0.01), np.log(ratio[::-1]), np.log(N_grid[::-1]))))

    print("\nFloorPowerLaw fitted only above a cut-off (the excess is not one power law either):")
    print(f"{'N >=':>6} {'exponent':>9} {'floor/true - 1':>15} {'N to within 1% of floor':>24}")
    for cut in (8, 26, 84, 270):
        keep = N_grid >= cut
        law = FloorPowerLaw().fit(N_grid[keep], R[keep])
        n1 = bridge.n_to_margin(law, 0.01, relative=True)
        print(f"{cut:>6} {law.exponent_:>9.3f} {law.floor_ / floor - 1:>+15.4f} {n1:>24.0f}")
    print(f"{'truth':>6} {'-> -1':>9} {0:>+15.4f} {N_1pct_true:>24.0f}")

    print("\nmodel choice by BIC (lower is better), all N:")
    for row in bridge.compare_laws([PowerLaw(), FloorPowerLaw(), BrokenPowerLaw(breaks=1)], N_grid, R):
        print(f"   {row['law']:<15} p = {row['n_params']}  BIC = {row['bic']:8.1f}   {row['label']}")
    """
)

code(
    r"""
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(14, 4))
    curves = {"gd-oracle": (N_grid, R, None)}
    bplot.theory_risk_vs_N(ax0, curves, floor=floor, title="the paper's method: power laws over windows",
                           fits=[(power["early"], (8, 16384)), (power["late"], (8, 16384))])
    for lo, hi in windows.values():
        ax0.axvspan(lo, hi, color="0.85", alpha=0.5, lw=0)
    restyle_fits(ax0, ["tab:purple", "tab:orange"])
    ax0.set_ylim(floor / 3, 1)

    bplot.theory_risk_vs_N(ax1, curves, floor=floor, title="floor law and broken power law, all N",
                           fits=[(floor_law, (8, 16384)), (broken, (8, 16384))])
    ax1.axvline(broken.breaks_[0], color="tab:brown", lw=0.8, ls=":")
    restyle_fits(ax1, ["tab:blue", "tab:brown"])
    ax1.set_ylim(floor / 3, 1)

    # on log axes near the floor every fit looks good: the ratio fit / exact curve does not
    for law, color, label in ((floor_law, "tab:blue", "FloorPowerLaw"), (broken, "tab:brown", "BrokenPowerLaw"),
                              (power["early"], "tab:purple", "PowerLaw, early window"),
                              (power["late"], "tab:orange", "PowerLaw, late window")):
        ax2.plot(N_grid, law.predict(N_grid) / R, "o-", ms=3, color=color, label=label)
    ax2.axhline(1.0, color="tab:green", lw=1)
    ax2.set(xscale="log", ylim=(0.8, 1.2), xlabel="training examples $N$", ylabel="fit / exact risk",
            title="relative error of each fit")
    ax2.legend(fontsize=7)
    plt.tight_layout()
    plt.show()
    """
)

md(
    r"""
    What the fits say:

    * **The window decides the exponent.** The two `PowerLaw` fits describe the same exact curve
      with very different exponents; extended beyond their windows (left panel, shaded windows)
      each is badly wrong. "The exponent of data scaling" is not a property of the curve but of
      the window — which is why the paper's windows had to be picked by hand.
    * **A floor law gets the floor roughly right and the exponent "wrong".** `FloorPowerLaw` lands
      near the floor, but its single exponent is set by the steep subspace-finding phase, not by
      the $1/N$ tail. Fitted only above a cut-off, the exponent drifts
      towards $-1$ and the predicted "N to within 1% of the floor" towards the truth (last table):
      an exponent from the steep phase makes the approach to the floor look much faster than it is.
    * **The broken power law finds the regime change by itself**: a steep slope before the break,
      a much shallower one after it (near the $-1$ of the tail), and a floor. BIC prefers it clearly over the pure power law; its
      break position is where one would otherwise have drawn the boundary between windows.
    """
)

# ------------------------------------------------------------------------------------ section 3
md(
    r"""
    ## 3. Uncertainty: bootstrap over runs, extrapolation, margins

    Real curves come from a few runs (seeds) per $N$. Here: `method="rao-blackwell"` Monte Carlo —
    8 random training sets (and subspaces) per $N$, each with its exact conditional risk — gives
    per-run points $(N_i, R_i, \text{run}_i)$.

    * `bridge.detect_break(N, y, groups=run)` fits the one-break law, bootstraps it, and calls the
      break *supported* when it beats both the floor law and the pure power law by BIC and its
      interval lies strictly inside the observed $N$ range.
    * `bridge.bootstrap(law, N, y, groups=run, n_boot, rng)` refits the law on resampled runs
      (a cluster bootstrap: runs are the independent units) and gives percentile intervals of
      every parameter (`.ci()`) and of predictions (`.predict_band`).
    * `bridge.extrapolate(boot, N)` predicts at larger $N$ with intervals, and the *gain* over the
      largest observed $N$ (paired over refits, so much narrower).
    * `bridge.n_to_margin_ci(boot, 0.01, relative=True)` solves $aN^\alpha = 0.01\,c$: the $N$ at
      which the fitted law is within 1% of its own floor.

    Following section 2, the floor law is fitted only above the detected break, where one exponent
    is a fair description; the fit over all $N$ is shown for comparison.
    """
)

code(
    r"""
    N_mc = np.unique(np.round(np.geomspace(8, 8192, 8)).astype(int))
    runs = 8
    t = time.perf_counter()
    (mc,) = expected_risk(prob, N_mc, [gd], method="rao-blackwell", runs=runs, rng=np.random.default_rng(1))
    risk_runs = mc.draws[:, :, 0]                         # (runs, 8)
    N_pts = np.tile(N_mc, runs).astype(float)            # per-run points, flattened run by run
    y_pts = risk_runs.ravel()
    run_id = np.repeat(np.arange(runs), N_mc.size)
    print(f"Monte Carlo: {N_mc.size} N x {runs} runs in {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    brk = bridge.detect_break(N_pts, y_pts, groups=run_id, n_boot=50, rng=np.random.default_rng(2))
    print(f"detect_break ({time.perf_counter() - t:.1f} s): break at N = {brk.N_break:.0f}, "
          f"95% interval [{brk.ci[0]:.0f}, {brk.ci[1]:.0f}], supported: {brk.supported}")
    print(f"   slope {brk.slope_before:+.2f} before, {brk.slope_after:+.2f} after;  BIC: "
          + ", ".join(f"{k} {v:.1f}" for k, v in brk.bic.items()))

    above = N_pts > brk.N_break
    boots = {
        f"N > {brk.N_break:.0f}": bridge.bootstrap(FloorPowerLaw(), N_pts[above], y_pts[above], groups=run_id[above],
                                                  n_boot=100, rng=np.random.default_rng(3)),
        "all N": bridge.bootstrap(FloorPowerLaw(), N_pts, y_pts, groups=run_id, n_boot=100,
                                  rng=np.random.default_rng(4)),
    }
    print(f"\nFloorPowerLaw with 95% bootstrap intervals over runs (true floor {floor:.6f}):")
    print(f"{'fitted on':>10} {'exponent [95% CI]':>26} {'floor/true - 1, % [95% CI]':>30} {'truth in CI':>12}"
          f" {'N to 1% [95% CI]':>20}")
    for name, b in boots.items():
        ci = b.ci(0.95)
        lo_c, hi_c = ci["floor"]
        n1, n1_lo, n1_hi = bridge.n_to_margin_ci(b, 0.01, relative=True)
        pct = [100 * (v / floor - 1) for v in (b.law.floor_, lo_c, hi_c)]
        print(f"{name:>10} {b.law.exponent_:>8.3f} [{ci['exponent'][0]:.3f}, {ci['exponent'][1]:.3f}]"
              f" {pct[0]:>+13.3f} [{pct[1]:+.3f}, {pct[2]:+.3f}] {str(lo_c <= floor <= hi_c):>12}"
              f" {n1:>6.0f} [{n1_lo:.0f}, {n1_hi:.0f}]")
    print(f"{'truth':>10} {'-> -1':>8} {'':>17} {0:>+13.3f} {'':>16} {'':>12} {N_1pct_true:>6.0f}")

    boot = boots[f"N > {brk.N_break:.0f}"]
    N_far = [1e5, 1e6]
    (far,) = expected_risk(prob, [int(N_mc.max()), *map(int, N_far)], [gd], method="asymptotic",
                           rng=np.random.default_rng(0))
    truth_far, truth_gain = far.mean[1:, 0], far.mean[1:, 0] - far.mean[0, 0]
    print(f"\nextrapolation of the floor law fitted above the break (largest observed N = {N_mc.max()}):")
    print(f"{'N':>7} {'predicted [95% CI]':>32} {'truth':>9} {'gain vs N_max [95% CI]':>34} {'true gain':>10}")
    for row, tr, tg in zip(bridge.extrapolate(boot, N_far), truth_far, truth_gain):
        print(f"{row['N']:>7.0e} {row['predict']:>9.6f} [{row['lo']:.6f}, {row['hi']:.6f}] {tr:>9.6f}"
              f" {row['gain']:>10.2e} [{row['gain_lo']:.2e}, {row['gain_hi']:.2e}] {tg:>10.2e}")
    """
)

code(
    r"""
    fig, (ax, az) = plt.subplots(1, 2, figsize=(13, 4.4))
    mean_mc, std_mc = risk_runs.mean(0), risk_runs.std(0, ddof=1)
    bplot.theory_risk_vs_N(
        ax, {"gd-oracle": (N_mc, mean_mc, std_mc), "deterministic equivalent (section 1)": (N_grid, R, None)},
        floor=floor, fits=[(boot.law, (brk.N_break, 1e6)), (brk.law, (8, 8192))],
        title=f"Monte Carlo, {runs} runs per N: floor law above the break, extrapolated",
    )
    ax.scatter(N_pts, y_pts, s=6, color="tab:green", alpha=0.4, lw=0, label="single runs")
    grid = np.geomspace(brk.N_break, 1e6, 80)
    band_lo, band_hi = boot.predict_band(grid)
    ax.fill_between(grid, band_lo, band_hi, color="tab:blue", alpha=0.25, lw=0, label="95% band (floor law)")
    ax.axvspan(*brk.ci, color="tab:brown", alpha=0.15, lw=0, label="break, 95% interval")
    ax.axvspan(N_mc.max(), 1e6, color="0.9", alpha=0.5, lw=0, zorder=0)
    restyle_fits(ax, ["tab:blue", "tab:brown"])

    # zoom on the floor (linear y): the band covers the refits' noise, not the law's bias
    az.scatter(N_pts, y_pts, s=8, color="tab:green", alpha=0.5, lw=0, label="single runs")
    az.plot(np.r_[N_grid, N_far], np.r_[R, truth_far], "D-", ms=3, color="tab:purple", lw=1,
            label="deterministic equivalent (truth)")
    az.plot(grid, boot.law.predict(grid), "--", color="tab:blue", lw=1.4, label="floor law above the break")
    az.fill_between(grid, band_lo, band_hi, color="tab:blue", alpha=0.25, lw=0, label="95% band")
    az.axhline(floor, color="0.4", ls="--", lw=1, label=r"floor $R^*$")
    az.axhline(boot.law.floor_, color="tab:blue", ls=":", lw=1, label="fitted floor")
    az.axvspan(N_mc.max(), 1e6, color="0.9", alpha=0.5, lw=0, zorder=0)
    az.set(xscale="log", xlim=(100, 1.5e6), ylim=(floor * 0.995, floor * 1.06), xlabel="training examples $N$",
           ylabel="risk $R$", title="zoom on the floor (grey: extrapolation)")
    az.legend(fontsize=7)
    plt.tight_layout()
    plt.show()
    """
)

md(
    r"""
    How to read the tables:

    * The **break** is located from the data with an interval; when it is *supported*, the pure
      power law is clearly rejected and the curve really has two regimes.
    * **Bootstrap intervals measure sampling noise only.** They say how much the fit moves when
      the runs are resampled, not whether the law has the right shape. The column `truth in CI`
      checks this against the exact floor: a misspecified law (one exponent for an excess whose
      local slope is still drifting) can give an interval that is narrow and still misses. The
      fit over all $N$ is the extreme case — its floor and its "N to 1%" are confidently wrong in
      the same direction as in section 2, while the fit above the break lands much closer.
    * **Extrapolation** to $10^5$ and $10^6$ examples: the predicted risk barely moves, and the
      *gain* over the largest observed $N$ is tiny compared with the floor — the paper's
      conclusion that orders of magnitude more data would not help much, here with error bars.
      Whether the truth lies in the interval is again a question of the law's shape, not of noise.
    """
)

# ------------------------------------------------------------------------------------ section 4
md(
    r"""
    ## 4. A real experiment without torch: learning to denoise photo patches

    The theory's estimator is linear, so we can run its *experiment* on real data in closed form.
    Signals are $8\times 8$ grey patches ($n = 64$) of the photographs bundled with scikit-image,
    scaled to $[0, 1]$; noise $\sigma = 0.1$ per pixel.

    * **training pool**: all patches (stride 4) of `astronaut`, `coffee` and `chelsea`;
    * **test set**: the non-overlapping patches of a *different* photo, `camera`;
    * **validation set**: 256 held-out pool patches, used to pick the stopping step $k$ —
      honest early stopping instead of the theory's oracle.

    For each $N$ and seed: subtract the training targets' mean patch $m$, learn
    $W^k$ by gradient descent on $\tfrac12\|W(Y - m) - (X - m)\|_F^2$ for a grid of $k$ at once
    (`theory.gradient_descent`: one eigendecomposition, no iterations; step $\eta = 1/\lambda_\max(YY^\top)$
    of the centred inputs), keep the $k$ with the smallest validation error, and report the test
    error **relative to the noisy input**,

    $$ \frac{\mathrm{MSE}\big(W^{\hat k}(y - m) + m,\; x\big)}{\mathrm{MSE}(y, x)} , $$

    the scale on which `bridge` compares theory and experiment (`scale="relative-input"`; for the
    theory it is $R(W)/R(I)$ with $R(I) = \sigma^2 n/d$, and its floor is $d/(n(1+\sigma^2))$).

    First, how the patches differ from the model: the subspace model has $d$ equal eigenvalues and
    $n - d$ zeros. The eigenvalues $\lambda_i$ of the patch covariance instead decay gradually —
    roughly a power law in $i$ — with one dominant direction (overall brightness). The best
    linear estimator for this population is the Wiener filter $W = \Sigma(\Sigma + \sigma^2 I)^{-1}$;
    its error on the test photo is the experiment's counterpart of the floor. On the relative scale
    the floor of a Wiener filter is its number of degrees of freedom per pixel,

    $$ \frac{\mathbb{E}\|Wy - x\|^2}{n\sigma^2} = \frac1n\sum_i \frac{\lambda_i}{\lambda_i + \sigma^2}
       = \frac{\operatorname{tr} W}{n}, \qquad \text{subspace model: } \frac{d}{n(1+\sigma^2)} . $$
    """
)

code(
    r"""
    from skimage import data as skdata
    from skimage.color import rgb2gray
    from skimage.util import img_as_float, view_as_windows

    P, noise = 8, 0.1
    n_px = P * P


    def grey(img):
        img = img_as_float(img)                  # uint8 -> [0, 1]
        return rgb2gray(img) if img.ndim == 3 else img


    def patches(img, step):
        # all P x P patches on a grid with the given stride, as columns: (n_px, count)
        return view_as_windows(grey(img), (P, P), step=step).reshape(-1, n_px).T


    pool = np.hstack([patches(f(), 4) for f in (skdata.astronaut, skdata.coffee, skdata.chelsea)])
    test_clean = patches(skdata.camera(), P)
    print(f"training pool {pool.shape}, test patches {test_clean.shape} (64 pixels per patch)")

    # The pool's population statistics: covariance spectrum and Wiener filter (the best linear map)
    mu_pool = pool.mean(axis=1, keepdims=True)
    Sigma = np.cov(pool)
    lam = np.linalg.eigvalsh(Sigma)[::-1]
    W_wiener = Sigma @ np.linalg.inv(Sigma + noise**2 * np.eye(n_px))
    z_test = noise * np.random.default_rng(10).standard_normal(test_clean.shape)
    wiener_floor = (np.mean((W_wiener @ (test_clean + z_test - mu_pool) + mu_pool - test_clean) ** 2)
                    / np.mean(z_test**2))

    idx = np.arange(1, n_px + 1)
    spec_law = PowerLaw(window=(2, 40)).fit(idx, lam)   # skip the brightness direction
    print(f"eigenvalues: largest {lam[0]:.3f}, then {lam[1]:.3f}, {lam[2]:.3f}, ...; "
          f"lambda_i ~ i^{spec_law.exponent_:.2f} for 2 <= i <= 40")
    dof_wiener = float(np.sum(lam / (lam + noise**2)))            # tr W of the Wiener filter
    print(f"eigenvalues above the noise variance sigma^2 = {noise**2:g}: {int(np.sum(lam > noise**2))}; "
          f"Wiener degrees of freedom tr W = sum lam/(lam+sigma^2) = {dof_wiener:.1f}")
    print(f"Wiener filter's relative error: on the pool tr W / n = {dof_wiener / n_px:.4f}, "
          f"on the test photo {wiener_floor:.4f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    ax0.loglog(idx, lam, "o", ms=3, color="tab:orange", label=r"photo patches $\lambda_i$")
    ax0.loglog(idx[1:40], spec_law.predict(idx[1:40]), "k--", lw=1,
               label=rf"power law $\lambda_i \propto i^{{{spec_law.exponent_:.2f}}}$")
    ax0.axhline(noise**2, color="tab:red", lw=1, label=r"noise variance $\sigma^2$")
    ax0.step([1, 10, 10, n_px], [0.05, 0.05, 1e-5, 1e-5], where="post", color="tab:blue", lw=1,
             label="subspace model (illustration, d = 10): d equal, rest 0")
    ax0.set(ylim=(1e-4, 10), xlabel="index $i$", ylabel="eigenvalue of the patch covariance",
            title="photo patches are not a subspace")
    ax0.legend(fontsize=7)
    rng_show = np.random.default_rng(11)
    tiles = pool[:, rng_show.choice(pool.shape[1], 24, replace=False)].T.reshape(4, 6, P, P)
    ax1.imshow(np.block([[np.pad(t, 1, constant_values=1.0) for t in row] for row in tiles]), cmap="gray",
               vmin=0, vmax=1)
    ax1.set(title="random training patches (8 x 8)", xticks=[], yticks=[])
    ax1.grid(False)
    plt.show()
    """
)

md(
    r"""
    Now the scaling experiment: 7 training-set sizes, 3 seeds (each seed draws its own nested
    training subsets, validation set and noise), the whole gradient-descent path for each.
    """
)

code(
    r"""
    N_exp = [8, 20, 50, 128, 320, 800, 2048]
    seeds = (0, 1, 2)
    n_val = 256
    ks = np.unique(np.concatenate([[0], np.round(np.geomspace(1, 1e4, 60))]))   # GD steps tried


    def experiment(seed):
        # one seed: nested training subsets, fixed validation/test noise; rows (N, rel. error, k)
        rng = np.random.default_rng([2023, seed])
        order = rng.permutation(pool.shape[1])[: n_val + max(N_exp)]
        X_all = pool[:, order]
        Y_all = X_all + noise * rng.standard_normal(X_all.shape)
        Xv, Yv = X_all[:, :n_val], Y_all[:, :n_val]
        Yt = test_clean + noise * rng.standard_normal(test_clean.shape)
        input_mse = np.mean((Yt - test_clean) ** 2)
        rows = []
        for N in N_exp:
            X, Y = X_all[:, n_val:n_val + N], Y_all[:, n_val:n_val + N]
            m = X.mean(axis=1, keepdims=True)                  # the training targets' mean patch
            Xc, Yc = X - m, Y - m
            lr = 1.0 / np.linalg.eigvalsh(Yc @ Yc.T)[-1]      # stable: lr * lambda_max = 1 < 2
            Wk = gradient_descent(Xc, Yc, steps=ks, lr=lr)     # (K, 64, 64): W^k for every k
            val = np.mean((Wk @ (Yv - m) + m - Xv) ** 2, axis=(1, 2))
            j = int(np.argmin(val))                            # honest early stopping
            test = np.mean((Wk[j] @ (Yt - m) + m - test_clean) ** 2)
            rows.append((N, test / input_mse, ks[j]))
        return rows


    t = time.perf_counter()
    res = {s: experiment(s) for s in seeds}
    print(f"{len(N_exp)} N x {len(seeds)} seeds in {time.perf_counter() - t:.1f} s")

    N_e = np.array([r[0] for s in seeds for r in res[s]], dtype=float)      # per-seed points
    y_e = np.array([r[1] for s in seeds for r in res[s]])
    seed_e = np.array([s for s in seeds for _ in res[s]])
    k_e = np.array([r[2] for s in seeds for r in res[s]])
    N_u = np.unique(N_e)
    y_mean = np.array([y_e[N_e == v].mean() for v in N_u])
    y_sd = np.array([y_e[N_e == v].std(ddof=1) for v in N_u])
    exp_curve = Curve(N_u, y_mean, y_sd, "relative-input", "GD on photo patches", (N_e, y_e, seed_e))

    print(f"{'N':>5} {'test error / input error':>24} {'chosen k per seed':>20}")
    for v, mu_, sd_ in zip(N_u, y_mean, y_sd):
        print(f"{v:>5.0f} {mu_:>16.4f} +- {sd_:.4f} {str(k_e[N_e == v].astype(int).tolist()):>20}")
    """
)

md(
    r"""
    **Calibrating the theory.** `bridge.calibrate(curve, n=64)` fits the two free parameters of the
    subspace model — an *effective* dimension $d_\text{eff}$ and an *effective* noise level
    $\sigma_\text{th}$ — so that the theory's expected relative error (deterministic equivalent,
    oracle early stopping with $k \le k_\max$) matches the experiment in least squares on
    $\log y$; intervals come from the Gauss–Newton covariance. Each evaluation is one theory curve
    on the experiment's $N$ grid, so the search is kept short (`max_evals=20`, $k_\max = 1000$).

    $\sigma_\text{th}$ is not the pixel noise: in the model the signal has unit variance per
    direction, so $\sigma_\text{th}$ is a noise-to-signal ratio, and $\sigma^2/\sigma_\text{th}^2$ is
    the signal variance per learned direction it implies.

    Then both curves are fitted with the same floor law on the same range (`bridge.compare_fits`,
    bootstrap over seeds) and overlaid (`bridge.plot.overlay`). As in sections 2–3 the steep initial
    phase is left out of the fits: they use $N > d_\text{eff}$, where there are more examples than
    effective signal directions.
    """
)

code(
    r"""
    t = time.perf_counter()
    cal = bridge.calibrate(exp_curve, n=n_px, kmax=1000, max_evals=20)
    print(f"calibration: {cal.evaluations} theory curves in {time.perf_counter() - t:.1f} s")
    print(f"   d_eff   = {cal.d_eff:>6}   95% interval [{cal.d_ci[0]:.1f}, {cal.d_ci[1]:.1f}]")
    print(f"   sigma_th = {cal.sigma:>6.3f}   95% interval [{cal.sigma_ci[0]:.3f}, {cal.sigma_ci[1]:.3f}]"
          f"   (implied signal variance per direction sigma^2/sigma_th^2 = {noise**2 / cal.sigma**2:.4f})")
    print(f"   RMS log error of the calibrated theory: {cal.rms_log_error:.3f}")

    print(f"   degrees of freedom: theory d_eff/(1+sigma_th^2) = {cal.d_eff / (1 + cal.sigma**2):.1f}, "
          f"Wiener filter of the pool {dof_wiener:.1f}")

    N_th = np.unique(np.round(np.geomspace(8, 32768, 10)).astype(int))       # extends past the data
    y_th = cal.predict(N_th)
    th_curve = Curve(N_th.astype(float), y_th, np.zeros_like(y_th), "relative-input", "calibrated theory")

    # the same floor law on the same range for both: N > d_eff
    th_fit = th_curve.at(th_curve.N[th_curve.N > cal.d_eff])
    exp_fit = exp_curve.at(exp_curve.N[exp_curve.N > cal.d_eff])
    th_law = FloorPowerLaw().fit(th_fit.N, th_fit.y)
    exp_law = FloorPowerLaw().fit(exp_fit.points[0], exp_fit.points[1])
    rows = bridge.compare_fits([th_fit, exp_fit], law="floor", n_boot=100, rng=np.random.default_rng(12))
    print(f"\nfloor laws on N > d_eff = {cal.d_eff}:")
    print(f"{'curve':<22} {'floor law':<24} {'exponent [95% CI]':>24} {'floor [95% CI]':>26}")
    for r in rows:
        print(f"{r['curve']:<22} {r['fit']:<24} {r['exponent']:>7.3f} [{r['exponent_lo']:.3f}, {r['exponent_hi']:.3f}]"
              f" {r['floor']:>8.4f} [{r['floor_lo']:.4f}, {r['floor_hi']:.4f}]")
    print(f"\nfloors: calibrated theory d/(n(1+sigma_th^2)) = {cal.floor:.4f}, "
          f"Wiener filter on the test photo = {wiener_floor:.4f}, experiment at N = {N_exp[-1]}: {y_mean[-1]:.4f}")
    print(f"{'N':>5} {'experiment':>11} {'theory':>8} {'experiment/theory':>18}")
    for v, e_, c_ in zip(cal.N, y_mean, cal.y):
        print(f"{v:>5.0f} {e_:>11.4f} {c_:>8.4f} {e_ / c_:>18.3f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    bplot.overlay(ax0, (th_fit.N, th_fit.y, None), (exp_curve.N, exp_curve.y, exp_curve.err), theory_fit=th_law,
                  empirical_fit=exp_law, calibrated=(N_th, y_th), ylabel="test error / noisy-input error")
    ax0.axvline(cal.d_eff, color="0.5", lw=0.8, ls="--", label=r"$N = d_{eff}$ (fits use $N > d_{eff}$)")
    ax0.axhline(wiener_floor, color="tab:orange", ls=":", lw=1, label="Wiener filter (experiment's floor)")
    ax0.axhline(cal.floor, color="tab:green", ls=":", lw=1, label="calibrated theory's floor")
    ax0.legend(fontsize=7)
    ax0.set_title(rf"photo patches vs subspace theory ($d_{{eff}}={cal.d_eff}$, $\sigma_{{th}}={cal.sigma:.2f}$)")
    ax1.errorbar(exp_curve.N, exp_curve.y / cal.y, yerr=exp_curve.err / cal.y, fmt="s-", color="tab:orange",
                 ms=4, capsize=2)
    ax1.axhline(1.0, color="tab:green", lw=1)
    ax1.set(xscale="log", xlabel="training examples $N$", ylabel="experiment / calibrated theory",
            title="what the theory misses")
    plt.show()
    """
)

md(
    r"""
    **What matches.** With two effective parameters the subspace theory reproduces the shape of
    the experiment's learning curve — a steep start, then a flattening towards a floor — and the
    floors agree with each other and with the Wiener filter (printed above). The mechanism is the
    same as in section 1: the error that learning removes keeps shrinking, the part that no linear
    estimator can remove stays. Since a relative floor is a number of degrees of freedom per pixel,
    matching the floor means matching $\operatorname{tr}W$: the calibrated $d_\text{eff}/(1+\sigma_\text{th}^2)$
    lands close to the photo Wiener filter's $\sum_i \lambda_i/(\lambda_i+\sigma^2)$.

    **What does not.**

    * *Photo patches are not a subspace.* Their covariance spectrum decays like a power law with
      one dominant brightness direction, not $d$ equal eigenvalues and zeros. So $d_\text{eff}$ and
      $\sigma_\text{th}$ *separately* are effective numbers, not measurements: $d_\text{eff}$ is not the
      count of eigenvalues above $\sigma^2$, and $\sigma_\text{th}$ is not the pixel noise. Only the
      combination that sets the floor is pinned down well; the rest of the fit is the curve's shape.
    * *The approach to the floor differs.* With a gradual spectrum there is always another direction
      whose signal is barely above the noise and is learned only with more data; a subspace has no
      such directions, and its excess heads for $1/N$. Compare the floor-law exponents of the two
      curves on the same range (table above) and the systematic pattern of the ratio in the right
      panel: the calibrated theory is a compromise between the early and the late part of the curve.
      (With three seeds the experiment's exponent interval is wide: a tendency, not a measurement.)
    * *The protocols differ in details.* The experiment stops by a validation set and tests on
      another photo (a distribution shift: its floor is the Wiener filter's error *on that photo*);
      the theory uses the oracle step and the training distribution itself.

    The comparison is still useful: it says which part of the experiment's slowdown is the generic
    floor-plus-excess mechanism, and the residual pattern points to what a better signal model
    (e.g. `theory.SpectralSignal` with a power-law spectrum) would have to add.
    """
)

# ------------------------------------------------------------------------------------ section 5
md(
    r"""
    ## 5. What to take away

    * A learning curve of a reconstruction method is **floor + excess**. The excess can fall at a
      perfectly steady rate and the total still flattens, because its log-log slope is the excess's
      slope times the excess's share of the error.
    * **A pure power-law exponent depends on the window** it was fitted over; report the window, or
      better, fit a law with a floor, or a broken power law whose break is estimated from the data
      (`bridge.detect_break`).
    * **Put intervals on everything** (`bridge.bootstrap` over seeds), but remember they cover noise,
      not a wrong law: check the law's shape (BIC, residuals, holdout error in `bridge.compare_laws`).
    * "How much more data would help?" has a quantitative answer: `bridge.extrapolate` (gain over
      the largest $N$ you have, with an interval) and `bridge.n_to_margin_ci` ($N$ to get within a
      given margin of the floor).
    * The linear theory, calibrated with two effective parameters, describes real learning curves
      qualitatively; where it misses is informative about the signal model.

    **Next steps.** `reconscale demo` runs the full bridge on a CPU: a small U-Net sweep on photo
    crops, classical baselines, the fits above with bootstrap bands, the calibrated theory, and
    the paper's figures 2–4 plus a report. On your own sweep results use `reconscale fit`
    (scaling laws with intervals), `reconscale compare` (theory vs experiment on one $N$ axis,
    `--calibrate`), and `reconscale paper-figures` (the paper's theory setups and figure 1).
    """
)

code(
    r"""
    print(f"notebook compute time: {time.perf_counter() - T0:.1f} s")
    """
)


if __name__ == "__main__":
    CELLS.write(OUT)
