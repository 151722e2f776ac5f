#!/usr/bin/env bash
# tools/research/victim-panel end to end on tiny data: every victim of the panel (models x recipes x
# seeds) is trained with its own settings, panel.json's median, worst and target are those of the
# victims' own reports, a noise file's panel trains on its protected images and records the
# shortcut probe, a rerun reuses the reports, other settings in the same folder and bad arguments
# are one-line errors.
# Environment (from CTest): SALM_ROOT, SALM_BIN, SALM_TEST_WORK.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$SALM_TEST_WORK/victim-panel
rm -rf "$work" && mkdir -p "$work" && cd "$work"
tool=$SALM_ROOT/tools/research/victim-panel
"$SALM_BIN" synth --out d.h5 --classes 3 --train 48 --val 15 --test 24 --size 16 --log-level warn
"$SALM_BIN" protect --data d.h5 --out n.h5 --model small-cnn --pgd-steps 2 --train-steps 2 --max-iters 1 \
  --batch-size 16 --no-checkpoint --log-level warn
tiny=(--models small-cnn --seeds 0,1 --epochs 1 --extra "--batch-size 16")

"$tool" --data d.h5 --out clean "${tiny[@]}" --ranks 1 >clean.txt 2>clean.err
"$tool" --data d.h5 --noise n.h5 --out prot "${tiny[@]}" --recipes adam,sgd-aug --ranks 2 >prot.txt 2>prot.err
python3 - <<'PY' || fail "panel contents"
import json, os, statistics
for folder, noise in (("clean", ""), ("prot", "n.h5")):
    p = json.load(open(f"{folder}/panel.json"))
    names = sorted(v["victim"] for v in p["victims"])
    assert names == ["small-cnn-adam-s0", "small-cnn-adam-s1", "small-cnn-sgd-aug-s0", "small-cnn-sgd-aug-s1"], names
    acc = []
    for v in p["victims"]:
        r = json.load(open(f"{folder}/{v['victim']}.json"))
        want = {"adam": ("adam", "none"), "sgd-aug": ("sgd", "flip-crop")}[v["recipe"]]
        assert (r["model"], r["optimizer"], r["augment"], r["seed"], r["epochs"]) == ("small-cnn", *want, v["seed"], 1), r
        assert r["ranks"] == (1 if folder == "clean" else 2) and r["batch_size"] == 16, r
        assert os.path.basename(r["noise"]) == noise and r["trained_on"] == ("protected" if noise else "clean"), r
        assert v["accuracy"] == r["clean_test_accuracy"] and v["chance"] == r["chance_accuracy"]
        acc.append(r["clean_test_accuracy"])
    assert p["median"] == statistics.median(acc) and p["worst"] == max(acc) and p["best"] == min(acc), p
    assert abs(p["target"] - (p["chance"] + 0.10)) < 1e-12 and p["met"] == (max(acc) <= p["target"]), p
    assert ("shortcut" in p) == bool(noise), p.keys()
    if noise:
        assert 0 <= p["shortcut"]["holdout_accuracy"] <= 1, p["shortcut"]
    row = open(f"{folder}.txt").read()
    assert row.startswith(f"| {'n.h5' if noise else 'clean'} | 4 | {100 * p['median']:.1f}% | {100 * p['worst']:.1f}% "), row
print("panels ok")
PY
# A rerun with the same settings reuses every report.
before=$(stat -c %Y clean/small-cnn-adam-s0.json)
sleep 1
"$tool" --data d.h5 --out clean "${tiny[@]}" --ranks 1 >/dev/null 2>&1
[[ $(stat -c %Y clean/small-cnn-adam-s0.json) == "$before" ]] || fail "a rerun trained a victim again"

expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1; shift
  if "$tool" "$@" >out.txt 2>err.txt; then fail "accepted: $*"; fi
  grep -q -- "$pattern" err.txt || fail "no clear error for '$*': $(cat err.txt)"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "more than one line for '$*': $(cat err.txt)"
}
expect_error "holds a panel with other settings" --data d.h5 --out clean --models small-cnn --seeds 0 --epochs 1 --ranks 1
expect_error "unknown recipe 'rmsprop'" --data d.h5 --out x --recipes rmsprop
expect_error "no.h5: not found" --data no.h5 --out x
expect_error "'a' is not a non-negative integer" --data d.h5 --out x --seeds a
expect_error "victim small-cnn-adam-s0 failed (exit 2)" --data d.h5 --out bad --models small-cnn --seeds 0 --ranks 1 --extra "--lr -1"
[[ ! -e bad/small-cnn-adam-s0.json ]] || fail "a failed victim left a report"
echo "ok: panel, distribution, shortcut, rerun and errors"
