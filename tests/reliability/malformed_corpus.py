#!/usr/bin/python3
"""Malformed-input corpus: >= 1,000 damaged datasets run end to end through the salm binary.

Bases: the fixtures (--fixtures) cut to 20 rows per split (train: 2 of each class) and written
back with np.savez / np.savez_compressed; an IDX directory (plain and .gz) of the same rows; salm
.h5 datasets from `salm synth` and `salm convert`, and some written with h5py. Families
(deterministic from --seed; --cases is spread over them by weight):

  control        the bases and documented-valid variants (v2/v3 npy headers, big-endian or uint8
                 labels, [N,H,W,1] images, multi-member .gz, chunked h5): must exit 0
  bitflip-*      1..8 flipped bits in npz (stored, deflated), IDX (plain, .gz) and salm .h5 files
  truncate       npz, IDX (plain, .gz) and .h5 files cut at a random length (or to 0 bytes)
  garbage        random bytes (or zeros) appended to npz, IDX (plain, .gz) and .h5 files
  npy-header     lying .npy headers: shape vs data, dtypes ('<f8' '>u2' '|b1' 'O' '<U3'),
                 fortran_order, missing / extra / duplicate keys, not a dict, bad version, length
  idx-header     IDX magic, element type, dimension count and sizes that lie
  h5-structure   h5py-written datasets: wrong shapes, types, links; num_classes 1e9, -1, 0, float,
                 array; bad task/name attributes; huge declared sizes; h5py-only filters
  absurd-values  labels -1, 2**62, 100000, outside train's classes; zero-row splits; 0-size images
  zip-level      bzip2 / lzma members, encrypted flag, duplicate and '../' names, empty zip, not a zip
  filesystem     symlinks (valid: exit 0), dangling / looping symlinks, directories, FIFOs,
                 /dev/null, /dev/zero, a socket, IDX members that are not regular files

Each case runs `salm convert --in CASE --out OUT.h5`, `salm inspect CASE` (npz/h5 cases, every
--inspect-every-th) and, for --protect h5 cases, a one-step `salm protect`. The expected exit code
comes from an oracle run in a forked child (so that an h5py crash or hang cannot take the harness
down): zipfile (CRC-32) + numpy.lib.format, h5py, or a Python IDX reader, chosen by the file's
magic bytes as salm does, plus the documented rules of docs/datasets.md. Invalid -> 2 only;
valid -> 0, or 0|2 where the file is damaged but readable, or outside what the docs promise.
Rules checked on every run:
  * no signal, no hang (20 s), an exit code in the allowed set;
  * on failure exactly one stderr line `salm: error: ...` naming the input (path or basename), no
    other error/traceback/HDF5-DIAG text, and nothing (OUT.h5, OUT.h5.partial, ...) left in the
    command's fresh output directory;
  * on success no error text, OUT.h5 and no OUT.h5.partial, and what convert wrote equals what the
    oracle read (splits, images, labels, num_classes).
Exit status 0 only if every run met the rules. With --work, failing cases stay there and every
run is listed in WORK/runs.tsv; the default work directory is temporary and removed.
"""
import argparse, concurrent.futures, gzip, io, os, pickle, random, select, shlex, shutil, socket
import struct, subprocess, sys, tempfile, time, warnings, zipfile, zlib
import h5py
import numpy as np

SPLITS = ("train", "val", "test")
KNOWN = {f"{s}_{k}" for s in SPLITS for k in ("images", "labels")}
NOISE = ("error", "traceback", "terminate called", "hdf5-diag", "assertion", "segmentation", "core dumped")
IDX_NAMES = {"train-images-idx3-ubyte": "train_images", "train-labels-idx1-ubyte": "train_labels",
             "t10k-images-idx3-ubyte": "test_images", "t10k-labels-idx1-ubyte": "test_labels"}


class Bad(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Bad(why)


# ------------------------------------------------------------------------------------- oracles
def label_rules(splits, nc, task, ldim, only=None):
    """salm's check_labels: splits = {split: (images, int64 labels [N, L])}."""
    for s, (_, lb) in splits.items():
        if only in (None, s) and task == "multi-label":
            need(ldim == nc and np.isin(lb, (0, 1)).all(), f"{s}: multi-label labels not 0/1 of {nc}")
        elif only in (None, s):
            need(ldim <= 1 and ((lb >= 0) & (lb < nc)).all(), f"{s}: labels outside [0, {nc})")


def npz_oracle(path):
    arrays, fortran = {}, {}
    with zipfile.ZipFile(path) as z:
        need(len(set(z.namelist())) == len(z.namelist()), "duplicate member names")
        need(not any(i.flag_bits & 1 for i in z.infolist()), "encrypted member")
        for info in z.infolist():
            key = info.filename[:-4]
            if info.filename.endswith(".npy") and key in KNOWN:
                fp = io.BytesIO(z.read(info))  # the CRC-32 is checked here
                shape, fortran[key], dtype = np.lib.format._read_array_header(fp, np.lib.format.read_magic(fp))
                need(dtype.kind != "O" and len(fp.getvalue()) == fp.tell() + int(np.prod(shape)) * dtype.itemsize,
                     f"{key}: object dtype, or header vs member size")
                arrays[key] = np.lib.format.read_array(io.BytesIO(fp.getvalue()), allow_pickle=False)
    splits = {}
    for s in SPLITS:
        im, lb = arrays.get(s + "_images"), arrays.get(s + "_labels")
        if im is None and lb is None:
            continue
        need(im is not None and lb is not None, f"{s}: images without labels or labels without images")
        need(im.dtype == np.uint8 and not fortran[s + "_images"], f"{s}: images not C-ordered uint8")
        im = im[..., None] if im.ndim == 3 else im
        need(im.ndim == 4 and im.shape[3] in (1, 3) and min(im.shape[:3]) > 0, f"{s}: images {im.shape}")
        need(lb.ndim in (1, 2) and lb.shape[0] == im.shape[0] and (lb.ndim == 1 or lb.shape[1] >= 1), f"{s}: labels {lb.shape}")
        need(not (fortran[s + "_labels"] and lb.ndim == 2 and lb.shape[1] > 1), f"{s}: Fortran labels")
        need(lb.dtype.kind in "iub" and lb.dtype.itemsize in (1, 2, 4, 8), f"{s}: label dtype {lb.dtype}")
        splits[s] = (im, lb.astype(np.int64).reshape(im.shape[0], -1))
    need("train" in splits, "no train split")
    need(len({(im.shape[1:], lb.shape[1]) for im, lb in splits.values()}) == 1, "splits differ in shape")
    ldim = splits["train"][1].shape[1]
    nc = ldim if ldim > 1 else int(splits["train"][1].max()) + 1
    need(1 <= nc <= 100000, f"{nc} classes")  # docs: a label of 100,000 or more is damage
    label_rules(splits, nc, "multi-label" if ldim > 1 else "multi-class", ldim if ldim > 1 else 0)
    return splits, nc


def idx_oracle(d):
    arr = {}
    for name, key in IDX_NAMES.items():
        p = f"{d}/{name}" if os.path.isfile(f"{d}/{name}") else f"{d}/{name}.gz"
        need(os.path.isfile(p), f"no {name}[.gz]")
        raw, nd = open(p, "rb").read(), 3 if "images" in name else 1
        raw = gzip.decompress(raw) if p.endswith(".gz") else raw
        need(len(raw) >= 4 + 4 * nd and raw[:4] == bytes([0, 0, 8, nd]), f"{name}: magic")
        dims = struct.unpack(f">{nd}I", raw[4:4 + 4 * nd])
        need(all(dims[1:]) and int(np.prod(dims, dtype=object)) < 2 ** 36, f"{name}: dims {dims}")
        need(len(raw) == 4 + 4 * nd + int(np.prod(dims, dtype=object)), f"{name}: size vs header")
        arr[key] = np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)
    splits = {s: (arr[s + "_images"][..., None], arr[s + "_labels"].astype(np.int64)[:, None]) for s in ("train", "test")}
    for s, (im, lb) in splits.items():  # docs: splits of zero rows are refused
        need(len(im) == len(lb) and len(im) > 0 and im.shape[1:] == splits["train"][0].shape[1:], f"{s}: shapes")
    nc = int(splits["train"][1].max()) + 1  # docs: a test label never seen in train is refused
    label_rules(splits, nc, "multi-class", 0)
    return splits, nc


