"""The cells of notebooks/03_bridge.ipynb.

Store it executed, with its outputs:  python notebooks/regenerate.py 03_bridge
CI executes it again and compares the text outputs (tests/test_notebooks.py); keep it under a minute on 2 CPU cores.
The notebook needs numpy/scipy/matplotlib, the ``theory`` and ``bridge`` packages, ``empirical.data``
(numpy only) and scikit-image (for its bundled photographs); it never imports torch. The network
curve is read from a ``reconscale demo`` directory when there is one (env ``RECONSCALE_DEMO``,
default ``../reconscale_demo`` relative to the notebook); without it the notebook draws two curves.
"""

from __future__ import annotations

from _nbcells import Cells  # sibling module: regenerate.py puts notebooks/ on sys.path

CELLS = Cells()
md, code = CELLS.md, CELLS.code


# ------------------------------------------------------------------------------------------ intro
md(
    r"""
    # Three learning curves on one N axis: the linear theory of the photos, the learned linear estimator, a U-Net

    Klug & Heckel (ICLR 2023) report that the error of learned image reconstruction falls as a
    steep power law in the number of training examples $N$ that **slows down** at moderate $N$,
    and explain it with a linear model: the error is a **floor** plus an **excess** that shrinks
    with $N$ (notebook `01_theory`). This notebook puts that explanation next to real data, on
    one $N$ axis and one scale (test PSNR of the mean test MSE):

    1. **the linear theory of the photos' own crops**: the Gaussian model with the second moments
       of the training crops, tested on the second moments of the test crops. Nothing is fitted;
    2. **the learned linear estimator on the real crops**: gradient descent on the crops
       themselves, exactly, with the stopping step chosen on validation crops;
    3. **a U-Net**, read from a `reconscale demo` run if one exists;
    4. **fits that say what they cannot know** (`bridge.report.analyse`), against the naive
       power law a paper-style window fit would extrapolate.

    The setting is `quick-denoise`'s at 16×16 pixels ($n = 256$): grey crops of the 10 training
    photographs bundled with scikit-image at about their native 512 px, Gaussian noise
    $\sigma = 25/255$, scored on 2 048 of the 4 429 non-overlapping crops of 5 held-out photographs
    (the demo's test set). Everything here is numpy on a CPU (no torch), seeded
    explicitly, and runs in well under a minute.
    """
)

code(
    r"""
    import os

    # Matrices here are at most 256 x 256: one BLAS thread beats several competing ones
    # (set before numpy is imported; an existing setting is kept).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    import json
    import sys
    from pathlib import Path

    import matplotlib.pyplot as plt
    import numpy as np

    from bridge import PowerLaw, mse_to_psnr
    from bridge.datatheory import data_theory_curve
    from bridge.demo import crossing, demo_findings
    from bridge.report import analyse
    from bridge.plot_stages import three_curves
    from empirical.data import PhotoSource          # numpy only: no torch
    from theory.datamodel import DataModel, DataSpectrum, second_moment_spectrum
    from theory.estimators import TrainingSpectrum, gd_filter, ols_filter, sample_step
    from theory.risk import validation_quadratic
    from theory.stopping import choose_k

    %matplotlib inline
    plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})


    def psnr(mse):
        return mse_to_psnr(mse)                     # images in [0, 1]: 10 log10(1 / MSE)


    def show(findings, title):
        # identified findings with their values, then the others with the reason they are not
        said = [f for f in findings if f["identified"]]
        unsaid = [f for f in findings if not f["identified"]]
        print(f"{title}: identified")
        for f in said:
            v, lo, hi = f["value"], f["lo"], f["hi"]
            band = "" if lo is None or hi is None or np.isclose(lo, hi, rtol=1e-9, atol=0) else f"  [{lo:.4g}, {hi:.4g}]"
            print(f"   {f['quantity']}: {v:.4g}{band}")
        print(f"{title}: NOT identified")
        for f in unsaid:
            print(f"   {f['quantity']}: {f['reason']}")
        if not unsaid:
            print("   (none)")
    """
)

