"""Training throughput (images/s) of the reconstruction networks, several widths side by side in one run.

What is measured
----------------
Full training steps, built as ``empirical.train.train`` builds them, for each width:

    idx = randint(pool)                            # on the device, from a fixed torch.Generator
    inp, target = task.corrupt(data[idx], generator=gen)   # denoise, σ = 25/255, noise drawn on the device
    [inp → channels_last]                          # bf16 column on CUDA
    with autocast(bf16, enabled=…):                # bf16 column
        loss = mean((net(inp).float() - target)²)  # MSE
    zero_grad; loss.backward(); Adam.step()

The model is built as ``empirical.sweep`` builds it (``build_model(arch, width=…, residual=True,
num_pool_layers=depth)`` for the U-Net), initialised under ``torch.random.fork_rng`` with a fixed
seed (no global seeding leaks), and every column starts from the same initial weights (a deep copy)
and a fresh Adam. The clean images are a pool of random images already resident on the device
(drawn once from a fixed ``torch.Generator``); the noise and the batch indices come from a generator
on the device, so a step does no host transfer and no host sync. After ``--warmup`` untimed steps,
three repeats of ``--steps`` steps are timed (synchronising only before and after each repeat;
CUDA events on the GPU, ``time.perf_counter`` on the CPU) and the median repeat gives
images/s = steps · batch / time.

Columns
-------
* **CUDA** (``torch.cuda.is_available()``): ``fp32`` (NCHW, no autocast; cuDNN's TF32 setting is
  left at PyTorch's default, as ``train.py`` leaves it — it is printed, and ``--strict-fp32`` turns
  TF32 off for this column) vs ``bf16+cl`` (bf16 autocast + channels_last model and input, plus
  ``torch.compile`` of the model with ``--compile``), i.e. ``TrainConfig(bf16=False,
  channels_last=False)`` vs the default ``TrainConfig()``. Reported: images/s of both, the ratio
  bf16+cl / fp32, the model FLOPs utilisation (MFU) of both columns, and the mean GPU utilisation
  over the timed loops if ``nvidia-smi`` is on PATH (sampled in a thread; informational).

  MFU = 3 · 2 · MACs_fwd/image · images/s / peak. MACs are counted analytically with forward hooks
  on every ``nn.Conv2d`` / ``nn.ConvTranspose2d`` (and ``nn.Linear``) for one image of the given
  size; backward is taken as 2× forward. Norms, activations, pooling, the loss and Adam are not
  counted, nor SwinIR's attention matmuls (for the U-Net the convolutions are essentially all of
  the FLOPs; the count equals ``torch.utils.flop_counter`` to the FLOP). The peak is an
  ASSUMPTION: ``--peak-tflops`` defaults to 989, the dense bf16 tensor-core peak of an H100 SXM;
  pass the figure of your GPU (H100 PCIe ≈ 756, A100 ≈ 312). Both columns use the bf16 peak, so
  the fp32 MFU shows how far fp32 is from what the card could do.
* **CPU** (no CUDA device): ``fp32`` and, as an informational column, ``bf16`` CPU autocast
  (``torch.autocast("cpu", dtype=torch.bfloat16)``, NCHW; often slower than fp32 on CPUs without
  AMX/AVX512-BF16). No MFU. The script prints ``GPU figures pending: no CUDA device``.

* **train()** (``--library``): ``empirical.train.train`` itself with the default ``TrainConfig``
  (bf16 autocast, channels_last, fused Adam on CUDA; the training set resident on the GPU; batches
  and noise from a device generator; no per-step host sync), timed as the difference of two budgets
  (``steps`` and ``3·steps``, one evaluation each) so that set-up and evaluation cancel. Its ratio to
  the ``fp32`` column is the library's speed-up over a plain fp32 loop of the same U-Net and batch.

Target of the issue (GPU only): bf16 autocast + channels_last ≥ 2× the fp32 training throughput
(the ``ratio`` column; PASS/FAIL per width is printed, informational only). On the CPU no target
applies. The script always exits 0 (argument errors aside).

Defaults
--------
On CUDA: ``--widths 16,32,64 --size 128 --batch 8 --steps 20 --warmup 5``. On the CPU the same
defaults would take ~10 min on a busy 2-core machine, so the CPU defaults are
``--widths 8,16,32 --size 64 --steps 5 --warmup 2`` (batch 8); any option given explicitly wins.
``--quick`` (a smoke test on either device): widths 8,16, size 64, steps 5, warmup 2.
Timings on a shared machine are noisy; the load average is printed before and after.

Run
---
    python benchmarks/train_throughput.py                      # CPU ~2 min; GPU well under a minute
    python benchmarks/train_throughput.py --quick              # smoke test
    python benchmarks/train_throughput.py --widths 16,64,128,256 --size 256 --batch 10 --compile --library
    python benchmarks/train_throughput.py --peak-tflops 756 --json tput.json   # H100 PCIe
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from empirical.models import ARCHS, LinearNet, build_model, param_count
from empirical.tasks import make_task

GPU_DEFAULTS = {"widths": "16,32,64", "size": 128, "batch": 8, "steps": 20, "warmup": 5}
CPU_DEFAULTS = {"widths": "8,16,32", "size": 64, "batch": 8, "steps": 5, "warmup": 2}
QUICK = {"widths": "8,16", "size": 64, "steps": 5, "warmup": 2}
REPEATS = 3
TARGET_RATIO = 2.0
H100_SXM_BF16_DENSE_TFLOPS = 989.0


# ------------------------------------------------------------------------------------ FLOPs


def forward_macs_per_image(model: nn.Module, in_chans: int, size: int) -> int:
    """Multiply-accumulates of one forward pass on one (in_chans, size, size) image.

    Counted with forward hooks: Conv2d = out elements · (C_in/groups) · kh · kw; ConvTranspose2d =
    in elements · (C_out/groups) · kh · kw (every input element scatters a C_out·kh·kw patch);
    Linear = out elements · in_features; LinearNet = its weight matrix. Bias adds are ignored.
    """
    macs = 0

    def conv_hook(m: nn.Conv2d, inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        kh, kw = m.kernel_size
        macs += out.numel() * (m.in_channels // m.groups) * kh * kw

    def tconv_hook(m: nn.ConvTranspose2d, inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        kh, kw = m.kernel_size
        macs += inp[0].numel() * (m.out_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        macs += out.numel() * m.in_features

    def linearnet_hook(m: LinearNet, inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        macs += inp[0].shape[0] * m.weight.numel()

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.ConvTranspose2d):
            hooks.append(mod.register_forward_hook(tconv_hook))
        elif isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(linear_hook))
        elif isinstance(mod, LinearNet):
            hooks.append(mod.register_forward_hook(linearnet_hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_chans, size, size))
    finally:
        for h in hooks:
            h.remove()
    return macs


# ------------------------------------------------------------------------- GPU utilisation


class GpuUtilSampler:
    """Samples ``nvidia-smi`` GPU utilisation (%) in a background thread while ``active`` is set.

    Optional and coarse (nvidia-smi averages over its own sample period); silently inert when
    nvidia-smi is missing or fails.
    """

    def __init__(self, device_index: int, period_s: float = 0.1) -> None:
        self.exe = shutil.which("nvidia-smi")
        self.period_s = period_s
        self.samples: list[float] = []
        self.active = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # torch's index is relative to CUDA_VISIBLE_DEVICES, nvidia-smi's is not: use the UUID.
        uuid = str(getattr(torch.cuda.get_device_properties(device_index), "uuid", "") or "")
        if not uuid:
            self.ident = str(device_index)
        else:
            self.ident = uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"

    def _query(self) -> float | None:
        try:
            out = subprocess.run(
                [self.exe, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", self.ident],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip().splitlines()
            return float(out[0])
        except Exception:  # noqa: BLE001
            return None

    def start(self) -> bool:
        if self.exe is None:
            return False
        if self._query() is None:
            self.ident = "0"  # UUID form refused: fall back to the first GPU nvidia-smi lists
            if self._query() is None:
                return False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.active.is_set():
                v = self._query()
                if v is not None and self.active.is_set():
                    self.samples.append(v)
            time.sleep(self.period_s)

    def take(self) -> float | None:
        """Mean of the samples so far (None if none), and reset."""
        s, self.samples = self.samples, []
        return statistics.fmean(s) if s else None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


# --------------------------------------------------------------------------------- timing


def make_step(model: nn.Module, task, data: torch.Tensor, gen: torch.Generator, *, batch: int,
              bf16: bool, channels_last: bool, compile_model: bool, lr: float):
    """One training step as ``train.py`` does it, with the clean data already on the device."""
    device = data.device
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    fwd = torch.compile(model) if compile_model else model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    n_pool = data.shape[0]

    def step() -> torch.Tensor:
        idx = torch.randint(n_pool, (batch,), generator=gen, device=device)
        inp, target = task.corrupt(data[idx], generator=gen)
        if channels_last:
            inp = inp.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.mean((fwd(inp).float() - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def time_steps(step, steps: int, device: torch.device, sampler: GpuUtilSampler | None) -> float:
    """Seconds for ``steps`` steps; synchronises only before and after."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if sampler is not None:
            sampler.active.set()
        start.record()
        for _ in range(steps):
            step()
        end.record()
        end.synchronize()
        if sampler is not None:
            sampler.active.clear()
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - t0


def measure(base_model: nn.Module, task, data: torch.Tensor, *, seed: int, batch: int, steps: int,
            warmup: int, bf16: bool, channels_last: bool, compile_model: bool, strict_fp32: bool,
            lr: float, sampler: GpuUtilSampler | None) -> dict:
    device = data.device
    model = copy.deepcopy(base_model).to(device)
    gen = torch.Generator(device=device).manual_seed(seed + 1)  # batch indices and noise, on the device
    step = make_step(model, task, data, gen, batch=batch, bf16=bf16, channels_last=channels_last,
                     compile_model=compile_model, lr=lr)
    tf32_before = torch.backends.cudnn.allow_tf32
    if strict_fp32 and not bf16:
        torch.backends.cudnn.allow_tf32 = False
    try:
        t0 = time.perf_counter()
        loss = None
        for _ in range(warmup):
            loss = step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        warm_s = time.perf_counter() - t0
        final_loss = float(loss.detach()) if loss is not None else float("nan")
        times = [time_steps(step, steps, device, sampler) for _ in range(REPEATS)]
    finally:
        torch.backends.cudnn.allow_tf32 = tf32_before
    util = sampler.take() if sampler is not None else None
    med = statistics.median(times)
    return {"img_s": steps * batch / med, "times_s": times, "median_s": med, "warmup_s": warm_s,
            "warmup_loss": final_loss, "gpu_util_pct": util}


