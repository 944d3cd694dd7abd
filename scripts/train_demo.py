"""Train the embedded demo model that ``hf-interaction audit demo`` audits.

What it makes (in ``hf_interaction/data/demo/`` by default):

1. a byte-level BPE tokenizer (``tokenizers``, 1024 entries including 4 special tokens) trained on
   the first 95% of the builtin probe corpus (``hf_interaction.probe.builtin_corpus``: prose from
   Python standard-library docstrings, identical on CPython 3.10-3.13), wrapped as a
   ``PreTrainedTokenizerFast``;
2. a tiny ``LlamaForCausalLM`` (4 blocks, width 128, 4 heads, FFN 512, tied embeddings; R_D/W =
   4/128 = 0.031, inside the default efficient interval [0.0204, 0.0645]) trained on the same 95%
   with the package's one training loop (``hf_interaction.sweep.training``: AdamW, warm-up then cosine);
   the last 5% of the text is held out for a validation loss;
3. ``model.safetensors`` + config + tokenizer files, and ``TRAINING.md`` recording how.

Deterministic: fixed seed, fixed step count (never a time budget), fixed data order, and one torch
thread (the order of floating-point reductions depends on the thread count). Rerunning with the
same torch/transformers/tokenizers versions reproduces the weights bit for bit.

Run from the repository root (about 2-3 minutes on one free core):  python scripts/train_demo.py
"""

from __future__ import annotations

import argparse
import hashlib
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tokenizers
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from hf_interaction.probe import builtin_corpus
from hf_interaction.sweep.training import adamw, train_steps, validation_loss, warmup_cosine_schedule

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "hf_interaction" / "data" / "demo"
SPECIAL_TOKENS = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
VALIDATION_SHARE = 0.05


@dataclass(frozen=True)
class Settings:
    """Everything that determines the result; written to TRAINING.md."""

    seed: int = 0
    vocab_size: int = 1024
    layers: int = 4
    width: int = 128
    heads: int = 4
    ffn: int = 512
    max_positions: int = 512
    seq_len: int = 256
    batch_size: int = 8
    steps: int = 300
    peak_lr: float = 5e-3
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    threads: int = 1
    eval_every: int = 50


def split_text(text: str, validation_share: float) -> tuple[str, str]:
    """Cut the text at the paragraph boundary nearest to (1 - share) of its length: (train, validation)."""
    cut = text.rfind("\n\n", 0, int(len(text) * (1 - validation_share)))
    return text[: cut + 2], text[cut + 2 :]


