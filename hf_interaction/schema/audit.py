"""The audit record: interaction metrics of one model on one probe corpus (``hf-interaction audit``).
Meanings in full: docs/metrics.md."""

from __future__ import annotations

from .common import HEADER, INTERVAL, MODEL, PROVENANCE, SHAPE, block, prefixed
from .spec import RecordSchema

#: The metrics of one measured model (the audited one, or one fresh init of a baseline).
METRICS = """
f_estimator    str        how F was estimated: output_probe_pairs (pairs of output-probe VJPs, the default) or
  hutchinson (input probes, the paper's)
f              float      F: the estimate of ‖G‖²_F over the n windows (the paper's target)
f_se           float      delete-one jackknife standard error of f (over output probes; input probes for hutchinson)
f_ci           interval?  95% jackknife-t interval of F (log scale; see ci_method and docs/metrics.md)
d              float      D: the estimate of ‖diag G‖² (a U-statistic over pairs of different output probes or
  probe groups)
d_ci           interval?  its interval; null when it cannot be formed (see ci_note)
aofe           float      AOFE = F − D, the off-diagonal Frobenius energy (raw: nothing clipped)
aofe_ci        interval?  its interval (log scale, or linear when a replicate is not positive)
aofe_ratio     float      AOFE-ratio = 1 − diag_share, the paper's headline metric
aofe_ratio_ci  interval?  its interval (1 − the D/F interval)
diag_share     float      D / F = 1 − AOFE-ratio, jackknife bias-corrected: the number that separates trained from
  fresh models
diag_share_plugin ~float  D̂ / F̂ before the bias correction
diag_share_ci  interval?  its interval (log scale, centred on the plug-in value)
trace          float      tr G, from the diagonal estimates
trace_ci       interval?  its interval
effective_rank     float      (tr G)² / F, with (tr G)² from products of different probes, bias-corrected
effective_rank_plugin ~float  the same before the bias correction
effective_rank_ci  interval?  its interval
ci_note        str?       why an interval is null; null when all exist
ci_method      ~str       how every interval was formed (jackknife, scale, degrees of freedom)
f_below_d      bool       F̂ < D̂ (possible with few probes; values are kept as measured)
ci_level       float      the intervals' coverage (0.95)
n_boot         ~int       bootstrap replicates (records before metrics version 4, whose intervals were bootstraps)
bootstrap_seed ~int       the bootstrap's seed (records before metrics version 4)
n_windows      int        probe windows measured
input_probes   int        Hutchinson input probes (F); 0 with F from output-probe pairs
output_probes  int        output probes (D, tr G, the layer profile; F too by default)
groups_per_half int?      hutchinson: output-probe groups per half, the jackknife units of D; null for pairs (single
  probes)
logit_scale    float      s: the RMS of the centred last-position logits that f is divided by
output_function str       how f was formed from the model's output
embedding_gram_aofe_ratio     float  AOFE-ratio of E_effᵀE_eff / V, a data-free reference tied to width
embedding_gram_init_reference float  (d − 1) / (V + d − 1): embedding_gram_aofe_ratio at initialisation
embedding_scale        float   the measured scale between embedding rows and the model's input (Gemma: √d)
embedding_path_rel_diff float  relative difference of the output through inputs_embeds and input_ids
jvp_method             str?    forward or double_backward (how Jacobian-vector products were formed); null when
  none were (F from output-probe pairs)
output_pass            str     one_forward (the output probes share one forward, batched backward passes) or copies
  (a forward per probe)
seconds_per_window     float   measuring time per window
probe_loss_nats_per_token float  next-token loss on the probe windows (text tokens 1..T−1)
probe_loss_bits_per_byte  float  the same in bits per UTF-8 byte (comparable across tokenizers)
population       dict       estimates of the probe corpus's AGOP: products of different windows only
population.window_units       ~int  W, the window units of the jackknife: every window, or (pairs, n·O > 1024)
  contiguous blocks of the sorted windows; hutchinson: window groups
population.window_unit_rule   ~str  how windows were put into units
population.window_dominance   ~float?  the largest window's tr Mᵢ estimate over the mean window's; above 4
  the intervals are withheld (heavy-tailed windows)
population.window_groups      ~int  W (records before metrics version 4)
population.window_groups_seen ~int  groups that received windows (records before metrics version 4)
population.estimator          str   how the estimates are formed (U-statistics)
population.note               str?  why an estimate or interval is null; null when none is
population.f                  float?  corpus F; null with fewer than 2 windows
population.d                  float?  corpus D; null when it cannot be formed (see note)
population.aofe_ratio         float?  1 − diag_share of the corpus
population.diag_share         float?  D / F of the corpus, bias-corrected
population.diag_share_plugin  ~float?  the same before the bias correction
population.f_ci               interval?  jackknife-t interval over window units and probes
population.d_ci               interval?  its interval
population.aofe_ratio_ci      interval?  its interval
population.diag_share_ci      interval?  its interval
population.n_boot_degenerate  ~int?  degenerate bootstrap replicates (records before metrics version 4)
diag_share_vs_baseline_log10    ~float?    with --baseline init: log10 of D/F over the fresh inits' D/F (mean of
  their logs), jackknife bias-corrected
diag_share_vs_baseline_log10_plugin ~float? the same from the plug-in D/F values, before the bias correction
diag_share_vs_baseline_log10_ci ~interval? its interval: delete-one jackknife over the shared probes (and windows for
  the population basis), the two sides' replicates paired; null whenever a side's own D/F interval is
diag_share_vs_baseline_basis    ~str       population or paper: which D/F the ratio uses
diag_share_vs_baseline_basis_text ~str     what the interval covers in words (probe noise only or probes and
  windows; conditional on the init seeds)
diag_share_vs_baseline_note     ~str?      why the interval is null
diag_share_vs_baseline_n_boot_dropped ~int  paired bootstrap replicates left out (records before metrics version 4)
"""