def measure_library(base_model: nn.Module, task, data: torch.Tensor, *, seed: int, batch: int, steps: int,
                    device: torch.device, lr: float, compile_model: bool) -> dict:
    """Images/s of ``empirical.train.train`` itself with its default (GPU-tuned) configuration.

    ``train`` is called with budgets of ``steps`` and ``3·steps`` steps (one evaluation, at the
    end, on one batch); the difference of the median wall times of the two (3 repeats each)
    cancels the set-up, the data transfer and the evaluation, leaving 2·steps training steps.
    """
    from empirical.targets import Supervision  # noqa: PLC0415
    from empirical.train import TrainConfig, train  # noqa: PLC0415

    host = Supervision.clean(task, data.cpu())  # train() takes host tensors and makes the set resident itself

    def run(n_steps: int) -> float:
        cfg = TrainConfig(batch_size=batch, min_steps=n_steps, max_steps=n_steps, eval_every=n_steps, eval_batch=batch,
                          lr=lr, seed=seed, compile=compile_model, device=device.type, early_stop_patience=10**6)
        model = copy.deepcopy(base_model)
        t0 = time.perf_counter()
        res = train(model, host, data[:batch].cpu(), cfg)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if res.status != "done":
            raise RuntimeError(f"train() failed in the benchmark: {res.reason}")
        return time.perf_counter() - t0

    run(steps)  # warm-up: cuDNN heuristics, allocator, compilation
    short = statistics.median(run(steps) for _ in range(REPEATS))
    long = statistics.median(run(3 * steps) for _ in range(REPEATS))
    dt = long - short
    img_s = 2 * steps * batch / dt if dt > 0 else float("nan")
    return {"img_s": img_s, "times_s": [short, long], "median_s": dt, "warmup_s": float("nan"),
            "warmup_loss": float("nan"), "gpu_util_pct": None}


