"""Writes optim_trajectories.json: parameter trajectories of torch.optim on a small fixed model.

Run by hand (never in CI) from this directory: `python3 make_optim_fixtures.py`.
Each case trains the same float64 model for 25 steps with one optimizer configuration (and,
for some, gradient clipping or a learning-rate schedule) and records, after every step, the
parameters, the learning rate that step used and the norm clipping returned; at the end, the
optimizer's per-parameter state (torch's buffer names). The Swift tests rebuild each case from
its description and must match to 1e-10.
"""
import json
import torch

torch.set_default_dtype(torch.float64)
STEPS = 25

# The model: h = tanh(X W + b), loss = sum((h - Y)^2) + 0.05 sum(W^2). Fixed values, chosen so
# that no gradient element is near zero (Adam-like updates divide by |g|).
INPUTS = {
    "W": [[0.5, -0.3], [0.8, 0.2], [-0.4, 0.6]],
    "b": [0.1, -0.2],
    "X": [[1.0, 0.5, -0.3], [-0.7, 0.2, 0.9], [0.3, -0.8, 0.4], [0.6, 0.1, -0.5]],
    "Y": [[0.2, -0.5], [0.7, 0.1], [-0.3, 0.4], [0.5, -0.2]],
}


def loss_of(W, b, X, Y):
    h = torch.tanh(X @ W + b)
    return ((h - Y) * (h - Y)).sum() + 0.05 * (W * W).sum()


def make_optimizer(case, W, b):
    kind = getattr(torch.optim, case["optimizer"])
    options = dict(case["options"])
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    if "groups" in case:  # W takes the defaults, b the group's overrides
        params = [{"params": [W]}, {"params": [b], **case["groups"][1]}]
    else:
        params = [W, b]
    return kind(params, foreach=False, **options)


def make_schedule(description, optimizer):
    s = torch.optim.lr_scheduler
    kind = description["kind"]
    if kind == "step":
        return s.StepLR(optimizer, step_size=description["step_size"], gamma=description["gamma"])
    if kind == "exponential":
        return s.ExponentialLR(optimizer, gamma=description["gamma"])
    if kind == "cosine":
        return s.CosineAnnealingLR(optimizer, T_max=description["T_max"], eta_min=description["eta_min"])
    if kind == "linear":
        return s.LinearLR(optimizer, start_factor=description["start_factor"],
                          end_factor=description["end_factor"], total_iters=description["total_iters"])
    if kind == "multistep":
        return s.MultiStepLR(optimizer, milestones=description["milestones"], gamma=description["gamma"])
    if kind == "constant":
        return s.ConstantLR(optimizer, factor=description["factor"], total_iters=description["total_iters"])
    if kind == "polynomial":
        return s.PolynomialLR(optimizer, total_iters=description["total_iters"], power=description["power"])
    if kind == "cosine_restarts":
        return s.CosineAnnealingWarmRestarts(optimizer, T_0=description["T_0"], T_mult=description["T_mult"],
                                             eta_min=description["eta_min"])
    if kind == "one_cycle":
        return s.OneCycleLR(optimizer, max_lr=description["max_lr"], total_steps=description["total_steps"],
                            pct_start=description["pct_start"], anneal_strategy=description["anneal_strategy"],
                            div_factor=description["div_factor"], final_div_factor=description["final_div_factor"],
                            three_phase=description["three_phase"], cycle_momentum=False)
    if kind == "plateau":
        return s.ReduceLROnPlateau(optimizer, mode=description["mode"], factor=description["factor"],
                                   patience=description["patience"], threshold=description["threshold"],
                                   threshold_mode=description["threshold_mode"], cooldown=description["cooldown"],
                                   min_lr=description["min_lr"], eps=description["eps"])
    parts = [make_schedule(part, optimizer) for part in description["schedules"]]
    if kind == "sequential":
        return s.SequentialLR(optimizer, parts, milestones=description["milestones"])
    if kind == "chained":
        return s.ChainedScheduler(parts, optimizer=optimizer)
    raise ValueError(kind)


def clip(description, params):
    if description["kind"] == "norm":
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm=description["max_norm"],
                                                    norm_type=description["norm_type"], foreach=False))
    torch.nn.utils.clip_grad_value_(params, clip_value=description["clip_value"], foreach=False)
    return None


