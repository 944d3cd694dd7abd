"""The sweep record: a fixed-budget shape sweep and the interval it derives (``hf-interaction sweep``,
``OUT/sweep.json``; docs/design.md §8)."""

from __future__ import annotations

from .common import HEADER, block
from .spec import RecordSchema

SETTINGS = """
budget           int        the parameter budget every shape is matched to
depths           list[int]  the depths swept, ascending
match            str        non-embedding or total: which count is matched
max_mismatch     float      the largest accepted miss of the budget (a fraction)
arch             str        the transformers model_type trained
head_dim         int        the fixed head dimension (widths are multiples of it)
ffn_ratio        float      FFN width / width
tokens_per_param float      training tokens = this × budget
seeds            int        initialisation seeds per shape
lr               float      peak AdamW learning rate
min_lr_ratio     float      the cosine decay's floor, as a fraction of the peak
warmup_frac      float      linear warm-up share of the steps
weight_decay     float      AdamW weight decay
grad_clip        float      gradient-norm clip
batch_size       int        sequences per step
seq_len          int        tokens per training sequence
corpus           str        the training corpus (builtin, wikitext or a path); its held-out end is the probe
val_fraction     float      share of the corpus held out for validation
max_val_windows  int        validation windows (at most)
data_seed        int        seed of the chunk order
tolerance        float      the interval: shapes within this fraction of the best validation loss
audit_preset     str        the preset each checkpoint was audited with (tiny, small, micro), or none
threads          int?       torch threads; null: torch's choice
"""

DATA = """
corpus               str        the corpus as given
corpus_description   str        the corpus in words
corpus_sha256        str        sha256 of its text
tokenizer            str        the byte-level tokenizer in words
train_tokens_available int      tokens in the training part
val_windows          int        validation windows
val_tokens           int        validation tokens
val_windows_sha256   str        sha256 of the validation windows
bos                  bool       whether sequences start with BOS
prefix_ids           list[int]  the ids before each sequence
train_stream_sha256  str        sha256 of the token stream every shape trains on, in order
steps                int        optimizer steps per shape
tokens_trained       int        training targets per shape
epochs               float      passes over the training part
"""

SHAPE_ROW = """
depth                int     L
width                int     d, the matched width
heads                int     attention heads (width / head_dim)
head_dim             int     head dimension
ffn_width            int     MLP width
r_dw                 float   R_D/W = L / d
match                str     the count matched
budget               int     the budget
achieved_params      int     the matched count this width achieves
mismatch             float   achieved_params / budget − 1
total_params         int     all parameters
non_embedding_params int     parameters outside the embeddings
embedding_params     int     embedding parameters
"""

ROW = SHAPE_ROW + """
seed                 int     the initialisation seed
run_dir              str     the checkpoint's directory under OUT/shapes/
val_loss             float   validation loss, nats per token
val_bits_per_byte    float   validation loss, bits per byte
train_loss_final     float   the last steps' training loss
tokens_trained       int     training targets
steps                int     optimizer steps
train_wall_s         float   training wall time, seconds
val_windows_sha256   str     the validation windows (equal for every shape)
train_stream_sha256  str     the training stream (equal for every shape)
aofe                 float?  the checkpoint's AOFE; null without an audit
aofe_ratio           float?  its AOFE-ratio
aofe_ratio_ci        interval?  its interval (null with the micro preset's single group)
probe_loss_nats_per_token float?  its probe loss
f_below_d            bool?   F̂ < D̂ in its audit
"""

SUMMARY = """
depth                int     L
width                int     d
heads                int     attention heads
ffn_width            int     MLP width
r_dw                 float   R_D/W
achieved_params      int     the matched count
mismatch             float   achieved_params / budget − 1
total_params         int     all parameters
non_embedding_params int     parameters outside the embeddings
seeds                 int     seeds trained
val_loss_mean         float   mean validation loss over seeds
val_loss_std          float   its standard deviation (0 for one seed)
val_loss_min          float   the best seed's
val_loss_max          float   the worst seed's
aofe_mean             float?  mean AOFE; null without audits
aofe_std              float?  its standard deviation
aofe_ratio_mean       float?  mean AOFE-ratio
aofe_ratio_std        float?  its standard deviation
probe_loss_nats_per_token_mean float?  mean probe loss
probe_loss_nats_per_token_std  float?  its standard deviation
"""

INTERVAL = """
lo             float       the derived interval's lower end
hi             float       its upper end
optimal_r_dw   float       R_D/W of the best shape
optimal_depth  int         its depth
optimal_width  int         its width
best_val_loss  float       its mean validation loss
threshold      float       best_val_loss × (1 + tolerance)
tolerance      float       the tolerance
band_depths    list[int]   depths within the tolerance
band_r_dw      list[float] their R_D/W
contiguous     bool        whether those depths are neighbours in the sweep
notes          list[str]   how the interval was formed (e.g. widened around a single shape)
"""

INTERVAL_FILE = """
lo            float       lower end (what --interval-file reads)
hi            float       upper end
source        str         how the interval was made, in words
optimal_r_dw  float       R_D/W of the best shape
contiguous    bool        whether the band is contiguous in depth
notes         list[str]   notes on the band
provenance    dict        the sweep that made it
provenance.budget        int        the budget
provenance.match         str        the count matched
provenance.arch          str        the architecture
provenance.depths        list[int]  the depths
provenance.head_dim      int        the head dimension
provenance.ffn_ratio     float      the FFN ratio
provenance.seeds         int        seeds per shape
provenance.tolerance     float      the tolerance
provenance.corpus        str        the corpus
provenance.corpus_sha256 str        its sha256
provenance.tokens_trained int       training targets per shape
provenance.tokens_per_param float   tokens per budget parameter
provenance.val_windows_sha256 str   the validation windows
provenance.train_stream_sha256 str  the training stream
provenance.band_depths   list[int]  depths within the tolerance
provenance.band_r_dw     list[float] their R_D/W
provenance.best_val_loss float      the best mean validation loss
"""

SWEEP = RecordSchema.parse(
    "sweep", "Sweep record (`sweeps` in the store, `OUT/sweep.json` of `sweep`)",
    "One shape sweep: its settings, data, one row per trained shape and seed, one summary row per shape, "
    "and the derived interval (also written alone as `OUT/interval.json`, the `interval_file` block).",
    HEADER + "kind str sweep\n"
    + block("settings", "everything that defines the sweep", SETTINGS)
    + "train_key str hash of the settings that change a trained checkpoint\n"
    + block("data", "the corpus, tokenizer and token stream", DATA)
    + block("rows", "one entry per trained shape and seed", ROW, typ="list[dict]").replace("rows.", "rows[].")
    + block("summary", "one entry per shape (means over seeds)", SUMMARY, typ="list[dict]").replace(
        "summary.", "summary[].")
    + block("interval", "the derived interval", INTERVAL)
    + block("interval_file", "the interval file (OUT/interval.json)", INTERVAL_FILE)
    + "statuses dict what happened to each shape in this invocation\n"
    + "statuses.* str trained, skipped (finished), or missing (--report-only)\n"
    + block("runtime", "how the sweep ran", """
wall_time_s        float  this invocation's wall time, seconds
wall_time_total_s  float  wall time over every invocation on this directory (resumes add up)
"""),
)
