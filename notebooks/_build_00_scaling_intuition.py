"""The cells of notebooks/00_scaling_intuition.ipynb: ten minutes of intuition, for a student.

Store it executed, with its outputs:  python notebooks/regenerate.py 00_scaling_intuition
CI executes it again and compares the text outputs (tests/test_notebooks.py); keep it to a few
seconds on 2 CPU cores. numpy/scipy/matplotlib, ``theory`` and ``bridge`` only (never torch); the
explorer needs Panel (the ``explore`` extra).
"""

from __future__ import annotations

from _nbcells import Cells  # sibling module: regenerate.py puts notebooks/ on sys.path

CELLS = Cells()
md, code = CELLS.md, CELLS.code


# ------------------------------------------------------------------------------------------ intro
md(
    r"""
    # Why more training data stops helping — ten minutes of intuition

    Train a network to denoise images, or to reconstruct MRI scans, on more and more examples $N$.
    Klug & Heckel (*Scaling Laws for Deep Learning Based Image Reconstruction*, ICLR 2023) found
    that the error first falls steeply — a power law in $N$ — and then **flattens out**, already at
    a few thousand examples. This notebook explains why with a model small enough to solve
    exactly, in four steps:

    1. **the floor** — an error that no amount of data removes;
    2. **the learning error** — what a finite training set adds on top, and how fast it shrinks;
    3. **why the curve flattens** — the two together, on a log-log plot;
    4. **what $d/n$ and $\sigma$ do** — the knobs of the model.

    It ends with the **live explorer** and three small exercises: *predict first, then change the
    setting and check*. Every number comes from the `theory` package (numpy only, seeded, a few
    seconds in all); the derivations are in `01_theory.ipynb`.
    """
)

code(
    r"""
    import os

    # Small matrices (n = 100): one BLAS thread is faster than several competing ones, and it
    # makes the printed numbers reproducible (set before numpy is imported; a setting given wins).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    import sys

    import matplotlib.pyplot as plt
    import numpy as np

    from theory import Estimator, Problem, SubspaceSignal, expected_risk

    %matplotlib inline
    plt.rcParams.update({"figure.dpi": 72, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})
    N_GRID = [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560]   # training-set sizes N


    def mc_curves(n, d, sigma, estimators=("gd-oracle",), runs=8, seed=0):
        # E R(W) at every N of N_GRID by Monte Carlo: `runs` training sets per N, each scored exactly
        ests = [Estimator("gd-oracle", kmax=5000) if e == "gd-oracle" else e for e in estimators]
        curves = expected_risk(Problem(SubspaceSignal(n, d), sigma), N_GRID, ests, method="montecarlo",
                               runs=runs, rng=np.random.default_rng(seed))
        return {c.estimator.name: c.mean[:, 0] for c in curves}
    """
)

# ------------------------------------------------------------------------------------ section 1
md(
    r"""
    ## 1. The floor: noise you cannot learn away

    The model: an image is a vector $x \in \mathbb{R}^n$ that lies in an unknown $d$-dimensional
    subspace ($d \ll n$: images are far from random), and we observe it in noise,

    $$ x = U c,\quad c \sim \mathcal N(0, I_d), \qquad y = x + z,\quad z \sim \mathcal N(0, \sigma^2 I_n). $$

    A linear reconstruction $\hat x = W y$ is judged by its **risk**
    $R(W) = \mathbb E\|Wy - x\|^2 / \mathbb E\|x\|^2$ (0 is perfect, 1 is as bad as outputting 0).

    Suppose we *knew* the subspace. The best we can do is to project $y$ onto it — that removes the
    noise in the $n - d$ other directions — and shrink a little. But the noise *inside* the
    subspace looks exactly like signal, so part of it stays. The best linear estimator
    $W^* = UU^\top/(1+\sigma^2)$ has the risk

    $$ R^* = \frac{\sigma^2}{1 + \sigma^2}, $$

    the **floor**. It depends on the noise level $\sigma$ only — not on $N$, $n$ or $d$. Below: the
    formula, the exact risk of $W^*$, and a brute-force check on 20,000 simulated test images.
    """
)

