"""PyTorch reference fixtures for the recurrent networks (run by hand; CI never runs Python).

    python3 Tests/LayersTests/Fixtures/make_rnn_fixtures.py

Writes rnn_<case>.safetensors (float64) next to this script. Each file holds the module's
state_dict under PyTorch's names (weight_ih_l0, …), and:
  input [B, T, I] (batch_first), h0 [L·D, B, H] (and c0 for LSTM), lengths [B] (as float64;
  absent for full-length batches), out_weight / hn_weight / cn_weight (fixed random weights of
  the loss), output, h_n, c_n, and the gradients of
      loss = Σ output·out_weight + Σ h_n·hn_weight (+ Σ c_n·cn_weight)
  as grad.input, grad.h0, grad.c0 and grad.<parameter name>.
Variable-length cases run through pack_padded_sequence / pad_packed_sequence, so padded
outputs are zero and final states are taken at each sequence's length.
"""
import os
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, TIME, INPUT, HIDDEN, PROJ = 3, 4, 3, 4, 2
LENGTHS = [4, 2, 3]

CASES = [
    # name, kind, layers, bidirectional, variable lengths, extra options
    ("rnn_tanh_l1", "rnn", 1, False, False, {"nonlinearity": "tanh"}),
    ("rnn_tanh_l2_bi_lengths", "rnn", 2, True, True, {"nonlinearity": "tanh"}),
    ("rnn_relu_l1_bi", "rnn", 1, True, False, {"nonlinearity": "relu"}),
    ("rnn_relu_l2_lengths", "rnn", 2, False, True, {"nonlinearity": "relu"}),
    ("lstm_l1", "lstm", 1, False, False, {}),
    ("lstm_l1_bi_lengths", "lstm", 1, True, True, {}),
    ("lstm_l2_bi_lengths", "lstm", 2, True, True, {}),
    ("lstm_proj_l1", "lstm", 1, False, False, {"proj_size": PROJ}),
    ("lstm_proj_l2_bi_lengths", "lstm", 2, True, True, {"proj_size": PROJ}),
    ("gru_l1", "gru", 1, False, False, {}),
    ("gru_l2", "gru", 2, False, False, {}),
    ("gru_l2_bi_lengths", "gru", 2, True, True, {}),
]

for name, kind, layers, bidirectional, variable, options in CASES:
    module_type = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = module_type(INPUT, HIDDEN, num_layers=layers, bidirectional=bidirectional, batch_first=True, **options)
    directions = 2 if bidirectional else 1
    out_size = options.get("proj_size", 0) or HIDDEN
    x = torch.randn(BATCH, TIME, INPUT, requires_grad=True)
    h0 = torch.randn(layers * directions, BATCH, out_size, requires_grad=True)
    c0 = torch.randn(layers * directions, BATCH, HIDDEN, requires_grad=True) if kind == "lstm" else None
    state = (h0, c0) if kind == "lstm" else h0
    if variable:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
        packed_out, final = module(packed, state)
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=TIME)
    else:
        output, final = module(x, state)
    h_n, c_n = final if kind == "lstm" else (final, None)
    out_weight, hn_weight = torch.randn_like(output), torch.randn_like(h_n)
    loss = (output * out_weight).sum() + (h_n * hn_weight).sum()
    tensors = {"input": x, "h0": h0, "output": output, "h_n": h_n, "out_weight": out_weight, "hn_weight": hn_weight}
    if c_n is not None:
        cn_weight = torch.randn_like(c_n)
        loss = loss + (c_n * cn_weight).sum()
        tensors.update({"c0": c0, "c_n": c_n, "cn_weight": cn_weight})
    loss.backward()
    tensors["grad.input"], tensors["grad.h0"] = x.grad, h0.grad
    if c0 is not None:
        tensors["grad.c0"] = c0.grad
    for parameter_name, parameter in module.named_parameters():
        tensors[parameter_name] = parameter
        tensors["grad." + parameter_name] = parameter.grad
    if variable:
        tensors["lengths"] = torch.tensor(LENGTHS, dtype=torch.float64)
    tensors = {key: value.detach().contiguous() for key, value in tensors.items()}
    metadata = {"kind": kind, "layers": str(layers), "bidirectional": str(bidirectional).lower(),
                "nonlinearity": options.get("nonlinearity", "tanh"), "proj_size": str(options.get("proj_size", 0)),
                "input_size": str(INPUT), "hidden_size": str(HIDDEN)}
    save_file(tensors, os.path.join(HERE, f"rnn_{name}.safetensors"), metadata=metadata)
    print(f"wrote rnn_{name}.safetensors ({len(tensors)} tensors)")
