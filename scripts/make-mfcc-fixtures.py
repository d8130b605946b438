#!/usr/bin/env python3
"""Regenerate the librosa MFCC reference fixtures in core/tests/fixtures/mfcc/.

Usage: RAVDESS_DIR=../shared/data/ravdess python3 scripts/make-mfcc-fixtures.py
Needs: pip install librosa==0.11.0 (numpy, scipy come with it).

Each fixture is a CSV in the format of `trainer features --format csv`: a header c0..c39 and one
row per frame, computed with the reference configuration the engine must match. The audio itself
is never copied: real clips are named by their RAVDESS path and read from RAVDESS_DIR by the test;
the synthetic signals are defined in core/tests/librosa_match.rs and here, identically.
"""
import os
import sys

import librosa
import numpy as np
import scipy.io.wavfile

OUT = os.path.join(os.path.dirname(__file__), "..", "core", "tests", "fixtures", "mfcc")
CLIPS = [
    "Actor_01/03-01-01-01-01-01-01.wav",  # neutral, male
    "Actor_12/03-01-06-01-02-01-12.wav",  # fearful, female
    "Actor_22/03-01-05-02-01-01-22.wav",  # angry strong, female (loud)
    "Actor_05/03-01-04-01-02-02-05.wav",  # sad, male (quiet)
]


def reference_mfcc(y):
    return librosa.feature.mfcc(y=y, sr=16000, n_mfcc=40, n_fft=512, win_length=400,
                                hop_length=160, n_mels=64, fmax=8000)


def sine():
    """1.5 s, 440 Hz at half scale, quantised to int16 like a WAV file."""
    t = np.arange(24000, dtype=np.float64) / 16000.0
    q = np.round(0.5 * 32767.0 * np.sin(2.0 * np.pi * 440.0 * t)).astype(np.int16)
    return q.astype(np.float32) / 32768.0


def silence():
    return np.zeros(16000, dtype=np.float32)


def write(name, m):
    path = os.path.join(OUT, name + ".csv")
    with open(path, "w") as f:
        f.write(",".join(f"c{i}" for i in range(m.shape[0])) + "\n")
        for row in m.T:
            f.write(",".join(f"{v:.4f}" for v in row) + "\n")
    print(f"{path}: {m.shape[1]} frames")


def main():
    ravdess = os.environ.get("RAVDESS_DIR")
    if not ravdess or not os.path.isdir(ravdess):
        sys.exit("RAVDESS_DIR is not set to the RAVDESS folder")
    os.makedirs(OUT, exist_ok=True)
    for clip in CLIPS:
        sr, x = scipy.io.wavfile.read(os.path.join(ravdess, clip))
        assert sr == 16000 and x.dtype == np.int16, (clip, sr, x.dtype)
        write(os.path.basename(clip)[:-4], reference_mfcc(x.astype(np.float32) / 32768.0))
    write("sine440", reference_mfcc(sine()))
    write("silence", reference_mfcc(silence()))


if __name__ == "__main__":
    main()