code(
    r"""
    n, d, sigma = 100, 10, 0.1
    pop = Problem(SubspaceSignal(n, d), sigma).population(rng=np.random.default_rng(0))   # draws U

    C, Y = pop.sample_latent(20_000, rng=np.random.default_rng(1))      # c and y of 20,000 test images
    X = pop.B @ C                                                       # x = U c
    brute = np.sum((pop.W_star @ Y - X) ** 2) / np.sum(X**2)
    print(f"sigma^2/(1+sigma^2)           = {sigma**2 / (1 + sigma**2):.5f}")
    print(f"exact risk of W*              = {pop.risk(pop.W_star):.5f}")
    print(f"brute force, 20,000 images    = {brute:.5f}")
    """
)

# ------------------------------------------------------------------------------------ section 2
md(
    r"""
    ## 2. The learning error: what finite data adds

    In practice $U$ is unknown: $W$ is **learned** from $N$ example pairs $(x_i, y_i)$, as a network
    is. Following the paper, we learn it by gradient descent and stop early, at the step with the
    smallest risk ("GD at $k_{opt}$"); for comparison, least squares $W^\infty$ fits the training
    pairs as well as possible. Whatever is learned, the risk splits into two parts:

    $$ \mathbb E R = \underbrace{R^*}_{\text{floor}} \;+\; \underbrace{\mathbb E R - R^*}_{\text{learning error}} . $$

    The learning error is what more data can remove. Theory (`01_theory.ipynb`, §2) says how fast:
    early-stopped GD learns the $d$ signal directions before it fits the noise, and its learning
    error behaves like $R^*\,d/N$ for large $N$ — a clean power law with exponent $-1$. Least
    squares fits all $n$ directions and pays $R^*\,n/N$. Let's check by simulation (8 training
    sets per $N$):
    """
)

code(
    r"""
    R_star = sigma**2 / (1 + sigma**2)
    base = mc_curves(n, d, sigma, estimators=("gd-oracle", "ols"))
    N = np.array(N_GRID, float)
    gd, ols = base["gd-oracle"], base["ols"]

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax.plot(N, gd, "o-", color="C0", label="GD at $k_{opt}$")
    ax.plot(N, ols, "s-", color="C3", ms=4, label=r"least squares $W^\infty$")
    ax.axhline(R_star, color="k", ls="--", lw=1, label="floor $R^*$")
    ax.set(xscale="log", yscale="log", xlabel="training examples $N$", ylabel=r"risk $\mathbb{E}R$",
           title=f"risk against N  (n = {n}, d = {d}, σ = {sigma})")
    ax.legend(fontsize=8)
    bx.plot(N, gd - R_star, "o-", color="C0", label="GD: learning error")
    bx.plot(N, ols - R_star, "s-", color="C3", ms=4, label="least squares: learning error")
    bx.plot(N, R_star * d / N, "C0:", label=r"$R^*\,d/N$")
    bx.plot(N[N > 2 * n], R_star * n / N[N > 2 * n], "C3:", label=r"$R^*\,n/N$")
    bx.axhline(R_star, color="k", ls="--", lw=1, label="floor $R^*$")
    bx.set(xscale="log", yscale="log", xlabel="training examples $N$", ylabel=r"$\mathbb{E}R - R^*$",
           title="the learning error keeps falling like 1/N")
    bx.legend(fontsize=8)
    plt.tight_layout()
    plt.show()

    print(f"{'N':>6} {'E R (GD)':>10} {'learning error':>15} {'error / floor':>14} {'d/N':>7}")
    for j, Nj in enumerate(N_GRID):
        print(f"{Nj:>6} {gd[j]:>10.5f} {gd[j] - R_star:>15.2e} {(gd[j] - R_star) / R_star:>14.3f} {d / Nj:>7.3f}")
    """
)

