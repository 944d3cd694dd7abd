"""Train the embedded demo family (``demo-shallow``, ``demo-mid``, ``demo-deep``) with a micro sweep.

One fixed-budget sweep (hf_interaction.sweep, the machinery of ``hf-interaction sweep``) at a budget
of 100,000 non-embedding parameters, one seed, three depths chosen so that the three shapes land
below, inside and above the default efficient interval [0.0204, 0.0645]:

    depth 1, width 80  (R_D/W 0.0125, too wide/shallow)  -> demo-shallow
    depth 2, width 56  (R_D/W 0.0357, inside)            -> demo-mid
    depth 6, width 32  (R_D/W 0.1875, too deep/narrow)   -> demo-deep

The settings are those of the committed 100k reference sweep (scripts/run_reference_sweep.sh 100k)
restricted to these depths and seed 0. The three checkpoints (config, safetensors, byte-level
tokenizer) are copied into hf_interaction/data/demo_family/<name>/ with the sweep's interval.json and
sweep_runs.csv; hf_interaction/data/demo_family/TRAINING.md records the run.

    python scripts/train_demo_family.py                 # ~3 minutes on 2 CPU cores
    python scripts/train_demo_family.py --work DIR   # sweep directory (default: a temp dir)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hf_interaction.sweep import SweepSettings, run_sweep  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "hf_interaction" / "data" / "demo_family"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "hf_interaction_demo_family_sweep"
# Embedded name -> depth (the width is matched to the budget by the sweep).
MEMBERS = {"demo-shallow": 1, "demo-mid": 2, "demo-deep": 6}
COPY_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
              "tokenizer_config.json")

SETTINGS = SweepSettings(
    budget=100_000, depths=tuple(MEMBERS.values()), match="non-embedding", arch="llama", head_dim=4,
    ffn_ratio=4.0, tokens_per_param=10.0, seeds=1, lr=3e-3, warmup_frac=0.05, batch_size=32, seq_len=128,
    corpus="builtin", tolerance=0.02, audit_preset="tiny", threads=2,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="sweep directory (resumable)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the family is written")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    result = run_sweep(SETTINGS, args.work, store=None, show_progress=False, write_report=True)
    wall = time.perf_counter() - t0
    by_depth = {row["depth"]: row for row in result.rows}
    args.out.mkdir(parents=True, exist_ok=True)
    family = {}
    for name, depth in MEMBERS.items():
        row = by_depth[depth]
        src = args.work / "shapes" / row["run_dir"]
        dst = args.out / name
        if dst.exists():
            shutil.rmtree(dst)
        dst.mkdir(parents=True)
        for f in COPY_FILES:
            if (src / f).is_file():
                shutil.copyfile(src / f, dst / f)
        family[name] = {k: row[k] for k in ("depth", "width", "heads", "ffn_width", "r_dw", "achieved_params",
                                            "mismatch", "total_params", "val_loss", "train_loss_final",
                                            "tokens_trained", "steps", "train_wall_s", "aofe_ratio")}
    shutil.copyfile(args.work / "interval.json", args.out / "interval.json")
    shutil.copyfile(args.work / "sweep_runs.csv", args.out / "sweep_runs.csv")
    (args.out / "family.json").write_text(json.dumps(family, indent=2) + "\n")
    print(json.dumps({"wall_s": round(wall, 1), "interval": {k: result.interval[k] for k in ("lo", "hi",
                      "optimal_r_dw")}, "family": family}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
