#!/usr/bin/env python3
"""The shipped network in PyTorch, against ours: same probabilities, and the time of one clip.

Usage: bench_vs_pytorch.py DIR, where DIR was written by `trainer export-reference`
(`weights.safetensors`, `reference.json`). `scripts/bench-vs-pytorch` makes DIR and runs this
in a virtual environment with torch and numpy.

The network is built from PyTorch's own layers, as a studio would: `nn.LSTM` (its C++ loop
over the steps) for both LSTM layers, `nn.Linear` for the dense layer and the heads. burn's
weights are `[inputs, outputs]` with the gates in the order input, forget, output, cell;
PyTorch's are `[outputs, inputs]` with input, forget, cell, output, so each gate block is
moved and the matrices transposed. burn has one bias per LSTM layer; PyTorch's `bias_hh` is
set to zero.

Checks the probabilities on every exported clip against ours (at most 1e-4 apart; exit
status 1 otherwise), then times one forward pass and softmax on the timing input, one thread,
and prints both times and the ratio. Exit status 0 only when the probabilities match.

`bench_vs_pytorch.py --training FILE`, FILE the output of `cargo bench -p voice_emotion
--bench training`: times PyTorch's training step (the same shapes, `nn.LSTM`, dropout, Adam,
one thread) at the step counts the bench printed and prints it beside ours with the ratios.
"""

import json
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

TOLERANCE = 1e-4


def load_safetensors(path):
    """The tensors of a safetensors file as float32 numpy arrays (no extra package needed)."""
    raw = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    data = raw[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return tensors


def torch_gates(w, hidden):
    """burn's [.., 4h] gate blocks (input, forget, output, cell) in PyTorch's order
    (input, forget, cell, output)."""
    i, f, o, g = (w[..., k * hidden : (k + 1) * hidden] for k in range(4))
    return np.concatenate([i, f, g, o], axis=-1)


class Network(nn.Module):
    """Two LSTM layers, dense + ReLU, an emotion head and an intensity head (models/base)."""

    def __init__(self, t, ref):
        super().__init__()
        h1, h2 = ref["hidden_1"], ref["hidden_2"]
        self.lstm_1 = nn.LSTM(ref["n_features"], h1, batch_first=True)
        self.lstm_2 = nn.LSTM(h1, h2, batch_first=True)
        pooled = 2 * h2 if ref.get("pooling") == "last_and_attention" else h2
        self.dense = nn.Linear(pooled, ref["dense"])
        self.emotion_head = nn.Linear(ref["dense"], len(ref["emotions"]))
        self.intensity_head = nn.Linear(ref["dense"], len(ref["intensities"]))
        with torch.no_grad():
            for name, lstm, h in (("lstm_1", self.lstm_1, h1), ("lstm_2", self.lstm_2, h2)):
                w_ih = torch_gates(t[f"{name}.input.weight"], h).T
                w_hh = torch_gates(t[f"{name}.recurrent.weight"], h).T
                b = torch_gates(t[f"{name}.input.bias"], h)
                lstm.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_ih)))
                lstm.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_hh)))
                lstm.bias_ih_l0.copy_(torch.from_numpy(b.copy()))
                lstm.bias_hh_l0.zero_()
            for name in ("dense", "emotion_head", "intensity_head"):
                layer = getattr(self, name)
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(t[f"{name}.weight"].T)))
                layer.bias.copy_(torch.from_numpy(t[f"{name}.bias"].copy()))
        self.temperature = float(ref["temperature"])
        # Attention pooling ("pooling": "attention"): a score w . h_t per step, the outputs
        # weighted by its softmax over the steps; "last_and_attention": the last state, then
        # that; else the last state.
        self.pooling = ref.get("pooling", "last")
        self.attention = None
        if self.pooling in ("attention", "last_and_attention"):
            self.attention = torch.from_numpy(t["attention.weight"][:, 0].copy())

    def forward(self, x):
        """x: [1, steps, n_features] normalised. Returns the emotion and intensity
        probabilities, the emotion logits divided by the temperature first."""
        out, _ = self.lstm_1(x)
        out, _ = self.lstm_2(out)
        if self.attention is None:
            pooled = out[:, -1]
        else:
            weights = torch.softmax(out @ self.attention, dim=1)
            pooled = (out * weights.unsqueeze(-1)).sum(dim=1)
            if self.pooling == "last_and_attention":
                pooled = torch.cat([out[:, -1], pooled], dim=1)
        z = torch.relu(self.dense(pooled))
        emotion = torch.softmax(self.emotion_head(z) / self.temperature, dim=1)
        intensity = torch.softmax(self.intensity_head(z), dim=1)
        return emotion, intensity