md(
    r"""
    Read the table's last two columns: from a few hundred examples on, the learning error *relative
    to the floor* is close to $d/N$; at smaller $N$ it is larger (with fewer examples than a few
    times $d$, not even the signal directions are estimated well). Least squares is far worse around $N \approx n$ — it interpolates noisy
    data there (the *double descent* spike) — and approaches the floor only like $n/N$.
    """
)

# ------------------------------------------------------------------------------------ section 3
md(
    r"""
    ## 3. Why the curve flattens

    On a log-log plot, the local slope of the risk is

    $$ \frac{d\log R}{d\log N} \;=\; \underbrace{\frac{R - R^*}{R}}_{\text{share of the learning error}} \times\; \underbrace{\frac{d\log(R - R^*)}{d\log N}}_{\approx\,-1} . $$

    While the learning error dominates, the share is close to 1 and the risk falls steeply — like
    $1/N$ or faster. Once the learning error is small compared with the floor, the share — and with it the
    slope — goes to 0, **even though the learning error itself keeps falling at the same rate**.
    That is the flattening. A power law fitted to the steep part does not know this and promises
    risks below the floor:
    """
)

code(
    r"""
    slope = np.gradient(np.log(gd), np.log(N))
    share = (gd - R_star) / gd
    print(f"{'N':>6} {'share of learning error':>24} {'local slope of E R':>19}")
    for j in (1, 3, 5, 7, 9):
        print(f"{N_GRID[j]:>6} {share[j]:>24.3f} {slope[j]:>19.3f}")

    steep = N <= 40
    alpha, log_beta = np.polyfit(np.log(N[steep]), np.log(gd[steep]), 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot(N, gd, "o-", color="C0", label="GD at $k_{opt}$ (simulated)")
    ax.plot(N, np.exp(log_beta) * N**alpha, "C1--", label=rf"power law fitted on $N \leq 40$: $N^{{{alpha:.2f}}}$")
    ax.axhline(R_star, color="k", ls="--", lw=1, label="floor $R^*$")
    ax.set(xscale="log", yscale="log", ylim=(R_star / 30, 2), xlabel="training examples $N$",
           ylabel=r"risk $\mathbb{E}R$", title="extrapolating the steep part overpromises")
    ax.legend(fontsize=8)
    plt.show()
    print(f"the fit predicts {np.exp(log_beta) * N[-1]**alpha:.1e} at N = {N_GRID[-1]}; simulated {gd[-1]:.1e}, "
          f"floor {R_star:.1e}")
    """
)

# ------------------------------------------------------------------------------------ section 4
md(
    r"""
    ## 4. What $\sigma$ and $d/n$ do

    Two knobs, two different jobs (simulated as above; right panel: learning error divided by the
    floor):

    * **$\sigma$ sets the height of the floor**, $R^* = \sigma^2/(1+\sigma^2)$;
    * **$d$ sets how many examples the learning error needs**: relative to the floor it is about
      $d/N$, so the curve flattens at an $N$ proportional to $d$. The ambient dimension $n$ is what
      *least squares* pays for ($n/N$); early stopping learns the $d$ signal directions first, so
      the ratio $d/n$ is roughly how much data early stopping saves.
    """
)