# ------------------------------------------------------------------------------------ section 1
md(
    r"""
    ## 1. The linear theory of the photos' own crops

    The theory's only inputs are two uncentred second moments of clean crops, exactly what
    `reconscale spectrum` computes: $\Sigma_P = X^\top X / N_\text{ex}$ over the first $N_\text{ex}$
    training crops of the source (the sweep's training sets are prefixes of this pool), and
    $\Sigma_Q$, the exact second moment of the 2 048 test crops. A linear $W$ learned by gradient
    descent from 0 on $N$ Gaussian examples $x \sim \mathcal N(0, \Sigma_P)$, $y = x + \sigma z$, is
    scored on the test crops,

    $$ R_Q(W) = \frac{\mathbb E_Q\|Wy - x\|^2}{\mathbb E_Q\|x\|^2}, \qquad
       \text{MSE} = R_Q \cdot \frac{\operatorname{tr}\Sigma_Q}{n}, \qquad \text{PSNR} = -10\log_{10}\text{MSE}, $$

    with the step $k$ chosen over every integer (and $k = \infty$; `theory.stopping`) by the
    training distribution's risk $R_P$ — what validation crops from the training photos estimate
    (`bridge.datatheory.data_theory_curve`; the deterministic equivalent at every $N$, Monte Carlo
    near $N \approx n$ where it is undefined).

    The risk of a *linear* map depends on the data only through second moments, so two floors are
    exact for the real crops too: the **linear floor** $R_Q(W^*_P)$, where every linear estimator
    learned from the training photos ends as $N \to \infty$, and the Wiener floor $R_Q(W^*_Q)$ of the
    test crops themselves.
    """
)

code(
    r"""
    sigma, size = 25 / 255, 16
    n = size * size
    N_ex = 16384                                   # training crops for Sigma_P (the demo uses 65 536)
    src = PhotoSource(size=size, channels=1, seed=0, short_side_factor=32, test_crops="grid")  # as the demo
    split = src.split(n_train=N_ex, n_val=256, n_test=2048, seed=0)

    X_pool = src.batch(split.train(N_ex)).reshape(N_ex, n).astype(np.float64).T   # (n, N_ex): columns are crops
    X_val = src.batch(split.val).reshape(-1, n).astype(np.float64).T             # 256 validation crops
    X_test = src.batch(split.test).reshape(-1, n).astype(np.float64).T           # 2048 test crops
    print(f"{N_ex} training, {X_val.shape[1]} validation, {X_test.shape[1]} test crops of {size}x{size}")

    # Sigma_P as `reconscale spectrum` computes it; Sigma_Q exactly (eigh of the test crops' second moment)
    P = second_moment_spectrum(X_pool.T, shape=(size, size), label="P: training crops")
    mu_q, V_q = np.linalg.eigh(X_test @ X_test.T / X_test.shape[1])
    Q = DataSpectrum(np.clip(mu_q[::-1], 0, None), V=np.ascontiguousarray(V_q[:, ::-1]), label="Q: test crops")
    model = DataModel(P, sigma, Q)

    N_th = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536]
    theory = data_theory_curve(model, N_th, kmax=1e7, rng=np.random.default_rng(0))
    print(f"theory curve at {len(N_th)} N")

    floor_PQ, floor_Q, rank_Q = theory[0]["floor_P_on_Q"], theory[0]["floor_Q"], theory[0]["rank_Q"]
    mse_th = np.array([r["mse"] for r in theory])
    excess = mse_th - floor_PQ
    logN = np.log(N_th)
    slope_tot, slope_ex = np.gradient(np.log(mse_th), logN), np.gradient(np.log(excess), logN)
    print(f"linear floor R_Q(W*_P): MSE {floor_PQ:.5f} = {psnr(floor_PQ):.2f} dB;  "
          f"Wiener floor R_Q(W*_Q): {psnr(floor_Q):.2f} dB with rank(Sigma_Q) = {rank_Q} (n = {n})")
    print(f"\n{'N':>6} {'k':>9} {'PSNR':>7} {'MSE':>9} {'excess/floor':>13} {'slope MSE':>10} "
          f"{'slope excess':>13} {'share x slope':>14}  method")
    for j, r in enumerate(theory):
        k = "inf" if r["k"] < 0 else r["k"]
        print(f"{r['N']:>6} {k:>9} {r['psnr']:>7.2f} {r['mse']:>9.5f} {excess[j] / floor_PQ:>13.3f} "
              f"{slope_tot[j]:>10.3f} {slope_ex[j]:>13.3f} {excess[j] / mse_th[j] * slope_ex[j]:>14.3f}  {r['method']}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.4, 1]})
    i = np.arange(1, n + 1)
    ax0.loglog(i, P.mu, "-", color="tab:green", label=rf"$\Sigma_P$: {N_ex} training crops")
    keep_q = Q.mu > Q.mu[0] * 1e-12
    ax0.loglog(i[keep_q], Q.mu[keep_q], "o", ms=3, color="tab:purple", label=rf"$\Sigma_Q$: the {X_test.shape[1]} test crops (rank {rank_Q})")
    ax0.axhline(sigma**2, color="tab:red", lw=1, label=r"noise variance $\sigma^2$")
    ax0.set(xlabel="index $i$", ylabel="eigenvalue", title="second moments (uncentred): the theory's only input")
    ax0.legend(fontsize=7)
    tiles = np.concatenate([X_pool[:, :12], X_test[:, :12]], axis=1).T.reshape(4, 6, size, size)
    ax1.imshow(np.block([[np.pad(t_, 1, constant_values=1.0) for t_ in row] for row in tiles]), cmap="gray",
               vmin=0, vmax=1)
    ax1.set(title="training crops (top two rows), test crops (bottom two)", xticks=[], yticks=[])
    ax1.grid(False)
    plt.show()
    """
)

