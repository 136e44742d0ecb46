"""PyTorch references for the losses and LayerNorm (run by hand; CI never runs Python).

    python3 Tests/LayersTests/Fixtures/make_loss_fixtures.py

Writes loss_references.safetensors (float64): inputs, torch's values and gradients for
cross_entropy and nll_loss (ignore_index=-100; mean and sum), mse_loss,
binary_cross_entropy_with_logits and layer_norm (gradients of sum(output·w))."""
import os
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
F = torch.nn.functional
out = {}
logits = torch.randn(6, 5)
targets = torch.tensor([1, 0, 4, -100, 2, 2])
out["logits"], out["targets"] = logits, targets.to(torch.float64)
for name, function, argument in [("cross_entropy", F.cross_entropy, logits), ("nll", F.nll_loss, logits.log_softmax(1))]:
    for reduction in ("mean", "sum"):
        x = argument.clone().requires_grad_()
        loss = function(x, targets, ignore_index=-100, reduction=reduction)
        loss.backward()
        out[f"{name}.{reduction}"], out[f"{name}.{reduction}.grad"] = loss.detach(), x.grad
out["log_probabilities"] = logits.log_softmax(1)
prediction, target = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4)
loss = F.mse_loss(prediction, target)
loss.backward()
out.update({"mse.prediction": prediction.detach(), "mse.target": target, "mse": loss.detach(), "mse.grad": prediction.grad})
bce_logits, bce_targets = (torch.randn(8) * 4).requires_grad_(), torch.rand(8)
loss = F.binary_cross_entropy_with_logits(bce_logits, bce_targets)
loss.backward()
out.update({"bce.logits": bce_logits.detach(), "bce.targets": bce_targets, "bce": loss.detach(), "bce.grad": bce_logits.grad})
norm = torch.nn.LayerNorm([3, 4])
with torch.no_grad():
    norm.weight.copy_(torch.randn(3, 4)); norm.bias.copy_(torch.randn(3, 4))
x, w = torch.randn(2, 3, 4, requires_grad=True), torch.randn(2, 3, 4)
y = norm(x)
(y * w).sum().backward()
out.update({"ln.input": x.detach(), "ln.weight": norm.weight.detach(), "ln.bias": norm.bias.detach(), "ln.w": w,
            "ln.output": y.detach(), "ln.grad.input": x.grad, "ln.grad.weight": norm.weight.grad, "ln.grad.bias": norm.bias.grad})
save_file({k: v.detach().contiguous() for k, v in out.items()},
          os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss_references.safetensors"))