code(
    r"""
    settings = {(10, 0.05): None, (10, 0.1): base["gd-oracle"], (10, 0.3): None, (5, 0.1): None, (20, 0.1): None}
    for (d_, s_), curve in settings.items():
        if curve is None:
            settings[(d_, s_)] = mc_curves(n, d_, s_)["gd-oracle"]

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, s_ in enumerate((0.05, 0.1, 0.3)):
        ax.plot(N, settings[(10, s_)], "o-", color=f"C{i}", ms=4, label=f"σ = {s_}")
        ax.axhline(s_**2 / (1 + s_**2), color=f"C{i}", ls="--", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="training examples $N$", ylabel=r"risk $\mathbb{E}R$",
           title=f"σ moves the floor (dashed); d = {d}, n = {n}")
    ax.legend(fontsize=8)
    for col, d_ in zip(("C2", "C0", "C4"), (5, 10, 20)):
        rel = settings[(d_, 0.1)] / R_star - 1
        bx.plot(N, rel, "o-", color=col, ms=4, label=f"GD, d = {d_}")
        bx.plot(N, d_ / N, ":", color=col)
    bx.plot(N, ols / R_star - 1, "s-", color="C3", ms=3, alpha=0.6, label=f"least squares, d = {d}")
    bx.plot(N, n / N, ":", color="C3")
    bx.axhline(0.1, color="grey", lw=0.8)
    bx.set(xscale="log", yscale="log", ylim=(1e-3, 1e2), xlabel="training examples $N$",
           ylabel=r"learning error / floor", title="d sets the N it takes (dotted: d/N and n/N)")
    bx.legend(fontsize=8)
    plt.tight_layout()
    plt.show()

    print("first N of the grid where the learning error is below 10% of the floor:")
    for (d_, s_), curve in sorted(settings.items()):
        floor = s_**2 / (1 + s_**2)
        j = int(np.argmax(curve / floor - 1 < 0.1))
        print(f"  d = {d_:>2}, σ = {s_:<4}: floor {floor:.4f}, N = {N_GRID[j]:>4}  (N/d = {N_GRID[j] / d_:.0f})")
    j = int(np.argmax(ols / R_star - 1 < 0.1))
    print(f"  least squares, d = {d}, σ = {sigma}: N = {N_GRID[j]}  (N/d = {N_GRID[j] / d:.0f}, N/n = {N_GRID[j] / n:.1f})")
    """
)

md(
    r"""
    So: a noisier problem has a higher floor but gets close to it after about as many examples — or
    somewhat more (σ = 0.3 in the table: with more noise, early stopping separates the signal
    directions from the noise less cleanly); a richer signal (larger $d$) needs proportionally more
    examples; and the better the estimator
    concentrates on the signal directions, the sooner the curve flattens. In the paper's
    experiments the floor comes from the noise and from what the measurement destroys (MRI's missing
    frequencies, super-resolution's averaging), and networks flatten at a few thousand examples.
    """
)

# ------------------------------------------------------------------------------------ section 5
md(
    r"""
    ## 5. Your turn: the explorer

    The explorer below draws the same model from its data-free formulas (the large-$N$ law, so it
    redraws in milliseconds; at small $N$ it is optimistic compared with the simulations above).
    Type a value into a field and the figures follow: risk against $N$ with the floor and a dashed
    line where *each doubling of $N$ gains less than 0.1 dB*, the GD path at one $N$, and a few
    sentences. It is live in Jupyter; on a static page (such as this notebook on a code host) it
    shows nothing, and the *check* cells below carry the answers as numbers and figures. In a
    browser: `reconscale explore`.

    For each exercise: **write down your prediction first**, then change the setting in the
    explorer (or run the check cell, which sets it for you).
    """
)

code(
    r"""
    from bridge.explore import Explorer

    START = "n=100&d=10&sigma=0.1&est=optimal,gd-oracle&points=64&Nmin=10&Nmax=100000"
    ex = Explorer(START)
    ex.layout          # the live explorer (Jupyter only)
    """
)

code(
    r"""
    def check(query, label):
        # set the explorer to `query` (from the START settings), then print and draw before and after
        ex.set_query(START)
        before = ex.result
        ex.set_query(START + "&" + query)
        after = ex.result
        assert not ex.message, ex.message
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        for res, name, col in ((before, "start", "C0"), (after, label, "C1")):
            for est, ls in (("gd-oracle", "-"), ("ols", "-.")):
                pts = [p for p in res.points if p["estimator"] == est]
                if pts:
                    ax.plot([p["N"] for p in pts], [p["risk"] for p in pts], ls, color=col,
                            label=f"{name}: {'GD at k_opt' if est == 'gd-oracle' else 'least squares'}")
            ax.axhline(res.floor, color=col, ls="--", lw=1)
            if res.slowdown["N"] is not None:
                ax.axvline(res.slowdown["N"], color=col, ls=":", lw=1)
        ax.set(xscale="log", yscale="log", xlabel="training examples $N$", ylabel="risk (large-N law)",
               title="dashed: floors; dotted: where doubling N gains < 0.1 dB")
        ax.legend(fontsize=7)
        plt.show()
        for res, name in ((before, "start"), (after, label)):
            print(f"{name:>14}: floor {res.floor:.4f};  {res.slowdown['text']}")
        return before, after
    """
)

