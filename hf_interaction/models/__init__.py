"""Where a model comes from and how it is loaded: Hub ids, local directories, GGUF files, the embedded
demo checkpoints; safe loading; the hooks into Hugging Face architectures (adapters)."""
