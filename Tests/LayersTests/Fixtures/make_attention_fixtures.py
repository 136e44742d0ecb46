"""PyTorch references for MultiHeadAttention (run by hand; CI never runs Python).

    python3 Tests/LayersTests/Fixtures/make_attention_fixtures.py

Writes attention_references.safetensors (float64). For each case NAME ("same": keys and
values of the embedding size, one in_proj_weight; "sizes": key size 6, value size 7, separate
q/k/v_proj_weight): the module's parameters under NAME.<parameter name>, NAME.query
[3, 4, 8], NAME.key, NAME.value [3, 5, ·], NAME.lengths (valid key steps per batch entry,
key_padding_mask = step >= length), NAME.w (the weighting of the loss sum(output * w)),
NAME.output, NAME.weights (averaged over the 2 heads), and NAME.grad.<input or parameter>."""
import os
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
out = {}
for name, kdim, vdim in [("same", 8, 8), ("sizes", 6, 7)]:
    module = torch.nn.MultiheadAttention(8, 2, batch_first=True, kdim=kdim, vdim=vdim)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    query = torch.randn(3, 4, 8, requires_grad=True)
    key = torch.randn(3, 5, kdim, requires_grad=True)
    value = torch.randn(3, 5, vdim, requires_grad=True)
    lengths = torch.tensor([5, 3, 1])
    padding = torch.arange(5)[None, :] >= lengths[:, None]
    output, weights = module(query, key, value, key_padding_mask=padding)
    w = torch.randn_like(output)
    (output * w).sum().backward()
    for pname, p in module.named_parameters():
        out[f"{name}.{pname}"] = p.detach()
        out[f"{name}.grad.{pname}"] = p.grad
    out.update({f"{name}.query": query.detach(), f"{name}.key": key.detach(), f"{name}.value": value.detach(),
                f"{name}.lengths": lengths.to(torch.float64), f"{name}.w": w, f"{name}.output": output.detach(),
                f"{name}.weights": weights.detach(), f"{name}.grad.query": query.grad, f"{name}.grad.key": key.grad,
                f"{name}.grad.value": value.grad})
save_file({k: v.detach().contiguous() for k, v in out.items()},
          os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention_references.safetensors"))
