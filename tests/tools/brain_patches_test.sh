#!/usr/bin/env bash
# tools/research/brain-patches on a small NIfTI pair written here (the real mricron-data volumes are not
# needed): every image is the window of a centre of its lobe in the right hemisphere (train: left;
# val/test: right, mirrored), averaged as documented; classes are balanced; val and test centres
# are disjoint; the same options give the same bytes; salm convert reads the .npz; bad input is a one-line error and leaves no file.
# Environment (from CTest): SALM_ROOT, SALM_BIN, SALM_TEST_WORK.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$SALM_TEST_WORK/brain-patches
rm -rf "$work" && mkdir -p "$work" && cd "$work"
tool=$SALM_ROOT/tools/research/brain-patches

# A 32 x 24 x 2 volume, 1 mm, x = 0 mm at voxel 16 (the midline); T1 values that tell every
# voxel apart within a slice; the atlas gives each of the 7 lobes a band of rows (y) in both
# hemispheres, with AAL region numbers from the lobe's range.
# A second pair, 8 slices deep with other T1 values, for --plane coronal (below).
python3 - <<'PY'
import gzip, struct
nx, ny = 32, 24
def nifti(path, value, nz=2):
    h = bytearray(352)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, nx, ny, nz, 1, 1, 1, 1)
    struct.pack_into("<h", h, 70, 2)            # uint8
    struct.pack_into("<h", h, 72, 8)
    struct.pack_into("<8f", h, 76, 1, 1, 1, 1, 0, 0, 0, 0)
    struct.pack_into("<f", h, 108, 352.0)       # vox_offset
    struct.pack_into("<2f", h, 112, 1.0, 0.0)   # scl_slope, scl_inter
    struct.pack_into("<h", h, 254, 1)           # sform
    struct.pack_into("<12f", h, 280, 1, 0, 0, -16, 0, 1, 0, -12, 0, 0, 1, 0)
    h[344:348] = b"n+1\0"
    data = bytes(value(i, j, k) for k in range(nz) for j in range(ny) for i in range(nx))
    with gzip.open(path, "wb") as f:
        f.write(bytes(h) + data)
