"""PyTorch references for ctcLoss (run by hand; CI never runs Python).

    python3 Tests/LayersTests/Fixtures/make_ctc_fixtures.py

Writes ctc_references.safetensors (float64). For each case NAME: NAME.logits [T, B, C]
(unnormalized), NAME.targets [B, S] (padded with 0), NAME.input_lengths, NAME.target_lengths
(as float64), and per reduction R in none/sum/mean: NAME.R (the loss of
ctc_loss(log_softmax(logits), …)) and NAME.R.grad (d sum(loss) / d logits). Cases: "mixed"
(repeats, an empty target, shorter inputs), "impossible" (too short for its target: +inf,
and with zero_infinity=True under NAME.zero.R), "long" (T = 400, stability)."""
import os
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
F = torch.nn.functional
out = {}


def case(name, logits, targets, input_lengths, target_lengths, zero_infinity=False, prefix=None):
    prefix = prefix or name
    out[f"{name}.logits"] = logits
    out[f"{name}.targets"] = targets.to(torch.float64)
    out[f"{name}.input_lengths"] = torch.tensor(input_lengths, dtype=torch.float64)
    out[f"{name}.target_lengths"] = torch.tensor(target_lengths, dtype=torch.float64)
    for reduction in ("none", "sum", "mean"):
        x = logits.clone().requires_grad_()
        loss = F.ctc_loss(x.log_softmax(2), targets, input_lengths, target_lengths, blank=0,
                          reduction=reduction, zero_infinity=zero_infinity)
        loss.sum().backward()
        out[f"{prefix}.{reduction}"], out[f"{prefix}.{reduction}.grad"] = loss.detach(), x.grad


case("mixed", torch.randn(12, 5, 6) * 2,
     torch.tensor([[1, 2, 2, 3, 0], [4, 4, 4, 0, 0], [0, 0, 0, 0, 0], [5, 1, 5, 1, 5], [3, 0, 0, 0, 0]]),
     [12, 9, 7, 12, 1], [4, 3, 0, 5, 1])
impossible = (torch.randn(4, 2, 3), torch.tensor([[1, 1, 1], [2, 1, 0]]), [4, 4], [3, 2])
case("impossible", *impossible)
case("impossible", *impossible, zero_infinity=True, prefix="impossible.zero")
case("long", torch.randn(400, 2, 8) * 3, torch.randint(1, 8, (2, 60)), [400, 321], [60, 47])
save_file({k: v.detach().contiguous() for k, v in out.items()},
          os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctc_references.safetensors"))
