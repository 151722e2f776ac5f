#!/usr/bin/python3
"""Malformed-input corpus: >= 1,000 damaged datasets run end to end through the salm binary.

Bases: the fixtures (--fixtures) cut to 20 rows per split with numpy and written back with
np.savez / np.savez_compressed; an IDX directory (plain and .gz) of the same rows; salm .h5
datasets from `salm synth` and `salm convert`, and one written with h5py (gzip). Families
(deterministic from --seed; --cases is spread over them by weight):

  control        the unmodified bases and documented-valid variants (v2/v3 npy headers, big-endian
                 or uint8 labels, [N,H,W,1] images, multi-member .gz, compressed h5): exit 0
  bitflip-*      1..8 flipped bits in npz (stored, deflated), IDX (plain, .gz) and salm .h5 files
  truncate       a random length (or 0 bytes) of npz, IDX (plain, .gz) and .h5 files
  garbage        random bytes appended to npz, IDX (plain, .gz) and .h5 files
  npy-header     lying .npy headers: shape vs data, dtypes ('<f8' '>u2' '|b1' 'O' '<U3'),
                 fortran_order, missing / extra / duplicate keys, not a dict, bad version, length
  idx-header     IDX magic, element type, dimension count and sizes that lie
  h5-structure   h5py-written datasets with wrong shapes, types, links, attributes (num_classes
                 1e9, -1, 0, float, array), huge declared sizes, h5py-only filters
  absurd-values  labels -1, 2**62, 100000, outside train's classes; zero-row splits; 0-size images
  zip-level      bzip2 / lzma members, encrypted flag, duplicate and '../' names, empty zip, not a zip
  filesystem     symlinks (valid: exit 0), dangling / looping symlinks, directories, FIFOs,
                 /dev/null, /dev/zero, sockets, IDX members that are not regular files

Each case runs `salm convert --in CASE --out OUT.h5`, `salm inspect CASE` (npz/h5 cases, every
--inspect-every-th one) and, for a sample of h5 cases, a one-step `salm protect`. Expected exit
codes come from an oracle (zipfile + numpy.lib.format, h5py, a Python IDX reader, run in a forked
child so that a crash or hang of h5py cannot take the harness down) that also applies the
documented rules (docs/datasets.md): invalid -> 2; valid -> 0, or 0|2 where the file is damaged
but readable or outside what the docs promise. Rules checked on every run:
  * no signal, no hang (20 s), exit code in the allowed set;
  * on failure exactly one stderr line `salm: error: ...` naming the input (path or basename), no
    other error/traceback/HDF5-DIAG noise, and nothing named OUT* left in the output directory;
  * on success no error text, OUT exists (no OUT.partial), and what convert wrote equals what the
    oracle read (images, labels, num_classes).
Exit status 0 only if every run met the rules.
"""
import argparse, concurrent.futures, gzip, io, os, pickle, random, select, shlex, shutil, socket
import struct, subprocess, sys, tempfile, time, warnings, zipfile
import h5py
import numpy as np

SPLITS = ("train", "val", "test")
KNOWN = {f"{s}_{k}" for s in SPLITS for k in ("images", "labels")}
MAX_CLASSES = 100000
NOISE = ("error", "traceback", "terminate called", "hdf5-diag", "assertion", "segmentation", "core dumped")
IDX_NAMES = {"train-images-idx3-ubyte": ("train", "images"), "train-labels-idx1-ubyte": ("train", "labels"),
             "t10k-images-idx3-ubyte": ("test", "images"), "t10k-labels-idx1-ubyte": ("test", "labels")}