md(
    r"""
    Reading it:

    * **Floor plus excess.** The theory's MSE falls towards the linear floor, and its log-log slope
      is the excess's slope times the excess's share of the error (`share x slope` matches
      `slope MSE` up to finite differences): the excess keeps falling at a steady rate while the total flattens, once
      the excess is smaller than the floor. No parameter was fitted to get this shape — it comes
      from the eigenvalues on the left, which decay gradually over two decades instead of the
      subspace model's $d$ equal values and zeros.
    * **The Wiener floor of Q.** $\Sigma_Q$ is the second moment of 2 048 crops, more than the
      $n$ = 256 pixels, so it has full rank and its Wiener filter
      $W^*_Q = \Sigma_Q(\Sigma_Q + \sigma^2 I)^{-1}$ is a floor of the test *distribution* (up to
      the optimism of fitting it to the very crops it is scored on: the demo brackets it with a
      cross-validated value). With only the 20 corner crops of the earlier test set it had rank 20 and
      projected every input onto the span of those very crops: no floor of the photos at all.
    """
)

# ------------------------------------------------------------------------------------ section 2
md(
    r"""
    ## 2. The learned linear estimator on the real crops

    The same estimator, now learned from the real crops: the numpy twin of the sweeps'
    `arch = "linear-exact"` (`empirical/linear.py`). Per seed and $N$:

    * **training pairs**: the first $N$ crops of the pool (nested training sets), each corrupted
      **once** with its own fixed noise (the noise of crop $i$ does not depend on $N$);
    * **the GD path in closed form**: with $YY^\top = V\operatorname{diag}(\lambda)V^\top$,
      $W^k = XY^\top V \operatorname{diag}\big((1 - (1 - \eta\lambda)^k)/\lambda\big) V^\top$ from
      $W^0 = 0$ with the paper's step on the crops' own second moment,
      $\eta = 1/\big(N(1+\varepsilon)\lambda_\max(YY^\top/N)\big)$ (`theory.estimators.sample_step`), and
      $W^\infty = XY^+$ (`theory.estimators.TrainingSpectrum`, `gd_filter`, `ols_filter`) — one
      factorisation gives every $k$;
    * **stopping**: the $k$ among every integer up to $10^7$ (and $k = \infty$) with the least MSE
      on the 256 noisy validation crops (from the training photos, fixed noise per seed), found
      exactly by `theory.stopping.choose_k` (the MSE is a quadratic in the filter gains);
    * **score**: the test MSE on the 2 048 test crops with one fixed noise draw per seed, PSNR of
      that mean MSE per seed, then mean ± SEM over seeds. Next to it, the *noise-averaged* test MSE
      of the same $W$, $\big(\|(W - I)X_\text{test}\|_F^2/m + \sigma^2\|W\|_F^2\big)/n$ over the
      $m$ test crops: the quantity the theory predicts, and what the demo's `linear-exact` rows
      report (`empirical.linear.expected_test_mse`), without the luck of one test-noise draw.

    The noise is numpy's (seeded by seed and a tag), not the sweeps' torch generators, so the
    numbers are the twin's, not bit-identical to a `linear-exact` ledger.
    """
)

