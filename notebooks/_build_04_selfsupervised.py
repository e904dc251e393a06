"""The cells of notebooks/04_selfsupervised.ipynb.

Store it executed, with its outputs:  python notebooks/regenerate.py 04_selfsupervised
CI executes it again and compares the text outputs (tests/test_notebooks.py); keep it under a minute on 2 CPU cores.
The notebook needs numpy/scipy/matplotlib, the ``theory`` and ``bridge`` packages, ``empirical.data``
(numpy only) and scikit-image (for its bundled photographs); it never imports torch. The experiment
section reads a ``reconscale sweep quick-selfsup-denoise`` directory when the environment variable
``RECONSCALE_SELFSUP`` points at one; without it the notebook says how to produce it.
"""

from __future__ import annotations

from _nbcells import Cells  # sibling module: regenerate.py puts notebooks/ on sys.path

CELLS = Cells()
md, code = CELLS.md, CELLS.code


# ------------------------------------------------------------------------------------------ intro
md(
    r"""
    # Training without clean targets: how many more examples does self-supervision cost?

    Supervised training needs clean images $x$ as targets. Often there are none: a second noisy
    photograph of the same scene, or the measured (undersampled, noisy) k-space of an MRI scan, is
    all there is. Klug, Atik & Heckel (NeurIPS 2023) show that training on such targets reaches the
    supervised estimator's quality but needs **more training examples**, with a gap that depends on
    $N$. This notebook measures that cost in the linear theory of reconscale, in the paper's
    symbols (ICLR 2023 normalisation: $R(W) = \mathbb E\|Wy - x\|^2 / \mathbb E\|x\|^2$, floor
    $R^* = R(W^*)$):

    1. **noisy targets (Noise2Noise)** on the subspace model — signal dimension $d$ in $\mathbb R^n$,
       input noise $\sigma$, target noise $\sigma_t$ — the exact early-stopped GD risk against $N$;
    2. **the extra-examples factor** $N_\text{equiv}(N)/N$: how many examples noisy targets need for
       the supervised risk at $N$;
    3. **the same on a model of real data**: the Gaussian model with the second moments of photo crops;
    4. **split measurements (MRI, SSDU)**: the target is the measured k-space on a subset of the
       columns; the exact GD path, checked against the literal loop, and its risk;
    5. **experiments**: a `quick-selfsup-denoise` sweep, when one is available.

    Everything is numpy on a CPU (no torch), seeded explicitly, and runs in well under a minute.
    """
)

code(
    r"""
    import os

    # Matrices here are at most 128 x 128: one BLAS thread beats several competing ones
    # (set before numpy is imported; an existing setting is kept).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    import sys
    from pathlib import Path

    import matplotlib.pyplot as plt
    import numpy as np

    from bridge.datatheory import data_theory_curve
    from bridge.extra import theory_extra_examples
    from bridge.plot_stages import extra_examples
    from empirical.data import PhotoSource          # numpy only: no torch
    from theory import (MRI, Estimator, Problem, SplitPath, SubspaceSignal, expected_risk, split_gd_loop,
                        split_risk_curve, split_training_set)
    from theory.datamodel import DataModel, DataSpectrum, second_moment_spectrum
    from theory.montecarlo import draw_rng
    from theory.operators import fft2c

    %matplotlib inline
    plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})


    def factor_table(rows, title):
        # the rows of theory_extra_examples: N, N_equiv, factor, or the reason it is not identified
        print(title)
        print(f"{'N':>8} {'N_equiv':>10} {'factor':>8}")
        for r in rows:
            if r["identified"]:
                print(f"{r['N']:>8.0f} {r['N_equiv']:>10.1f} {r['factor']:>8.2f}")
            else:
                print(f"{r['N']:>8.0f}   not identified: {r['reason']}")
    """
)