class Bad(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Bad(why)


# ----------------------------------------------------------------------------- oracles
def label_rules(splits, nc, task, label_dim, only=None):
    """salm's check_labels for every split (or `only`): splits = {split: (images, int64 labels)}."""
    for s, (_, lb) in splits.items():
        if only and s != only:
            continue
        if task == "multi-label":
            need(label_dim == nc, f"{label_dim} labels per image but {nc} declared")
            need(np.isin(lb, (0, 1)).all(), f"{s}: multi-label labels not 0/1")
        else:
            need(label_dim <= 1, f"{s}: {label_dim} labels per image for {task}")
            need(((lb >= 0) & (lb < nc)).all(), f"{s}: labels outside [0, {nc})")


def npz_oracle(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        need(len(set(names)) == len(names), "duplicate member names")
        need(not any(i.flag_bits & 1 for i in z.infolist()), "encrypted member")
        arrays, fortran = {}, {}
        for info in z.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else None
            if key in KNOWN:
                raw = z.read(info)  # CRC-32 checked here
                fp = io.BytesIO(raw)
                version = np.lib.format.read_magic(fp)
                shape, fortran[key], dtype = np.lib.format._read_array_header(fp, version)
                need(dtype.kind != "O", f"{key}: object array")
                need(len(raw) == fp.tell() + int(np.prod(shape)) * dtype.itemsize, f"{key}: header vs member size")
                fp.seek(0)
                arrays[key] = np.lib.format.read_array(fp, allow_pickle=False)
    splits, dims = {}, set()
    for s in SPLITS:
        ik, lk = s + "_images", s + "_labels"
        if ik not in arrays and lk not in arrays:
            continue
        need(ik in arrays and lk in arrays, f"{s}: images without labels or labels without images")
        im, lb = arrays[ik], arrays[lk]
        need(im.dtype == np.uint8 and not fortran[ik], f"{s}: images not C-ordered uint8")
        im = im[..., None] if im.ndim == 3 else im
        need(im.ndim == 4 and im.shape[3] in (1, 3), f"{s}: image shape {im.shape}")
        need(min(im.shape[:3]) > 0, f"{s}: zero rows, height or width")
        need(lb.ndim in (1, 2) and lb.shape[0] == im.shape[0], f"{s}: label shape {lb.shape}")
        need(not (fortran[lk] and lb.ndim == 2 and lb.shape[1] > 1), f"{s}: Fortran labels")
        need(lb.ndim == 1 or lb.shape[1] >= 1, f"{s}: zero label columns")
        need(lb.dtype.kind in "iub" and lb.dtype.itemsize in (1, 2, 4, 8), f"{s}: label dtype {lb.dtype}")
        splits[s] = (im, lb.astype(np.int64).reshape(im.shape[0], -1))
        dims.add(splits[s][1].shape[1])
        need(splits[s][0].shape[1:] == splits[next(iter(splits))][0].shape[1:], "image shapes differ")
    need("train" in splits, "no train split")
    need(len(dims) == 1, "label columns differ between splits")
    ldim = dims.pop()
    if ldim > 1:
        nc, task = ldim, "multi-label"
    else:
        top = int(splits["train"][1].max())
        need(top < MAX_CLASSES, f"train label {top} is not a class id")
        nc, task = top + 1, "multi-class"
        need(nc >= 1, "no class")
    label_rules(splits, nc, task, ldim if ldim > 1 else 0)
    return splits, nc, True


def idx_oracle(d):
    splits = {}
    for prefix, split in (("train", "train"), ("t10k", "test")):
        arr = {}
        for what, ndim in (("images", 3), ("labels", 1)):
            name = f"{d}/{prefix}-{what}-idx{ndim}-ubyte"
            name = name if os.path.isfile(name) else name + ".gz"
            need(os.path.isfile(name), f"no {name}")
            raw = open(name, "rb").read()
            raw = gzip.decompress(raw) if name.endswith(".gz") else raw
            need(len(raw) >= 4 + 4 * ndim and raw[:4] == bytes([0, 0, 8, ndim]), f"{name}: magic")
            dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
            need(all(dims[1:]) and int(np.prod(dims, dtype=object)) < 2 ** 36, f"{name}: dims {dims}")
            need(len(raw) == 4 + 4 * ndim + int(np.prod(dims)), f"{name}: size vs header")
            arr[what] = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)
        need(len(arr["labels"]) == len(arr["images"]), f"{split}: label count")
        need(len(arr["images"]) > 0, f"{split}: zero rows (docs: refused)")
        splits[split] = (arr["images"][..., None], arr["labels"].astype(np.int64).reshape(-1, 1))
    need(splits["train"][0].shape[1:] == splits["test"][0].shape[1:], "image shapes differ")
    nc = int(splits["train"][1].max()) + 1  # docs: a test label never seen in train is refused
    label_rules(splits, nc, "multi-class", 0)
    return splits, nc, True


def h5_scalar(f, name, kind):
    if name not in f.attrs:
        return None
    a = f.attrs.get_id(name)
    need(a.shape == () or a.shape is None, f"attribute {name} is not a scalar")
    if kind == "int":
        need(a.dtype.kind in "iu" and h5py.check_enum_dtype(a.dtype) is None, f"{name} not an integer")
        v = int(f.attrs[name])
        return min(v, 2 ** 63 - 1)
    if h5py.check_string_dtype(a.dtype) is None:
        return None
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def h5_oracle(path):
    with h5py.File(path, "r") as f:
        meta = {}
        for s in SPLITS:
            gi, gl = f"/{s}/images", f"/{s}/labels"
            hi, hl = (s in f and isinstance(f[s], h5py.Group) and g in f[s] for g in ("images", "labels"))
            if not hi and not hl:
                continue
            need(hi and hl, f"{s}: images without labels or labels without images")
            di, dl = f[gi], f[gl]
            need(isinstance(di, h5py.Dataset) and isinstance(dl, h5py.Dataset), f"{s}: not datasets")
            need(di.ndim == 4 and di.shape[3] in (1, 3), f"{s}: image shape {di.shape}")
            need(di.shape[0] > 0 and di.shape[1] > 0 and di.shape[2] > 0, f"{s}: empty images")
            need(np.prod(di.shape, dtype=float) <= max(di.id.get_storage_size(), 1) * 1000.0, f"{s}: declared>stored")
            need(di.dtype == np.uint8 and h5py.check_enum_dtype(di.dtype) is None, f"{s}: images {di.dtype}")
            need(dl.ndim in (1, 2) and dl.shape[0] == di.shape[0], f"{s}: labels {dl.shape}")
            need(dl.dtype.kind in "iu" and h5py.check_enum_dtype(dl.dtype) is None, f"{s}: labels {dl.dtype}")
            meta[s] = (di, dl, di.shape[1:] + ((dl.shape[1] if dl.ndim == 2 else 0),))
        need(meta, "no splits")
        need(len({m[2] for m in meta.values()}) == 1, "splits differ in image or label shape")
        nc = h5_scalar(f, "num_classes", "int")
        need(nc is not None and 1 <= nc <= MAX_CLASSES, f"num_classes {nc}")
        task = h5_scalar(f, "task", "str")
        for name in ("name", "source"):
            h5_scalar(f, name, "str")
        ldim = next(iter(meta.values()))[2][3]
        task = task if task is not None else ("multi-label" if ldim > 0 else "multi-class")
        need(task in ("multi-class", "multi-label", "binary-class", "ordinal-regression"), f"task {task}")
        splits = {}
        for s in sorted(meta, key=lambda s: s != "train"):
            di, dl, _ = meta[s]
            try:
                splits[s] = (di[...], dl.astype("int64")[...].reshape(di.shape[0], -1))
                label_rules(splits, nc, task, ldim, only=s)
            except (Bad, OSError):
                if s == "train" or "train" not in meta:
                    raise
                return None, None, True  # invalid, but protect (train only) may succeed
    return splits, nc, True


def forked(fn, path, timeout=15.0):
    """fn(path) in a forked child: (ok, reason, expected, train_ok); a crash or hang means invalid."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            splits, nc, train_ok = fn(path)
            res = (splits is not None, "" if splits is not None else "labels outside train", (splits, nc), train_ok)
        except BaseException as e:  # noqa: the verdict of a bad file
            res = (False, f"{type(e).__name__}: {e}"[:200], None, False)
        with os.fdopen(w, "wb") as out:
            out.write(pickle.dumps(res))
        os._exit(0)
    os.close(w)
    buf, deadline = b"", time.time() + timeout
    while True:
        if not select.select([r], [], [], max(0.0, deadline - time.time()))[0]:
            os.kill(pid, 9)
            break
        chunk = os.read(r, 1 << 20)
        if not chunk:
            break
        buf += chunk
    os.close(r)
    os.waitpid(pid, 0)
    try:
        return pickle.loads(buf)
    except Exception:
        return (False, "the oracle crashed or hung", None, False)


# ----------------------------------------------------------------------------- writers
def npy(arr, header=None, version=b"\x01\x00", hlen=None):
    """A .npy member: numpy's own bytes, or `header` (a dict literal) in front of arr's bytes."""
    if header is None:
        b = io.BytesIO()
        np.lib.format.write_array(b, arr, allow_pickle=False)
        return b.getvalue()
    h = header.encode("latin1")
    h += b" " * ((-(11 + len(h))) % 64) + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(h) if hlen is None else hlen) + h + arr.tobytes()


def hdr(arr, descr=None, fortran=False, shape=None):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr or arr.dtype.str, fortran, repr(tuple(arr.shape if shape is None else shape)))


def write_zip(path, members, method=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", method) as z:
            for name, data in members:
                z.writestr(name, data if isinstance(data, bytes) else npy(data))
    return path


def idx_bytes(a):
    return bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def idx_files(arrs):
    return {n: idx_bytes(arrs[f"{s}_{w}"].reshape(-1) if w == "labels" else arrs[f"{s}_{w}"])
            for n, (s, w) in IDX_NAMES.items()}


def write_idx(d, files, gz):
    os.makedirs(d, exist_ok=True)
    for n, data in files.items():
        with open(f"{d}/{n}.gz" if gz else f"{d}/{n}", "wb") as f:
            f.write(gzip.compress(data, mtime=0) if gz else data)
    return d


def write_h5(path, arrs, nc=10, task="multi-class", **opts):
    with h5py.File(path, "w") as f:
        for s in SPLITS:
            im, lb = arrs[s + "_images"], arrs[s + "_labels"]
            f.create_dataset(f"/{s}/images", data=im[..., None] if im.ndim == 3 else im, **opts)
            f.create_dataset(f"/{s}/labels", data=(lb[:, 0] if lb.shape[1] == 1 else lb).astype(np.int64))
        f.attrs.update({"name": "h5py", "num_classes": nc, "task": task, "source": "h5py"})
    return path


def flip(data, rng, n, lo=0, hi=None):
    b, hi = bytearray(data), min(hi or len(data), len(data))
    for _ in range(n):
        b[rng.randrange(lo, hi)] ^= 1 << rng.randrange(8)
    return bytes(b)


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


# ----------------------------------------------------------------------------- families
def C(path, kind, variant, strict=False, allowed=None):
    return dict(path=path, kind=kind, variant=variant, strict=strict, allowed=allowed)


def arrays(B, name):
    return {k: v.copy() for k, v in B.arr[name].items()}


def members(a):
    return [(k + ".npy", v) for k, v in a.items()]


def build_controls(B, d):
    """Documented-valid inputs that must convert (exit 0)."""
    g, ml = arrays(B, "gray"), arrays(B, "ml")
    items = [(B.npz[n], "npz", n) for n in B.npz] + [(B.idx[n], "idx", "idx-" + n) for n in B.idx]
    items += [(B.h5[n], "h5", "h5-" + n) for n in B.h5]
    v2 = members(g)
    for j, ver in ((0, (3, 0)), (1, (2, 0))):
        b = io.BytesIO()
        np.lib.format.write_array(b, v2[j][1], version=ver)
        v2[j] = (v2[j][0], b.getvalue())
    items.append((write_zip(f"{d}/v2v3.npz", v2), "npz", "npy-v2-v3-headers"))
    for tag, f in (("labels-1d", lambda a: a.reshape(-1)), ("labels->i8", lambda a: a.astype(">i8")),
                   ("labels-u1", lambda a: a.astype(np.uint8)), ("labels->u2", lambda a: a.astype(">u2"))):
        a = dict(g, **{f"{s}_labels": f(g[f"{s}_labels"]) for s in SPLITS})
        items.append((write_zip(f"{d}/{tag}.npz", members(a), zipfile.ZIP_DEFLATED), "npz", tag))
    a = dict(g, **{f"{s}_images": g[f"{s}_images"][..., None] for s in SPLITS})
    items.append((write_zip(f"{d}/nhw1.npz", members(a)), "npz", "images-NHW1"))
    items.append((write_zip(f"{d}/train-only.npz", members(g)[:2]), "npz", "train-only"))
    files = idx_files(g)
    mm, n = write_idx(f"{d}/multimember", files, True), "train-images-idx3-ubyte"
    put(f"{mm}/{n}.gz", gzip.compress(files[n][:1000], mtime=0) + gzip.compress(files[n][1000:], mtime=0))
    items.append((mm, "idx", "gz-multi-member"))
    items.append((write_h5(f"{d}/chunked.h5", g, compression="gzip", shuffle=True, chunks=(5, 28, 28, 1)), "h5", "h5-chunked"))
    items.append((write_h5(f"{d}/ml.h5", ml, nc=3, task="multi-label"), "h5", "h5py-multi-label"))
    return items


def fam_control(rng, d, B, i):
    path, kind, variant = B.controls[i % len(B.controls)]
    return C(path, kind, variant, strict=True)


def fam_bitflip_npz(rng, d, B, i):
    name = rng.choice(sorted(B.npz))
    data = open(B.npz[name], "rb").read()
    lo, hi = rng.choice(B.spans[name]) if rng.random() < 0.6 else (0, len(data))
    return C(put(f"{d}/in.npz", flip(data, rng, rng.randint(1, 8), lo, hi)), "npz", f"{name}@{lo}")


def fam_bitflip_idx(rng, d, B, i):
    gz = rng.random() < 0.5
    out = shutil.copytree(B.idx["gz" if gz else "plain"], f"{d}/idx")
    n = rng.choice(sorted(os.listdir(out)))
    data = open(f"{out}/{n}", "rb").read()
    put(f"{out}/{n}", flip(data, rng, rng.randint(1, 8), 0, 24 if rng.random() < 0.5 and not gz else None))
    return C(out, "idx", n)


def fam_bitflip_h5(rng, d, B, i):
    name = rng.choice(sorted(B.h5))
    data = open(B.h5[name], "rb").read()
    lo, hi = rng.choice([(0, 4096), (len(data) - 4096, len(data)), (0, len(data))])
    return C(put(f"{d}/in.h5", flip(data, rng, rng.randint(1, 8), max(lo, 0), hi)), "h5", f"{name}@{lo}")


def pick_file(rng, B):
    kind = rng.choice(["npz", "npz", "h5", "idx-gz", "idx-plain"])
    if kind == "npz":
        name = rng.choice(sorted(B.npz))
        return kind, name, B.npz[name]
    if kind == "h5":
        name = rng.choice(sorted(B.h5))
        return kind, name, B.h5[name]
    return kind, rng.choice(sorted(IDX_NAMES)), B.idx["gz" if kind == "idx-gz" else "plain"]


def mutate_file(rng, d, B, fn, tag):
    kind, name, src = pick_file(rng, B)
    if kind.startswith("idx"):
        out = shutil.copytree(src, f"{d}/idx")
        p = f"{out}/{name}" + (".gz" if kind == "idx-gz" else "")
        put(p, fn(open(p, "rb").read()))
        return C(out, "idx", f"{kind}/{name}/{tag}")
    ext = "." + kind
    return C(put(f"{d}/in{ext}", fn(open(src, "rb").read())), kind, f"{name}/{tag}")


def fam_truncate(rng, d, B, i):
    keep = rng.random()
    return mutate_file(rng, d, B, lambda b: b[:0 if keep < 0.1 else rng.randrange(1, len(b))],
                       "to0" if keep < 0.1 else "cut")


def fam_garbage(rng, d, B, i):
    n = rng.randint(1, 2048)
    tail = bytes(n) if rng.random() < 0.1 else rng.randbytes(n)
    return mutate_file(rng, d, B, lambda b: b + tail, f"+{n}")


def npy_variants(a, key):
    v = a[key]
    h = lambda **k: hdr(v, **k)
    other = lambda dt: v.astype(dt)
    out = [("shape+1", npy(v, h(shape=(v.shape[0] + 1,) + v.shape[1:]))),
           ("shape-1", npy(v, h(shape=(v.shape[0] - 1,) + v.shape[1:]))),
           ("shape-huge", npy(v, h(shape=(2 ** 40, 2 ** 40)))), ("shape-neg", npy(v, h(shape=(-20,) + v.shape[1:]))),
           ("shape-float", npy(v, h().replace(f"({v.shape[0]},", f"({v.shape[0]}.5,", 1))),
           ("shape-scalar", npy(v, h(shape=()))),
           ("fortran", npy(np.asfortranarray(v), h(fortran=True)) if v.ndim > 1 else npy(v, h(fortran=True))),
           ("missing-descr", npy(v, h().replace("'descr': '%s', " % v.dtype.str, ""))),
           ("missing-fortran", npy(v, h().replace("'fortran_order': False, ", ""))),
           ("missing-shape", npy(v, "{'descr': '%s', 'fortran_order': False, }" % v.dtype.str)),
           ("extra-key", npy(v, h().replace("}", "'extra': 1, }"))),
           ("dup-descr-first-lies", npy(v, "{'descr': '<f8', " + h()[1:])),
           ("dup-descr-last-lies", npy(v, h().replace("}", "'descr': '<f8', }"))),
           ("not-a-dict", npy(v, "[1, 2, 3]")), ("dict-in-a-string", npy(v, '"%s"' % h())),
           ("version-1.5", npy(v, h(), b"\x01\x05")), ("version-4", npy(v, h(), b"\x04\x00")),
           ("version-0", npy(v, h(), b"\x00\x00")), ("hlen-past-end", npy(v, h(), hlen=65000)),
           ("hlen-0", npy(v, h(), hlen=0)), ("hlen-short", npy(v, h(), hlen=20)),
           ("bad-magic", npy(v).replace(b"NUMPY", b"NUMPZ", 1)), ("empty-member", b"")]
    for dt in ("<f8", ">u2", "|b1", "<U3"):  # consistent data of a wrong dtype
        out.append((f"dtype{dt}", npy(other(dt))))
    for dt in ("<f8", ">u2", "|b1", "O", "<U3", "<u1", "=u1"):  # the header alone lies
        out.append((f"descr{dt}", npy(v, h(descr=dt))))
    return out


def fam_npy_header(rng, d, B, i):
    name = rng.choice(["gray", "gray", "rgb", "ml"])
    a = arrays(B, name)
    key = rng.choice(["train_images", "train_labels", "val_images", "test_labels"])
    variants = npy_variants(a, key)
    tag, data = variants[(i // 4) % len(variants)]
    ms = [(k, data if k == key + ".npy" else v) for k, v in members(a)]
    method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    strict = key.endswith("labels") and tag in ("dtype>u2",)
    return C(write_zip(f"{d}/in.npz", ms, method), "npz", f"{name}/{key}/{tag}", strict)


def fam_idx_header(rng, d, B, i):
    a = arrays(B, "gray")
    files = idx_files(a)
    n = rng.choice(sorted(files))
    b = bytearray(files[n])
    nd = b[3]
    tag = ["magic0", "magic1", "type09", "type0d", "ndims-1", "ndims+1", "n+1", "n-1", "h0", "h-huge", "n-huge",
           "labels-count", "test-14x14", "missing-file", "plain-and-broken-gz"][i % 15]
    dim = lambda k, val: struct.pack_into(">I", b, 4 + 4 * k, val)
    {"magic0": lambda: b.__setitem__(0, 1), "magic1": lambda: b.__setitem__(1, 8),
     "type09": lambda: b.__setitem__(2, 0x09), "type0d": lambda: b.__setitem__(2, 0x0D),
     "ndims-1": lambda: b.__setitem__(3, nd - 1), "ndims+1": lambda: b.__setitem__(3, nd + 1),
     "n+1": lambda: dim(0, 21), "n-1": lambda: dim(0, 19), "h0": lambda: dim(min(1, nd - 1), 0),
     "h-huge": lambda: dim(nd - 1, 2 ** 31), "n-huge": lambda: dim(0, 2 ** 32 - 1)}.get(tag, lambda: None)()
    files[n] = bytes(b)
    if tag == "labels-count":
        files["train-labels-idx1-ubyte"] = idx_bytes(a["train_labels"].reshape(-1)[:-3])
    if tag == "test-14x14":
        files["t10k-images-idx3-ubyte"] = idx_bytes(a["test_images"][:, :14, :14])
    out = write_idx(f"{d}/idx", files, rng.random() < 0.5)
    if tag == "missing-file":
        for ext in ("", ".gz"):
            if os.path.exists(f"{out}/{n}{ext}"):
                os.remove(f"{out}/{n}{ext}")
    if tag == "plain-and-broken-gz":
        ok = idx_files(a)
        write_idx(out, ok, False)
        put(f"{out}/{n}.gz", b"\x1f\x8b broken")
    return C(out, "idx", f"{n}/{tag}")


def _rep(f, name, data=None, **kw):
    if name in f or f.get(name, getlink=True) is not None:
        del f[name]
    if data is not None or kw:
        f.create_dataset(name, data=data, **kw)


H5_VARIANTS = {
    "images-0x0": lambda f: _rep(f, "/train/images", np.zeros((20, 0, 0, 1), np.uint8)),
    "zero-rows": lambda f: (_rep(f, "/val/images", np.zeros((0, 28, 28, 1), np.uint8)), _rep(f, "/val/labels", np.zeros(0, np.int64))),
    "images-3d": lambda f: _rep(f, "/train/images", f["/train/images"][..., 0]),
    "images-c2": lambda f: _rep(f, "/train/images", np.repeat(f["/train/images"][...], 2, 3)),
    "images-5d": lambda f: _rep(f, "/train/images", f["/train/images"][()][..., None]),
    "images-f64": lambda f: _rep(f, "/train/images", f["/train/images"][...].astype(np.float64)),
    "images-i8": lambda f: _rep(f, "/test/images", f["/test/images"][...].astype(np.int8)),
    "images-u16": lambda f: _rep(f, "/train/images", f["/train/images"][...].astype(np.uint16)),
    "labels-f32": lambda f: _rep(f, "/train/labels", f["/train/labels"][...].astype(np.float32)),
    "labels-i16": lambda f: _rep(f, "/train/labels", f["/train/labels"][...].astype(np.int16)),
    "labels-u8": lambda f: _rep(f, "/val/labels", f["/val/labels"][...].astype(np.uint8)),
    "labels-bool": lambda f: _rep(f, "/train/labels", f["/train/labels"][...] > 4),
    "labels-str": lambda f: _rep(f, "/train/labels", np.array([b"1"] * 20)),
    "labels-rows+1": lambda f: _rep(f, "/train/labels", np.zeros(21, np.int64)),
    "labels-3d": lambda f: _rep(f, "/train/labels", np.zeros((20, 1, 1), np.int64)),
    "labels-scalar": lambda f: _rep(f, "/train/labels", np.int64(3)),
    "nc-1e9": lambda f: f.attrs.__setitem__("num_classes", np.int64(10 ** 9)),
    "nc--1": lambda f: f.attrs.__setitem__("num_classes", np.int64(-1)),
    "nc-0": lambda f: f.attrs.__setitem__("num_classes", np.int64(0)),
    "nc-float": lambda f: f.attrs.__setitem__("num_classes", 10.0),
    "nc-str": lambda f: f.attrs.__setitem__("num_classes", "10"),
    "nc-missing": lambda f: f.attrs.__delitem__("num_classes"),
    "nc-array2": lambda f: f.attrs.__setitem__("num_classes", np.array([10, 10], np.int64)),
    "nc-array64": lambda f: f.attrs.__setitem__("num_classes", np.full(64, 10, np.int64)),
    "nc-u64max": lambda f: f.attrs.__setitem__("num_classes", np.uint64(2 ** 64 - 1)),
    "nc-i8": lambda f: f.attrs.__setitem__("num_classes", np.int8(10)),
    "nc-5": lambda f: f.attrs.__setitem__("num_classes", np.int64(5)),
    "task-foo": lambda f: f.attrs.__setitem__("task", "foo"),
    "task-ml-1d": lambda f: f.attrs.__setitem__("task", "multi-label"),
    "task-int": lambda f: f.attrs.__setitem__("task", 3),
    "task-array": lambda f: f.attrs.__setitem__("task", np.array([b"multi-class"] * 8)),
    "name-array": lambda f: f.attrs.__setitem__("name", np.array(["a" * 40] * 64, dtype=h5py.string_dtype())),
    "source-1MB": lambda f: f.attrs.__setitem__("source", "s" * 60000),
    "images-no-labels": lambda f: _rep(f, "/val/labels"),
    "labels-no-images": lambda f: _rep(f, "/test/images"),
    "val-14x14": lambda f: _rep(f, "/val/images", f["/val/images"][:, :14, :14]),
    "no-splits": lambda f: [_rep(f, "/" + s) for s in SPLITS],
    "train-is-dataset": lambda f: (_rep(f, "/train"), _rep(f, "/train", np.zeros(3))),
    "images-is-group": lambda f: (_rep(f, "/train/images"), f.create_group("/train/images")),
    "images-softlink": lambda f: (_rep(f, "/test/images"), f.__setitem__("/test/images", h5py.SoftLink("/val/images"))),
    "images-dangling": lambda f: (_rep(f, "/test/images"), f.__setitem__("/test/images", h5py.SoftLink("/nowhere"))),
    "images-external": lambda f: (_rep(f, "/test/images"), f.__setitem__("/test/images", h5py.ExternalLink("gone.h5", "/x"))),
    "huge-chunked": lambda f: (_rep(f, "/train/images", shape=(10 ** 7, 28, 28, 1), dtype=np.uint8, chunks=(1, 28, 28, 1), compression="gzip"),
                               _rep(f, "/train/labels", shape=(10 ** 7,), dtype=np.int64, chunks=(1000,))),
    "huge-contiguous": lambda f: (_rep(f, "/val/images", shape=(10 ** 9, 28, 28, 1), dtype=np.uint8),
                                  _rep(f, "/val/labels", shape=(10 ** 9,), dtype=np.int64)),
    "partly-written": lambda f: (_rep(f, "/train/images", shape=(2000, 28, 28, 1), dtype=np.uint8, chunks=(20, 28, 28, 1)),
                                 _rep(f, "/train/labels", np.zeros(2000, np.int64))),
    "lzf": lambda f: _rep(f, "/train/images", f["/train/images"][...], compression="lzf"),
    "fletcher32": lambda f: _rep(f, "/val/images", f["/val/images"][...], fletcher32=True, chunks=(4, 28, 28, 1)),
}


def fam_h5_structure(rng, d, B, i):
    tag = sorted(H5_VARIANTS)[i % len(H5_VARIANTS)]
    p = shutil.copy(B.h5py_plain, f"{d}/in.h5")
    with h5py.File(p, "r+") as f:
        H5_VARIANTS[tag](f)
    return C(p, "h5", tag, strict=tag in ("labels-i16", "nc-i8", "images-softlink", "source-1MB"))


def setl(a, key, val, row=0, col=0):
    a[key] = a[key].astype(np.int64) if np.asarray(val).dtype.kind == "i" else a[key].astype(np.asarray(val).dtype)
    a[key][row, col] = val


ABSURD = {  # name: (base, mutation, strict)
    "train-label--1": ("gray", lambda a: setl(a, "train_labels", -1), 0),
    "train-label-2**62": ("gray", lambda a: setl(a, "train_labels", 2 ** 62, 5), 0),
    "train-label-100000": ("gray", lambda a: setl(a, "train_labels", 100000), 0),
    "train-label-99999": ("gray", lambda a: setl(a, "train_labels", 99999), 1),
    "val-label-unseen": ("gray", lambda a: setl(a, "val_labels", 10, 3), 0),
    "test-label--5": ("rgb", lambda a: setl(a, "test_labels", -5, 19), 0),
    "labels-u64-2**63": ("gray", lambda a: setl(a, "train_labels", np.uint64(2 ** 63 + 1)), 0),
    "all-train-negative": ("gray", lambda a: a.__setitem__("train_labels", -a["train_labels"] - 1), 0),
    "ml-label-2": ("ml", lambda a: setl(a, "train_labels", 2, 0, 2), 0),
    "ml-val-label--1": ("ml", lambda a: setl(a, "val_labels", -1, 1, 1), 0),
    "zero-row-train": ("gray", lambda a: a.update(train_images=a["train_images"][:0], train_labels=a["train_labels"][:0]), 0),
    "zero-row-val": ("rgb", lambda a: a.update(val_images=a["val_images"][:0], val_labels=a["val_labels"][:0]), 0),
    "images-h0": ("gray", lambda a: [a.__setitem__(f"{s}_images", a[f"{s}_images"][:, :0]) for s in SPLITS], 0),
    "images-w0-rgb": ("rgb", lambda a: [a.__setitem__(f"{s}_images", a[f"{s}_images"][:, :, :0]) for s in SPLITS], 0),
    "labels-L0": ("gray", lambda a: [a.__setitem__(f"{s}_labels", a[f"{s}_labels"][:, :0]) for s in SPLITS], 0),
    "images-1x1": ("gray", lambda a: [a.__setitem__(f"{s}_images", a[f"{s}_images"][:, 10:11, 10:11].copy()) for s in SPLITS], 1),
    "val-1-row": ("gray", lambda a: a.update(val_images=a["val_images"][:1], val_labels=a["val_labels"][:1]), 1),
    "labels-i8-neg": ("gray", lambda a: a.__setitem__("test_labels", -a["test_labels"].astype(np.int8) - 1), 0),
}


def fam_absurd(rng, d, B, i):
    names = sorted(ABSURD)
    fmt = ("npz", "npz", "h5", "idx")[(i // len(names)) % 4]
    tag = names[i % len(names)]
    base, fn, strict = ABSURD[tag]
    a = arrays(B, base)
    fn(a)
    if fmt == "npz":
        path = write_zip(f"{d}/in.npz", members(a), rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    elif fmt == "h5" and min(a[f"{s}_images"].shape[0] for s in SPLITS) > 0 and a["train_images"].ndim == 3:
        ml = base == "ml"
        path = write_h5(f"{d}/in.h5", a, nc=3 if ml else 10, task="multi-label" if ml else "multi-class")
    else:
        fmt = "idx"
        ok = base == "gray" and a["train_labels"].shape[1:] == (1,) and a["train_images"].ndim == 3
        if ok and a["train_labels"].min() >= 0 and a["train_labels"].max() < 256 and a["test_labels"].min() >= 0:
            path = write_idx(f"{d}/idx", idx_files(a), rng.random() < 0.5)
        else:  # a value IDX cannot hold: test-label 200 (unseen in train; docs: refused)
            a = arrays(B, "gray")
            a["test_labels"][0, 0] = 200 if rng.random() < 0.5 else 9
            tag += "->test-label-" + str(a["test_labels"][0, 0])
            strict = a["test_labels"][0, 0] == 9
            path = write_idx(f"{d}/idx", idx_files(a), rng.random() < 0.5)
    return C(path, fmt, f"{fmt}/{tag}", bool(strict))


def patch_zip(data, fn):
    """fn(buffer, local_offsets, central_offsets) edits a zip in place."""
    b = bytearray(data)
    loc = [i for i in range(len(b) - 4) if b[i:i + 4] == b"PK\x03\x04"]
    cen = [i for i in range(len(b) - 4) if b[i:i + 4] == b"PK\x01\x02"]
    fn(b, loc, cen)
    return bytes(b)


def zip_variants(rng, d, B, a):
    ms = members(a)
    std = lambda: open(write_zip(f"{d}/t.npz", ms), "rb").read()
    setflag = lambda b, o, off: struct.pack_into("<H", b, o + off, struct.unpack_from("<H", b, o + off)[0] | 1)
    return {
        "bzip2": lambda: write_zip(f"{d}/in.npz", ms, zipfile.ZIP_BZIP2),
        "lzma": lambda: write_zip(f"{d}/in.npz", ms, zipfile.ZIP_LZMA),
        "encrypted-both": lambda: put(f"{d}/in.npz", patch_zip(std(), lambda b, l, c: [setflag(b, o, 6) for o in l] + [setflag(b, o, 8) for o in c])),
        "encrypted-local": lambda: put(f"{d}/in.npz", patch_zip(std(), lambda b, l, c: setflag(b, l[1], 6))),
        "encrypted-central": lambda: put(f"{d}/in.npz", patch_zip(std(), lambda b, l, c: setflag(b, c[0], 8))),
        "method-mismatch": lambda: put(f"{d}/in.npz", patch_zip(std(), lambda b, l, c: struct.pack_into("<H", b, l[0] + 8, 8))),
        "size-lie": lambda: put(f"{d}/in.npz", patch_zip(std(), lambda b, l, c: struct.pack_into("<I", b, c[1] + 24, 5000))),
        "dup-same": lambda: write_zip(f"{d}/in.npz", ms + ms[1:2]),
        "dup-different": lambda: write_zip(f"{d}/in.npz", ms + [("train_labels.npy", a["train_labels"][::-1].copy())]),
        "dotdot-train": lambda: write_zip(f"{d}/in.npz", [("../" + n, v) for n, v in ms]),
        "dotdot-extra": lambda: write_zip(f"{d}/in.npz", ms + [("../evil.npy", b"junk"), ("/abs/evil.npy", b"x")]),
        "subdir-names": lambda: write_zip(f"{d}/in.npz", [("data/" + n, v) for n, v in ms]),
        "upper-NPY": lambda: write_zip(f"{d}/in.npz", [(n.upper().replace("TRAIN", "train"), v) for n, v in ms]),
        "no-members": lambda: write_zip(f"{d}/in.npz", []),
        "PK-junk": lambda: put(f"{d}/in.npz", b"PK\x03\x04" + rng.randbytes(rng.randint(0, 3000))),
        "random-bytes": lambda: put(f"{d}/in.npz", rng.randbytes(rng.randint(1, 3000))),
        "gzip-as-npz": lambda: put(f"{d}/in.npz", gzip.compress(open(B.npz["gray"], "rb").read())),
        "h5-named-npz": lambda: shutil.copy(B.h5["gray"], f"{d}/in.npz"),
        "npz-named-h5": lambda: shutil.copy(B.npz["rgb"], f"{d}/in.h5"),
        "comment": lambda: put(f"{d}/in.npz", std()[:-2] + struct.pack("<H", 11) + b"hello world"),
        "eocd-only": lambda: put(f"{d}/in.npz", std()[-22:]),
    }


def fam_zip(rng, d, B, i):
    name = rng.choice(["gray", "rgb", "ml"])
    vs = zip_variants(rng, d, B, arrays(B, name))
    tag = sorted(vs)[i % len(vs)]
    path = vs[tag]()
    return C(path, "h5" if path.endswith(".h5") else "npz", f"{name}/{tag}", strict=tag == "dotdot-extra")


FS = ["symlink-npz", "symlink-h5", "symlink-idx-dir", "odd-name", "odd-name-broken", "dangling-symlink",
      "symlink-loop", "empty-dir", "dir-of-junk", "fifo", "fifo-h5", "symlink-to-fifo", "dev-null", "dev-zero",
      "socket", "idx-member-fifo", "idx-member-dir", "idx-member-dangling", "idx-member-symlink"]


def fam_filesystem(rng, d, B, i):
    tag, p, two = FS[i % len(FS)], f"{d}/in", {2}
    if tag in ("symlink-npz", "symlink-h5"):
        ext = tag[-3:].strip("-")
        os.symlink(B.npz["gray"] if ext == "npz" else B.h5["synth"], f"{p}.{ext}")
        return C(f"{p}.{ext}", ext, tag, True)
    if tag == "symlink-idx-dir":
        os.symlink(B.idx["gz"], p)
        return C(p, "idx", tag, True)
    if tag.startswith("odd-name"):
        q = f"{d}/odd name é'$.npz"
        shutil.copy(B.npz["rgb"], q) if tag == "odd-name" else put(q, b"PK\x03\x04" + rng.randbytes(100))
        return C(q, "npz", tag, True)
    if tag.startswith("idx-member"):
        out = shutil.copytree(B.idx["plain"], p)
        n = f"{out}/{rng.choice(sorted(IDX_NAMES))}"
        os.rename(n, f"{d}/moved")
        {"fifo": lambda: os.mkfifo(n), "dir": lambda: os.mkdir(n), "dangling": lambda: os.symlink(f"{d}/gone", n),
         "symlink": lambda: os.symlink(f"{d}/moved", n)}[tag.split("-")[-1]]()
        return C(out, "idx", tag, tag.endswith("symlink"), None if tag.endswith("symlink") else two)
    path = {"dev-null": "/dev/null", "dev-zero": "/dev/zero", "fifo-h5": p + ".h5"}.get(tag, p + ".npz")
    if tag == "dangling-symlink":
        os.symlink(f"{d}/nowhere.npz", path)
    elif tag == "symlink-loop":
        os.symlink(f"{d}/b.npz", path)
        os.symlink(path, f"{d}/b.npz")
    elif tag in ("empty-dir", "dir-of-junk"):
        os.mkdir(path)
        if tag == "dir-of-junk":
            put(f"{path}/train-images.txt", b"junk")
    elif tag in ("fifo", "fifo-h5"):
        os.mkfifo(path)
    elif tag == "symlink-to-fifo":
        os.mkfifo(f"{d}/fifo")
        os.symlink(f"{d}/fifo", path)
    elif tag == "socket":
        cwd = os.getcwd()
        os.chdir(d)
        socket.socket(socket.AF_UNIX).bind("in.npz")
        os.chdir(cwd)
    return C(path, "dev", tag, False, two)


FAMILIES = [("control", fam_control, 0), ("bitflip-npz", fam_bitflip_npz, 150), ("bitflip-idx", fam_bitflip_idx, 90),
            ("bitflip-h5", fam_bitflip_h5, 110), ("truncate", fam_truncate, 90), ("garbage", fam_garbage, 60),
            ("npy-header", fam_npy_header, 130), ("idx-header", fam_idx_header, 60),
            ("h5-structure", fam_h5_structure, 100), ("absurd-values", fam_absurd, 90), ("zip-level", fam_zip, 60),
            ("filesystem", fam_filesystem, 50)]
ORACLES = {"npz": npz_oracle, "h5": h5_oracle, "idx": idx_oracle}


def salm_ok(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode:
        sys.exit(f"cannot build a base: {shlex.join(argv)}: {p.stderr.strip()}")


def build_bases(args, salm, base):
    B = argparse.Namespace(arr={}, npz={}, h5={}, spans={})
    os.makedirs(base)
    for name, fn in (("gray", "fashion_gray_stored.npz"), ("gray_deflate", "fashion_gray_deflate.npz"),
                     ("rgb", "fashion_rgb_deflate.npz"), ("ml", "fashion_multilabel_stored.npz")):
        full = dict(np.load(os.path.join(args.fixtures, fn)))
        lab = full["train_labels"]  # train keeps 2 rows of every class, so that val/test labels are all seen
        rows = np.arange(20) if lab.shape[1] > 1 else np.concatenate([np.flatnonzero(lab[:, 0] == c)[:2] for c in range(10)])
        B.arr[name] = {k: (v[rows] if k.startswith("train") else v[:20]) if k in KNOWN else v for k, v in full.items()}
        B.npz[name] = f"{base}/{name}.npz"
        (np.savez_compressed if "deflate" in fn else np.savez)(B.npz[name], **B.arr[name])
        with zipfile.ZipFile(B.npz[name]) as z:
            B.spans[name] = [(i.header_offset, i.header_offset + 200) for i in z.infolist()] + [(z.start_dir, os.path.getsize(B.npz[name]))]
    files = idx_files(B.arr["gray"])
    B.idx = {"plain": write_idx(f"{base}/idx-plain", files, False), "gz": write_idx(f"{base}/idx-gz", files, True)}
    salm_ok([salm, "synth", "--out", f"{base}/synth.h5", "--classes", "3", "--train", "40", "--val", "10", "--test", "10", "--size", "16"])
    B.h5["synth"] = f"{base}/synth.h5"
    for name in ("gray", "ml"):
        salm_ok([salm, "convert", "--in", B.npz[name], "--out", f"{base}/{name}.h5"])
        B.h5[name] = f"{base}/{name}.h5"
    B.h5["h5py-gzip"] = write_h5(f"{base}/h5py-gzip.h5", B.arr["gray"], compression="gzip")
    B.h5py_plain = write_h5(f"{base}/h5py-plain.h5", B.arr["gray"])
    B.controls = build_controls(B, base)
    return B


def compare(out, expect):
    splits, nc = expect
    with h5py.File(out, "r") as f:
        if sorted(k for k in f if k in SPLITS) != sorted(splits):
            return f"convert wrote splits {sorted(f)}, the oracle reads {sorted(splits)}"
        for s, (im, lb) in splits.items():
            if not np.array_equal(f[f"/{s}/images"][...], im) or not np.array_equal(f[f"/{s}/labels"][...].reshape(lb.shape), lb):
                return f"convert wrote other {s} data than the oracle reads"
        if int(f.attrs["num_classes"]) != nc:
            return f"num_classes {f.attrs['num_classes']}, the oracle says {nc}"
    return None


def check_run(case, cmd, argv, outdir, allowed):
    for attempt in range(60):  # the binary may be being replaced by a rebuild: wait for it
        t0 = time.time()
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
            break
        except subprocess.TimeoutExpired as e:
            rc, err = None, (e.stderr or b"").decode("utf-8", "replace")
            break
        except OSError:
            time.sleep(2)
    else:
        raise SystemExit(f"cannot run {argv[0]}")
    secs, lines, probs = time.time() - t0, err.splitlines(), []
    errs = [l for l in lines if l.startswith("salm: error:")]
    noise = [l for l in lines if any(n in l.lower() for n in NOISE)]
    out = f"{outdir}/OUT.h5" if outdir else None
    if rc is None:
        probs.append("hang: killed after 20 s")
    elif rc < 0 or rc > 128:
        probs.append(f"killed by signal {-rc if rc < 0 else rc - 128}")
    elif rc not in allowed:
        probs.append(f"exit {rc}, expected {'|'.join(map(str, sorted(allowed)))}" + (f" (oracle: {case['reason']})" if case["reason"] else ""))
    if rc != 0:
        base = os.path.basename(case["path"].rstrip("/"))
        if len(errs) != 1:
            probs.append(f"{len(errs)} 'salm: error:' lines")
        elif case["path"] not in errs[0] and base not in errs[0]:
            probs.append("the error line does not name the input")
        if len(noise) > len(errs):
            probs.append("more error text on stderr than the one line")
        if outdir and os.listdir(outdir):
            probs.append(f"left {sorted(os.listdir(outdir))} after a failure")
    else:
        if noise:
            probs.append("error text on stderr despite exit 0")
        if out and (not os.path.isfile(out) or os.path.exists(out + ".partial")):
            probs.append("exit 0 but no OUT, or OUT.partial left")
        elif cmd == "convert" and case["expect"]:
            why = compare(out, case["expect"])
            probs += [why] if why else []
    return dict(case=case, cmd=cmd, argv=argv, rc=rc, secs=secs, probs=probs, first=(errs or lines or [""])[0])


def run_case(case, salm):
    res, d = [], case["dir"]
    os.mkdir(f"{d}/out-convert")
    res.append(check_run(case, "convert", [salm, "convert", "--in", case["path"], "--out", f"{d}/out-convert/OUT.h5"],
                         f"{d}/out-convert", case["allowed"]))
    if case["inspect"]:
        res.append(check_run(case, "inspect", [salm, "inspect", case["path"]], None, case["allowed"]))
    if case["protect"]:
        os.mkdir(f"{d}/out-protect")
        allowed = {0} if case["family"] == "control" else {0, 2} if 0 in case["allowed"] or case["train_ok"] else {2}
        res.append(check_run(case, "protect", [salm, "protect", "--data", case["path"], "--out", f"{d}/out-protect/OUT.h5",
                                               "--model", "small-cnn", "--pgd-steps", "1", "--train-steps", "1", "--max-iters", "1",
                                               "--batch-size", "16", "--stop-acc", "0", "--no-checkpoint", "--threads", "1"],
                             f"{d}/out-protect", allowed))
    if not any(r["probs"] for r in res):
        shutil.rmtree(d, ignore_errors=True)
    return res


def table(rows, md):
    head = ["family", "cases", "runs", "exit 0 (expected)", "exit 2", "other/unexpected", "seconds"]
    if md:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(map(str, r)) + " |" for r in rows])
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(str(x).rjust(n) if j else str(x).ljust(n) for j, (x, n) in enumerate(zip(r, w))) for r in [head] + rows)


def main():
    ap = argparse.ArgumentParser(description="Runs >= 1,000 malformed inputs through salm (see the module docstring).")
    ap.add_argument("--salm", required=True)
    ap.add_argument("--fixtures", default="/work/shared/fixtures")
    ap.add_argument("--work", help="keep the failing cases here (must be empty); default: a temporary directory")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--summary-md")
    ap.add_argument("--inspect-every", type=int, default=1, help="inspect every K-th npz/h5 case (0: never)")
    ap.add_argument("--protect", type=int, default=30, help="h5 cases also run through a one-step salm protect")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    salm, t0 = os.path.abspath(args.salm), time.time()
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="salm-malformed-")
    os.makedirs(work, exist_ok=True)
    if os.listdir(work):
        sys.exit(f"--work {work} is not empty")
    B = build_bases(args, salm, f"{work}/base")
    total_w = sum(w for _, _, w in FAMILIES)
    cases = []
    for fam, gen, w in FAMILIES:
        n = len(B.controls) if fam == "control" else -(-max(args.cases - len(B.controls), 0) * w // total_w)
        for i in range(n):
            d = f"{work}/cases/{len(cases):04d}-{fam}"
            os.makedirs(d)
            c = gen(random.Random(f"{args.seed}/{fam}/{i}"), d, B, i)
            c.update(family=fam, dir=d, reason="", expect=None, train_ok=False, protect=False)
            if c["allowed"] is None:
                ok, c["reason"], c["expect"], c["train_ok"] = forked(ORACLES[c["kind"]], c["path"])
                c["allowed"] = ({0} if c["strict"] else {0, 2}) if ok else {2}
                if fam == "control" and not ok:
                    sys.exit(f"the oracle refuses control case {c['variant']}: {c['reason']}")
            c["inspect"] = c["kind"] != "idx" and args.inspect_every > 0 and (i % args.inspect_every == 0 or fam in ("control", "filesystem"))
            cases.append(c)
    h5 = [c for c in cases if c["kind"] == "h5"]
    for c in [c for c in h5 if c["family"] == "control"] + random.Random(args.seed).sample(h5, min(len(h5), args.protect)):
        c["protect"] = sum(x["protect"] for x in cases) < args.protect or c["family"] == "control"
    print(f"{len(cases)} cases in {work} ({time.time() - t0:.0f} s to generate)", file=sys.stderr)
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for k, res in enumerate(pool.map(lambda c: run_case(c, salm), cases)):
            results += res
            if k % 100 == 99:
                print(f"  {k + 1}/{len(cases)} cases, {time.time() - t0:.0f} s", file=sys.stderr)
    rows = []
    for fam, _, _ in FAMILIES + [("total", None, None)]:
        rs = [r for r in results if fam in ("total", r["case"]["family"])]
        good = [r for r in rs if not r["probs"]]
        rows.append([fam, len({id(r["case"]) for r in rs}), len(rs), sum(r["rc"] == 0 for r in good),
                     sum(r["rc"] == 2 for r in good), len(rs) - len(good), f"{sum(r['secs'] for r in rs):.0f}"])
    print(table(rows, False))
    print(f"wall time {time.time() - t0:.0f} s, {args.jobs} jobs, seed {args.seed}")
    if args.summary_md:
        put(args.summary_md, (table(rows, True) + "\n").encode())
    bad = [r for r in results if r["probs"]]
    if args.work:  # every run, for reproducing and auditing the expectations
        put(f"{work}/runs.tsv", "".join(f"{r['case']['family']}\t{r['case']['variant']}\t{r['cmd']}\t{r['rc']}\t"
                                        f"{sorted(r['case']['allowed'])}\t{r['case']['reason']}\t{'; '.join(r['probs'])}\t"
                                        f"{r['first'][:300]}\t{shlex.join(r['argv'])}\n" for r in results).encode())
    for r in bad[:40]:
        c = r["case"]
        print(f"FAIL {c['family']}/{c['variant']}: {shlex.join(r['argv'])} -> exit {r['rc']}: {'; '.join(r['probs'])} | {r['first'][:200]}")
    if len(bad) > 40:
        print(f"... and {len(bad) - 40} more failing runs")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    elif bad:
        print(f"failing inputs kept under {work}/cases")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