def train_tokenizer(text: str, vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE over the paragraphs of ``text`` (GPT-2 style pre-tokenization; no added specials)."""
    bpe = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Paragraphs keep their separator so that the tokenizer learns "\n\n" as one token.
    bpe.train_from_iterator((p + "\n\n" for p in text.split("\n\n")), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, model_max_length=512, **SPECIAL_TOKENS)


def token_chunks(text: str, tokenizer: PreTrainedTokenizerFast, seq_len: int) -> torch.Tensor:
    """The text's token stream cut into consecutive, non-overlapping rows of seq_len (tail dropped)."""
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    rows = len(ids) // seq_len
    return torch.tensor(ids[: rows * seq_len], dtype=torch.long).view(rows, seq_len)


def build_model(s: Settings, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    """A freshly initialised tiny Llama, seeded."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=s.width,
        intermediate_size=s.ffn,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        num_key_value_heads=s.heads,
        max_position_embeddings=s.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(s.seed)
    return LlamaForCausalLM(config)


def batches(train: torch.Tensor, s: Settings):
    """Yield s.steps batches: each epoch is a seeded permutation of the rows, cut into full batches."""
    generator = torch.Generator().manual_seed(s.seed)
    step = 0
    while True:
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(order) - s.batch_size + 1, s.batch_size):
            if step == s.steps:
                return
            yield train[order[start : start + s.batch_size]]
            step += 1


def train(model: LlamaForCausalLM, train_rows: torch.Tensor, val_rows: torch.Tensor, s: Settings) -> dict:
    """The package's one training loop (``hf_interaction.sweep.training``): AdamW, transformers' warm-up +
    cosine schedule to 0, gradient clipping, for s.steps steps; returns the loss history and wall time."""
    optimizer = adamw(model, s.peak_lr, s.weight_decay)
    schedule = warmup_cosine_schedule(optimizer, s.steps, s.warmup_steps, 0.0, warmup_from_zero=True)
    history, recent, started = [], [], time.perf_counter()

    def evaluate(step: int, loss: float) -> None:
        recent.append(loss)
        if step % s.eval_every == 0 or step == s.steps:
            val = validation_loss(model, val_rows, batch=32)
            elapsed = time.perf_counter() - started
            history.append((step, sum(recent) / len(recent), val))
            print(f"step {step:5d}  train {history[-1][1]:.4f}  val {val:.4f}  {elapsed:6.1f}s", flush=True)
            recent.clear()

    train_steps(model, batches(train_rows, s), lambda m, batch: m(input_ids=batch, labels=batch).loss, optimizer,
                schedule, grad_clip=s.grad_clip, name="demo model", on_step=evaluate)
    return {"history": history, "seconds": time.perf_counter() - started}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_report(out: Path, s: Settings, facts: dict) -> None:
    """TRAINING.md: what the demo model is, how it was made and how to make it again."""
    rows = "\n".join(
        f"| {step} | {train_loss:.4f} | {val_loss:.4f} |" for step, train_loss, val_loss in facts["history"]
    )
    settings = "\n".join(f"| `{k}` | {v} |" for k, v in vars(s).items())
    files = "\n".join(f"| `{p.name}` | {p.stat().st_size:,} | `{sha256_file(p)[:16]}` |"
                      for p in sorted(out.iterdir()) if p.name != "TRAINING.md")
    text = f"""# Demo model

A tiny causal language model shipped inside the package so that `hf-interaction audit demo` runs
offline and shows the numbers of a model that has really been trained. It is a demonstration
object, not a useful language model.

## What

- Architecture: `LlamaForCausalLM`, {s.layers} blocks, width (hidden size) {s.width}, {s.heads} attention heads \
(head dimension {s.width // s.heads}), FFN width {s.ffn}, RMSNorm, RoPE, tied input/output embeddings, \
{facts["n_params"]:,} parameters, float32, `model.safetensors`.
- Shape: R_D/W = {s.layers}/{s.width} = {s.layers / s.width:.5f}, inside the default efficient interval \
[0.0204, 0.0645] (docs/design.md §3).
- Tokenizer: byte-level BPE (`tokenizers`), vocabulary {facts["vocab"]} including the special tokens \
`<unk>` `<s>` `</s>` `<pad>`; no special tokens are added when encoding. A uniform guess scores \
ln({facts["vocab"]}) = {math.log(facts["vocab"]):.3f} nats/token.
- Data: the builtin probe corpus (`hf_interaction.probe.builtin_corpus()`: prose paragraphs from \
Python standard-library docstrings), {facts["corpus_bytes"]:,} bytes, sha256 `{facts["corpus_sha256"]}`. \
The first 95% (cut at a paragraph boundary) trains the tokenizer and the model \
({facts["train_rows"]} rows of {s.seq_len} tokens = {facts["train_tokens"]:,} tokens); the last 5% is held out \
for the validation loss ({facts["val_rows"]} rows, {facts["val_tokens"]:,} tokens).

## How

- Seed {s.seed}: `torch.manual_seed` before initialisation, and a seeded permutation of the training \
rows every epoch.
- {s.steps} steps of batch {s.batch_size} x {s.seq_len} tokens \
({s.steps * s.batch_size * s.seq_len:,} tokens, about {s.steps * s.batch_size / facts["train_rows"]:.1f} epochs).
- AdamW (betas 0.9/0.95, weight decay {s.weight_decay} on matrices, none on norms), peak learning \
rate {s.peak_lr}, {s.warmup_steps} warm-up steps then cosine decay to 0, gradient clipping at {s.grad_clip}.
- Torch threads: {s.threads} (fixed, so the result does not depend on the machine's core count).
- Wall time: {facts["seconds"]:.0f} s of training on {facts["machine"]} (shared with other jobs).
- Final loss (nats/token): train {facts["history"][-1][1]:.4f} (mean over the last {s.eval_every} steps), \
validation {facts["history"][-1][2]:.4f}.

| step | train loss | validation loss |
| ---: | ---: | ---: |
{rows}

Settings (`Settings` in the script):

| setting | value |
| --- | --- |
{settings}

## Regenerate

From the repository root:

```
python scripts/train_demo.py
```

Script sha256 `{facts["script_sha256"]}`. Made with Python {platform.python_version()}, \
torch {torch.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}. \
The same versions give the same weights; other versions give a model of the same quality, not \
bitwise the same weights.

## Files

| file | bytes | sha256 (first 16) |
| --- | ---: | --- |
{files}
"""
    (out / "TRAINING.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--steps", type=int, default=Settings.steps, help="optimizer steps")
    args = parser.parse_args(argv)
    s = Settings(steps=args.steps)
    torch.set_num_threads(s.threads)
    torch.use_deterministic_algorithms(True)

    corpus = builtin_corpus()
    train_text, val_text = split_text(corpus.text, VALIDATION_SHARE)
    tokenizer = train_tokenizer(train_text, s.vocab_size)
    train_rows = token_chunks(train_text, tokenizer, s.seq_len)
    val_rows = token_chunks(val_text, tokenizer, s.seq_len)
    model = build_model(s, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"corpus {corpus.n_bytes:,} bytes, vocab {len(tokenizer)}, train rows {len(train_rows)}, "
          f"val rows {len(val_rows)}, parameters {n_params:,}", flush=True)

    result = train(model, train_rows, val_rows, s)

    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.iterdir():
        if stale.is_file():
            stale.unlink()
    model.save_pretrained(args.out)  # transformers 5 always writes model.safetensors
    tokenizer.save_pretrained(args.out)
    if not (args.out / "model.safetensors").is_file():
        sys.exit("expected model.safetensors in the output directory")
    write_report(args.out, s, {
        **result,
        "n_params": n_params,
        "vocab": len(tokenizer),
        "corpus_bytes": corpus.n_bytes,
        "corpus_sha256": corpus.sha256,
        "train_tokens": train_rows.numel(),
        "val_tokens": val_rows.numel(),
        "val_rows": len(val_rows),
        "train_rows": len(train_rows),
        "machine": f"{platform.machine()} CPU",
        "script_sha256": sha256_file(Path(__file__)),
    })
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
