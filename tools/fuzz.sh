#!/usr/bin/env bash
# Fuzzes salm's input parsers with libFuzzer under AddressSanitizer and UBSan (tests/fuzz).
#   tools/fuzz.sh                      every CI target for 10 minutes each, corpus kept in build-fuzz/corpus
#   tools/fuzz.sh --runs 2000 --fresh  CI-sized: 2,000 inputs per target from the seeds only (CTest `fuzz`)
#   tools/fuzz.sh --seconds 3600 npz   one target for an hour
# Targets: npz (MedMNIST .npz/.npy), idx (IDX directories, plain and gzipped), h5 (salm dataset .h5,
# structure-aware), options (INI files through the option layer); h5-raw (raw bytes into HDF5: finds
# bugs of Debian's HDF5 1.10.8 itself, so never part of the default set; docs/reliability.md).
# Findings (crash-*, leak-*, timeout-*, oom-*) go to BUILD/findings/; exit 1 if there are any.
# Builds with clang (libFuzzer) into --build-dir (default build-fuzz/); installs clang and the seed
# tools (python3-numpy, python3-h5py) through tools/setup.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs="" seconds=600 build="$root/build-fuzz" fresh=0 targets=()
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(npz idx h5 options)
for t in "${targets[@]}"; do
  [[ $t =~ ^(npz|idx|h5|options|h5-raw)$ ]] || { echo "fuzz: unknown target '$t' (npz idx h5 options h5-raw)" >&2; exit 2; }
done

SALM_SETUP_TESTS=1 "$root/tools/setup.sh" >/dev/null
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" >/dev/null
seeds="$build/seeds"
rm -rf "$seeds" && /usr/bin/python3 "$root/tests/fuzz/make_seeds.py" "$seeds" "$root/../shared/fixtures"
cp -r "$seeds/h5" "$seeds/h5-raw"

findings="$build/findings"
mkdir -p "$findings"
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1"
budget=(-max_total_time="$seconds")
[[ -n $runs ]] && budget=(-runs="$runs")
printf '%-8s %9s %8s  %s\n' target inputs seconds result
status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  ((fresh)) && corpus=$(mktemp -d)
  mkdir -p "$corpus"
  log="$build/fuzz-$t.log"
  start=$(date +%s)
  rc=0
  # -malloc_limit_mb: an allocation the input asks for beyond 1 GiB is a finding (sizes must be
  # checked against the file before allocating); -timeout: one input may take 10 s at most.
  scratch=$(mktemp -d)
  TMPDIR=$scratch "$build/fuzz_${t//-/_}" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=65536 -artifact_prefix="$findings/$t-" "$corpus" "$seeds/$t" >"$log" 2>&1 || rc=$?
  rm -rf "$scratch"
  secs=$(( $(date +%s) - start ))
  done_runs=$(grep -o 'Done [0-9]* runs' "$log" | awk '{print $2}' || true)
  if ((rc == 0)); then result=ok; else result="FINDING (exit $rc; see $log and $findings)"; status=1; fi
  printf '%-8s %9s %8s  %s\n' "$t" "${done_runs:-?}" "$secs" "$result"
  if ((rc != 0)); then grep -E 'ERROR|SUMMARY|#[0-9] ' "$log" | head -12 | sed 's/^/    /'; fi
  ((fresh)) && rm -rf "$corpus"
done
exit $status