# ------------------------------------------------------------------------------------ section 1
md(
    r"""
    ## 1. Noisy targets in the exact linear theory

    The subspace model: $x = Uc$ with $U \in \mathbb R^{n\times d}$ orthonormal, $c \sim \mathcal N(0, I_d)$,
    and the denoising input $y = x + z$, $z \sim \mathcal N(0, \sigma^2 I_n)$. A linear $W$ is learned by
    gradient descent from $W^0 = 0$ with step $\eta$ on $N$ pairs, stopped at the step $k$ with the
    least risk (oracle stopping over $k \le k_\max$). Supervised training fits the clean $x$;
    **Noise2Noise** fits $t = x + z'$ with $z' \sim \mathcal N(0, \sigma_t^2 I_n)$ independent of $y$,
    and the risk is still measured against the clean $x$.

    Why noisy targets still work: $x = W^*y + e$ with $e$ independent of $y$, so $t = W^*y + (e + z')$ is
    the same regression with a noisier residual. $W^*$ and the floor $R^*$ do not change; only the
    *variance* of learning grows, the trace of the residual's covariance going from
    $\operatorname{tr}\Sigma_e$ to $\operatorname{tr}\Sigma_e + n\sigma_t^2$
    (`Population.trace_e_target`). So $\sigma_t = 0$ is exactly the supervised curve, and every noisy
    curve has the same floor $R^*$; the question is how much later it gets there.

    The curves below are the random-matrix deterministic equivalent
    (`theory.expected_risk(..., method="asymptotic")`), exact as $n, N \to \infty$ at fixed ratios and
    noise-free (no Monte Carlo error), so the excess $R - R^*$ can be read on a log scale.
    """
)

code(
    r"""
    n, d, sigma = 100, 10, 0.2
    kmax = 256                                        # oracle stopping over k <= kmax
    sigmas_t = {"σ_t = 0 (supervised)": 0.0, "σ_t = σ": sigma, "σ_t = 2σ": 2 * sigma}
    N_sub = np.unique(np.round(np.geomspace(10, 2e5, 17)).astype(int))

    sub = {}
    for name, st in sigmas_t.items():
        prob = Problem(SubspaceSignal(n, d), sigma, target_sigma=st)
        c = expected_risk(prob, N_sub, [Estimator("gd-oracle", kmax=kmax)], method="asymptotic",
                          rng=np.random.default_rng(0))[0]
        pop = prob.population(rng=None)               # denoising: rotation invariant, one draw
        sub[name] = {"risk": c.mean[:, 0], "k": c.k_opt.ravel(), "st": st, "tr_e": pop.trace_e,
                     "tr_e_t": pop.trace_e_target}
    R_star = pop.floor
    print(f"subspace model n = {n}, d = {d}, σ = {sigma}: floor R* = {R_star:.5f}; "
          f"{len(N_sub)} N x {len(sigmas_t)} σ_t")

    print(f"\n{'N':>7}" + "".join(f"{name:>24}" for name in sub))
    for j, N in enumerate(N_sub):
        print(f"{N:>7}" + "".join(f"{v['risk'][j] - R_star:>14.3e} (k={int(v['k'][j]):>3})" for v in sub.values()))
    check = expected_risk(Problem(SubspaceSignal(n, d), sigma), N_sub[:4], [Estimator("gd-oracle", kmax=kmax)],
                          method="asymptotic", rng=np.random.default_rng(0))[0].mean[:, 0]
    print(f"\nσ_t = 0 vs a Problem without target_sigma (supervised) at N = {N_sub[:4].tolist()}: identical = "
          f"{np.array_equal(check, sub['σ_t = 0 (supervised)']['risk'][:4])}")
    at_kmax = [int(N) for N, k in zip(N_sub, sub["σ_t = 0 (supervised)"]["k"]) if k >= kmax]
    print(f"\nsupervised: the oracle k sits at k_max = {kmax} for N in {at_kmax} (there R is at most the k <= k_max optimum)")
    for name, v in sub.items():
        print(f"{name:<22} tr Σ_e + n σ_t² = {v['tr_e_t']:.3f}  (x {v['tr_e_t'] / sub['σ_t = 0 (supervised)']['tr_e_t']:.2f} "
              f"of the supervised tr Σ_e);  excess at N = {N_sub[-1]}: {v['risk'][-1] - R_star:.3e}")

    colors = {"σ_t = 0 (supervised)": "tab:blue", "σ_t = σ": "tab:orange", "σ_t = 2σ": "tab:red"}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, v in sub.items():
        ax.loglog(N_sub, v["risk"], "-o", ms=3, color=colors[name], label=name)
        bx.loglog(N_sub, v["risk"] - R_star, "-o", ms=3, color=colors[name], label=name)
    ax.axhline(R_star, color="k", ls=":", lw=1, label="floor $R^*$")
    ax.set(xlabel="training examples $N$", ylabel="risk $R$", title="early-stopped GD: risk against N")
    bx.set(xlabel="training examples $N$", ylabel="excess $R - R^*$", title="the excess above the common floor")
    ax.legend(fontsize=7)
    bx.legend(fontsize=7)
    plt.tight_layout()
    plt.show()
    """
)