code(
    r"""
    N_lin = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384]
    seeds = (0, 1)


    def learned_linear(seed):
        # one seed: nested training sets with fixed noise, k chosen on validation; rows per N
        Z = sigma * np.random.default_rng([seed, 30_000]).standard_normal(X_pool.shape)
        Y_val = X_val + sigma * np.random.default_rng([seed, 10_000]).standard_normal(X_val.shape)
        Y_test = X_test + sigma * np.random.default_rng([seed, 20_000]).standard_normal(X_test.shape)
        rows = []
        for N in N_lin:
            X, Y = X_pool[:, :N], X_pool[:, :N] + Z[:, :N]
            spec = TrainingSpectrum.fit(Y, X)         # Y Y^T = V diag(lam) V^T, and X Y^T V
            lr = sample_step(spec, N)                 # the step rule of linear-exact and of the theory
            # the validation MSE is a quadratic in the gains: its exact argmin over every k <= 1e7, and k = inf
            k, _, _ = choose_k(validation_quadratic(spec, Y_val, X_val), spec.lam, lr, 1e7)
            W = spec.weights(gd_filter(spec.lam, [k], lr)[1][0] if np.isfinite(k) else ols_filter(spec.lam)[1][0])
            mse = np.mean((W @ Y_test - X_test) ** 2)
            mse_avg = (np.sum(((W - np.eye(n)) @ X_test) ** 2) / X_test.shape[1] + sigma**2 * np.sum(W**2)) / n
            rows.append({"seed": seed, "N": N, "k": k, "mse": mse, "mse_avg": mse_avg})
        return rows


    runs = [r for s in seeds for r in learned_linear(s)]
    print(f"learned linear estimator: {len(N_lin)} N x {len(seeds)} seeds")


    def curve(rows, name, key="mse"):
        # rows like bridge.results.runs_curve's: per-seed PSNR of the mean test MSE, mean and SEM over seeds
        out = []
        for N in sorted({r["N"] for r in rows}):
            m = np.array([r[key] for r in rows if r["N"] == N])
            p, s = psnr(m), m.size
            out.append({"curve": name, "N": N, "seeds": s, "mse": m.mean(), "mse_sem": m.std(ddof=1) / np.sqrt(s),
                        "psnr": p.mean(), "psnr_sem": p.std(ddof=1) / np.sqrt(s)})
        return out


    linear = curve(runs, "linear")
    linear_avg = curve(runs, "linear, noise-averaged test MSE", key="mse_avg")
    th = {r["N"]: r for r in theory}
    print(f"\n{'N':>6} {'theory':>7} {'linear':>15} {'gap':>6} {'noise-avg':>10} {'gap':>6} {'k per seed':>18}")
    for a, b in zip(linear, linear_avg):
        N = a["N"]
        k_s = [("inf" if not np.isfinite(r["k"]) else int(r["k"])) for r in runs if r["N"] == N]
        print(f"{N:>6} {th[N]['psnr']:>7.2f} {a['psnr']:>8.2f} ± {a['psnr_sem']:.2f} {th[N]['psnr'] - a['psnr']:>+6.2f}"
              f" {b['psnr']:>10.2f} {th[N]['psnr'] - b['psnr']:>+6.2f} {str(k_s):>18}")
    gap = np.array([th[r["N"]]["psnr"] - r["psnr"] for r in linear])
    gap_avg = np.array([th[r["N"]]["psnr"] - r["psnr"] for r in linear_avg])
    j = int(np.argmax(np.abs(gap_avg)))
    print(f"\ngap = theory - linear (dB). Largest |gap| of the noise-averaged curve: {gap_avg[j]:+.2f} dB at N = {N_lin[j]};"
          f" at the largest N = {N_lin[-1]}: {gap_avg[-1]:+.2f} dB.")
    print(f"theory above the learned estimator (noise-averaged) at every N: {bool(np.all(gap_avg > 0))}; "
          f"at N = {N_lin[-1]} the learned estimator is {psnr(floor_PQ) - linear[-1]['psnr']:.2f} dB below the "
          f"linear floor, the theory {psnr(floor_PQ) - th[N_lin[-1]]['psnr']:.2f} dB")
    """
)

