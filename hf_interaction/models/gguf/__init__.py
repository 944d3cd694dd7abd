"""GGUF files (llama.cpp's single-file format): finding and describing them (file), one parse for
config, weights and tokenizer (load), and torch dequantization (dequant)."""