md(
    r"""
    Reading it: all three curves end on the same floor $R^*$ (left), and the excess (right) falls for
    every $\sigma_t$. The noisy-target curves lie above the supervised one at every $N$ and approach
    it: the *risks* converge because all excesses go to 0. The printed traces say why the noisy
    curves are slower: the target noise multiplies the residual variance that learning has to
    average out. The oracle $k$ also drops with $\sigma_t$ — noisier targets are worth fewer GD steps.
    """
)

# ------------------------------------------------------------------------------------ section 2
md(
    r"""
    ## 2. The extra-examples factor

    For each supervised $N$ with risk $q = R_\text{sup}(N)$, let $N_\text{equiv}$ be the number of
    noisy-target examples with the same risk, $R_{\sigma_t}(N_\text{equiv}) = q$. The **factor**
    $N_\text{equiv}/N$ is what self-supervision costs in examples at that $N$
    (`bridge.extra.theory_extra_examples`: exact curves, the noisy curve inverted by log-log
    interpolation on its grid, never extrapolated — supervised $N$ whose quality the noisy grid does
    not reach are reported as *not identified*). A factor of 1 is no cost; a constant factor is a
    parallel shift on the log-log plot of section 1.
    """
)

code(
    r"""
    sup_N = N_sub[N_sub <= 5000]
    sup_R = sub["σ_t = 0 (supervised)"]["risk"][: sup_N.size]
    extra_sub = {}
    for name in ("σ_t = σ", "σ_t = 2σ"):
        extra_sub[name] = theory_extra_examples(sup_N, sup_R, N_sub, sub[name]["risk"])
        factor_table(extra_sub[name], f"\nsubspace model, {name}: examples needed for the supervised risk at N")
        ok = [r for r in extra_sub[name] if r["identified"]]
        ratio = sub[name]["tr_e_t"] / sub["σ_t = 0 (supervised)"]["tr_e_t"]
        print(f"factor from {ok[0]['factor']:.2f} (N = {ok[0]['N']:.0f}) to {ok[-1]['factor']:.2f} (N = {ok[-1]['N']:.0f}); "
              f"variance ratio (tr Σ_e + n σ_t²) / tr Σ_e = {ratio:.2f}")

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, rows in extra_sub.items():
        extra_examples(ax, rows, label=f"subspace theory, {name}", color=colors[name])
    ax.set(xlabel="N with clean targets", ylabel="examples needed / N",
           title="the cost of noisy targets in examples (subspace model)")
    ax.legend(fontsize=7)
    plt.show()
    """
)

md(
    r"""
    How to read the factor. A pure variance term $\propto (\operatorname{tr}\Sigma_e + n\sigma_t^2)/N$
    would give a constant factor equal to the **variance ratio** printed next to each table. The
    excess is not pure variance: at small $N$ a large part of it is the bias of stopping early, which
    the target noise does not increase, so the factor starts small; as $N$ grows and the excess becomes
    mostly variance, the factor rises towards that ratio (the oracle $k$ is an integer, so at large
    $N$, with $k$ of a few steps, the two need not meet exactly). The *risks* converge (section 1), but
    the *examples* needed for a given risk do not approach the supervised number: the factor grows
    with $N$ rather than falling to 1.
    """
)