md(
    r"""
    What the gap means. The Gaussian model and the real crops share their second moments, so
    they share everything a *fixed* linear map sees: the same floor, the same $W^*_P$, the same
    risk for any given $W$. What differs is how the learned $W$ fluctuates around $W^*_P$ with $N$
    examples, which depends on higher moments: real crops are not Gaussian (edges, flat regions,
    heavy tails), and they are correlated — overlapping crops of only 10 photos — so $N$ crops carry
    less information than $N$ independent Gaussian draws. The learned estimator is also stopped by
    256 validation crops instead of the exact $R_P$. All of this is in the excess: the theory's
    excess is an optimistic prediction of it where learning matters, and the gap closes as both
    curves reach the common floor. The noise-averaged column shows how much of the seed-to-seed
    spread is only the draw of the test noise (small on 2 048 crops).
    """
)

# ------------------------------------------------------------------------------------ section 3
md(
    r"""
    ## 3. Three curves: theory, learned linear, network

    The network curve comes from a `reconscale demo` run (U-Nets, the best width per $N$ by
    validation MSE, on the same crops, noise level and test crops at 16×16). It is read
    from `summary.json` in the directory named by the environment variable `RECONSCALE_DEMO`
    (default `../reconscale_demo`, i.e. `reconscale_demo/` in the repository root). To produce it,
    run in the repository root (5–6 minutes on a 2-core CPU; it needs torch):

        reconscale demo --out reconscale_demo

    Without it the figure has two curves. The networks' test noise comes from the sweep's torch
    generators, not from the draws above: the curves are compared at the level of their SEMs.
    """
)