md(
    r"""
    ### Exercise 1 — double the noise

    Set σ from 0.1 to **0.2**. Predict: (a) how many times higher is the floor? (b) does the $N$
    beyond which more data stops helping move to smaller $N$, to larger $N$, or stay?
    """
)

code(
    r"""
    before, after = check("sigma=0.2", "σ = 0.2")
    print(f"floor ratio {after.floor / before.floor:.2f}")
    """
)

md(
    r"""
    *Answer.* (a) Not 2: $R^* = \sigma^2/(1+\sigma^2)$ goes from $0.0099$ to $0.0385$, about
    **4 times** — the floor grows like $\sigma^2$ while $\sigma$ is small. (b) It hardly moves — if anything a
    little *later* (printed above): the learning error is about $R^*\,d/N$, so it grows with the
    floor, and the curve moves up on the log axis almost without changing shape. Noise makes every
    $N$ worse; it does not make data stop helping sooner. (§4's simulations show the same, with
    the small-$N$ effects this law leaves out.)
    """
)

md(
    r"""
    ### Exercise 2 — a richer signal

    Back at σ = 0.1, set $d$ from 10 to **20**. Predict: where does the curve flatten now?
    """
)

code(
    r"""
    before, after = check("d=20", "d = 20")
    print(f"flattening point moved by a factor {after.slowdown['N'] / before.slowdown['N']:.2f}")
    """
)

md(
    r"""
    *Answer.* The floor does not change (it depends on σ only), but the flattening point moves to
    about **twice** the $N$: the learning error relative to the floor is about $d/N$, so twice the
    signal directions need twice the examples for the same share.
    """
)

md(
    r"""
    ### Exercise 3 — no early stopping

    Show **least squares** $W^\infty$ instead of early-stopped GD (in the explorer: tick
    "least squares W^∞" and untick "GD at k_opt"). It fits all $n = 100$ directions, noise
    included. Predict: how much later does it flatten?
    """
)

code(
    r"""
    before, after = check("est=optimal,ols", "no early stopping")
    print(f"least squares flattens {after.slowdown['N'] / before.slowdown['N']:.1f} times later; "
          f"n/d = {ex.state.n / ex.state.d:.0f}")
    """
)

md(
    r"""
    *Answer.* About $n/d = 10$ times later: its learning error is about $R^*\,n/N$ instead of
    $R^*\,d/N$ (the ratio is not exactly 10 because the explorer's $N$ grid is discrete).
    Early stopping is what lets the learned estimator ignore the $n - d$ noise directions for a
    while — the regularisation that makes the curve flatten *early*, at a low risk.

    **Explore further.** Switch the task to MRI or super-resolution (the floor then also holds what
    the measurement destroys); give the training targets noise (σ_t > 0) and see how many more
    examples that costs (`04_selfsupervised.ipynb`); try the power-law signal, which has no sharp
    subspace and bends more slowly.

    ## Summary

    * **Floor**: the error of the best possible estimator, set by the noise (and the measurement),
      not by $N$.
    * **Learning error**: what finite data adds; it keeps shrinking like $d/N$ relative to the floor.
    * **Flattening**: the log-log slope is the learning error's share of the risk times about
      $-1$; once that share is small, more data barely helps — although the learning error is
      still falling.

    Next: `01_theory.ipynb` derives all of this; `02_empirical.ipynb` trains small U-Nets;
    `03_bridge.ipynb` puts theory and networks on one $N$ axis.
    """
)

CELLS.torch_free_footer()