# ------------------------------------------------------------------------------------ section 3
md(
    r"""
    ## 3. The same on a model of real data

    The subspace model has $d$ equal eigenvalues and zeros; photographs do not. As in notebook
    `03_bridge`, the Gaussian model with the uncentred second moment $\Sigma_P$ of training crops,
    scored on the second moment $\Sigma_Q$ of the 20 fixed test crops
    (`theory.datamodel.DataModel(P, σ, Q, target_sigma=σ_t)`), gives the test MSE of early-stopped
    GD with $k$ chosen by the training distribution's risk (what validation crops estimate;
    `bridge.datatheory.data_theory_curve`). Here the crops are 8×8 ($n = 64$) for speed, with the
    `quick-denoise` noise $\sigma = 25/255$ and Noise2Noise targets with $\sigma_t = \sigma$.
    """
)

code(
    r"""
    sigma_px, size = 25 / 255, 8
    n_px = size * size
    N_ex = 8192                                       # training crops for Sigma_P
    src = PhotoSource(size=size, channels=1, seed=0)
    split = src.split(n_train=N_ex, n_val=16, n_test=20, seed=0)
    X_pool = src.batch(split.train(N_ex)).reshape(N_ex, n_px).astype(np.float64)
    X_test = src.batch(split.test).reshape(-1, n_px).astype(np.float64).T
    P = second_moment_spectrum(X_pool, shape=(size, size), label="P: training crops")
    mu_q, V_q = np.linalg.eigh(X_test @ X_test.T / X_test.shape[1])
    Q = DataSpectrum(np.clip(mu_q[::-1], 0, None), V=np.ascontiguousarray(V_q[:, ::-1]), label="Q: test crops")
    print(f"{N_ex} training and {X_test.shape[1]} test crops of {size}x{size}")

    N_dsup = [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
    N_dss = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]
    data_sup = data_theory_curve(DataModel(P, sigma_px, Q), N_dsup, kmax=1e6, rng=np.random.default_rng(0))
    data_ss = data_theory_curve(DataModel(P, sigma_px, Q, target_sigma=sigma_px), N_dss, kmax=1e6,
                                rng=np.random.default_rng(0))
    floor_d = data_sup[0]["floor_P_on_Q"]
    print(f"data-model curves: linear floor (test MSE of W*_P on Q) {floor_d:.5f}")
    print(f"methods: {sorted({r['method'] for r in data_sup + data_ss})}")
    mse_ss = np.array([r["mse"] for r in data_ss])
    rising = np.flatnonzero(np.diff(mse_ss) > 0)
    if rising.size:  # the inverse needs a non-increasing curve: say so, then use the least MSE with at most N examples
        print(f"noisy-target curve rises after N = {[N_dss[i] for i in rising]} (coarse k grid): "
              "the factor below inverts its running minimum")
    extra_data = theory_extra_examples([r["N"] for r in data_sup], [r["mse"] for r in data_sup], N_dss,
                                       np.minimum.accumulate(mse_ss))
    factor_table(extra_data, "\nphoto-crop model, σ_t = σ: examples needed for the supervised test MSE at N")

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    for rows, col, lab in ((data_sup, "tab:blue", "clean targets"), (data_ss, "tab:orange", "noisy targets, σ_t = σ")):
        N_ = np.array([r["N"] for r in rows])
        ax.loglog(N_, np.array([r["mse"] for r in rows]) - floor_d, "-o", ms=3, color=col, label=lab)
    ax.set(xlabel="training examples $N$", ylabel="test MSE − linear floor",
           title=f"photo-crop model ({size}x{size}): excess test MSE")
    ax.legend(fontsize=7)
    extra_examples(bx, extra_data, label="photo-crop theory, σ_t = σ", color="tab:orange")
    bx.set(xlabel="N with clean targets", ylabel="examples needed / N", title="extra examples, photo-crop model")
    bx.legend(fontsize=7)
    plt.tight_layout()
    plt.show()
    """
)

