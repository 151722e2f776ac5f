#!/usr/bin/python3
"""Seed corpora for the fuzz harnesses (tests/fuzz): small valid inputs of every kind salm reads,
so that libFuzzer starts from real structure. Usage: make_seeds.py OUT_DIR [FIXTURES_DIR]

  OUT_DIR/npz      .npz files (stored and deflated; grey and RGB; from the fixtures, cut to 6 rows)
  OUT_DIR/idx      IDX directories packed as fuzz_idx reads them (four u16 lengths, then the files)
  OUT_DIR/h5       salm dataset .h5 files (h5py, the layout of docs/file-formats.md)
  OUT_DIR/options  INI files: configs/*.ini of the checkout and a few hand-made ones
"""
import gzip
import io
import os
import struct
import sys
import zipfile

import h5py
import numpy as np

out = sys.argv[1]
fixtures = sys.argv[2] if len(sys.argv) > 2 else ""
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
rng = np.random.default_rng(0)
for d in ("npz", "idx", "h5", "options"):
    os.makedirs(os.path.join(out, d), exist_ok=True)


def arrays(h, w, c, n=6, classes=3):
    shape = (n, h, w) if c == 1 else (n, h, w, c)
    res = {}
    for split in ("train", "val", "test"):
        res[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        res[f"{split}_labels"] = (np.arange(n) % classes).reshape(n, 1).astype(np.uint8)
    return res


def save_npz(name, arrs, deflate):
    buf = io.BytesIO()
    (np.savez_compressed if deflate else np.savez)(buf, **arrs)
    open(os.path.join(out, "npz", name), "wb").write(buf.getvalue())


save_npz("grey-stored.npz", arrays(8, 8, 1), False)
save_npz("grey-deflated.npz", arrays(8, 8, 1), True)
save_npz("rgb-deflated.npz", arrays(6, 6, 3), True)
if fixtures and os.path.isdir(fixtures):
    for f in sorted(os.listdir(fixtures)):
        if f.endswith(".npz"):
            with np.load(os.path.join(fixtures, f)) as z:
                save_npz("fixture-" + f, {k: z[k][:6] for k in z.files}, "deflate" in f)


def idx(arr):
    a = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, 8, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape) + a.tobytes()


for gz in (False, True):
    files = [idx(rng.integers(0, 256, (5, 7, 7))), idx(np.arange(5) % 3),
             idx(rng.integers(0, 256, (4, 7, 7))), idx(np.arange(4) % 3)]
    if gz:
        files = [gzip.compress(f, mtime=0) for f in files]
    packed = b"".join(struct.pack("<H", len(f)) for f in files) + b"".join(files)
    open(os.path.join(out, "idx", f"idx-{'gz' if gz else 'plain'}"), "wb").write(packed)

for c in (1, 3):
    with h5py.File(os.path.join(out, "h5", f"dataset-c{c}.h5"), "w") as f:
        for split, n in (("train", 6), ("val", 2), ("test", 3)):
            f.create_dataset(f"{split}/images", data=rng.integers(0, 256, (n, 5, 5, c), dtype=np.uint8))
            f.create_dataset(f"{split}/labels", data=(np.arange(n) % 3).astype(np.int64))
        f.attrs["name"] = "seed"             # variable-length UTF-8, as h5py writes strings
        f.attrs["num_classes"] = np.int64(3)
        f.attrs["task"] = "multi-class"
        f.attrs["source"] = "make_seeds.py"

cfg = os.path.join(root, "configs")
for f in sorted(os.listdir(cfg)) if os.path.isdir(cfg) else []:
    if f.endswith(".ini"):
        open(os.path.join(out, "options", f), "wb").write(open(os.path.join(cfg, f), "rb").read())
hand = {
    "sections.ini": "pgd-steps = 3\n[protect]\neps = 0.03\nmodel = small-cnn\n[synth]\nclasses = 4\n",
    "repeat.ini": "max-rows = train=10\nmax-rows = test=5\noverwrite = true\n",
    "comments.ini": "# comment\n; other\nlog-level = debug\nthreads = 2\n",
}
for name, text in hand.items():
    open(os.path.join(out, "options", name), "w").write(text)
