#!/usr/bin/env bash
# The GPU path, proven in one short run (<= 8 minutes on a CUDA machine), ending with one table:
#   1. tests/test_devices.py: device placement, the traced path on the device equal to the CPU trace,
#      checkpoints saved on the device loading on the CPU, bf16 autocast, the CLI on the device
#   2. the lecture preset trained on the device through the Trainer (Python) and through the CLI
#      (then `generate` reads that checkpoint on the CPU)
#   3. bench/throughput.py on the device: fp32 and bf16 autocast sides (+ torch.compile on CUDA)
#   4. the Train page driven through AppTest with the device selected
#
#   bash bench/gpu_check.sh            # CUDA when torch sees it, else the CPU-safe parts on the CPU
#   bash bench/gpu_check.sh --cpu      # force the CPU (what tests/test_gpu_check.py runs, with --quick)
#   bash bench/gpu_check.sh --quick    # tiny sizes: a smoke test of the script itself (~1-2 min on 2 cores)
#
# Needs the packages of requirements.txt and requirements-dev.txt (a CUDA build of torch on the GPU machine);
# PYTHON=... picks the interpreter (default .venv/bin/python, else python3).
# Every check has its own time limit and records ok/FAIL; the script goes on after a failure and exits 1
# if any check failed. Logs and JSON go to $OUT/gpu_check (the device tool's folder) or bench/results/gpu_check.
set -uo pipefail
cd "$(dirname "$0")/.."

FORCE_CPU=0
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --cpu) FORCE_CPU=1 ;;
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (use --cpu, --quick)" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
RESULTS="${OUT:-bench/results}/gpu_check"
mkdir -p "$RESULTS"
TABLE="$RESULTS/table.tsv"
: > "$TABLE"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MINIGPT_CACHE="$RESULTS/cache"   # never the user's cache; --corpus builtin needs no download anyway

if [ "$FORCE_CPU" = 1 ]; then
  DEVICE=cpu
else
  DEVICE=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')" 2>/dev/null || echo cpu)
fi
CORPUS=builtin
if [ -f ../shared/data/sales_textbook.txt ] && [ "$QUICK" = 0 ]; then CORPUS=../shared/data/sales_textbook.txt; fi
if [ "$QUICK" = 1 ]; then
  STEPS=(--steps 6 --eval-interval 3 --eval-batches 1)
  BENCH=(--builtin --tiny --presets tutorial lecture --windows 1 --window-s 0.01 --no-compile)
else
  STEPS=()
  BENCH=(--presets tutorial larger lecture --windows 5 --window-s 0.5 --no-compile)
  [ "$CORPUS" = builtin ] && BENCH+=(--builtin)
fi
echo "gpu_check: device $DEVICE, python $PY, corpus $CORPUS, quick=$QUICK, results in $RESULTS"
"$PY" - <<'EOF' 2>&1 | tee "$RESULTS/info.txt"
import torch
from minigpt import devices
print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, devices: {devices.available()}")
for name in devices.available():
    print(f"  {devices.describe(name)}; bf16 native: {devices.bf16_supported(name)}")
import importlib.util
missing = [m for m in ("pytest", "pytest_timeout", "streamlit", "plotly", "pandas", "tiktoken", "safetensors", "tqdm")
           if importlib.util.find_spec(m) is None]
print("missing packages (pip install -r requirements.txt -r requirements-dev.txt): " + ", ".join(missing)
      if missing else "packages: all present")
EOF

FAILED=0
check() {  # check NAME LIMIT_S COMMAND...: run it with a time limit, record status, seconds and a summary line
  local name=$1 limit=$2
  shift 2
  local start end status tenths
  echo
  echo "== $name ($DEVICE, limit ${limit}s): $*"
  start=$(date +%s%N)
  if timeout --kill-after=10 "$limit" "$@" > "$RESULTS/$name.log" 2>&1; then status=ok; else status="FAIL($?)"; FAILED=1; fi
  end=$(date +%s%N)
  tail -n 25 "$RESULTS/$name.log"
  tenths=$(( (end - start) / 100000000 ))
  printf '%s\t%s\t%s\t%d.%d\t' "$name" "$DEVICE" "$status" $((tenths / 10)) $((tenths % 10)) >> "$TABLE"
}
summary() {  # summary LINE: the result column of the last check
  echo "${1:-(no summary: see the log)}" | tr '\t\n|' '   ' | sed 's/ *$//' >> "$TABLE"
  echo >> "$TABLE"
}