md(
    r"""
    The photo-crop model has a gradually decaying spectrum instead of $d$ equal eigenvalues (its
    stopping step is chosen over every integer $k$, `theory.stopping`); compare the printed factors
    with section 2. The
    noisy-target curve has the same linear floor (the floor does not depend on the targets' noise).
    """
)

# ------------------------------------------------------------------------------------ section 4
md(
    r"""
    ## 4. Split measurements: the MRI case (SSDU)

    In accelerated MRI the "noisy target" is the measured k-space itself. SSDU splits each example's
    measured columns $M_i$ into input columns $\Lambda_i$ and loss columns $\Gamma_i$ (the fully sampled
    centre in both; `theory.split.split_columns`); the estimator sees the measurement with only the
    $\Lambda_i$ columns and is trained to predict the measured noisy k-space on $\Gamma_i$. For a linear
    $W$ the GD path from $W^0 = 0$ is again a spectral filter, per output frequency
    (`theory.split.SplitPath`; the derivation is in the module doc). First, that closed form against
    the **literal** GD loop (`split_gd_loop`: masked FFTs, one step at a time) on a tiny problem:
    8×8 images ($n = 64$), acceleration 2, subspace dimension $d = 4$.
    """
)

code(
    r"""
    h = w = 8
    mri = MRI((h, w), accel=2, center_fraction=0.25)
    prob_mri = Problem(SubspaceSignal(h * w, 4), 0.1, mri)
    rng = np.random.default_rng(11)
    pop_mri = prob_mri.population(rng=rng)
    Y_lam, kspace, gamma = split_training_set(prob_mri, pop_mri, 24, rng=rng)
    path = SplitPath.fit(Y_lam, kspace, gamma, shape=(h, w))
    steps = np.array([1, 3, 10, 40, 150])
    W_loop = split_gd_loop(Y_lam, kspace, gamma, shape=(h, w), steps=steps, lr=path.lr_)
    W_path = path.weights(steps)
    rel = np.linalg.norm(W_path - W_loop, axis=(1, 2)) / np.linalg.norm(W_loop, axis=(1, 2))
    print(f"measured columns {np.flatnonzero(mri.mask_columns()).tolist()} of {w}; centre "
          f"{np.flatnonzero(mri.center_columns()).tolist()}; m = {mri.m} real measurements")
    print(f"N = 24 examples, step η = {path.lr_:.4g}, steps {steps.tolist()}")
    # rounding-level differences vary with the BLAS build: print the bound they meet, not their digits
    print(f"max relative difference ‖W_path − W_loop‖ / ‖W_loop‖ over the steps < 1e-10: {rel.max() < 1e-10}")
    """
)

md(
    r"""
    Now the risk on the clean $x$, with the trained $W$ applied to the **full** measured $y$ (the SSDU
    inference convention), by Monte Carlo over training sets and splits (`split_risk_curve`; each
    draw's risk is exact, oracle stopping over the given steps), next to supervised GD on the same
    problem (clean targets, full inputs; `expected_risk(..., method="montecarlo")`). Two effects keep
    the split estimator away from $W^*$, and neither is a numerical error:

    * **never-measured frequencies**: with one mask for all examples, a frequency whose column and
      conjugate partner column are both unmeasured is in no $\Gamma_i$, so its row of the estimator
      stays 0 for every $k$ and $N$: $R \ge$ (signal energy on those frequencies)$/\operatorname{tr}\Sigma_x$.
      $W^*$ can still infer them from the signal model, the split loss cannot;
    * **Λ-input / full-input mismatch**: training inputs hold only the $\Lambda_i$ columns, test
      inputs all measured ones; for a linear map this mismatch (dropout-like, no rescaling) does not
      vanish as $N \to \infty$.
    """
)