def h5_attr(f, name, integer):
    if name not in f.attrs:
        return None
    dt = f.attrs.get_id(name).dtype
    need(f.attrs.get_id(name).shape in ((), None), f"attribute {name} is not a scalar")
    if integer:
        need(dt.kind in "iu" and h5py.check_enum_dtype(dt) is None, f"{name} is not an integer")
        return min(int(f.attrs[name]), 2 ** 63 - 1)
    v = f.attrs[name] if h5py.check_string_dtype(dt) else None
    return v.decode() if isinstance(v, bytes) else v


def h5_oracle(path):
    with h5py.File(path, "r") as f:
        meta = {}
        for s in SPLITS:
            have = [s in f and isinstance(f[s], h5py.Group) and k in f[s] for k in ("images", "labels")]
            if not any(have):
                continue
            need(all(have), f"{s}: images without labels or labels without images")
            di, dl = f[s]["images"], f[s]["labels"]
            need(isinstance(di, h5py.Dataset) and isinstance(dl, h5py.Dataset), f"{s}: not datasets")
            need(di.ndim == 4 and di.shape[3] in (1, 3) and min(di.shape[:3]) > 0, f"{s}: images {di.shape}")
            need(np.prod(di.shape, dtype=float) <= max(di.id.get_storage_size(), 1) * 1000.0, f"{s}: declared > stored")
            need(di.dtype == np.uint8 and h5py.check_enum_dtype(di.dtype) is None, f"{s}: images {di.dtype}")
            need(dl.ndim in (1, 2) and dl.shape[0] == di.shape[0] and min(dl.shape[1:], default=1) > 0, f"{s}: labels {dl.shape}")
            need(dl.dtype.kind in "iu" and h5py.check_enum_dtype(dl.dtype) is None, f"{s}: labels {dl.dtype}")
            meta[s] = (di, dl, di.shape[1:] + ((dl.shape[1] if dl.ndim == 2 else 0),))
        need(meta and len({m[2] for m in meta.values()}) == 1, "no splits, or splits differ in shape")
        nc, task = h5_attr(f, "num_classes", True), h5_attr(f, "task", False)
        need(nc is not None and 1 <= nc <= 100000, f"num_classes {nc}")
        h5_attr(f, "name", False), h5_attr(f, "source", False)
        ldim = next(iter(meta.values()))[2][3]
        task = task if task is not None else "multi-label" if ldim > 0 else "multi-class"
        need(task in ("multi-class", "multi-label", "binary-class", "ordinal-regression"), f"task {task}")
        splits = {}
        for s in sorted(meta, key=lambda s: s != "train"):  # protect reads train only
            try:
                splits[s] = (meta[s][0][...], meta[s][1].astype("int64")[...].reshape(len(meta[s][0]), -1))
                label_rules(splits, nc, task, ldim, only=s)
            except (Bad, OSError) as e:
                raise Bad(str(e), s != "train" and "train" in meta)
    return splits, nc


def oracle(path):
    """(valid, reason, (splits, num_classes), train_ok), decided in a forked child."""
    def judge():
        if os.path.isdir(path):
            return idx_oracle(path)
        head = open(path, "rb").read(8)
        if head[:2] == b"PK":  # salm chooses the reader by these bytes, not by the name
            return npz_oracle(path)
        need(head == b"\x89HDF\r\n\x1a\n", "neither a zip nor an HDF5 file")
        return h5_oracle(path)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            res = (True, "", judge(), True)
        except BaseException as e:  # a bad file
            bad = isinstance(e, Bad)
            res = (False, f"{type(e).__name__}: {e.args[0] if bad else e}"[:200], None, bad and len(e.args) > 1 and e.args[1])
        os.write(w, pickle.dumps(res))
        os._exit(0)
    os.close(w)
    buf, deadline = b"", time.time() + 15
    while select.select([r], [], [], max(0.0, deadline - time.time()))[0] and (chunk := os.read(r, 1 << 20)):
        buf += chunk
    os.close(r)
    os.kill(pid, 9)  # a hung oracle (the child has exited when its pipe reached EOF)
    os.waitpid(pid, 0)
    return pickle.loads(buf) if buf else (False, "the oracle crashed or hung", None, False)