def median_ms(f, runs):
    for _ in range(runs // 10 + 1):
        f()
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        f()
        times.append(time.perf_counter_ns() - start)
    times.sort()
    return times[len(times) // 2] / 1e6


class TrainingNetwork(nn.Module):
    """`EmotionModel`'s shape for training: LSTM d -> h1, dropout, LSTM h1 -> h2, the last
    state, dropout, dense + ReLU, dropout, heads of 8 and 2."""

    def __init__(self, d, h1, h2, dense, dropout):
        super().__init__()
        self.lstm_1 = nn.LSTM(d, h1, batch_first=True)
        self.lstm_2 = nn.LSTM(h1, h2, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(h2, dense)
        self.emotion_head = nn.Linear(dense, 8)
        self.intensity_head = nn.Linear(dense, 2)

    def forward(self, x):
        out, _ = self.lstm_1(x)
        out, _ = self.lstm_2(self.dropout(out))
        z = self.dropout(torch.relu(self.dense(self.dropout(out[:, -1]))))
        return self.emotion_head(z), self.intensity_head(z)


def training_step_seconds(steps, shape, runs=7):
    """Median seconds of one training step (forward, backward, Adam) at batch 32, `steps`
    input steps, on one thread, for the network shape the training bench printed (`shape`:
    features, hidden_1, hidden_2, dense, dropout), as `benches/training.rs` times ours."""
    torch.manual_seed(0)
    d = int(shape["features"])
    net = TrainingNetwork(
        d, int(shape["hidden_1"]), int(shape["hidden_2"]), int(shape["dense"]), float(shape["dropout"])
    ).train()
    optim = torch.optim.Adam(net.parameters(), lr=1e-3)
    k = torch.arange(32 * steps * d, dtype=torch.float32)
    x = torch.sin(k * 0.013).reshape(32, steps, d)
    emotions = torch.arange(32) % 8
    intensities = torch.arange(32) % 2
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optim.zero_grad()
        emotion, intensity = net(x)
        loss = loss_fn(emotion, emotions) + 0.5 * loss_fn(intensity, intensities)
        loss.backward()
        optim.step()

    return median_ms(step, runs) / 1e3


def compare_training(bench_output):
    """Our training step (the `ours, N steps:` lines of `cargo bench --bench training`)
    against PyTorch's at the same shapes, one thread, printed with the ratios."""
    ours = {}
    for line in Path(bench_output).read_text().splitlines():
        if line.startswith("ours, ") and " steps:" in line:
            head, tail = line.split(":", 1)
            steps = int(head.split()[1])
            ours[steps] = dict(v.split("=") for v in tail.split())
    if not ours:
        raise SystemExit(f"{bench_output}: no 'ours, N steps:' line from the training bench")
    for steps, figures in sorted(ours.items()):
        missing = [k for k in ("features", "hidden_1", "hidden_2", "dense", "dropout") if k not in figures]
        if missing:
            raise SystemExit(f"{bench_output}: the {steps}-step line lacks {', '.join(missing)}")
        print(
            f"one training step, batch 32, {figures['features']} features, LSTM {figures['hidden_1']} "
            f"then {figures['hidden_2']}, dense {figures['dense']}, median of 7 (seconds; PyTorch "
            f"flushes subnormals):"
        )
        theirs = training_step_seconds(steps, figures)
        fast_1, fast_2 = float(figures["fast_1_thread"]), float(figures["fast_2_threads"])
        burn = float(figures["burn_pass"])
        print(
            f"  {steps} steps: PyTorch {torch.__version__} one thread {theirs:.4f}; ours, fast "
            f"LSTM pass, one thread {fast_1:.4f} ({theirs / fast_1:.2f}x PyTorch's speed), two "
            f"threads {fast_2:.4f} ({theirs / fast_2:.2f}x); burn pass {burn:.4f} "
            f"({theirs / burn:.2f}x)"
        )


def main():
    # PyTorch at its best: without this, subnormal values in its backward pass made one
    # training step of the 256/128 network at 200 input steps 14x slower here (3.87 s
    # against 0.277 s); our kernels' times grow linearly with the steps either way.
    torch.set_flush_denormal(True)
    if len(sys.argv) == 3 and sys.argv[1] == "--training":
        torch.set_num_threads(1)
        compare_training(sys.argv[2])
        return
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    folder = Path(sys.argv[1])
    ref = json.loads((folder / "reference.json").read_text())
    torch.set_num_threads(1)
    net = Network(load_safetensors(folder / "weights.safetensors"), ref).eval()
    d = ref["n_features"]

    worst = 0.0
    with torch.inference_mode():
        for clip in ref["clips"]:
            x = torch.tensor(np.asarray(clip["features"], dtype=np.float32).reshape(1, -1, d))
            emotion, intensity = net(x)
            ours = np.asarray(clip["probabilities"] + clip["intensity_probabilities"])
            theirs = np.concatenate([emotion[0].numpy(), intensity[0].numpy()])
            worst = max(worst, float(np.abs(ours - theirs).max()))
        timing = ref["timing"]
        x = torch.tensor(np.asarray(timing["features"], dtype=np.float32).reshape(1, -1, d))
        runs = timing["runs"]
        theirs_ms = median_ms(lambda: net(x), runs)

    ours_ms = timing["ours_median_ms"]
    same = worst <= TOLERANCE
    print(
        f"probabilities on {len(ref['clips'])} real clips: largest difference {worst:.2e} "
        f"({'within' if same else 'NOT within'} {TOLERANCE:g})"
    )
    print(
        f"one clip ({timing['seconds']} s, {timing['steps']} steps of {d} inputs), one thread, "
        f"median of {runs} runs:"
    )
    print(f"  PyTorch {torch.__version__} (nn.LSTM, inference_mode): {theirs_ms:.3f} ms")
    print(f"  ours (FastNetwork, trainer export-reference):        {ours_ms:.3f} ms")
    print(f"  ours is {theirs_ms / ours_ms:.2f}x faster than PyTorch (target: at least 2x)")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
