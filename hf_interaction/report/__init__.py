"""The MMLU-Pro correlation report (docs/design.md §7).

Pipeline: :mod:`.inputs` checks the model list, :mod:`.store_rows` reads stored evaluations and
audits, :mod:`.table` joins them into the data table and runs :mod:`.stats` once per scoring setup
(never pooling setups), :mod:`.lead` analyses the first list's setup in depth (base / instruct /
pooled, with :mod:`.covariates`: several controls, detectable effect sizes), :mod:`.verdicts` and
:mod:`.lead_render` word the results, :mod:`.render` and :mod:`.figures` turn
them into a document, CSVs and figures, and :mod:`.write` writes everything, byte-identically for
the same inputs. This package re-exports what the command and the tests use (``render`` and
``figures``, which import matplotlib, load on first use).
"""

from __future__ import annotations

from . import stats
from .columns import predictors_of, settings_in_order
from .store_rows import EVAL_SETTING_PREFIX
from .table import analyse_table, build_table
from .write import DATA_FILE, REPORT_STEM, STATS_FILE, ReportOutput, generate_report, short_setting_summary

__all__ = ["build_table", "analyse_table", "generate_report", "short_setting_summary", "ReportOutput",
           "REPORT_STEM", "DATA_FILE", "STATS_FILE", "EVAL_SETTING_PREFIX", "predictors_of",
           "settings_in_order", "stats"]
