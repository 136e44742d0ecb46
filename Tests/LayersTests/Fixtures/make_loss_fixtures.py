"""PyTorch reference for crossEntropy (run by hand): writes loss_cross_entropy.safetensors with
logits [6, 5], targets [6] (as float64; one is the ignore index -100), and torch's mean and sum
losses (ignore_index=-100) with their gradients w.r.t. the logits."""
import os
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
logits = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
targets = torch.tensor([1, 0, 4, -100, 2, 2])
tensors = {"logits": logits.detach().clone(), "targets": targets.to(torch.float64)}
for reduction in ("mean", "sum"):
    logits.grad = None
    loss = torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction=reduction)
    loss.backward()
    tensors[reduction] = loss.detach()
    tensors["grad." + reduction] = logits.grad.clone()
save_file(tensors, os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss_cross_entropy.safetensors"))