# 1. The tests with a device variant (cpu always, cuda when present), the Train page apart (check 4).
check tests 240 "$PY" -m pytest tests/test_devices.py -q -p no:cacheprovider -o addopts= -k "not train_page"
summary "$(grep -E '(passed|failed|error)' "$RESULTS/tests.log" | tail -n 1)"

# 2a. The lecture preset through the Trainer.
check trainer 180 "$PY" - "$DEVICE" "$CORPUS" "$QUICK" <<'PYEOF'
import dataclasses, sys, time
from pathlib import Path
from minigpt import corpus, devices, presets
from minigpt.trainer import Trainer, prepare

device, source, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
preset = presets.get("lecture")
train = dataclasses.replace(preset.train, device=device)
if quick:
    train = dataclasses.replace(train, steps=6, eval_interval=3, eval_batches=1)
text = corpus.builtin().text if source == "builtin" else Path(source).read_text(encoding="utf-8")
vocab, rows = prepare(text, preset.model)
trainer = Trainer(preset.model, train, rows, vocab)
t0 = time.perf_counter()
trainer.run()
devices.synchronize(trainer.device)
wall = time.perf_counter() - t0
first, last = trainer.evals[0], trainer.evals[-1]
assert trainer.device.type == device and next(trainer.model.parameters()).device.type == device
assert last.val_loss < first.val_loss, (first, last)
print(f"SUMMARY {trainer.step_count} steps in {wall:.1f} s ({trainer.tokens_per_s:,.0f} tokens/s, "
      f"{trainer.step_count / trainer.train_time:,.1f} steps/s); val loss {first.val_loss:.3f} -> {last.val_loss:.3f}")
PYEOF
summary "$(grep '^SUMMARY ' "$RESULTS/trainer.log" | sed 's/^SUMMARY //')"

# 2b. The same preset through the CLI; then `generate` reads the checkpoint written from the device on the CPU.
check cli 180 bash -c '"$1" -m minigpt train --preset lecture --corpus "$2" --device "$3" --quiet $5 --out "$4" &&
  "$1" -m minigpt generate --checkpoint "$4" --prompt "The customer" --max-new-tokens 12 --seed 1' \
  _ "$PY" "$CORPUS" "$DEVICE" "$RESULTS/lecture.safetensors" "${STEPS[*]}"
summary "$(grep 'steps in' "$RESULTS/cli.log" | tail -n 1); generate: $(tail -n 1 "$RESULTS/cli.log")"

# 3. Throughput on the device: fp32 and bf16 autocast sides (and torch.compile on CUDA).
check throughput 300 "$PY" bench/throughput.py --device "$DEVICE" --out "$RESULTS/throughput.json" "${BENCH[@]}"
summary "$("$PY" - "$RESULTS/throughput.json" <<'PYEOF' 2>&1
import json, sys
data = json.load(open(sys.argv[1]))
print("; ".join(f"{p} {s} {r['tokens_per_s']:,.0f} tok/s ({r['x_base']:.2f}x {v['base']})"
                for p, v in data["presets"].items() for s, r in v["sides"].items() if s != v["base"]))
PYEOF
)"

# 3b. torch.compile on CUDA, its own check and limit (compiling takes a while; skipped on the CPU and with --quick).
if [ "$DEVICE" = cuda ] && [ "$QUICK" = 0 ]; then
  check throughput_compile 240 "$PY" bench/throughput.py --device cuda --out "$RESULTS/throughput_compile.json" \
    --presets tutorial lecture --windows 5 --window-s 0.5 --sides compact compact+compile --no-bf16 \
    $([ "$CORPUS" = builtin ] && echo --builtin)
  summary "$("$PY" - "$RESULTS/throughput_compile.json" <<'PYEOF' 2>&1
import json, sys
data = json.load(open(sys.argv[1]))
print("; ".join(f"{p} {s} {r['tokens_per_s']:,.0f} tok/s" for p, v in data["presets"].items()
                for s, r in v["sides"].items()) + f"; compile s: {[v.get('compile_s') for v in data['presets'].values()]}")
PYEOF
)"
fi

# 4. The Train page (AppTest) trains a job on the device.
check train_page 180 "$PY" -m pytest tests/test_devices.py -q -p no:cacheprovider -o addopts= -k train_page
summary "$(grep -E '(passed|failed|error)' "$RESULTS/train_page.log" | tail -n 1)"

echo
echo "| check | device | status | seconds | result |"
echo "|---|---|---|---|---|"
while IFS=$'\t' read -r name dev status secs line; do
  echo "| $name | $dev | $status | $secs | $line |"
done < "$TABLE"
exit $FAILED