code(
    r"""
    demo_dir = Path(os.environ.get("RECONSCALE_DEMO", "../reconscale_demo"))
    network, baselines, demo = [], {}, None
    if (demo_dir / "summary.json").is_file():
        demo = json.loads((demo_dir / "summary.json").read_text())
        data = demo["config"]["data"]
        if f"size={size}" in data and "n_test=2048" in data and "source.test_crops=grid" in data:
            network = [r for r in demo["curves"] if r["curve"] == "network"]
            baselines = demo.get("baselines", {})
            print(f"network curve from {demo_dir / 'summary.json'}: N = {[r['N'] for r in network]}, "
                  f"widths per N {demo.get('network_widths')}")
            lin_demo = {r["N"]: r["psnr"] for r in demo["curves"] if r["curve"] == "linear"}
            d = [r["psnr"] - lin_demo[r["N"]] for r in linear if r["N"] in lin_demo]
            if d:
                print(f"consistency: this notebook's learned linear minus the demo's linear-exact runs, at {len(d)} "
                      f"common N: from {min(d):+.2f} to {max(d):+.2f} dB (different noise draws)")
        else:
            print(f"{demo_dir}: a demo with data {data}, not the grid of 2048 test crops at size={size}: not "
                  "comparable, not drawn")
    else:
        print("no network curve: no summary.json in the directory RECONSCALE_DEMO names (default ../reconscale_demo).\n"
              "Produce it with `reconscale demo --out reconscale_demo` in the repository root (5–6 min on a 2-core CPU),\n"
              "or point RECONSCALE_DEMO at an existing demo directory. Drawing two curves.")

    findings, _ = demo_findings(theory, linear, network, None)
    if network:
        cross = crossing(network, linear, what="N where the network overtakes the learned linear estimator")
        print(f"\ncrossing(network, linear): identified = {cross['identified']}: {cross['reason']}")
    else:   # the crossings need a network curve
        findings = [f for f in findings if "network" not in f["quantity"]]
    print()
    show(findings, "three curves")

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.4))
    three_curves(ax, bx, theory, linear, network, baselines=baselines,
                 network_label="U-Net (best width, reconscale demo)")
    ax.set_title("three curves on one N axis" if network else "two curves (no reconscale demo found)")
    bx.set_title("the excess above the linear floor")
    plt.tight_layout()
    plt.show()
    """
)

md(
    r"""
    How to read the figure:

    * **Left**: the three curves in PSNR. Both linear curves climb towards the same dashed line, the
      linear floor — the best any linear map learned from these training photos can do on these
      test crops. A network is not bound by it: where its curve passes the dashed line, it does
      something no amount of data would teach a linear estimator.
    * **Right**: the excess MSE above the linear floor, log-log. This is where a power law in $N$
      lives; the PSNR curve on the left is its logarithm *plus the floor*, which is why it bends.
    * **The crossing** `crossing(network, linear)` compares at common $N$ with 2 SEM margins. When
      the network is already ahead at the smallest $N$ the demo trained, the crossing lies below the
      data: the printout says so instead of inventing an $N$.
    """
)

# ------------------------------------------------------------------------------------ section 4
md(
    r"""
    ## 4. Fits that say what they cannot know

    `bridge.report.analyse` fits the law family to a curve's per-seed points (PSNR per seed,
    analysed on the MSE scale where the power laws live): a pure power law, a power law plus floor,
    a broken power law, a saturating law in dB — each with bootstrap intervals over seeds — and
    judges every parameter and derived quantity by one rule (`bridge.identify`). Its extrapolation
    is the **envelope** over the laws that pass a backtest (fit without the largest $N$, predict it);
    that band is the one reported.

    A caveat that no code removes: with 2 seeds the bootstrap over seeds has only three distinct
    resamples (20 are drawn), so its intervals measure little. Here we also know the answer the
    fits are after — the linear floor — so we can check them.
    """
)