def run(case):
    W = torch.tensor(INPUTS["W"], requires_grad=True)
    b = torch.tensor(INPUTS["b"], requires_grad=True)
    X, Y = torch.tensor(INPUTS["X"]), torch.tensor(INPUTS["Y"])
    optimizer = make_optimizer(case, W, b)
    schedule = make_schedule(case["schedule"], optimizer) if "schedule" in case else None
    steps = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = loss_of(W, b, X, Y)
        loss.backward()
        record = {"lr": [group["lr"] for group in optimizer.param_groups]}
        if "clip" in case:
            norm = clip(case["clip"], [W, b])
            if norm is not None:
                record["norm"] = norm
        optimizer.step()
        if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.step(float(loss.detach()))  # the metric: this step's loss
        elif schedule is not None:
            schedule.step()
        record["W"] = W.detach().flatten().tolist()
        record["b"] = b.detach().flatten().tolist()
        steps.append(record)
    state = {}
    for name, param in (("W", W), ("b", b)):
        for key, value in optimizer.state[param].items():
            if value is not None:
                state[f"{key}.{name}"] = value.detach().flatten().tolist() if value.dim() else [float(value)]
    return {**case, "steps": steps, "final_state": state}


SGD_LR = {"lr": 0.1}
CASES = [
    {"name": "sgd_plain", "optimizer": "SGD", "options": SGD_LR},
    {"name": "sgd_momentum", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9}},
    {"name": "sgd_dampening", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}},
    {"name": "sgd_nesterov", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.8, "nesterov": True}},
    {"name": "sgd_weight_decay", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}},
    {"name": "sgd_maximize", "optimizer": "SGD", "options": {"lr": 0.01, "maximize": True}},
    {"name": "sgd_groups", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9},
     "groups": [{}, {"lr": 0.03, "momentum": 0.5, "weight_decay": 0.2}]},
    {"name": "adam_plain", "optimizer": "Adam", "options": {"lr": 0.05}},
    {"name": "adam_amsgrad", "optimizer": "Adam", "options": {"lr": 0.05, "betas": [0.8, 0.99], "amsgrad": True}},
    {"name": "adam_weight_decay", "optimizer": "Adam", "options": {"lr": 0.05, "weight_decay": 0.1, "eps": 1e-6}},
    {"name": "adam_maximize", "optimizer": "Adam", "options": {"lr": 0.01, "maximize": True}},
    {"name": "adamw_default_decay", "optimizer": "AdamW", "options": {"lr": 0.05}},
    {"name": "adamw_amsgrad", "optimizer": "AdamW", "options": {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}},
    {"name": "rmsprop_plain", "optimizer": "RMSprop", "options": {"lr": 0.01}},
    {"name": "rmsprop_momentum", "optimizer": "RMSprop", "options": {"lr": 0.01, "alpha": 0.9, "momentum": 0.7}},
    {"name": "rmsprop_centered", "optimizer": "RMSprop", "options": {"lr": 0.01, "centered": True}},
    {"name": "rmsprop_centered_momentum_decay", "optimizer": "RMSprop",
     "options": {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-4}},
    {"name": "adagrad_plain", "optimizer": "Adagrad", "options": {"lr": 0.1}},
    {"name": "adagrad_lr_decay", "optimizer": "Adagrad", "options": {"lr": 0.1, "lr_decay": 0.05}},
    {"name": "adagrad_accumulator_decay", "optimizer": "Adagrad",
     "options": {"lr": 0.1, "initial_accumulator_value": 0.5, "weight_decay": 0.1, "eps": 1e-6}},
    {"name": "clip_norm_2", "optimizer": "SGD", "options": SGD_LR, "clip": {"kind": "norm", "max_norm": 0.5, "norm_type": 2.0}},
    {"name": "clip_norm_1", "optimizer": "SGD", "options": SGD_LR, "clip": {"kind": "norm", "max_norm": 0.8, "norm_type": 1.0}},
    {"name": "clip_norm_inf", "optimizer": "SGD", "options": SGD_LR, "clip": {"kind": "norm", "max_norm": 0.2, "norm_type": "inf"}},
    {"name": "clip_norm_3", "optimizer": "SGD", "options": SGD_LR, "clip": {"kind": "norm", "max_norm": 0.3, "norm_type": 3.0}},
    {"name": "clip_value", "optimizer": "SGD", "options": SGD_LR, "clip": {"kind": "value", "clip_value": 0.1}},
    {"name": "schedule_step", "optimizer": "SGD", "options": SGD_LR, "schedule": {"kind": "step", "step_size": 3, "gamma": 0.5}},
    {"name": "schedule_exponential", "optimizer": "SGD", "options": SGD_LR, "schedule": {"kind": "exponential", "gamma": 0.9}},
    {"name": "schedule_cosine", "optimizer": "SGD", "options": SGD_LR, "schedule": {"kind": "cosine", "T_max": 10, "eta_min": 0.001}},
    {"name": "schedule_linear", "optimizer": "SGD", "options": SGD_LR,
     "schedule": {"kind": "linear", "start_factor": 0.1, "end_factor": 1.0, "total_iters": 5}},
    {"name": "schedule_warmup_cosine", "optimizer": "Adam", "options": {"lr": 0.05},
     "schedule": {"kind": "sequential", "milestones": [5], "schedules": [
         {"kind": "linear", "start_factor": 0.2, "end_factor": 1.0, "total_iters": 5},
         {"kind": "cosine", "T_max": 20, "eta_min": 0.0}]}},
    {"name": "schedule_chained", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9},
     "groups": [{}, {"lr": 0.05}],
     "schedule": {"kind": "chained", "schedules": [
         {"kind": "step", "step_size": 4, "gamma": 0.5}, {"kind": "exponential", "gamma": 0.95}]}},
    {"name": "schedule_multistep", "optimizer": "SGD", "options": SGD_LR,
     "schedule": {"kind": "multistep", "milestones": [3, 7, 7, 15], "gamma": 0.5}},
    {"name": "schedule_constant", "optimizer": "SGD", "options": SGD_LR,
     "schedule": {"kind": "constant", "factor": 0.25, "total_iters": 6}},
    {"name": "schedule_polynomial", "optimizer": "Adam", "options": {"lr": 0.05},
     "schedule": {"kind": "polynomial", "total_iters": 20, "power": 2.0}},
    {"name": "schedule_cosine_restarts", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9},
     "schedule": {"kind": "cosine_restarts", "T_0": 3, "T_mult": 2, "eta_min": 0.01}},
    {"name": "schedule_one_cycle", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9},
     "schedule": {"kind": "one_cycle", "max_lr": 0.2, "total_steps": 25, "pct_start": 0.3, "anneal_strategy": "cos",
                  "div_factor": 25.0, "final_div_factor": 1e4, "three_phase": False}},
    {"name": "schedule_one_cycle_three_phase", "optimizer": "Adam", "options": {"lr": 0.05},
     "schedule": {"kind": "one_cycle", "max_lr": 0.08, "total_steps": 30, "pct_start": 0.25, "anneal_strategy": "linear",
                  "div_factor": 10.0, "final_div_factor": 100.0, "three_phase": True}},
    {"name": "schedule_plateau", "optimizer": "SGD", "options": {"lr": 0.1, "momentum": 0.9},
     "schedule": {"kind": "plateau", "mode": "min", "factor": 0.5, "patience": 1, "threshold": 0.02,
                  "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.02, "eps": 1e-8}},
    {"name": "schedule_plateau_max_abs", "optimizer": "Adam", "options": {"lr": 0.05},
     "schedule": {"kind": "plateau", "mode": "max", "factor": 0.3, "patience": 0, "threshold": 0.01,
                  "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}},
]


def main():
    cases = []
    for case in CASES:
        if case.get("clip", {}).get("norm_type") == "inf":
            torch_case = {**case, "clip": {**case["clip"], "norm_type": float("inf")}}
            cases.append({**run(torch_case), "clip": case["clip"]})
        else:
            cases.append(run(case))
    with open("optim_trajectories.json", "w") as f:
        json.dump({"torch_version": torch.__version__, "steps": STEPS, "inputs": INPUTS, "cases": cases}, f)


if __name__ == "__main__":
    main()
