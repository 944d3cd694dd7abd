"""The comparison record: models side by side (``hf-interaction compare --json``, ``compare.json``)."""

from __future__ import annotations

from .common import HEADER, INTERVAL, block
from .spec import RecordSchema

MODEL = """
label                 str     the short name used in tables (unique among the models)
spec                  str     the model as given on the command line
model                 str     the model (Hub id, path or embedded name)
revision              str?    its resolved revision; null when it could not be resolved
source                str?    hub, local_dir, gguf, embedded, config_file, or store (unreachable: from the store)
weights_format        str?    safetensors, gguf or pickle
quantization          str?    GGUF only: the file type
depth                 int?    L
width                 int?    d
r_dw                  float?  R_D/W
total_params          int?    parameters
non_embedding_params  int?    non-embedding parameters
interval_distance     float?  decades outside the interval (0 inside)
interval_coordinate   float?  position in the interval (0 at lo, 1 at hi)
inside_interval       bool?   lo ≤ R_D/W ≤ hi
audit_status          str     stored, computed (--run), or missing
audit_settings_hash   str?    the chosen audit's settings hash
aofe                  float?  AOFE; null without an audit (or when not finite)
aofe_ci_lo            float?  its interval's lower end
aofe_ci_hi            float?  its upper end
aofe_ratio            float?  AOFE-ratio
aofe_ratio_ci_lo      float?  its interval's lower end
aofe_ratio_ci_hi      float?  its upper end
diag_share            float?  D / F
diag_share_ci_lo      float?  its interval's lower end
diag_share_ci_hi      float?  its upper end
diag_share_vs_baseline_log10       float?  log10 of D / F over a fresh init's (audits with --baseline init)
diag_share_vs_baseline_log10_ci_lo float?  its interval's lower end
diag_share_vs_baseline_log10_ci_hi float?  its upper end
vocab_size            int?    V (AOFE and D / F scale with it)
probe_T               int?    the audit's window length
output_function       str?    causal LM or encoder
ci_level              float?  the intervals' coverage
probe_loss_nats_per_token float?  probe loss, nats per token
probe_loss_bits_per_byte  float?  probe loss, bits per byte
mmlu_pro_task         str?    the stored evaluation's task
mmlu_pro_acc          float?  its score (a fraction, the evaluation record's acc)
mmlu_pro_acc_stderr   float?  its standard error
mmlu_pro_n_questions  int?    its questions
eval_settings_hash    str?    the evaluation's settings hash
deltas                dict    against the reference (the first model)
deltas.*              float?  delta_<key> = model − reference, ratio_<key> = model / reference (see delta_kinds)
notes                 list[str]  what was noticed about this model
weights               dict?   where the weights came from (the audit record's provenance.weights)
weights.*             any     see the audit record's provenance.weights
audit_settings        dict?   the chosen audit's settings (its store key)
audit_settings.*      any     one setting (see the audit record's settings)
evaluation_settings   dict?   the chosen evaluation's settings (its store key)
evaluation_settings.* any     one setting (see the evaluation record's settings)
layers                list[dict]?  the audit's layer profile (see the audit record's layers)
layers[].*            any     one value of a block
"""

COMPARISON = RecordSchema.parse(
    "comparison", "Comparison (`compare --json`, `compare.json` of `--out`)",
    "Models side by side, with deltas against the first. Not stored: made from the stored audits and "
    "evaluations (or computed with --run).",
    HEADER + block("interval", "the efficient interval used", INTERVAL) + """
reference        str        the reference model's label (the first model)
delta_kinds      dict       how each delta is formed
delta_kinds.*    str        absolute (model − reference) or ratio (model / reference)
settings_mismatch         list[str]  audit settings that differ between the models (point-estimate settings)
settings_mismatch_values  dict       those settings' values
settings_mismatch_values.*   dict    one setting's value per model label
settings_mismatch_values.*.* any     one model's value
eval_settings_mismatch        list[str]  evaluation settings that differ
eval_settings_mismatch_values dict       their values
eval_settings_mismatch_values.*   dict   one setting's value per model label
eval_settings_mismatch_values.*.* any    one model's value
outside_interval list[str]  labels of the models outside the interval
warnings         list[str]  what makes the comparison not like-for-like
notes            list[str]  what else was noticed
""" + block("models", "one entry per model, in the given order", MODEL, typ="list[dict]").replace(
        "models.", "models[]."),
)