# ------------------------------------------------------------------------------------- writers
def npy(arr, header=None, version=b"\x01\x00", hlen=None):
    """A .npy member: numpy's own bytes, or `header` (a dict literal) in front of arr's bytes."""
    if header is None:
        b = io.BytesIO()
        np.lib.format.write_array(b, arr, allow_pickle=False)
        return b.getvalue()
    h = header.encode("latin1")
    h += b" " * ((-(11 + len(h))) % 64) + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(h) if hlen is None else hlen) + h + arr.tobytes(order="A")


def hdr(a, descr=None, fortran=False, shape=None):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %r, }" % (descr or a.dtype.str, fortran, tuple(a.shape if shape is None else shape))


def write_zip(path, members, method=zipfile.ZIP_STORED):
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", method) as z:
        warnings.simplefilter("ignore")  # duplicate names
        for name, data in members:
            z.writestr(name, data if isinstance(data, bytes) else npy(data))
    return path


def idx_bytes(a):
    return bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def idx_files(a):
    return {n: idx_bytes(a[k].reshape(-1) if "labels" in k else a[k]) for n, k in IDX_NAMES.items()}


def write_idx(d, files, gz):
    os.makedirs(d, exist_ok=True)
    for n, data in files.items():
        put(f"{d}/{n}.gz" if gz else f"{d}/{n}", gzip.compress(data, mtime=0) if gz else data)
    return d


def write_h5(path, a, nc=10, task="multi-class", **opts):
    with h5py.File(path, "w") as f:
        for s in SPLITS:
            im, lb = a[s + "_images"], a[s + "_labels"]
            f.create_dataset(f"/{s}/images", data=im[..., None] if im.ndim == 3 else im, **opts)
            f.create_dataset(f"/{s}/labels", data=(lb[:, 0] if lb.shape[1] == 1 else lb).astype(np.int64))
        f.attrs.update({"name": "h5py", "num_classes": nc, "task": task, "source": "h5py"})
    return path


