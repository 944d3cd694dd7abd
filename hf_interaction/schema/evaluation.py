"""The evaluation record: one MMLU-Pro run through lm-evaluation-harness (``hf-interaction eval``)."""

from __future__ import annotations

from .common import HEADER, MODEL, PROVENANCE, block
from .spec import RecordSchema

EVALUATION = RecordSchema.parse(
    "evaluation", "Evaluation record (`evaluations` in the store, `eval --json`, `eval-*.json` of `--out`)",
    "One MMLU-Pro evaluation of one model. Keyed in the store by model, revision and `settings`.",
    HEADER + MODEL + """
task          str     leaderboard_mmlu_pro or mmlu_pro (lm-eval's task definitions)
metric        str     the task's metric: acc (log-likelihood of the ten letters) or exact_match (CoT)
acc           float   the score, a fraction in [0, 1] (lm-eval's value of metric)
acc_stderr    float?  lm-eval's standard error of acc; null when lm-eval gives none
n_questions   int     questions evaluated
categories    dict    per category (biology, law, ...)
categories.*  dict    one category
categories.*.acc     float   its score
categories.*.stderr  float?  sample sd / sqrt(n); null for one question
categories.*.n       int     its questions
num_fewshot   int     few-shot examples per question (from the validation split)
limit         any     lm-eval's --limit (a count or a fraction), null when not used
subsample     dict?   with --subsample: the category-stratified draw; null otherwise
subsample.fraction        float   the fraction drawn
subsample.seed            int     the draw's seed
subsample.population      dict    questions per category in the full test split
subsample.population.*    int     one category's count
subsample.sampled         dict    questions drawn per category
subsample.sampled.*       int     one category's count
subsample.n_population    int     questions in the test split
subsample.n_sampled       int     questions drawn
subsample.estimate        float   the stratified estimate of the full-split score
subsample.estimate_stderr float?  its standard error (finite-population corrected)
task_hash     str     sha256 of the task definition (prompt, options, scoring)
requests_hash str     sha256 of lm-eval's per-question doc, prompt and target hashes: equal exactly when the
  same questions were asked the same way
data          dict    where the questions came from
data.source   str     hub or local
data.path     ~str    local: the data directory
data.files    ~dict   local: the file of each split
data.files.*  str     one split's file name
data.dataset  ~str    hub: the dataset id
data.fingerprint str  sha256 of the rows used
data.rows     dict    rows per split
data.rows.*   int     one split's row count
settings      dict    everything that changes the score (the store key)
settings.task       str    the task
settings.task_hash  str    its definition's hash
settings.data_fingerprint str  the data's fingerprint
settings.num_fewshot int   few-shot examples
settings.limit      any    --limit, or null
settings.subsample  float? --subsample, or null
settings.seed       int?   the subsample's seed, null without --subsample
settings.dtype      str    the weights' dtype
settings.lm_eval    str?   lm-eval's version
cached        ~bool   only in `eval --json` output: whether the result came from the store
""" + block("provenance", "where the model came from", PROVENANCE) + block("runtime", "how the run went", """
dtype               str     the weights' dtype
device              str     the device
attn_implementation str?    the attention implementation
trust_remote_code   bool    whether repository code ran
weights_format      str     safetensors, pickle or gguf
gguf_quantization   ~str?   GGUF only: the file type
num_processes       int     data-parallel processes
batch_size          any     lm-eval's batch size (a number or auto)
wall_time_s         float   wall time of lm-eval's run, seconds
questions_per_s     float?  questions per second
"""),
)