nifti("t1.nii.gz", lambda i, j, k: (i * i + 32 * j + 101 * k) % 251)
regions = [1, 29, 43, 57, 71, 79, 91]
nifti("atlas.nii.gz", lambda i, j, k: regions[min(j // 3, 6)] + (i % 2) if 1 <= j < 22 else 0)
nifti("t1c.nii.gz", lambda i, j, k: (i * i + 7 * j + 29 * k) % 251, nz=8)
nifti("atlasc.nii.gz", lambda i, j, k: regions[min(j // 3, 6)] + (i % 2) if 1 <= j < 22 else 0, nz=8)
PY

"$tool" --t1 t1.nii.gz --atlas atlas.nii.gz --out b.npz --train 14 --val 7 --test 14 --window 4 --size 4 >log.txt
"$tool" --t1 t1.nii.gz --atlas atlas.nii.gz --out b1.npz --train 14 --val 7 --test 14 --window 4 --size 4 >/dev/null
cmp -s b.npz b1.npz || fail "the same options gave different bytes"
"$tool" --t1 t1.nii.gz --atlas atlas.nii.gz --out b2.npz --train 7 --val 0 --test 7 --window 4 --size 2 --seed 3 >/dev/null
python3 - <<'PY' || fail "contents"
import ast, gzip, struct, zipfile
nx, ny = 32, 24
t1 = lambda i, j, k: (i * i + 32 * j + 101 * k) % 251
lobe = lambda j: min(j // 3, 6) if 1 <= j < 22 else None
def load(path):
    z = zipfile.ZipFile(path)
    out = {}
    for n in z.namelist():
        b = z.read(n)
        assert b[:8] == b"\x93NUMPY\x01\x00", n
        hl = struct.unpack("<H", b[8:10])[0]
        hdr = ast.literal_eval(b[10:10 + hl].decode("latin1"))
        body = b[10 + hl:]
        vals = list(body) if hdr["descr"] == "|u1" else list(struct.unpack(f"<{len(body) // 8}q", body))
        out[n[:-4]] = (hdr["shape"], vals)
    return out
def windows(window, size, right, mirror):
    """Every allowed centre of the chosen hemisphere -> (image, lobe)."""
    half, f = window // 2, window // size
    res = []
    for k in range(2):
        for j in range(half, ny - half):
            for i in range(half, nx - half):
                if lobe(j) is None or i == 16 or (i > 16) != right:
                    continue
                img = []
                for r in range(size):
                    jy = j + half - 1 - r * f
                    for col in range(size):
                        cc = size - 1 - col if mirror else col
                        ix = i - half + cc * f
                        s = sum(t1(ix + di, jy - dj, k) for dj in range(f) for di in range(f))
                        img.append((s + f * f // 2) // (f * f))
                res.append(((i, j, k), tuple(img), lobe(j)))
    return res
for path, window, size, counts in (("b.npz", 4, 4, (14, 7, 14)), ("b2.npz", 4, 2, (7, 0, 7))):
    d = load(path)
    px = size * size
    centres = {}
    for split, n in zip(("train", "val", "test"), counts):
        shape, img = d[f"{split}_images"]
        lshape, lab = d[f"{split}_labels"]
        assert tuple(shape) == (n, size, size) and tuple(lshape) == (n, 1), (path, split, shape, lshape)
        assert sorted(lab) == sorted(c % 7 for c in range(n)), (path, split, lab)  # balanced over 7 lobes
        cand = windows(window, size, right=split != "train", mirror=split != "train")
        used = set()
        for r in range(n):
            im = tuple(img[r * px:(r + 1) * px])
            hits = [c for c, w, l in cand if w == im and l == lab[r]]
            assert hits, (path, split, r, im, lab[r])
            used.update(hits if size == 4 else [])
        centres[split] = used
    assert not centres["val"] & centres["test"], "val and test share centres"
print("contents ok")
PY
# --plane coronal: windows in the x-z plane at the centre's y, superior up, on the deeper pair.
"$tool" --t1 t1c.nii.gz --atlas atlasc.nii.gz --out c.npz --train 14 --val 7 --test 7 --window 4 --size 2 \
  --plane coronal >logc.txt
grep -q "from 4 mm coronal windows" logc.txt || fail "coronal summary line: $(cat logc.txt)"
python3 - <<'PY' || fail "coronal contents"
import ast, struct, zipfile
t1 = lambda i, j, k: (i * i + 7 * j + 29 * k) % 251
lobe = lambda j: min(j // 3, 6) if 1 <= j < 22 else None
z = zipfile.ZipFile("c.npz")
def arr(key):
    b = z.read(key + ".npy")
    hl = struct.unpack("<H", b[8:10])[0]
    hdr, body = ast.literal_eval(b[10:10 + hl].decode("latin1")), b[10 + hl:]
    return hdr["shape"], (list(body) if hdr["descr"] == "|u1" else list(struct.unpack(f"<{len(body) // 8}q", body)))
half, f, size = 2, 2, 2
for split in ("train", "val", "test"):
    right = mirror = split != "train"
    cand = set()
    for k in range(half, 8 - half):
        for j in range(24):
            for i in range(half, 32 - half):
                if lobe(j) is None or i == 16 or (i > 16) != right:
                    continue
                img = []
                for r in range(size):
                    kz = k + half - 1 - r * f
                    for col in range(size):
                        ix = i - half + (size - 1 - col if mirror else col) * f
                        s = sum(t1(ix + di, j, kz - dk) for dk in range(f) for di in range(f))
                        img.append((s + f * f // 2) // (f * f))
                cand.add((tuple(img), lobe(j)))
    (n, _, _), px = arr(f"{split}_images")
    _, labels = arr(f"{split}_labels")
    assert n == len(labels) == {"train": 14, "val": 7, "test": 7}[split], (split, n)
    for r, lab in enumerate(labels):
        im = tuple(px[r * size * size:(r + 1) * size * size])
        assert (im, lab) in cand, (split, im, lab)
print("coronal ok")
PY
grep -q "wrote b.npz: train 14 (left hemisphere), val 7, test 14" log.txt || fail "summary line: $(cat log.txt)"
"$SALM_BIN" convert --in b.npz --out b.h5 --log-level info 2>&1 | grep -q "7 classes, test 14, train 14, val 7" ||
  fail "salm convert did not read the .npz"

# Bad input: one line naming the file or option, a non-zero exit, no output left behind.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1; shift
  if "$tool" "$@" >out.txt 2>err.txt; then fail "accepted: $*"; fi
  grep -q -- "$pattern" err.txt || fail "no clear error for '$*': $(cat err.txt)"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "more than one line for '$*': $(cat err.txt)"
}
expect_error "b.npz: exists" --t1 t1.nii.gz --atlas atlas.nii.gz --out b.npz --window 4 --size 4 --train 7 --val 0 --test 0
expect_error "no.nii.gz: not found (install Debian's mricron-data" --t1 no.nii.gz --atlas atlas.nii.gz --out x.npz
printf 'not a nifti' | gzip >bad.nii.gz
expect_error "bad.nii.gz: not a NIfTI-1 file" --t1 bad.nii.gz --atlas atlas.nii.gz --out x.npz
expect_error "must be an even positive multiple of --size" --t1 t1.nii.gz --atlas atlas.nii.gz --out x.npz --window 6 --size 4
# An odd window would reach one row past the volume's edge (into the previous slice): refused.
expect_error "must be an even positive multiple of --size" --t1 t1.nii.gz --atlas atlas.nii.gz --out x.npz --window 3 --size 3
expect_error "free centres in the right hemisphere" --t1 t1.nii.gz --atlas atlas.nii.gz --out x.npz --window 4 --size 4 \
  --train 7 --val 7000 --test 7
expect_error "nodir/x.npz: cannot write" --t1 t1.nii.gz --atlas atlas.nii.gz --out nodir/x.npz --window 4 --size 4 \
  --train 7 --val 0 --test 7
[[ ! -e x.npz && ! -e x.npz.partial ]] || fail "a refused run left an output"
"$tool" --t1 t1.nii.gz --atlas atlas.nii.gz --out b.npz --train 7 --val 0 --test 7 --window 4 --size 4 --overwrite >/dev/null
echo "ok: windows, labels, hemispheres, mirroring and errors"