#: One block of the layer profile.
LAYER = """
layer          int     block index, from 0
f              float   F of the position-pooled AGOP of the residual stream entering the block
d              float   D of that AGOP (split-half estimate)
aofe           float   F − D
aofe_ratio     float   (F − D) / F (few probes make it noisy, even negative)
diag_share     float   D / F
f_below_d      bool    F̂ < D̂
trace          float   tr of that AGOP
effective_rank float   (tr)² / F
nfa_offdiag    float?  NFA: Pearson r of WᵀW of the MLP input projection(s) with sqrt(AGOP) at the MLP input,
  off-diagonal entries; null when the MLP weights are not found (see nfa_note)
nfa_full       float?  the same over all entries
nfa_note       str?    why NFA is null or how it was formed; null otherwise
mlp_input      str?    the MLP input projection(s) used for NFA (e.g. mlp.gate_proj+mlp.up_proj)
nfa_offdiag_over_baseline ~float?  with --baseline init: nfa_offdiag minus the fresh inits' (geometric) value
"""

SETTINGS = """
T               int    tokens per probe window
n               int    probe windows
input_probes    int    Hutchinson input probes (0 with f_estimator pairs)
output_probes   int    output probes
groups_per_half int?   hutchinson: output-probe groups per half (resolved from memory when not given); null for pairs
seed            int    seed of windows and probes
probe           str    the probe corpus: wikitext, builtin or a path
dtype           str    the weights' dtype
f_estimator     str    pairs (F from output-probe pairs) or hutchinson (input probes)
jvp_method      str    forward or double_backward (used by hutchinson only)
n_boot          int    unused since metrics version 4 (jackknife intervals); kept so older settings read
baseline        str?   init, or null without a baseline
baseline_seeds  int    fresh inits in the baseline
"""

PROBE = """
bos                 bool       whether windows start with the tokenizer's special prefix (BOS, [CLS])
prefix_ids          list[int]  the prefix token ids put before each window's T text tokens
framing             str        the framing in words
probe_spec          str        the probe corpus as given
probe_corpus_sha256 str        sha256 of the corpus text
probe_corpus_bytes  int        corpus size in UTF-8 bytes
probe_corpus_tokens int        corpus size in tokens
T                   int        text tokens per window
n                   int        windows
seed                int        the windows' seed
windows_sha256      str        sha256 of the exact token windows
window_starts       list[int]  each window's first token in the tokenized corpus
n_bytes             int        UTF-8 bytes of the windows' text
n_bytes_targets     int        bytes of the predicted tokens (for bits per byte)
description         str        the corpus in words
"""

