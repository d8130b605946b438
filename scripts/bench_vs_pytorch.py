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
        self.dense = nn.Linear(h2, ref["dense"])
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

    def forward(self, x):
        """x: [1, steps, n_features] normalised. Returns the emotion and intensity
        probabilities, the emotion logits divided by the temperature first."""
        out, _ = self.lstm_1(x)
        out, _ = self.lstm_2(out)
        z = torch.relu(self.dense(out[:, -1]))
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


def main():
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
