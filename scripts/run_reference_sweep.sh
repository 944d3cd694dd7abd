#!/usr/bin/env bash
# The committed reference sweeps under reports/sweeps/ (see docs/sweep.md and each sweep_report.md).
#
#   scripts/run_reference_sweep.sh          # 40k: reports/sweeps/llama_40k_builtin/
#   scripts/run_reference_sweep.sh 100k     # 100k: reports/sweeps/llama_100k_builtin/
#
# Common settings: Llama-style decoder, head dim 4 (as the paper's authors), FFN ratio 4, depths
# 1,2,3,4,6,8, two seeds, 10 training tokens per budget parameter, batch 32 x 128 bytes, peak lr 3e-3
# (warm-up 5%, cosine to 0.1x), byte-level tokenizer, builtin corpus (offline), tiny audit preset,
# budget matched on non-embedding parameters.
#   40k:  budget 40,000  -> 401,408 tokens per run (~2.6 epochs); took 24 min on 2 busy shared cores.
#   100k: budget 100,000 -> 1,003,520 tokens per run (~6.4 epochs); took 15 min (machine mostly idle).
# Rerunning resumes (finished shapes are skipped); add --report-only to report on what is finished.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-40k}" in
  40k)  BUDGET=40000;  NAME=llama_40k_builtin ;;
  100k) BUDGET=100000; NAME=llama_100k_builtin ;;
  *) echo "usage: $0 [40k|100k] [extra sweep options]" >&2; exit 2 ;;
esac
shift || true
OUT=${OUT:-reports/sweeps/$NAME}
mkdir -p "$OUT"
printf 'shapes/\n*.partial\n' > "$OUT/.gitignore"   # checkpoints stay out of version control
exec python -m hf_interaction sweep \
  --budget "$BUDGET" --depths 1,2,3,4,6,8 --match non-embedding --arch llama \
  --head-dim 4 --ffn-ratio 4 --tokens-per-param 10 --seeds 2 \
  --lr 3e-3 --batch-size 32 --seq-len 128 --corpus builtin --tolerance 0.02 \
  --audit-preset tiny --threads 2 --no-progress --no-store \
  --out "$OUT" "$@"