code(
    r"""
    N_mri, draws = [8, 32, 128, 512], 20
    ks = np.unique(np.round(np.geomspace(1, 400, 24))).astype(int)
    rows_split = split_risk_curve(prob_mri, N_mri, ks, draws=draws, rng=np.random.default_rng(12))
    sup_mri = expected_risk(prob_mri, N_mri, [Estimator("gd-oracle", kmax=400)], method="montecarlo", runs=draws,
                            rng=np.random.default_rng(12))[0]   # same seed: the same signal basis per (N, draw)
    print(f"split and supervised risk curves, {draws} draws per N")

    # the bound from never-measured frequencies, for the very signal bases of split_risk_curve's draws
    meas = mri.mask_columns()
    never = ~(meas | meas[(2 * (w // 2) - np.arange(w)) % w])   # neither a column nor its conjugate partner
    base = int(np.random.default_rng(12).integers(2**62))       # split_risk_curve's base seed (theory.montecarlo.draw_rng)
    bound = np.empty((len(N_mri), draws))
    R_star_mri = np.empty((len(N_mri), draws))
    for j, N in enumerate(N_mri):
        for s in range(draws):
            pop_s = prob_mri.population(rng=draw_rng(base, N, s))
            FB = fft2c(pop_s.B.T.reshape(-1, h, w))                 # DFT of the signal factor's columns
            bound[j, s] = np.sum(np.abs(FB[:, :, never]) ** 2) / pop_s.trace_x
            R_star_mri[j, s] = pop_s.floor
    oracle = [r for r in rows_split if r["estimator"] == "gd-oracle"]
    same = np.allclose(R_star_mri.mean(axis=1), [r["floor"] for r in oracle], rtol=1e-12) and np.allclose(
        R_star_mri.T, sup_mri.floor, rtol=1e-12)
    print(f"never-measured columns (nor their partners): {np.flatnonzero(never).tolist()} of {w}; "
          f"their share of the signal energy: {bound.mean():.4f} (mean over the draws); same bases in all three: {same}")
    print(f"\n{'N':>5} {'R*':>7} {'supervised':>18} {'split (SSDU)':>18} {'never-measured bound':>21} {'k split':>8}")
    for j, (N, r) in enumerate(zip(N_mri, oracle)):
        print(f"{N:>5} {R_star_mri[j].mean():>7.4f} {sup_mri.mean[j, 0]:>10.4f} ± {sup_mri.sem[j, 0]:.4f} "
              f"{r['risk_mean']:>10.4f} ± {r['risk_sem']:.4f} {bound[j].mean():>21.4f} {r['k_opt_mean']:>8.1f}")

    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.errorbar(N_mri, sup_mri.mean[:, 0], yerr=sup_mri.sem[:, 0], fmt="-o", ms=3, capsize=2, color="tab:blue",
                label="supervised GD (clean x, full input)")
    ax.errorbar(N_mri, [r["risk_mean"] for r in oracle], yerr=[r["risk_sem"] for r in oracle], fmt="--s", ms=3,
                capsize=2, color="tab:purple", label="split GD (Λ input, Γ loss; full input at test)")
    ax.plot(N_mri, R_star_mri.mean(axis=1), "k:", lw=1, label="floor $R^*$ (same bases)")
    ax.plot(N_mri, bound.mean(axis=1), ":", color="tab:purple", lw=1.5, label="never-measured frequencies' energy")
    ax.set(xscale="log", yscale="log", xlabel="training examples $N$", ylabel="risk $R$ (oracle $k$)",
           title="MRI 8x8, accel 2: supervised vs split-measurement training")
    ax.legend(fontsize=7)
    plt.show()
    """
)

md(
    r"""
    The split estimator cannot go below the energy of the never-measured frequencies (dotted purple),
    which lies above $R^*$: unlike the denoising case, the split-trained linear estimator does **not**
    approach the supervised curve as $N$ grows, so an extra-examples factor is undefined once the
    supervised risk drops below the split curve's limit. The gap between the split curve and that
    bound is the rest of its cost, including the Λ/full input mismatch. These are properties of the
    linear estimator under the SSDU convention, which the theory makes exact; a network, which can be
    nonlinear in the mask, is not bound by them.
    """
)