def put(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def flip(data, rng, n, lo=0, hi=None):
    b, hi = bytearray(data), min(hi or len(data), len(data))
    for _ in range(n):
        b[rng.randrange(max(lo, 0), hi)] ^= 1 << rng.randrange(8)
    return bytes(b)


# ------------------------------------------------------------------------------------- families
def C(path, kind, variant, strict=False, allowed=None):
    """A case; strict: 0 is required when the oracle finds it valid; allowed: no oracle (FIFOs, ...)."""
    return dict(path=path, kind=kind, variant=variant, strict=strict, allowed=allowed)


def arrays(B, name):
    return {k: v.copy() for k, v in B.arr[name].items()}


def members(a):
    return [(k + ".npy", v) for k, v in a.items()]


def build_controls(B, d):
    g = arrays(B, "gray")
    items = [(B.npz[n], "npz", n) for n in B.npz] + [(B.idx[n], "idx", "idx-" + n) for n in B.idx]
    items += [(B.h5[n], "h5", "h5-" + n) for n in B.h5]
    v23 = members(g)
    for j, ver in ((0, (3, 0)), (1, (2, 0))):
        b = io.BytesIO()
        np.lib.format.write_array(b, v23[j][1], version=ver)
        v23[j] = (v23[j][0], b.getvalue())
    items.append((write_zip(f"{d}/v2v3.npz", v23), "npz", "npy-v2-v3-headers"))
    for tag, f in (("labels-1d", lambda a: a.reshape(-1)), ("labels->i8", lambda a: a.astype(">i8")),
                   ("labels-u1", lambda a: a.astype(np.uint8)), ("labels->u2", lambda a: a.astype(">u2"))):
        a = dict(g, **{f"{s}_labels": f(g[f"{s}_labels"]) for s in SPLITS})
        items.append((write_zip(f"{d}/{tag}.npz", members(a), zipfile.ZIP_DEFLATED), "npz", tag))
    a = dict(g, **{f"{s}_images": g[f"{s}_images"][..., None] for s in SPLITS})
    items += [(write_zip(f"{d}/nhw1.npz", members(a)), "npz", "images-NHW1"),
              (write_zip(f"{d}/train-only.npz", members(g)[:2]), "npz", "train-only")]
    files, n = idx_files(g), "train-images-idx3-ubyte"
    mm = write_idx(f"{d}/multimember", files, True)
    put(f"{mm}/{n}.gz", gzip.compress(files[n][:1000], mtime=0) + gzip.compress(files[n][1000:], mtime=0))
    items += [(mm, "idx", "gz-multi-member"),
              (write_h5(f"{d}/chunked.h5", g, compression="gzip", shuffle=True, chunks=(5, 28, 28, 1)), "h5", "h5-chunked"),
              (write_h5(f"{d}/ml.h5", arrays(B, "ml"), nc=3, task="multi-label"), "h5", "h5py-multi-label")]
    return items


def fam_control(rng, d, B, i):
    return C(*B.controls[i % len(B.controls)], strict=True)


def fam_bitflip_npz(rng, d, B, i):  # 60%: in a local header + npy header, or in the central directory
    name = rng.choice(sorted(B.npz))
    data = open(B.npz[name], "rb").read()
    lo, hi = rng.choice(B.spans[name]) if rng.random() < 0.6 else (0, len(data))
    return C(put(f"{d}/in.npz", flip(data, rng, rng.randint(1, 8), lo, hi)), "npz", f"{name}@{lo}")


def fam_bitflip_idx(rng, d, B, i):  # plain files: half of the flips in the IDX header
    gz = rng.random() < 0.5
    out = shutil.copytree(B.idx["gz" if gz else "plain"], f"{d}/idx")
    n = rng.choice(sorted(os.listdir(out)))
    put(f"{out}/{n}", flip(open(f"{out}/{n}", "rb").read(), rng, rng.randint(1, 8), 0, 24 if rng.random() < 0.5 and not gz else None))
    return C(out, "idx", n)


def fam_bitflip_h5(rng, d, B, i):  # superblock and object headers at the start, attributes at the end
    name = rng.choice(sorted(B.h5))
    data = open(B.h5[name], "rb").read()
    lo, hi = rng.choice([(0, 4096), (len(data) - 4096, len(data)), (0, len(data))])
    return C(put(f"{d}/in.h5", flip(data, rng, rng.randint(1, 8), lo, hi)), "h5", f"{name}@{max(lo, 0)}-{hi}")


def mutate_file(rng, d, B, fn, tag):
    kind = rng.choice(["npz", "npz", "h5", "idx-gz", "idx-plain"])
    if kind.startswith("idx"):
        out, n = shutil.copytree(B.idx[kind[4:]], f"{d}/idx"), rng.choice(sorted(IDX_NAMES))
        p = f"{out}/{n}" + (".gz" if kind == "idx-gz" else "")
        put(p, fn(open(p, "rb").read()))
        return C(out, "idx", f"{kind}/{n}/{tag}")
    name = rng.choice(sorted(B.npz if kind == "npz" else B.h5))
    src = (B.npz if kind == "npz" else B.h5)[name]
    return C(put(f"{d}/in.{kind}", fn(open(src, "rb").read())), kind, f"{kind}-{name}/{tag}")


def fam_truncate(rng, d, B, i):
    zero = rng.random() < 0.1
    return mutate_file(rng, d, B, lambda b: b[:0 if zero else rng.randrange(1, len(b))], "to-0" if zero else "cut")


def fam_garbage(rng, d, B, i):
    n = rng.randint(1, 2048)
    tail = bytes(n) if rng.random() < 0.1 else rng.randbytes(n)
    return mutate_file(rng, d, B, lambda b: b + tail, f"+{n}{'-zeros' if not any(tail) else ''}")


def npy_variants(v):
    h = lambda **k: hdr(v, **k)
    out = [("shape+1", npy(v, h(shape=(len(v) + 1,) + v.shape[1:]))), ("shape-1", npy(v, h(shape=(len(v) - 1,) + v.shape[1:]))),
           ("shape-huge", npy(v, h(shape=(2 ** 40, 2 ** 40)))), ("shape-neg", npy(v, h(shape=(-len(v),) + v.shape[1:]))),
           ("shape-float", npy(v, h().replace(f"({len(v)},", f"({len(v)}.5,", 1))), ("shape-scalar", npy(v, h(shape=()))),
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
    out += [(f"data{dt}", npy(v.astype(dt))) for dt in ("<f8", ">u2", "|b1", "<U3")]  # data of a wrong dtype
    return out + [(f"descr{dt}", npy(v, h(descr=dt))) for dt in ("<f8", ">u2", "|b1", "O", "<U3", "<u1", "=u1")]  # lies


def fam_npy_header(rng, d, B, i):
    name, key = rng.choice(["gray", "rgb", "ml"]), rng.choice(sorted(KNOWN))
    a = arrays(B, name)
    variants = npy_variants(a[key])
    tag, data = variants[i % len(variants)]
    ms = [(k, data if k == key + ".npy" else v) for k, v in members(a)]
    path = write_zip(f"{d}/in.npz", ms, rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    return C(path, "npz", f"{name}/{key}/{tag}", strict=key.endswith("labels") and tag == "data>u2")


IDX_LIES = ["magic0", "magic1", "type09", "type0d", "ndims-1", "ndims+1", "n+1", "n-1", "dim0", "dim-huge", "n-huge",
            "labels-count", "test-14x14", "missing-file", "plain-and-broken-gz"]


def fam_idx_header(rng, d, B, i):
    a, tag = arrays(B, "gray"), IDX_LIES[i % len(IDX_LIES)]
    files = idx_files(a)
    n = rng.choice(sorted(files))
    b, nd = bytearray(files[n]), files[n][3]
    edits = {"magic0": (0, 1), "magic1": (1, 8), "type09": (2, 9), "type0d": (2, 13), "ndims-1": (3, nd - 1), "ndims+1": (3, nd + 1)}
    dims = {"n+1": (0, 21), "n-1": (0, 19), "dim0": (nd - 1, 0), "dim-huge": (nd - 1, 2 ** 31), "n-huge": (0, 2 ** 32 - 1)}
    if tag in edits:
        b[edits[tag][0]] = edits[tag][1]
    if tag in dims:
        struct.pack_into(">I", b, 4 + 4 * dims[tag][0], dims[tag][1])
    files[n] = bytes(b)
    if tag == "labels-count":
        files["train-labels-idx1-ubyte"] = idx_bytes(a["train_labels"].reshape(-1)[:-3])
    if tag == "test-14x14":
        files["t10k-images-idx3-ubyte"] = idx_bytes(a["test_images"][:, :14, :14])
    out = write_idx(f"{d}/idx", files, rng.random() < 0.5)
    if tag == "missing-file":
        [os.remove(f"{out}/{n}{e}") for e in ("", ".gz") if os.path.exists(f"{out}/{n}{e}")]
    if tag == "plain-and-broken-gz":  # plain files win over .gz: this is valid, but undocumented
        write_idx(out, idx_files(a), False)
        put(f"{out}/{n}.gz", b"\x1f\x8b broken")
    return C(out, "idx", f"{n}/{tag}")


def rep(name, data=None, **kw):
    """An h5 edit: replaces `name` by data (a function of the file) or by a dataset of **kw; removes it if neither."""
    def edit(f):
        if f.get(name, getlink=True) is not None:
            value = data(f) if callable(data) else data
            del f[name]
        else:
            value = data
        if value is not None or kw:
            f.create_dataset(name, data=value, **kw)
    return edit


def attr(k, v):
    return lambda f: f.attrs.__setitem__(k, v) if v is not None else f.attrs.__delitem__(k)


def both(*edits):
    return lambda f: [e(f) for e in edits]


def link(name, target):
    return both(rep(name), lambda f: f.__setitem__(name, target))


H5_VARIANTS = {
    "images-0x0": rep("/train/images", np.zeros((20, 0, 0, 1), np.uint8)),
    "zero-rows": both(rep("/val/images", np.zeros((0, 28, 28, 1), np.uint8)), rep("/val/labels", np.zeros(0, np.int64))),
    "images-3d": rep("/train/images", lambda f: f["/train/images"][()][..., 0]),
    "images-c2": rep("/train/images", lambda f: np.repeat(f["/train/images"][()], 2, 3)),
    "images-5d": rep("/train/images", lambda f: f["/train/images"][()][..., None]),
    "images-f64": rep("/train/images", lambda f: f["/train/images"][()].astype(np.float64)),
    "images-i8": rep("/test/images", lambda f: f["/test/images"][()].astype(np.int8)),
    "images-u16": rep("/train/images", lambda f: f["/train/images"][()].astype(np.uint16)),
    "labels-f32": rep("/train/labels", lambda f: f["/train/labels"][()].astype(np.float32)),
    "labels-i16": rep("/train/labels", lambda f: f["/train/labels"][()].astype(np.int16)),
    "labels-u8": rep("/val/labels", lambda f: f["/val/labels"][()].astype(np.uint8)),
    "labels-bool": rep("/train/labels", lambda f: f["/train/labels"][()] > 4),
    "labels-str": rep("/train/labels", np.array([b"1"] * 20)),
    "labels-rows+1": rep("/train/labels", np.zeros(21, np.int64)),
    "labels-3d": rep("/train/labels", np.zeros((20, 1, 1), np.int64)),
    "labels-scalar": rep("/train/labels", np.int64(3)),
    "nc-1e9": attr("num_classes", np.int64(10 ** 9)), "nc--1": attr("num_classes", np.int64(-1)),
    "nc-0": attr("num_classes", np.int64(0)), "nc-float": attr("num_classes", 10.0), "nc-str": attr("num_classes", "10"),
    "nc-missing": attr("num_classes", None), "nc-array2": attr("num_classes", np.array([10, 10])),
    "nc-array64": attr("num_classes", np.full(64, 10)), "nc-u64max": attr("num_classes", np.uint64(2 ** 64 - 1)),
    "nc-i8": attr("num_classes", np.int8(10)), "nc-5": attr("num_classes", np.int64(5)),
    "task-foo": attr("task", "foo"), "task-ml-1d": attr("task", "multi-label"), "task-int": attr("task", 3),
    "task-array": attr("task", np.array([b"multi-class"] * 8)),
    "name-array": attr("name", np.array(["a" * 40] * 64, dtype=h5py.string_dtype())),
    "source-60k": attr("source", "s" * 60000),
    "images-no-labels": rep("/val/labels"), "labels-no-images": rep("/test/images"),
    "val-14x14": rep("/val/images", lambda f: f["/val/images"][:, :14, :14]),
    "no-splits": both(*(rep("/" + s) for s in SPLITS)),
    "train-is-dataset": both(rep("/train"), rep("/train", np.zeros(3))),
    "images-is-group": both(rep("/train/images"), lambda f: f.create_group("/train/images")),
    "images-softlink": link("/test/images", h5py.SoftLink("/val/images")),
    "images-dangling": link("/test/images", h5py.SoftLink("/nowhere")),
    "images-external": link("/test/images", h5py.ExternalLink("gone.h5", "/x")),
    "huge-chunked": both(rep("/train/images", shape=(10 ** 7, 28, 28, 1), dtype=np.uint8, chunks=(1, 28, 28, 1), compression="gzip"),
                         rep("/train/labels", shape=(10 ** 7,), dtype=np.int64, chunks=(1000,))),
    "huge-contiguous": both(rep("/val/images", shape=(10 ** 9, 28, 28, 1), dtype=np.uint8), rep("/val/labels", shape=(10 ** 9,), dtype=np.int64)),
    "partly-written": both(rep("/train/images", shape=(2000, 28, 28, 1), dtype=np.uint8, chunks=(20, 28, 28, 1)),
                           rep("/train/labels", np.zeros(2000, np.int64))),
    "lzf": rep("/train/images", lambda f: f["/train/images"][()], compression="lzf"),
    "fletcher32": rep("/val/images", lambda f: f["/val/images"][()], fletcher32=True, chunks=(4, 28, 28, 1)),
}


def fam_h5_structure(rng, d, B, i):
    tag = sorted(H5_VARIANTS)[i % len(H5_VARIANTS)]
    with h5py.File(shutil.copy(B.h5py_plain, f"{d}/in.h5"), "r+") as f:
        H5_VARIANTS[tag](f)
    return C(f"{d}/in.h5", "h5", tag, strict=tag in ("labels-i16", "nc-i8", "images-softlink", "source-60k"))


def setl(key, val, row=0, col=0):
    def edit(a):
        a[key] = a[key].astype(np.asarray(val).dtype if np.asarray(val).dtype.kind == "u" else np.int64)
        a[key][row, col] = val
    return edit


def each(what, fn):
    return lambda a: [a.__setitem__(f"{s}_{what}", fn(a[f"{s}_{what}"])) for s in SPLITS]


def rows(split, n):
    return lambda a: a.update({f"{split}_images": a[f"{split}_images"][:n], f"{split}_labels": a[f"{split}_labels"][:n]})


ABSURD = {  # name: (base, edit of the arrays, strict)
    "train-label--1": ("gray", setl("train_labels", -1), 0), "train-label-2**62": ("gray", setl("train_labels", 2 ** 62, 5), 0),
    "train-label-100000": ("gray", setl("train_labels", 100000), 0), "train-label-99999": ("gray", setl("train_labels", 99999), 1),
    "val-label-unseen": ("gray", setl("val_labels", 10, 3), 0), "test-label--5": ("rgb", setl("test_labels", -5, 19), 0),
    "labels-u64-2**63": ("gray", setl("train_labels", np.uint64(2 ** 63 + 1)), 0),
    "all-train-negative": ("gray", each("labels", lambda l: -l - 1), 0),
    "ml-label-2": ("ml", setl("train_labels", 2, 0, 2), 0), "ml-val-label--1": ("ml", setl("val_labels", -1, 1, 1), 0),
    "zero-row-train": ("gray", rows("train", 0), 0), "zero-row-val": ("rgb", rows("val", 0), 0), "val-1-row": ("gray", rows("val", 1), 1),
    "images-h0": ("gray", each("images", lambda x: x[:, :0]), 0), "images-w0-rgb": ("rgb", each("images", lambda x: x[:, :, :0]), 0),
    "labels-L0": ("gray", each("labels", lambda l: l[:, :0]), 0), "images-1x1": ("gray", each("images", lambda x: x[:, 9:10, 9:10].copy()), 1),
    "labels-i8-neg": ("gray", lambda a: a.__setitem__("test_labels", -a["test_labels"].astype(np.int8) - 1), 0),
}


def fam_absurd(rng, d, B, i):
    fmt, tag = ("npz", "h5", "idx")[i % 3], sorted(ABSURD)[(i // 3) % len(ABSURD)]
    base, edit, strict = ABSURD[tag]
    a = arrays(B, base)
    edit(a)
    gray = a["train_images"].ndim == 3
    if fmt == "h5" and min(a[f"{s}_images"].size for s in SPLITS) > 0 and gray:
        path = write_h5(f"{d}/in.h5", a, nc=3 if base == "ml" else 10, task="multi-label" if base == "ml" else "multi-class")
    elif fmt == "idx" and base == "gray" and gray and a["train_labels"].shape[1] == 1 and all(a[f"{s}_labels"].min(initial=0) >= 0 for s in SPLITS) and a["train_labels"].max(initial=0) < 256:
        path = write_idx(f"{d}/idx", idx_files(a), rng.random() < 0.5)
    elif fmt == "idx":  # a value IDX cannot hold: a test label unseen in train (200: docs say refused) or seen (9)
        a = arrays(B, "gray")
        a["test_labels"][0, 0] = label = rng.choice([200, 9])
        tag, strict, path = f"test-label-{label}", label == 9, write_idx(f"{d}/idx", idx_files(a), rng.random() < 0.5)
    else:
        fmt, path = "npz", write_zip(f"{d}/in.npz", members(a), rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    return C(path, fmt, f"{fmt}/{tag}", bool(strict))


def patch_zip(data, offset_of, fmt, value):
    """Sets a field (struct fmt, offset in the header) of every local (PK\\3\\4) or central (PK\\1\\2) header."""
    b, sig, off, which = bytearray(data), *offset_of
    heads = [i for i in range(len(b) - 4) if b[i:i + 4] == sig]
    for h in heads if which is None else [heads[which]]:
        struct.pack_into(fmt, b, h + off, value(struct.unpack_from(fmt, b, h + off)[0]))
    return bytes(b)


def fam_zip(rng, d, B, i):
    name = rng.choice(["gray", "rgb", "ml"])
    a = arrays(B, name)
    ms, out = members(a), f"{d}/in.npz"
    std = lambda: open(write_zip(f"{d}/plain.npz", ms), "rb").read()
    enc = lambda sig, off, which: lambda: put(out, patch_zip(std(), (sig, off, which), "<H", lambda v: v | 1))
    vs = {"bzip2": lambda: write_zip(out, ms, zipfile.ZIP_BZIP2), "lzma": lambda: write_zip(out, ms, zipfile.ZIP_LZMA),
          "encrypted-local": enc(b"PK\3\4", 6, 1), "encrypted-central": enc(b"PK\1\2", 8, 0),
          "encrypted-both": lambda: put(out, patch_zip(open(enc(b"PK\3\4", 6, None)(), "rb").read(), (b"PK\1\2", 8, None), "<H", lambda v: v | 1)),
          "method-mismatch": lambda: put(out, patch_zip(std(), (b"PK\3\4", 8, 0), "<H", lambda v: 8)),
          "size-lie": lambda: put(out, patch_zip(std(), (b"PK\1\2", 24, 1), "<I", lambda v: 5000)),
          "dup-same": lambda: write_zip(out, ms + ms[1:2]),
          "dup-different": lambda: write_zip(out, ms + [("train_labels.npy", a["train_labels"][::-1].copy())]),
          "dotdot-names": lambda: write_zip(out, [("../" + n, v) for n, v in ms]),
          "dotdot-extra": lambda: write_zip(out, ms + [("../evil.npy", b"junk"), ("/abs/evil.npy", b"x")]),
          "subdir-names": lambda: write_zip(out, [("data/" + n, v) for n, v in ms]),
          "upper-NPY": lambda: write_zip(out, [(n[:-3] + "NPY", v) for n, v in ms]),
          "no-members": lambda: write_zip(out, []), "eocd-only": lambda: put(out, std()[-22:]),
          "PK-junk": lambda: put(out, b"PK\3\4" + rng.randbytes(rng.randint(0, 3000))),
          "random-bytes": lambda: put(out, rng.randbytes(rng.randint(1, 3000))),
          "gzip-as-npz": lambda: put(out, gzip.compress(open(B.npz["gray"], "rb").read())),
          "h5-named-npz": lambda: shutil.copy(B.h5["gray"], out), "npz-named-h5": lambda: shutil.copy(B.npz["rgb"], f"{d}/in.h5"),
          "comment": lambda: put(out, std()[:-2] + struct.pack("<H", 11) + b"hello world")}
    tag = sorted(vs)[i % len(vs)]
    path = vs[tag]()
    return C(path, "h5" if path.endswith(".h5") else "npz", f"{name}/{tag}", strict=tag == "dotdot-extra")


FS = ["symlink-npz", "symlink-h5", "symlink-idx-dir", "odd-name", "odd-name-broken", "dangling-symlink", "symlink-loop",
      "empty-dir", "dir-of-junk", "fifo", "fifo-h5", "symlink-to-fifo", "dev-null", "dev-zero", "socket",
      "idx-member-fifo", "idx-member-dir", "idx-member-dangling", "idx-member-symlink"]


def fam_filesystem(rng, d, B, i):
    tag, p = FS[i % len(FS)], f"{d}/in"
    if tag in ("symlink-npz", "symlink-h5"):
        ext = tag[-3:].strip("-")
        os.symlink(B.npz["gray"] if ext == "npz" else B.h5["synth"], f"{p}.{ext}")
        return C(f"{p}.{ext}", ext, tag, True)
    if tag == "symlink-idx-dir":
        os.symlink(B.idx["gz"], p)
        return C(p, "idx", tag, True)
    if tag.startswith("odd-name"):  # quoting in the error line
        q = f"{d}/odd name é'$.npz"
        shutil.copy(B.npz["rgb"], q) if tag == "odd-name" else put(q, b"PK\3\4" + rng.randbytes(100))
        return C(q, "npz", tag, True)
    if tag.startswith("idx-member"):
        out = shutil.copytree(B.idx["plain"], p)
        n = f"{out}/{rng.choice(sorted(IDX_NAMES))}"
        os.rename(n, f"{d}/moved")
        {"fifo": lambda: os.mkfifo(n), "dir": lambda: os.mkdir(n), "dangling": lambda: os.symlink(f"{d}/gone", n),
         "symlink": lambda: os.symlink(f"{d}/moved", n)}[tag.split("-")[-1]]()
        return C(out, "idx", tag, True, None if tag.endswith("symlink") else {2})
    path = {"dev-null": "/dev/null", "dev-zero": "/dev/zero", "fifo-h5": p + ".h5"}.get(tag, p + ".npz")
    if tag == "dangling-symlink":
        os.symlink(f"{d}/nowhere.npz", path)
    elif tag == "symlink-loop":
        os.symlink(f"{d}/b.npz", path), os.symlink(path, f"{d}/b.npz")
    elif tag in ("empty-dir", "dir-of-junk"):
        os.mkdir(path)
        put(f"{path}/train-images.txt", b"junk") if tag == "dir-of-junk" else None
    elif tag in ("fifo", "fifo-h5"):
        os.mkfifo(path)
    elif tag == "symlink-to-fifo":
        os.mkfifo(f"{d}/fifo"), os.symlink(f"{d}/fifo", path)
    elif tag == "socket":  # bound by a relative name: a socket path is limited to 108 bytes
        cwd = os.getcwd()
        os.chdir(d), socket.socket(socket.AF_UNIX).bind("in.npz"), os.chdir(cwd)
    return C(path, "dev", tag, False, {2})


FAMILIES = [("control", fam_control, 0), ("bitflip-npz", fam_bitflip_npz, 150), ("bitflip-idx", fam_bitflip_idx, 90),
            ("bitflip-h5", fam_bitflip_h5, 110), ("truncate", fam_truncate, 90), ("garbage", fam_garbage, 60),
            ("npy-header", fam_npy_header, 130), ("idx-header", fam_idx_header, 60), ("h5-structure", fam_h5_structure, 100),
            ("absurd-values", fam_absurd, 90), ("zip-level", fam_zip, 60), ("filesystem", fam_filesystem, 50)]


# ------------------------------------------------------------------------------------- running
def synthetic_fixture(fn):
    """Where the fixtures are absent (a clone outside the workspace): arrays of the same layout
    (MedMNIST keys, 28x28 grey or RGB uint8, int64 labels [N,1] of 10 classes or [N,3] multi-label)."""
    rng = np.random.default_rng(zlib.crc32(fn.encode()))
    out = {}
    for s in SPLITS:
        n = 40
        out[f"{s}_images"] = rng.integers(0, 256, (n, 28, 28, 3) if "rgb" in fn else (n, 28, 28), dtype=np.uint8)
        out[f"{s}_labels"] = (rng.integers(0, 2, (n, 3), dtype=np.int64) if "multilabel" in fn
                              else (np.arange(n) % 10).reshape(n, 1).astype(np.int64))
    return out


def build_bases(args, salm, base):
    if not os.path.isdir(args.fixtures):
        print(f"note: no fixtures in {args.fixtures}: bases of the same layout are generated instead", flush=True)
    B = argparse.Namespace(arr={}, npz={}, h5={}, spans={})
    os.makedirs(base)
    for name, fn in (("gray", "fashion_gray_stored.npz"), ("gray_deflate", "fashion_gray_deflate.npz"),
                     ("rgb", "fashion_rgb_deflate.npz"), ("ml", "fashion_multilabel_stored.npz")):
        path = os.path.join(args.fixtures, fn)
        full = dict(np.load(path)) if os.path.exists(path) else synthetic_fixture(fn)
        lab = full["train_labels"]  # train keeps 2 rows of every class, so that val/test labels are all seen
        keep = np.arange(20) if lab.shape[1] > 1 else np.concatenate([np.flatnonzero(lab[:, 0] == c)[:2] for c in range(10)])
        B.arr[name] = {k: (v[keep] if k.startswith("train") else v[:20]) if k in KNOWN else v for k, v in full.items()}
        B.npz[name] = f"{base}/{name}.npz"
        (np.savez_compressed if "deflate" in fn else np.savez)(B.npz[name], **B.arr[name])
        with zipfile.ZipFile(B.npz[name]) as z:
            B.spans[name] = [(i.header_offset, i.header_offset + 200) for i in z.infolist()] + [(z.start_dir, 1 << 30)]
    files = idx_files(B.arr["gray"])
    B.idx = {"plain": write_idx(f"{base}/idx-plain", files, False), "gz": write_idx(f"{base}/idx-gz", files, True)}
    B.h5 = {"synth": f"{base}/synth.h5", "gray": f"{base}/gray.h5", "ml": f"{base}/ml.h5"}
    for argv in (["synth", "--out", B.h5["synth"], "--classes", "3", "--train", "40", "--val", "10", "--test", "10", "--size", "16"],
                 ["convert", "--in", B.npz["gray"], "--out", B.h5["gray"]], ["convert", "--in", B.npz["ml"], "--out", B.h5["ml"]]):
        p = subprocess.run([salm] + argv, capture_output=True, text=True, timeout=60)
        if p.returncode:
            sys.exit(f"cannot build a base: salm {shlex.join(argv)}: {p.stderr.strip()}")
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
            if not np.array_equal(f[s]["images"][()], im) or not np.array_equal(f[s]["labels"][()].reshape(lb.shape), lb):
                return f"convert wrote other {s} data than the oracle reads"
        return None if int(f.attrs["num_classes"]) == nc else f"num_classes {f.attrs['num_classes']}, the oracle says {nc}"


def check_run(case, cmd, argv, outdir, allowed):
    for _ in range(60):  # the binary may be being replaced by a rebuild: wait for it
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
    if rc is None:
        probs.append("hang: killed after 20 s")
    elif rc < 0 or rc > 128:
        probs.append(f"killed by signal {-rc if rc < 0 else rc - 128}")
    elif rc not in allowed:
        probs.append(f"exit {rc}, expected {'|'.join(map(str, sorted(allowed)))}" + (f" (oracle: {case['reason']})" if case["reason"] else ""))
    if rc != 0:
        if len(errs) != 1:
            probs.append(f"{len(errs)} 'salm: error:' lines")
        elif case["path"] not in errs[0] and os.path.basename(case["path"].rstrip("/")) not in errs[0]:
            probs.append("the error line does not name the input")
        if len(noise) > len(errs):
            probs.append("more error text on stderr than the one line")
        if outdir and os.listdir(outdir):
            probs.append(f"left {sorted(os.listdir(outdir))} after a failure")
    elif noise:
        probs.append("error text on stderr despite exit 0")
    elif outdir and (not os.path.isfile(f"{outdir}/OUT.h5") or os.path.exists(f"{outdir}/OUT.h5.partial")):
        probs.append("exit 0 but no OUT.h5, or OUT.h5.partial left")
    elif cmd == "convert" and case["expect"]:
        try:
            probs += [why for why in [compare(f"{outdir}/OUT.h5", case["expect"])] if why]
        except Exception as e:  # salm said 0 but wrote something h5py cannot read
            probs.append(f"exit 0 but OUT.h5 is unreadable: {e}")
    return dict(case=case, cmd=cmd, argv=argv, rc=rc, secs=secs, probs=probs, first=(errs or lines or [""])[0])


def run_case(case, salm):
    d, res = case["dir"], []
    protect = ["--model", "small-cnn", "--pgd-steps", "1", "--train-steps", "1", "--max-iters", "1", "--batch-size", "16",
               "--stop-acc", "0", "--no-checkpoint", "--threads", "1"]
    for cmd in ("convert", "inspect", "protect"):
        if cmd == "inspect" and case["inspect"]:
            res.append(check_run(case, cmd, [salm, cmd, case["path"]], None, case["allowed"]))
        elif cmd == "convert" or (cmd == "protect" and case["protect"]):
            os.mkdir(f"{d}/out-{cmd}")
            io_args = ["--in" if cmd == "convert" else "--data", case["path"], "--out", f"{d}/out-{cmd}/OUT.h5"]
            allowed = case["allowed"] if cmd == "convert" else {0} if case["family"] == "control" else \
                {0, 2} if 0 in case["allowed"] or case["train_ok"] else {2}  # protect reads train only
            res.append(check_run(case, cmd, [salm, cmd] + io_args + (protect if cmd == "protect" else []), f"{d}/out-{cmd}", allowed))
    if not any(r["probs"] for r in res):
        shutil.rmtree(d, ignore_errors=True)
    return res


def table(rows, md):
    head = ["family", "cases", "runs", "exit 0 (expected)", "exit 2", "other/unexpected", "seconds"]
    if md:
        return "\n".join("| " + " | ".join(map(str, r)) + " |" for r in [head, ["---"] * len(head)] + rows)
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(str(x).rjust(n) if j else str(x).ljust(n) for j, (x, n) in enumerate(zip(r, w))) for r in [head] + rows)


def main():
    ap = argparse.ArgumentParser(description="Runs >= 1,000 malformed inputs through salm (see the module docstring).")
    ap.add_argument("--salm", required=True)
    ap.add_argument("--fixtures", default="/work/shared/fixtures")
    ap.add_argument("--work", help="an empty directory that keeps the failing cases and runs.tsv (default: temporary)")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--summary-md")
    ap.add_argument("--inspect-every", type=int, default=4, help="also inspect every K-th npz/h5 case, and all control and "
                    "filesystem cases (1: all; 0: none); each salm run costs ~0.5 s of start-up on 2 cores")
    ap.add_argument("--protect", type=int, default=30, help="h5 cases that also run a one-step salm protect")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    salm, t0 = os.path.abspath(args.salm), time.time()
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="salm-malformed-")
    os.makedirs(work, exist_ok=True)
    if os.listdir(work):
        sys.exit(f"--work {work} is not empty")
    B, cases = build_bases(args, salm, f"{work}/base"), []
    for fam, gen, w in FAMILIES:
        n = len(B.controls) if fam == "control" else -(-max(args.cases - len(B.controls), 0) * w // sum(x[2] for x in FAMILIES))
        for i in range(n):
            d = f"{work}/cases/{len(cases):04d}-{fam}"
            os.makedirs(d)
            c = gen(random.Random(f"{args.seed}/{fam}/{i}"), d, B, i)
            c.update(family=fam, dir=d, reason="", expect=None, train_ok=False, protect=False)
            if c["allowed"] is None:
                ok, c["reason"], c["expect"], c["train_ok"] = oracle(c["path"])
                c["allowed"] = ({0} if c["strict"] else {0, 2}) if ok else {2}
                if fam == "control" and not ok:
                    sys.exit(f"the oracle refuses control case {c['variant']}: {c['reason']}")
            c["inspect"] = c["kind"] != "idx" and args.inspect_every > 0 and (i % args.inspect_every == 0 or fam in ("control", "filesystem"))
            cases.append(c)
    h5 = [c for c in cases if c["kind"] == "h5"]
    pick, rest = [c for c in h5 if c["family"] == "control" and args.protect], [c for c in h5 if c["family"] != "control"]
    for c in pick + random.Random(args.seed).sample(rest, max(0, min(len(rest), args.protect - len(pick)))):
        c["protect"] = True
    print(f"{len(cases)} cases in {work} ({time.time() - t0:.0f} s to generate)", file=sys.stderr)
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for k, res in enumerate(pool.map(lambda c: run_case(c, salm), cases)):
            results += res
            print(f"  {k + 1}/{len(cases)} cases, {time.time() - t0:.0f} s", file=sys.stderr) if k % 100 == 99 else None
    rows = []
    for fam in [f[0] for f in FAMILIES] + ["total"]:
        rs = [r for r in results if fam in ("total", r["case"]["family"])]
        good = [r for r in rs if not r["probs"]]
        rows.append([fam, len({r["case"]["dir"] for r in rs}), len(rs), sum(r["rc"] == 0 for r in good),
                     sum(r["rc"] == 2 for r in good), len(rs) - len(good), f"{sum(r['secs'] for r in rs):.0f}"])
    print(table(rows, False) + f"\n(seconds: the runs' own time, summed)  wall time {time.time() - t0:.0f} s, {args.jobs} jobs, seed {args.seed}")
    if args.summary_md:
        put(args.summary_md, (table(rows, True) + "\n").encode())
    if args.work:  # every run, to reproduce and to audit the expectations
        put(f"{work}/runs.tsv", "".join("\t".join(map(str, [r["case"]["family"], r["case"]["variant"], r["cmd"], r["rc"], sorted(r["case"]["allowed"]),
                                                              r["case"]["reason"], "; ".join(r["probs"]), r["first"][:300], shlex.join(r["argv"])])) + "\n"
                                        for r in results).encode())
    bad = [r for r in results if r["probs"]]
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
