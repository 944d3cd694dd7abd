"""Where the weights are loaded (models/loading.direct_placement): straight onto an accelerator,
unchanged on the CPU, and a device this machine lacks refused before anything is read (issue 22)."""

from __future__ import annotations

import pytest
import torch

from hf_interaction.errors import UsageError
from hf_interaction.models.loading import direct_placement


def test_the_cpu_and_the_default_device_keep_the_usual_path():
    assert direct_placement(None) == direct_placement("cpu") == {}


def test_a_cuda_device_this_machine_lacks_is_refused_in_one_line():
    missing = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(UsageError, match=f"cannot move the model to device '{missing}': this machine has"):
        direct_placement(missing)
    with pytest.raises(UsageError, match="cannot move the model to device 'nonsense'"):
        direct_placement("nonsense")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_present_cuda_device_is_loaded_onto_directly():
    assert direct_placement("cuda:0") == {"device_map": {"": "cuda:0"}}


def test_a_single_device_map_loads_the_same_weights_as_the_usual_path(tmp_path):
    """The argument direct_placement gives, with the CPU as the device (the only one here): transformers
    places every tensor there, bit for bit the weights of the usual load."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    usual = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
    direct = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32, device_map={"": "cpu"})
    a, b = usual.state_dict(), direct.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) and b[k].device.type == "cpu" for k in a)
