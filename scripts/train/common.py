"""Shared plumbing for the reel-tiny training scripts: threads, seeding, devices, mixed precision,
checkpoints that survive a kill, and a log that every script appends to."""
import contextlib
import json
import os
import random
import time

import numpy as np
import torch


def add_runtime_arguments(parser):
    """--threads, --device, --seed: the flags every script takes."""
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="CPU threads for PyTorch (default: all cores)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)


def setup_runtime(args):
    """Applies --threads and --seed; returns the torch.device to train on."""
    torch.set_num_threads(max(1, args.threads))
    seed_everything(args.seed)
    if args.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(args.device)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cpu_has_bf16():
    """Whether this CPU does bfloat16 arithmetic natively (AVX512-BF16 or AMX-BF16, /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast(device):
    """bfloat16 mixed precision (fp32 master weights): about 3.5x faster matrix products on a CPU
    with AVX512-BF16, and the usual speed-up on a GPU. On a CPU without native bfloat16 (an AVX2-only
    machine, such as this project's AMD EPYC VMs of 2026-12-03) PyTorch emulates it and a VAE encode
    ran many times slower than in float32, so there it is float32 (no autocast); set
    REEL_TRAIN_BF16=1 or 0 to force either."""
    forced = os.environ.get("REEL_TRAIN_BF16")
    wanted = device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())
    if forced in ("0", "1"):
        wanted = forced == "1" and device.type in ("cpu", "cuda")
    if wanted:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def save_atomic(obj, path):
    """torch.save to a temporary file, fsync, rename: a kill never leaves a half-written file."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(obj, path):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def rng_state():
    """Every random generator's state, to store in a checkpoint."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def restore_rng_state(state):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


class Log:
    """Prints a line and appends it to a log file, prefixed with the elapsed time."""

    def __init__(self, path):
        self.path = path
        self.start = time.monotonic()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def __call__(self, message):
        line = f"[{time.monotonic() - self.start:7.1f}s] {message}"
        print(line, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


class StepBudget:
    """Fixes a run's total step count: `max_steps`, or fewer when `minutes` of wall time (counted
    across resumed runs) would not fit them. The rate is measured over this process's first
    `calibration_steps` steps; the result is saved in the checkpoint so that a resumed run keeps
    the same schedule."""

    def __init__(self, max_steps, minutes, calibration_steps=20):
        self.max_steps = max_steps
        self.minutes = minutes
        self.calibration_steps = calibration_steps
        self.total = None if minutes else max_steps
        self.process_start = time.monotonic()
        self.clock = None

    def observe(self, step, elapsed_before):
        """Call after each step with the wall seconds that earlier (killed) runs spent."""
        if self.total is not None:
            return
        now = time.monotonic()
        if self.clock is None:
            self.clock = (now, step)
            return
        start, first = self.clock
        if step - first >= self.calibration_steps:
            per_step = (now - start) / (step - first)
            remaining = self.minutes * 60.0 - elapsed_before - (now - self.process_start)
            self.total = int(min(self.max_steps, step + max(0.0, remaining) / per_step))

    def state(self):
        return {"total": self.total}

    def load(self, state):
        self.total = state["total"]


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())
