"""Small helpers shared by the Python tools in tools/ (standard library only)."""
import os
import sys


def fail(prog, msg, code=2):
    """One line on stderr, naming the tool, and a non-zero exit."""
    print(f"{prog}: {msg}", file=sys.stderr)
    sys.exit(code)


def require_empty_or_overwrite(prog, folder, overwrite):
    """Nothing the user already had is replaced silently."""
    if os.path.isdir(folder) and os.listdir(folder) and not overwrite:
        fail(prog, f"{folder}: output folder is not empty (add --overwrite to reuse it, or choose another --out)")


def atomic_write(path, text):
    """Writes `text` to path.partial, then renames it over path: never a half-written file."""
    tmp = path + ".partial"
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def ring_allreduce_seconds(ranks, nbytes, bandwidth, latency):
    """The ring all-reduce of `nbytes` over `ranks`: 2 (R-1)/R x bytes / bandwidth (bytes/s) plus
    2 (R-1) hops of `latency` seconds (reduce-scatter, then all-gather)."""
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency
