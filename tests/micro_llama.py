"""The micro Llama of the estimator tests and its exact Jacobians (shared by test_agop_exact,
test_agop_pairs and test_population; the ``micro`` fixture in conftest.py builds it once per module).

A real ``LlamaForCausalLM`` (vocab 16, hidden 8, 2 layers, 2 heads, eager attention, float64, init std
0.3 so that it is clearly non-linear). Exact references, computed independently of the estimator code:
Jᵢ = (∂f/∂q)ᵀ from ``torch.autograd.functional.jacobian`` with respect to the one-hot tokens q, and the
hidden-state Jacobians ∂f_v/∂h from one backward with the standard basis as output probes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from hf_interaction.agop import ForwardOut, aofe_ratio, diagonal_energy, frobenius_energy

V, D_MODEL, N_LAYERS, T, N_WINDOWS = 16, 8, 2, 4, 6


def build_model(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=V,
        hidden_size=D_MODEL,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        initializer_range=0.3,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    model = LlamaForCausalLM(config).to(torch.float64).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class LlamaForward:
    """The forward callable the audit module would supply: inputs_embeds → centred last logits / s,
    with forward pre-hooks capturing each block's input and each MLP's up_proj input."""

    def __init__(self, model: LlamaForCausalLM, scale: float = 1.0, with_mlp: bool = True):
        self.model, self.scale = model, scale
        self.blocks: list[torch.Tensor | None] = [None] * N_LAYERS
        self.mlps: list[torch.Tensor | None] = [None] * N_LAYERS
        self.handles = []
        for layer, block in enumerate(model.model.layers):
            self.handles.append(block.register_forward_pre_hook(self._block_hook(layer), with_kwargs=True))
            if with_mlp:
                self.handles.append(block.mlp.up_proj.register_forward_pre_hook(self._mlp_hook(layer)))

    def _block_hook(self, layer):
        def hook(module, args, kwargs):
            self.blocks[layer] = args[0] if args else kwargs["hidden_states"]

        return hook

    def _mlp_hook(self, layer):
        def hook(module, args):
            self.mlps[layer] = args[0]

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __call__(self, e: torch.Tensor) -> ForwardOut:
        logits = self.model(inputs_embeds=e, logits_to_keep=1).logits[:, -1]
        f = (logits - logits.mean(dim=-1, keepdim=True)) / self.scale
        return ForwardOut(f=f, block_inputs=list(self.blocks), mlp_inputs=list(self.mlps))


@dataclass
class Micro:
    model: LlamaForCausalLM
    forward: LlamaForward
    E: torch.Tensor  # V × d
    tokens: torch.Tensor  # n × T
    J: list[torch.Tensor]  # per window, (T·V) × V
    block_jac: list[torch.Tensor]  # per window, L × V × T × d: ∂f_v/∂h_{l,t}
    mlp_jac: list[torch.Tensor]  # per window, L × V × T × d

    def windows(self, idx) -> list[torch.Tensor]:
        return [self.E[self.tokens[i]] for i in idx]

    def G(self, idx) -> torch.Tensor:
        return sum(self.J[i] @ self.J[i].T for i in idx) / len(idx)

    def layer_agop(self, idx, which: str) -> torch.Tensor:
        """L × d × d exact position-pooled AGOPs at block inputs ("block") or MLP inputs ("mlp")."""
        jac = self.block_jac if which == "block" else self.mlp_jac
        return sum(torch.einsum("lvtd,lvte->lde", jac[i], jac[i]) for i in idx) / len(idx)

    def mlp_weight_grams(self) -> list[torch.Tensor]:
        mlps = [block.mlp for block in self.model.model.layers]
        return [m.gate_proj.weight.T @ m.gate_proj.weight + m.up_proj.weight.T @ m.up_proj.weight for m in mlps]

    def mlp_weights(self) -> list[list[torch.Tensor]]:
        return [[b.mlp.gate_proj.weight, b.mlp.up_proj.weight] for b in self.model.model.layers]


def _exact_input_jacobian(fwd: LlamaForward, E: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    q = torch.nn.functional.one_hot(tokens, V).to(torch.float64)
    jac = torch.autograd.functional.jacobian(lambda q_: fwd((q_ @ E)[None]).f[0], q)  # V × T × V
    return jac.reshape(V, T * V).T


def _exact_hidden_jacobians(fwd: LlamaForward, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∂f_v/∂h at every block input and MLP input, from one backward with basis output probes."""
    x = e.detach().expand(V, T, D_MODEL).clone().requires_grad_(True)
    out = fwd(x)
    grads = torch.autograd.grad(out.f, out.block_inputs + out.mlp_inputs, grad_outputs=torch.eye(V).double())
    return torch.stack(grads[:N_LAYERS]), torch.stack(grads[N_LAYERS:])


def build_micro() -> Micro:
    """The micro Llama with its exact Jacobians (the ``micro`` fixture of conftest.py)."""
    model = build_model()
    E = model.get_input_embeddings().weight
    tokens = torch.randint(0, V, (N_WINDOWS, T), generator=torch.Generator().manual_seed(1))
    fwd = LlamaForward(model)
    with torch.no_grad():
        logits = fwd(E[tokens]).f  # scale 1 here: f is the centred logits
    fwd.scale = float(logits.pow(2).mean().sqrt())  # docs/design.md §4.1: RMS of centred last logits
    J = [_exact_input_jacobian(fwd, E, tokens[i]) for i in range(N_WINDOWS)]
    hidden = [_exact_hidden_jacobians(fwd, E[tokens[i]]) for i in range(N_WINDOWS)]
    return Micro(model, fwd, E, tokens, J, [h[0] for h in hidden], [h[1] for h in hidden])


def exact_input_metrics(G: torch.Tensor) -> dict[str, float]:
    F, D = frobenius_energy(G), diagonal_energy(G)
    tr = float(torch.trace(G))
    return {"f": F, "d": D, "aofe": F - D, "aofe_ratio": aofe_ratio(G), "diag_share": D / F, "trace": tr,
            "effective_rank": tr * tr / F}


#: Each reported estimate and the key of its interval.
CI_KEYS = {"f": "f_ci", "d": "d_ci", "aofe": "aofe_ci", "aofe_ratio": "aofe_ratio_ci",
           "diag_share": "diag_share_ci", "trace": "trace_ci", "effective_rank": "effective_rank_ci"}