# ----------------------------------------------------------------------------------- main


def _fmt(v: float | None, spec: str, na: str = "n/a") -> str:
    return na if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", help="comma-separated widths (GPU default 16,32,64; CPU 8,16,32)")
    p.add_argument("--size", type=int, help="image side (GPU default 128; CPU 64)")
    p.add_argument("--batch", type=int, help="batch size (default 8)")
    p.add_argument("--steps", type=int, help="timed steps per repeat (GPU default 20; CPU 5)")
    p.add_argument("--warmup", type=int, help="untimed steps first (GPU default 5; CPU 2)")
    p.add_argument("--arch", default="unet", choices=ARCHS)
    p.add_argument("--depth", type=int, default=2, help="U-Net pooling levels (sweep's 'depth'; default 2)")
    p.add_argument("--channels", type=int, default=3, help="image channels (default 3, RGB)")
    p.add_argument("--pool", type=int, default=256, help="clean images resident on the device (default 256)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--compile", action="store_true", help="torch.compile the model in the bf16+cl column (CUDA)")
    p.add_argument("--strict-fp32", action="store_true",
                   help="disable cuDNN TF32 for the fp32 column (default: PyTorch's default, as train.py)")
    p.add_argument("--cudnn-benchmark", action="store_true",
                   help="torch.backends.cudnn.benchmark = True (train.py leaves it off)")
    p.add_argument("--peak-tflops", type=float, default=H100_SXM_BF16_DENSE_TFLOPS,
                   help="ASSUMED peak for MFU, TFLOP/s (default 989 = H100 SXM dense bf16)")
    p.add_argument("--library", action="store_true",
                   help="also time empirical.train.train itself (default config: bf16, channels_last, fused Adam, "
                        "resident data) by the difference of two budgets")
    p.add_argument("--json", type=Path, help="write the results to this file")
    p.add_argument("--quick", action="store_true", help="smoke test: widths 8,16, size 64, steps 5, warmup 2")
    args = p.parse_args(argv)

    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda requested but torch.cuda.is_available() is False")
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    defaults = dict(GPU_DEFAULTS if cuda else CPU_DEFAULTS)
    if args.quick:
        defaults.update(QUICK)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    try:
        widths = [int(w) for w in str(args.widths).split(",") if w.strip()]
    except ValueError:
        p.error(f"--widths {args.widths!r}: use comma-separated integers, e.g. 16,32,64")
    if not widths or min(widths) < 1:
        p.error("--widths needs at least one positive integer")
    for name in ("size", "batch", "steps", "channels", "pool"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if args.warmup < 0 or args.peak_tflops <= 0:
        p.error("--warmup must be >= 0 and --peak-tflops > 0")
    if args.compile and not cuda:
        print("note: --compile applies to the CUDA bf16+cl column only; ignored on the CPU")
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True

    task = make_task("denoise")  # σ = 25/255, the paper's denoising setup
    c = args.channels
    in_c, out_c = task.in_channels(c), task.out_channels(c)
    data_gen = torch.Generator().manual_seed(args.seed)  # clean images: fixed, drawn once on the CPU
    data = torch.rand(args.pool, c, args.size, args.size, generator=data_gen).to(device)

    if cuda:
        props = torch.cuda.get_device_properties(device)
        dev_desc = f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
        cols = [("fp32", {"bf16": False, "channels_last": False, "compile_model": False}),
                ("bf16+cl" + ("+compile" if args.compile else ""),
                 {"bf16": True, "channels_last": True, "compile_model": args.compile})]
    else:
        dev_desc = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        cols = [("fp32", {"bf16": False, "channels_last": False, "compile_model": False}),
                ("bf16(cpu)", {"bf16": True, "channels_last": False, "compile_model": False})]

    print(f"train_throughput: torch {torch.__version__}, python {platform.python_version()}, device {dev_desc}")
    if cuda:
        print(f"  cuDNN TF32 (fp32 column): {torch.backends.cudnn.allow_tf32 and not args.strict_fp32}, "
              f"matmul TF32: {torch.backends.cuda.matmul.allow_tf32}, cudnn.benchmark: {torch.backends.cudnn.benchmark}")
        print(f"  MFU peak (ASSUMPTION): {args.peak_tflops:g} TFLOP/s bf16 dense (--peak-tflops)")
    else:
        print("GPU figures pending: no CUDA device (CPU: fp32 and informational bf16 autocast only)")
    print(f"  arch={args.arch} depth={args.depth} widths={widths} size={args.size} batch={args.batch} "
          f"channels={c} steps={args.steps}x{REPEATS} (median) warmup={args.warmup} pool={args.pool} "
          f"task=denoise sigma={task.sigma:.4f}{' [quick]' if args.quick else ''}")
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load0:
        print(f"  load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")

    sampler = None
    if cuda:
        sampler = GpuUtilSampler(device.index if device.index is not None else torch.cuda.current_device())
        if not sampler.start():
            sampler = None
            print("  nvidia-smi not available: no GPU utilisation column")

    rows = []
    t_all = time.perf_counter()
    for w in widths:
        extra = {"num_pool_layers": args.depth} if args.arch == "unet" else {}
        with torch.random.fork_rng(devices=[]):  # module init uses the global RNG: isolate and seed it
            torch.manual_seed(args.seed)
            base = build_model(args.arch, in_chans=in_c, out_chans=out_c, width=w,
                               image_shape=(args.size, args.size), residual=in_c == out_c and args.arch != "linear",
                               **extra)
        params = param_count(base)
        macs = forward_macs_per_image(base, in_c, args.size)
        train_flops_img = 3 * 2 * macs
        row = {"arch": args.arch, "width": w, "params": params, "size": args.size, "batch": args.batch,
               "fwd_macs_per_image": macs, "train_flops_per_image": train_flops_img, "columns": {}}
        for label, kw in cols:
            r = measure(base, task, data, seed=args.seed, batch=args.batch, steps=args.steps, warmup=args.warmup,
                        strict_fp32=args.strict_fp32, lr=args.lr, sampler=sampler, **kw)
            if cuda:
                r["mfu_pct"] = 100 * train_flops_img * r["img_s"] / (args.peak_tflops * 1e12)
            row["columns"][label] = r
            ts = ", ".join(f"{t:.3f}" for t in r["times_s"])
            print(f"  width {w:>4} {label:<16} {r['img_s']:10.1f} img/s  (repeats {ts} s; warmup {r['warmup_s']:.1f} s)",
                  flush=True)
        a, b = (row["columns"][label] for label, _ in cols)
        row["ratio"] = b["img_s"] / a["img_s"]
        if args.library:
            r = measure_library(base, task, data, seed=args.seed, batch=args.batch, steps=args.steps, device=device,
                                lr=args.lr, compile_model=args.compile and cuda)
            if cuda:
                r["mfu_pct"] = 100 * train_flops_img * r["img_s"] / (args.peak_tflops * 1e12)
            row["columns"]["train()"] = r
            row["ratio_library"] = r["img_s"] / a["img_s"]
            print(f"  width {w:>4} {'train()':<16} {r['img_s']:10.1f} img/s  (median wall {r['times_s'][0]:.2f} s for "
                  f"{args.steps} steps, {r['times_s'][1]:.2f} s for {3 * args.steps})", flush=True)
        if cuda:
            row["meets_target"] = row["ratio"] >= TARGET_RATIO
        rows.append(row)
        del base
        if cuda:
            torch.cuda.empty_cache()
    total_s = time.perf_counter() - t_all
    if sampler is not None:
        sampler.stop()

    # -- table
    la, lb = cols[0][0], cols[1][0]
    head = ["arch", "width", "params", "size", "batch", "GFLOP/img", f"{la} img/s", f"{lb} img/s", "ratio"]
    if args.library:
        head += ["train() img/s", "train()/fp32"]
    if cuda:
        head += [f"MFU {la} %", f"MFU {lb} %", "target"]
        if sampler is not None:
            head += [f"GPU% {la}", f"GPU% {lb}"]
    table = []
    for r in rows:
        ca, cb = r["columns"][la], r["columns"][lb]
        line = [r["arch"], str(r["width"]), f"{r['params']:,}", str(r["size"]), str(r["batch"]),
                f"{r['train_flops_per_image'] / 1e9:.2f}", f"{ca['img_s']:.1f}", f"{cb['img_s']:.1f}",
                f"{r['ratio']:.2f}x"]
        if args.library:
            line += [f"{r['columns']['train()']['img_s']:.1f}", f"{r['ratio_library']:.2f}x"]
        if cuda:
            line += [f"{ca['mfu_pct']:.2f}", f"{cb['mfu_pct']:.2f}",
                     f"{'PASS' if r['meets_target'] else 'FAIL'} (>= {TARGET_RATIO:g}x)"]
            if sampler is not None:
                line += [_fmt(ca["gpu_util_pct"], ".0f"), _fmt(cb["gpu_util_pct"], ".0f")]
        table.append(line)
    wid = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    print()
    print("  ".join(h.rjust(n) for h, n in zip(head, wid)))
    print("  ".join("-" * n for n in wid))
    for t in table:
        print("  ".join(v.rjust(n) for v, n in zip(t, wid)))
    print()
    print("GFLOP/img = training FLOPs per image, 3 x 2 x conv/linear MACs of the forward pass (analytic).")
    if cuda:
        print(f"ratio = {lb} / {la} images/s; issue target: >= {TARGET_RATIO:g}x on the GPU (informational). "
              f"MFU vs an ASSUMED {args.peak_tflops:g} TFLOP/s bf16 peak.")
    else:
        print(f"ratio = {lb} / {la} (informational; bf16 autocast on a CPU without AMX is often slower).")
        print("GPU figures pending: no CUDA device — run this script on a CUDA machine for the "
              f"bf16+channels_last vs fp32 target (>= {TARGET_RATIO:g}x).")
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load1:
        print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; total {total_s:.1f} s")

    if args.json is not None:
        out = {"device": str(device), "device_desc": dev_desc, "torch": torch.__version__,
               "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "widths": widths, "repeats": REPEATS, "peak_tflops_assumed": args.peak_tflops if cuda else None,
               "target_ratio": TARGET_RATIO if cuda else None, "gpu_pending": not cuda,
               "load_before": load0, "load_after": load1, "total_s": total_s, "rows": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