code(
    r"""
    N_pts = np.array([r["N"] for r in runs], float)
    y_pts = psnr(np.array([r["mse"] for r in runs]))
    g_pts = np.array([r["seed"] for r in runs])

    res = analyse(N_pts, y_pts, metric="test_psnr", groups=g_pts, n_boot=20, rng=np.random.default_rng(1))
    show(res["findings"], "learned linear, all N")

    print("\nreported extrapolation (envelope over the laws that pass their backtest):")
    for r in [r for r in res["extrapolation"] if r["reported"]]:
        inside = r["lo"] <= psnr(floor_PQ) <= r["hi"]
        print(f"   N = {r['N']:.0e}: {r['predict']:.2f} dB [{r['lo']:.2f}, {r['hi']:.2f}]  ({r['law']});  "
              f"above the linear floor {psnr(floor_PQ):.2f} dB by {r['predict'] - psnr(floor_PQ):+.2f} dB; "
              f"floor inside the band: {inside}")
    print("backtest (fit without N = {:.0f}, predict it):".format(N_pts.max()))
    for r in res["backtest"]:
        print(f"   {r['law']:<45} observed {r['observed']:.2f}  predicted {r['predict']:.2f} "
              f"[{r['lo']:.2f}, {r['hi']:.2f}] dB  inside: {r['inside']}" + ("  <- reported" if r["reported"] else ""))
    mse_min = float(np.min([r["mse"] for r in runs]))
    for f in res["findings"]:
        if f["quantity"].endswith(".floor") and f["identified"] and f["value"] < 1e-6 * mse_min:
            print(f"\nnote: {f['quantity']} is 'identified' at {f['value']:.3g}, {f['value'] / mse_min:.1g} x the smallest "
                  "observed MSE: a floor pinned at zero, i.e. this law claims no floor at all")
    ff = next(f for f in res["findings"] if f["quantity"] == "FloorPowerLaw.floor")
    print(f"\nFloorPowerLaw floor: MSE {ff['value']:.5f} [{ff['lo']:.5f}, {ff['hi']:.5f}] vs the linear floor "
          f"{floor_PQ:.5f} computed from Sigma_P: inside the interval: {ff['lo'] <= floor_PQ <= ff['hi']}")
    """
)

code(
    r"""
    # The same estimator seen only up to N = 1024 (the network's range), and the paper-style naive fit
    short = N_pts <= 1024
    res_short = analyse(N_pts[short], y_pts[short], metric="test_psnr", groups=g_pts[short], n_boot=20,
                        rng=np.random.default_rng(2))
    print("NOT identified from N <= 1024:")
    for f in [f for f in res_short["findings"] if not f["identified"]] or [{"quantity": "(none)", "reason": ""}]:
        print(f"   {f['quantity']}: {f['reason']}")
    rep_short = [r for r in res_short["extrapolation"] if r["reported"]]
    print("reported extrapolation from N <= 1024:")
    for r in rep_short:
        print(f"   N = {r['N']:.0e}: {r['predict']:.2f} dB [{r['lo']:.2f}, {r['hi']:.2f}], centre {r['predict'] - psnr(floor_PQ):+.2f} dB"
              f" from the linear floor; identified: {r['identified']}" + (f" ({r['reason']})" if r["reason"] else ""))

    window = (16, 1024)
    mse_mean = np.array([r["mse"] for r in linear])
    naive = PowerLaw(window=window).fit(np.array(N_lin, float), mse_mean)
    N_far = np.array([1e5, 1e6])
    print(f"\nnaive pure power law on the window {window}: MSE = {naive.label()} (exponent {naive.exponent_:+.3f})")
    for Nf, p in zip(N_far, psnr(naive.predict(N_far))):
        print(f"   N = {Nf:.0e}: {p:.2f} dB, {p - psnr(floor_PQ):+.2f} dB past the linear floor that bounds every "
              f"linear estimator learned from these photos")

    fig, ax = plt.subplots(figsize=(8, 4.2))
    grid = np.geomspace(16, 1e6, 60)
    ax.plot(N_pts, y_pts, "o", ms=4, color="tab:blue", alpha=0.6, label="learned linear, per seed")
    ax.plot([r["N"] for r in theory], [r["psnr"] for r in theory], "-", color="tab:green", lw=2, label="Gaussian theory")
    ax.plot(grid, psnr(naive.predict(grid)), "--", color="tab:purple",
            label=f"pure power law fitted on N in {window} (paper style)")
    for rows_, color, lab, dx in ((res["extrapolation"], "tab:blue", "reported band, fit on all N", 1.0),
                                  (rep_short, "tab:orange", "reported band, fit on N <= 1024", 1.25)):
        rep = [r for r in rows_ if r["reported"]]
        x = np.array([r["N"] for r in rep]) * dx
        p = np.array([r["predict"] for r in rep])
        ax.errorbar(x, p, yerr=[p - np.array([r["lo"] for r in rep]), np.array([r["hi"] for r in rep]) - p],
                    fmt="D", ms=5, capsize=3, color=color, label=lab)
    ax.axhline(psnr(floor_PQ), color="tab:green", ls=":", lw=1, label="linear floor")
    ax.axvspan(N_lin[-1], 1e6 * 1.5, color="0.9", alpha=0.5, lw=0, zorder=0)
    ax.set(xscale="log", xlabel="training examples $N$", ylabel="test PSNR (dB)",
           ylim=(y_pts.min() - 1, psnr(floor_PQ) + 6), title="extrapolating the learned linear curve (grey: no data)")
    ax.legend(fontsize=7, loc="lower right")
    plt.show()

    if demo is not None and network and demo.get("fits"):
        print("the demo's fits of the network curve (PSNR per seed, best width): NOT identified")
        for f in [f for f in demo["fits"]["findings"] if not f["identified"]] or [{"quantity": "(none)", "reason": ""}]:
            print(f"   {f['quantity']}: {f['reason']}")
    """
)

