"""Side-by-side comparison of models (issue 5): shape and interval position (docs/design.md §2–3), the
interaction metrics and probe loss of stored audits (§4), and stored MMLU-Pro scores (§7), with
deltas against the first model.

Nothing is computed silently: a model without a stored audit is reported as missing unless
``run=True``; audits (or evaluations) made with different settings are reported by name
(``settings_mismatch``), or refused with ``require_same_settings=True``; the interval used is
recorded in every output. :func:`compare_models` is the API, :func:`write_outputs` writes the
Markdown/CSV/JSON/figure files of ``compare --out``.

Modules: ``select`` (which stored records qualify), ``resolve`` (the models and their labels),
``comparison`` (entries, rows, deltas), ``checks`` (like-for-like warnings), ``build``
(:func:`compare_models`), ``table`` (the cells), ``render`` (Markdown), ``terminal`` (the printed
table), ``write`` (the files), ``wording`` (revisions and unset values in messages).
"""

from .build import compare_models
from .comparison import Comparison, ModelEntry
from .render import render_markdown
from .select import AuditMatch
from .table import table_cells
from .terminal import print_comparison
from .write import write_outputs

__all__ = ["AuditMatch", "Comparison", "ModelEntry", "compare_models", "print_comparison", "render_markdown",
           "table_cells", "write_outputs"]
