"""Fixed-budget shape sweeps (docs/design.md §8): match widths to a parameter budget, train, audit, derive
the efficient R_D/W interval.

The pipeline, one module per step:

1. width matching (``hf_interaction.shape.width_matching``, shared with ``suggest``) — for each depth, the
   width whose exact meta-device parameter count is closest to the budget;
2. ``data`` — the same byte-level token stream and validation windows for every shape and seed;
3. ``train`` — each shape trained by the one training loop (``hf_interaction.sweep.training``) on the
   same number of tokens; ``checkpoints`` saves it as a Hugging Face checkpoint with ``metrics.json``;
4. ``run`` — the whole sweep: training, auditing each checkpoint (``audit.json``), resuming;
5. ``derive`` — the band of shapes within ``tolerance`` of the best mean validation loss, written as
   ``interval.json``; ``report`` (with ``figures`` and ``paper``) — the report page.

``settings`` holds ``SweepSettings``, everything that defines a sweep.
"""

from .checkpoints import is_finished, run_dir, save_checkpoint
from .data import SweepData, prepare_data
from .derive import derive_interval, interval_file_content, summarise
from .paper import paper_bands, paper_csv_path
from .report import write_report
from .run import SweepResult, audit_shape, match_all, rerender, run_sweep
from .settings import SweepSettings
from .train import build_model, train_shape

__all__ = [
    "SweepData", "SweepResult", "SweepSettings", "audit_shape", "build_model", "derive_interval",
    "interval_file_content", "is_finished", "match_all", "paper_bands", "paper_csv_path", "prepare_data",
    "rerender", "run_dir", "run_sweep", "save_checkpoint", "summarise", "train_shape", "write_report",
]