# ------------------------------------------------------------------------------------ section 5
md(
    r"""
    ## 5. Experiments: a self-supervised denoising sweep

    `reconscale sweep quick-selfsup-denoise` trains the same estimators on clean and on noisy
    targets and scores both on clean test crops. `bridge.extra.compare_targets` reads its ledger
    (no torch), takes per $N$ the best width by validation MSE, and computes the extra-examples factor
    from fitted laws with bootstrap intervals (`bridge.extra.extra_examples`) — or says why a factor
    is not identified. Point the environment variable `RECONSCALE_SELFSUP` at the sweep directory to
    draw it here. Compare how the experimental factor moves with $N$ with the linear theory's of
    sections 2 and 3: the theory describes the linear estimator, a network may pay a different price.
    """
)

code(
    r"""
    from bridge.results import load_table
    from bridge.extra import compare_targets
    from bridge.text import selfsup_markdown

    ss_dir = os.environ.get("RECONSCALE_SELFSUP")
    if ss_dir and (Path(ss_dir) / "ledger.sqlite").is_file():
        res = compare_targets(load_table(ss_dir), n_boot=100, rng=np.random.default_rng(5))
        print(f"{ss_dir}: {len(res['curves'])} curve points, {len(res['extra'])} factor rows\n")
        print(selfsup_markdown(res["curves"], res["extra"]))

        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
        fam_col = {"network": "tab:red", "linear": "tab:blue", "theory": "tab:green"}
        for fam, tgt in sorted({(r["family"], r["target"]) for r in res["curves"]}):
            rows = sorted((r for r in res["curves"] if r["family"] == fam and r["target"] == tgt), key=lambda r: r["N"])
            ax.errorbar([r["N"] for r in rows], [r["psnr"] for r in rows], yerr=[r["psnr_sem"] for r in rows],
                        fmt="-o" if tgt == "clean" else "--o", ms=3, capsize=2, color=fam_col.get(fam, "tab:gray"),
                        label=f"{fam}, {tgt} targets")
        ax.set(xscale="log", xlabel="training examples $N$", ylabel="test PSNR (dB)",
               title="sweep: clean vs self-supervised targets")
        ax.legend(fontsize=7)
        for i, (fam, tgt) in enumerate(sorted({(r["family"], r["target"]) for r in res["extra"]})):
            extra_examples(bx, [r for r in res["extra"] if r["family"] == fam and r["target"] == tgt],
                           label=f"{fam}, {tgt}", color=fam_col.get(fam, "tab:gray"), marker="osD^v"[i % 5])
        bx.set(xlabel="N with clean targets", ylabel="examples needed / N", title="sweep: extra examples (90% intervals)")
        bx.legend(fontsize=7)
        plt.tight_layout()
        plt.show()
    else:
        print("no sweep: set RECONSCALE_SELFSUP to a directory written by\n"
              "    reconscale sweep quick-selfsup-denoise --out DIR --executor process --workers 2 --threads-per-run 1\n"
              "then, outside the notebook, `reconscale selfsup DIR --figure fig` prints the same tables and draws the figure.")
    """
)

md(
    r"""
    ## 6. What to take away

    * **Noisy targets cost examples, not quality.** In the linear theory Noise2Noise has the supervised
      estimator's floor $R^*$; the target noise only adds $n\sigma_t^2$ to the variance learning must
      average out, so the noisy curve reaches a given risk later.
    * **How much later** is the factor $N_\text{equiv}/N$, printed above for the subspace model and for
      the photo-crop model; it depends on $N$ and on the spectrum, and is measured, not assumed.
    * **Split measurements are different**: with one sampling mask the split loss never sees some
      frequencies, and the Λ/full input mismatch stays, so the linear split estimator has its own,
      higher limit; the SSDU comparison is not "the same curve, shifted".
    * **For experiments**, `reconscale selfsup DIR` reports the factor with bootstrap intervals from
      fitted laws, and says *not identified* where the runs cannot pin it down.
    """
)

CELLS.torch_free_footer()