RUNTIME = """
dtype               str     the dtype the weights were loaded in
device              str     the device (or device_map:auto)
device_map          dict?   accelerate's device map, when spread
device_map.*        any     one module's device
attn_implementation str?    the attention implementation transformers chose
trust_remote_code   bool    whether repository code ran
weights_format      str     safetensors, pickle or gguf
gguf_quantization   ~str?   GGUF only: the file type
num_processes       int     processes (accelerate launch shards windows)
devices             list[str]  the devices holding parameters
wall_time_s         float   wall time of the audit, seconds
probe_batch         int?    copies of a window per model pass; null: all probes at once
torch_threads       int     torch's intra-op threads
peak_rss_gb         float?  peak resident memory of the process, GB; null where unavailable
matmul_precision    ~str    float32 matmul precision in force: high (TF32: float32 audits on CUDA, --matmul-precision)
                            or highest (CPU, other dtypes, opted out); records since issue 22, as are the next three
load_s              ~float? seconds loading the model in this audit; null when given a loaded model
finalize_s          ~float  seconds of the finalisation (embedding Gram, estimates, bootstrap, NFA)
gpu_peak_gb         ~float? peak memory torch allocated on the model's CUDA devices, GB; null without CUDA
"""

BASELINE_METRICS = """
f                float   the inits' F (mean over seeds)
d                float   the inits' D
aofe_ratio       float   the inits' AOFE-ratio
trace            float   the inits' tr G
effective_rank   float   the inits' effective rank
probe_loss_nats_per_token float  the inits' probe loss
diag_share       float   the inits' D / F (geometric mean over seeds)
diag_share_ci    ~interval?  with one init seed: its D / F interval (with more, see the runs)
aofe_ratio_ci    ~interval?  with one init seed: its AOFE-ratio interval
population       dict    the inits' population estimates
population.diag_share    float?  the inits' population D / F (geometric mean)
population.diag_share_ci ~interval?  with one init seed: its population D / F interval
"""

BASELINE_LAYER = """
layer          int     block index
nfa_offdiag    float?  the inits' NFA off-diagonal r (geometric mean over seeds)
nfa_full       float?  the inits' NFA over all entries
diag_share     float   the inits' layer D / F
aofe_ratio     float   the inits' layer AOFE-ratio
effective_rank float   the inits' layer effective rank
nfa_offdiag_seeds list[float]  nfa_offdiag of each seed
"""

AUDIT = RecordSchema.parse(
    "audit", "Audit record (`audits` in the store, `audit --json`, `audit_<model>.json` of `--out`)",
    "One audit of one model: metrics with intervals, the layer profile, how the windows were made and "
    "how the audit ran. Keyed in the store by model, revision and the settings' hash.",
    HEADER + MODEL
    + block("provenance", "where the model came from", PROVENANCE)
    + block("shape", "the model's shape and interval position (as in a shape record)", SHAPE)
    + block("interval", "the efficient interval used", INTERVAL)
    + block("settings", "everything that changes the audit's numbers", SETTINGS)
    + block("probe", "how the probe windows were made", PROBE)
    + block("runtime", "how the audit ran", RUNTIME)
    + block("metrics", "the model's interaction metrics", METRICS)
    + block("layers", "the layer profile: one entry per block", LAYER, typ="list[dict]").replace(
        "layers.", "layers[].")
    + "notes list[str] what the audit noticed (fallbacks, skipped NFA, ...)\n"
    + "baseline ~dict with --baseline init: the same architecture freshly initialised, on the same windows\n"
    + prefixed("baseline", """
kind           str        init
initializer    str        how the inits were made (the config's own initialiser, seeded)
init_seeds     list[int]  the inits' seeds
windows_sha256 str        the windows measured (equal to probe.windows_sha256)
probe_seed     int        the z/r probes' seed (equal to the audit's)
seconds        float      wall time of the baseline, seconds
""")
    + block("baseline.metrics", "means over the inits (geometric for ratios)", BASELINE_METRICS)
    + block("baseline.layers", "the inits' layer profile", BASELINE_LAYER, typ="list[dict]").replace(
        "baseline.layers.", "baseline.layers[].")
    + "baseline.runs list[dict] each init on its own\n"
    + "baseline.runs[].init_seed int the init's seed\n"
    + block("baseline.runs[].metrics", "its metrics", METRICS)
    + block("baseline.runs[].layers", "its layer profile", LAYER, typ="list[dict]").replace(
        "baseline.runs[].layers.", "baseline.runs[].layers[]."),
)
