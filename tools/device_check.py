#!/usr/bin/env python3
"""The Python side of tools/device-check.sh, for a machine that has Python torch and h5py (the
borrowed GPU machine) or at least numpy and h5py.

  device_check.py guarantees NOISE DATA      the noise file's promises against the clean rows
  device_check.py same A B                   whether two noise files hold the same noise, bit for bit
  device_check.py plain-loop --model M ...   a plain PyTorch loop of salm's noise stage (same model,
                                             batch and PGD step) on one device: image-steps/s
Each prints one JSON object on stdout.
"""
import argparse
import json
import math
import sys
import time


def load_noise(path):
    import h5py
    import numpy as np
    f = h5py.File(path, "r")
    return {k: np.asarray(f[k]) for k in ("delta", "mask", "protected", "labels", "index")}, dict(f.attrs)


def guarantees(noise_path, data_path):
    """ceil(k% of H*W) mask pixels, no noise outside the mask, |delta| <= eps, x+delta in [0,1],
    protected = round(255 (x+delta)) (a tie may round either way), labels as the source's."""
    import h5py
    import numpy as np
    n, attrs = load_noise(noise_path)
    split = attrs.get("split", b"train")
    split = split.decode() if isinstance(split, bytes) else str(split)
    src = h5py.File(data_path, "r")
    x = np.asarray(src[f"/{split}/images"])[n["index"]].astype(np.float32) / 255.0
    labels = np.asarray(src[f"/{split}/labels"])[n["index"]]
    d, mask = n["delta"], n["mask"]
    rows, h, w, c = d.shape
    k = float(attrs["k"])
    eps = float(attrs["epsilon"]) / 255.0
    m = max(1, min(h * w, math.ceil(k / 100.0 * h * w - 1e-9)))
    out = {
        "rows": int(rows),
        "mask_pixels_expected": int(m),
        "mask_pixels_ok": bool((mask.reshape(rows, -1).astype(bool).sum(1) == m).all()),
        "zero_outside_mask": bool((np.abs(d) * (mask[..., None] == 0)).max() == 0),
        "linf_ok": bool(np.abs(d).max() <= eps + 1e-6),
        "in_unit_box": bool(((x + d) >= -1e-6).all() and ((x + d) <= 1 + 1e-6).all()),
        "labels_ok": bool((labels.reshape(n["labels"].shape) == n["labels"]).all()),
    }
    scaled = np.clip(255.0 * (x + d), 0, 255)
    diff = np.abs(n["protected"].astype(np.int64) - np.rint(scaled).astype(np.int64))
    tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3
    out["protected_ok"] = bool((diff[~tie] == 0).all() and (diff <= 1).all())
    out["ok"] = all(v for key, v in out.items() if key.endswith("_ok") or key in ("zero_outside_mask", "in_unit_box"))
    return out


def same(a_path, b_path):
    import numpy as np
    a, _ = load_noise(a_path)
    b, _ = load_noise(b_path)
    eq = {k: bool(a[k].shape == b[k].shape and (a[k].view(np.uint8) == b[k].view(np.uint8)).all()) for k in a}
    return {"identical": all(eq.values()), "datasets": eq,
            "max_abs_delta_difference": float(np.abs(a["delta"] - b["delta"]).max()) if a["delta"].shape == b["delta"].shape else None}


def plain_loop(model_name, batch, steps, size, channels, classes, device, precision, warmup):
    """salm's noise stage without salm: a model in eval mode with frozen parameters, PGD steps of
    the input gradient of the cross-entropy, sign step, clip to eps and to [0, 1]."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SmallCnn(nn.Module):  # src/models/models.cpp SmallCnn
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32)
            self.c2, self.b2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
            self.fc = nn.Linear(64 * 16, classes)

        def forward(self, x):
            h = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
            h = F.max_pool2d(F.relu(self.b2(self.c2(h))), 2)
            return self.fc(F.adaptive_avg_pool2d(h, 4).flatten(1))

    class Block(nn.Module):
        def __init__(self, i, o, s):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o)
            self.c2, self.b2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
            self.sc = nn.Sequential() if s == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False),
                                                                             nn.BatchNorm2d(o))

        def forward(self, x):
            return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.sc(x))

    class ResNet18(nn.Module):  # the CIFAR-style stem of src/models/models.cpp
        def __init__(self):
            super().__init__()
            self.stem, self.bn = nn.Conv2d(channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
            layers, i = [], 64
            for o, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
                layers += [Block(i, o, s), Block(o, o, 1)]
                i = o
            self.layers, self.fc = nn.Sequential(*layers), nn.Linear(512, classes)

        def forward(self, x):
            return self.fc(F.adaptive_avg_pool2d(self.layers(F.relu(self.bn(self.stem(x)))), 1).flatten(1))

    torch.manual_seed(0)
    dev = torch.device(device)
    model = {"small-cnn": SmallCnn, "resnet18": ResNet18}[model_name]().to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
    x = torch.rand(batch, channels, size, size, device=dev)
    y = torch.randint(0, classes, (batch,), device=dev)
    eps, alpha = 8 / 255, 0.8 / 255
    d = torch.zeros_like(x)
    amp = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=precision == "bf16" and dev.type == "cuda")

    def step(d):
        xin = (x + d).detach().requires_grad_(True)
        with amp:
            loss = F.cross_entropy(model(xin).float(), y)
        g, = torch.autograd.grad(loss, xin)
        d = (d - alpha * g.sign()).clamp(-eps, eps)
        return (x + d).clamp(0, 1) - x

    for _ in range(warmup):
        d = step(d)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        d = step(d)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"model": model_name, "batch": batch, "steps": steps, "device": device, "precision": precision,
            "torch": torch.__version__, "seconds": seconds, "image_steps_per_second": batch * steps / seconds}


def main():
    ap = argparse.ArgumentParser(prog="device_check.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("guarantees")
    g.add_argument("noise")
    g.add_argument("data")
    s = sub.add_parser("same")
    s.add_argument("a")
    s.add_argument("b")
    p = sub.add_parser("plain-loop")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=9)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    a = ap.parse_args()
    if a.cmd == "guarantees":
        r = guarantees(a.noise, a.data)
    elif a.cmd == "same":
        r = same(a.a, a.b)
    else:
        r = plain_loop(a.model, a.batch, a.steps, a.size, a.channels, a.classes, a.device, a.precision, a.warmup)
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
