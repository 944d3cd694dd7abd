"""Key tables that several record kinds share: the shape block, the interval, the model's source
(``provenance``), the package versions stamp, and the header every record starts with."""

from __future__ import annotations

HEADER = """
schema_version  int       the record schema version (hf_interaction.schema.SCHEMA_VERSION)
created_at      str       when the record was made, UTC, ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)
versions        dict      the provenance stamp: versions of the software that made the record
versions.*      str?      one package (hf-interaction, python, torch, transformers, accelerate, lm_eval,
  datasets): its version, null when not installed
"""

MODEL = """
model     str   the model as given: a Hub id, a local path, a GGUF file or an embedded name (demo, smollm2)
revision  str   the resolved revision: the Hub commit, or local-<fingerprint> of a local checkpoint's files
"""

SHAPE = """
model                      str     the model as given (see model)
model_type                 str     the config's model_type (the text decoder's for multimodal configs)
architecture               str     the transformers class that was instantiated (meta device, no weights)
depth                      int     L: the number of blocks (num_hidden_layers, n_layer, ...)
width                      int     d: the residual-stream width (hidden_size, n_embd, d_model, ...)
r_dw                       float   R_D/W = L / d
total_params               int     exact parameter count of a meta-device skeleton
embedding_params           int     input embedding + an untied output head
non_embedding_params       int     total_params − embedding_params (learned position embeddings count here)
position_embedding_params  int     learned position embeddings (GPT-2, OPT); 0 for rotary models
ffn_width                  int?    MLP hidden width; null when the config has none
ffn_ratio                  float?  ffn_width / width
heads                      int?    attention heads
kv_heads                   int?    key-value heads (grouped-query attention)
head_dim                   int?    per-head width (the config's head_dim, else width / heads)
vocab_size                 int?    the vocabulary size V
tied_embeddings            bool?   whether the output head is the input embedding; null for encoders
interval_distance          float   0 inside the interval; log10(r/hi) above (positive), log10(r/lo) below
  (negative), in decades
interval_coordinate        float   (log r − log lo) / (log hi − log lo): 0 at lo, 1 at hi
inside_interval            bool    lo ≤ r ≤ hi
"""

INTERVAL = """
lo      float   lower end of the efficient R_D/W interval
hi      float   upper end
source  str     where the interval comes from (the paper's sweeps, or a sweep's interval.json)
centre  float   the geometric centre, sqrt(lo × hi)
"""

PROVENANCE = """
model               str    the model as given
source              str    where it was resolved: hub, local_dir, gguf, embedded or config_file
requested_revision  str?   the revision asked for (ID@REVISION), null when none
revision            str    the resolved revision (Hub commit or local content fingerprint)
weights             dict   where the weights come from
weights.format      str    safetensors, gguf, pickle or "none (config only)"
weights.file        ~str   GGUF only: the file name
weights.quantization ~str? GGUF only: the file type (e.g. Q4_1)
weights.tensor_types ~dict? GGUF only: tensor count per quantization type
weights.tensor_types.* int one quantization type's tensor count
weights.note        ~str   GGUF only: how the weights were dequantized
"""


def prefixed(prefix: str, table: str) -> str:
    """``table`` with every key moved below ``prefix`` (continuation lines kept)."""
    out = []
    for line in table.strip("\n").splitlines():
        if not line.strip() or line.startswith(" "):
            out.append(line)
        else:
            out.append(f"{prefix}.{line}")
    return "\n".join(out) + "\n"


def block(prefix: str, meaning: str, table: str, typ: str = "dict") -> str:
    """A key ``prefix`` of type ``typ`` and the keys of ``table`` below it."""
    return f"{prefix} {typ} {meaning}\n" + prefixed(prefix, table)
