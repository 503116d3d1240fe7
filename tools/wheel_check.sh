#!/usr/bin/env bash
# Build a wheel from this checkout, install it (not editable) into a fresh virtual environment and run
# `unidiffuser demo` from an empty folder: the installed package must find the shipped model inside itself.
# The build runs on a copy of the files it needs, so the checkout gets no build/ or egg-info.
# The venv reuses the installed dependencies (--system-site-packages); the unidiffuser package must come from the wheel.
# Usage: tools/wheel_check.sh [demo steps, default 10]. Exit status 0 only if everything passed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-10}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wheel_check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
step() { echo "[wheel_check $(( $(date +%s) - t0 )) s] $*"; }

step "copying the sources"
mkdir "$tmp/src"
tar -C "$repo" --exclude=__pycache__ -cf - pyproject.toml setup.py MANIFEST.in README.md unidiffuser data/fmnist-cpu \
  | tar -C "$tmp/src" -xf -
step "building the wheel"
python -m build --wheel --no-isolation --outdir "$tmp/dist" "$tmp/src" > "$tmp/build.log" 2>&1 \
  || { tail -30 "$tmp/build.log"; echo "wheel_check: build failed"; exit 1; }
whl=$(ls "$tmp"/dist/unidiffuser-*.whl)
step "built $(basename "$whl"): $(du -k "$whl" | cut -f1) KB"
python - "$whl" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ['unidiffuser/models/fmnist-cpu/unidiffuser_index.json', 'unidiffuser/models/fmnist-cpu/uvit/model.safetensors',
        'unidiffuser/models/fmnist-cpu/examples/examples.json']
miss = [n for n in need if n not in names]
left_out = ('vd', 'bespoke_t2i', 'evaluator', 'text_projection')
extra = [n for n in names if any(f'/fmnist-cpu/{k}/' in n for k in left_out)]
if miss or extra: sys.exit(f"wheel_check: the wheel lacks {miss} or carries {extra}")
PY
step "installing it into a fresh venv"
python -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --no-deps --no-index -q "$whl"
mkdir "$tmp/empty"
cd "$tmp/empty"
where=$("$tmp/venv/bin/python" -c "import unidiffuser, os; print(os.path.dirname(unidiffuser.__file__))")
case "$where" in "$tmp/venv/"*) step "unidiffuser imported from $where";;
  *) echo "wheel_check: unidiffuser came from $where, not from the wheel"; exit 1;; esac
model=$("$tmp/venv/bin/python" -c "from unidiffuser.pipeline_io import shipped_model_path; print(shipped_model_path())")
case "$model" in "$tmp/venv/"*) step "shipped model found at $model";;
  *) echo "wheel_check: the shipped model came from $model, not from the wheel"; exit 1;; esac
step "unidiffuser demo --out $tmp/demo (from an empty folder)"
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
  "$tmp/venv/bin/unidiffuser" demo --out "$tmp/demo" --steps "$steps" --quiet > "$tmp/demo.json"
cat "$tmp/demo.json"
test -s "$tmp/demo/grid.png" && test "$(wc -l < "$tmp/demo/captions.txt")" -gt 40 \
  || { echo "wheel_check: the demo wrote no grid or too few captions"; exit 1; }
test -z "$(ls -A "$tmp/empty")" || { echo "wheel_check: the demo wrote into the working folder"; exit 1; }
step "passed"