md(
    r"""
    What the fits can and cannot say:

    * **The naive power law** (one exponent over a hand-picked window, the paper's method) fits its
      window well and extrapolates through the linear floor, promising PSNR that no linear estimator
      learned from these photos can ever reach. It is the exact failure the floor-plus-excess picture
      predicts.
    * **The envelope** keeps only the laws that predict the held-out largest $N$; its band is what
      `reconscale fit` and the demo report. None of its laws knows that a linear estimator cannot
      pass the linear floor, so its centre may lie above it (printed above, with whether the floor is
      inside the band and inside the fitted floor's interval): bootstrap intervals from 2 seeds
      measure the spread of 2 seeds, not the error of the law, and can be narrow and wrong at once.
    * **With less data, less is identified.** Fitted on $N \le 1024$ — the range the networks are
      trained on — the same estimator's far extrapolations and "N to within 0.1 dB of the asymptote"
      are refused with a reason; the network's own fits, where available, are refused for the same
      reasons. A number a curve cannot pin down is reported as *not identified*, not as a value.

    **Calibrated theories.** The parameter-free theory above replaces the old two-parameter
    calibration. For sweeps without a spectrum file, `reconscale compare THEORY SWEEP --calibrate
    --model power|subspace` still fits an effective power-law spectrum or subspace to a measured
    curve, and reports calibrations the curve cannot identify as such.
    """
)

# ------------------------------------------------------------------------------------ section 5
md(
    r"""
    ## 5. What to take away

    * The **linear theory of the photos' own second moments** predicts, without a fitted parameter,
      a learning curve with the paper's shape: steep, then flattening onto the linear floor. The
      slowdown is the excess falling below the floor, not learning slowing down.
    * The **learned linear estimator on the real crops** follows the theory to the same floor. Where
      learning matters the theory is optimistic — second moments do not capture non-Gaussian,
      correlated crops, nor stopping on a finite validation set — and the gap closes at the floor.
    * A **network** is not bound by the linear floor; with a demo run the printout of section 3 says
      from which $N$ the U-Nets pass it, and `crossing` gives such an $N$ only where the data
      bracket it.
    * **Fit with the floor in mind** and report what the data cannot identify: a pure power law
      extrapolated far past its window makes promises the floor forbids.

    **Next steps.** `reconscale spectrum CONFIG --out spectrum.npz` and
    `bridge.datatheory.load_data_model` give this theory for any denoising sweep config;
    `reconscale demo` runs the three curves, the baselines, the fits and a report; `reconscale fit`
    and `reconscale compare` analyse your own sweeps. Notebook `01_theory` has the subspace
    theory behind the floor-plus-excess picture.
    """
)

CELLS.torch_free_footer()
