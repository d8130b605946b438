//! The passes of [`FastLstmTrainer`](super::FastLstmTrainer) over one part of a batch: both
//! layers forward (keeping what the backward pass reads) and backward, the LSTM cell both ways,
//! and the weight gradients' product over all steps.

use pulp::{Simd, WithSimd};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::super::kernels::{project, project_or_add, sigmoid, tanh};
use super::{LayerPass, Part, TrainLayer};

/// Both layers forward over one part, monomorphised for each SIMD level.
pub(super) struct ForwardPass<'a> {
    pub(super) layers: &'a [TrainLayer; 2],
    pub(super) part: &'a mut Part,
    /// Probability of keeping a first-layer output (1: no dropout).
    pub(super) keep: f32,
    pub(super) rng: ChaCha8Rng,
}

impl WithSimd for ForwardPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let ForwardPass {
            layers,
            part,
            keep,
            mut rng,
        } = self;
        let (b, steps) = (part.batch, part.steps);
        let rows = b * steps;
        let [first, second] = &mut part.layers;
        let d = layers[0].inputs;
        layer_forward(simd, &layers[0], part.x.as_slice(), d, b, steps, first);
        // Dropout between the layers, drawn per value as burn's `Dropout` does.
        let hp1 = layers[0].padded_hidden();
        part.keep.resize(rows * hp1);
        part.dropped.resize(rows * hp1);
        let scale = 1.0 / keep;
        for (k, (x, h)) in part.keep.as_mut_slice().chunks_exact_mut(hp1).zip(
            part.dropped
                .as_mut_slice()
                .chunks_exact_mut(hp1)
                .zip(first.hidden.as_slice().chunks_exact(hp1)),
        ) {
            for j in 0..hp1 {
                let kept = if j >= layers[0].hidden {
                    0.0
                } else if keep >= 1.0 || rng.random::<f32>() < keep {
                    scale
                } else {
                    0.0
                };
                k[j] = kept;
                x[j] = h[j] * kept;
            }
        }
        layer_forward(
            simd,
            &layers[1],
            part.dropped.as_slice(),
            hp1,
            b,
            steps,
            second,
        );
        let (h2, hp2) = (layers[1].hidden, layers[1].padded_hidden());
        part.last.clear();
        part.last.resize(b * h2, 0.0);
        let out = second.hidden.as_slice();
        for (i, &len) in part.lengths.iter().enumerate() {
            if len > 0 {
                let r = (len - 1) * b + i;
                part.last[i * h2..(i + 1) * h2].copy_from_slice(&out[r * hp2..r * hp2 + h2]);
            }
        }
    }
}

/// One layer forward over `steps` steps of `b` sequences (`x` rows `stride` apart, time-major).
#[inline(always)]
fn layer_forward<S: Simd>(
    simd: S,
    w: &TrainLayer,
    x: &[f32],
    stride: usize,
    b: usize,
    steps: usize,
    pass: &mut LayerPass,
) {
    let (hp, n) = (w.padded_hidden(), w.gate_width());
    let rows = b * steps;
    pass.gates.resize(rows * n);
    pass.cells.resize(rows * hp);
    pass.tanh_cells.resize(rows * hp);
    pass.hidden.resize(rows * hp);
    let gates = pass.gates.as_mut_slice();
    project(simd, x, stride, w.inputs, rows, &w.input, gates);
    let cells = pass.cells.as_mut_slice();
    let tanh_cells = pass.tanh_cells.as_mut_slice();
    let hidden = pass.hidden.as_mut_slice();
    for t in 0..steps {
        let (before, now) = hidden.split_at_mut(t * b * hp);
        let step_gates = &mut gates[t * b * n..(t + 1) * b * n];
        if t > 0 {
            let previous = &before[(t - 1) * b * hp..];
            project_or_add(
                simd,
                previous,
                hp,
                w.hidden,
                b,
                &w.recurrent,
                step_gates,
                true,
            );
        }
        let (done, current) = cells.split_at_mut(t * b * hp);
        let previous = (t > 0).then(|| &done[(t - 1) * b * hp..]);
        for i in 0..b {
            let c_prev = previous.map(|p| &p[i * hp..(i + 1) * hp]);
            cell_forward(
                simd,
                &mut step_gates[i * n..(i + 1) * n],
                hp,
                c_prev,
                &mut current[i * hp..(i + 1) * hp],
                &mut tanh_cells[(t * b + i) * hp..][..hp],
                &mut now[i * hp..(i + 1) * hp],
            );
        }
    }
}

/// The LSTM cell forward on one row of gate values (replaced by their activations), keeping
/// the cell state and its `tanh` for the backward pass.
#[inline(always)]
fn cell_forward<S: Simd>(
    simd: S,
    gates: &mut [f32],
    hp: usize,
    c_prev: Option<&[f32]>,
    cell: &mut [f32],
    tanh_cell: &mut [f32],
    hidden: &mut [f32],
) {
    let (gi, rest) = gates.split_at_mut(hp);
    let (gf, rest) = rest.split_at_mut(hp);
    let (go, gg) = rest.split_at_mut(hp);
    let (gi, _) = S::as_mut_simd_f32s(gi);
    let (gf, _) = S::as_mut_simd_f32s(gf);
    let (go, _) = S::as_mut_simd_f32s(go);
    let (gg, _) = S::as_mut_simd_f32s(gg);
    let (cv, _) = S::as_mut_simd_f32s(cell);
    let (tv, _) = S::as_mut_simd_f32s(tanh_cell);
    let (hv, _) = S::as_mut_simd_f32s(hidden);
    let zero = simd.splat_f32s(0.0);
    let prev = c_prev.map(|p| S::as_simd_f32s(p).0);
    for k in 0..cv.len() {
        let i = sigmoid(simd, gi[k]);
        let f = sigmoid(simd, gf[k]);
        let o = sigmoid(simd, go[k]);
        let g = tanh(simd, gg[k]);
        let c_prev = prev.map_or(zero, |p| p[k]);
        let c = simd.mul_add_e_f32s(f, c_prev, simd.mul_f32s(i, g));
        let tc = tanh(simd, c);
        (gi[k], gf[k], go[k], gg[k]) = (i, f, o, g);
        cv[k] = c;
        tv[k] = tc;
        hv[k] = simd.mul_f32s(o, tc);
    }
}

/// Both layers backward over one part, monomorphised for each SIMD level.
pub(super) struct BackwardPass<'a> {
    pub(super) layers: &'a [TrainLayer; 2],
    pub(super) part: &'a mut Part,
    /// Gradient with respect to the part's last states, `batch x hidden_2`, or with
    /// `all_steps` its outputs at every step, `batch x all_steps x hidden_2`.
    pub(super) d_last: &'a [f32],
    pub(super) all_steps: Option<usize>,
}

impl WithSimd for BackwardPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let BackwardPass {
            layers,
            part,
            d_last,
            all_steps,
        } = self;
        let (b, steps) = (part.batch, part.steps);
        let rows = b * steps;
        let [first, second] = &mut part.layers;
        // The second layer: its outputs' gradient is `d_last` at each sequence's last step, or
        // at every step.
        let (h2, hp2) = (layers[1].hidden, layers[1].padded_hidden());
        part.d_outputs.resize(rows * hp2);
        let d_out = part.d_outputs.as_mut_slice();
        d_out.fill(0.0);
        for (i, &len) in part.lengths.iter().enumerate() {
            match all_steps {
                None if len > 0 => {
                    let r = (len - 1) * b + i;
                    d_out[r * hp2..r * hp2 + h2].copy_from_slice(&d_last[i * h2..(i + 1) * h2]);
                }
                None => {}
                Some(all) => {
                    for t in 0..len {
                        let r = t * b + i;
                        d_out[r * hp2..r * hp2 + h2]
                            .copy_from_slice(&d_last[(i * all + t) * h2..][..h2]);
                    }
                }
            }
        }
        part.zeros.clear();
        part.zeros
            .resize(layers[0].gate_width().max(layers[1].gate_width()), 0.0);
        let hp1 = layers[0].padded_hidden();
        layer_backward(
            simd,
            &layers[1],
            part.dropped.as_slice(),
            hp1,
            b,
            steps,
            part.d_outputs.as_slice(),
            &part.zeros,
            second,
        );
        // Its inputs' gradient, through dropout, is the first layer's outputs' gradient.
        let n2 = layers[1].gate_width();
        part.d_inputs.resize(rows * hp1);
        if let Some(input_t) = &layers[1].input_t {
            project(
                simd,
                second.d_gates.as_slice(),
                n2,
                n2,
                rows,
                input_t,
                part.d_inputs.as_mut_slice(),
            );
        }
        part.d_outputs.resize(rows * hp1);
        for ((d, &g), &k) in part
            .d_outputs
            .as_mut_slice()
            .iter_mut()
            .zip(part.d_inputs.as_slice())
            .zip(part.keep.as_slice())
        {
            *d = g * k;
        }
        let d = layers[0].inputs;
        layer_backward(
            simd,
            &layers[0],
            part.x.as_slice(),
            d,
            b,
            steps,
            part.d_outputs.as_slice(),
            &part.zeros,
            first,
        );
    }
}

/// One layer backward: from `d_out` (its outputs' gradient from above, `padded(hidden)` a
/// row) to its gates' gradient and its weights' gradients; `x` is what its forward pass read.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "the pass's operands")]
fn layer_backward<S: Simd>(
    simd: S,
    w: &TrainLayer,
    x: &[f32],
    stride: usize,
    b: usize,
    steps: usize,
    d_out: &[f32],
    zeros: &[f32],
    pass: &mut LayerPass,
) {
    let (h, hp, n) = (w.hidden, w.padded_hidden(), w.gate_width());
    let rows = b * steps;
    pass.d_gates.resize(rows * n);
    pass.d_hidden.resize(b * hp);
    pass.d_cell.resize(b * hp);
    pass.d_hidden.as_mut_slice().fill(0.0);
    pass.d_cell.as_mut_slice().fill(0.0);
    let d_gates = pass.d_gates.as_mut_slice();
    let (cells, tanh_cells, gates) = (
        pass.cells.as_slice(),
        pass.tanh_cells.as_slice(),
        pass.gates.as_slice(),
    );
    for t in (0..steps).rev() {
        for i in 0..b {
            let r = t * b + i;
            let c_prev = if t > 0 {
                &cells[(r - b) * hp..][..hp]
            } else {
                &zeros[..hp]
            };
            cell_backward(
                simd,
                CellSaved {
                    gates: &gates[r * n..][..n],
                    c_prev,
                    tanh_cell: &tanh_cells[r * hp..][..hp],
                },
                &d_out[r * hp..][..hp],
                &pass.d_hidden.as_slice()[i * hp..][..hp],
                &mut pass.d_cell.as_mut_slice()[i * hp..][..hp],
                &mut d_gates[r * n..][..n],
            );
        }
        if t > 0 {
            project(
                simd,
                &d_gates[t * b * n..(t + 1) * b * n],
                n,
                n,
                b,
                &w.recurrent_t,
                pass.d_hidden.as_mut_slice(),
            );
        }
    }
    // Weight gradients: all steps at once.
    let d_gates = pass.d_gates.as_slice();
    pass.d_bias.clear();
    pass.d_bias.resize(n, 0.0);
    for row in d_gates.chunks_exact(n) {
        for (s, &g) in pass.d_bias.iter_mut().zip(row) {
            *s += g;
        }
    }
    pass.d_input.clear();
    pass.d_input.resize(w.inputs * n, 0.0);
    transposed_product(
        simd,
        x,
        stride,
        w.inputs,
        d_gates,
        n,
        rows,
        &mut pass.d_input,
    );
    pass.d_recurrent.clear();
    pass.d_recurrent.resize(h * n, 0.0);
    if steps > 1 {
        transposed_product(
            simd,
            pass.hidden.as_slice(),
            hp,
            h,
            &d_gates[b * n..],
            n,
            rows - b,
            &mut pass.d_recurrent,
        );
    }
}

/// What a cell's backward pass reads from its forward pass.
struct CellSaved<'a> {
    /// Activations `[i | f | o | g]`.
    gates: &'a [f32],
    c_prev: &'a [f32],
    tanh_cell: &'a [f32],
}

/// The LSTM cell backward on one row: from the hidden state's gradient (`d_out` from above
/// plus `d_rec` through the next step) and the cell's gradient from the next step (`d_cell`,
/// replaced by the gradient it passes to the step before) to the gates' gradient before their
/// activations, `[di | df | do | dg]`.
#[inline(always)]
fn cell_backward<S: Simd>(
    simd: S,
    saved: CellSaved<'_>,
    d_out: &[f32],
    d_rec: &[f32],
    d_cell: &mut [f32],
    d_gates: &mut [f32],
) {
    let hp = saved.c_prev.len();
    let (gi, rest) = saved.gates.split_at(hp);
    let (gf, rest) = rest.split_at(hp);
    let (go, gg) = rest.split_at(hp);
    fn v<S: Simd>(s: &[f32]) -> &[S::f32s] {
        S::as_simd_f32s(s).0
    }
    let (gi, gf, go, gg) = (v::<S>(gi), v::<S>(gf), v::<S>(go), v::<S>(gg));
    let (cp, tc, dout, drec) = (
        v::<S>(saved.c_prev),
        v::<S>(saved.tanh_cell),
        v::<S>(d_out),
        v::<S>(d_rec),
    );
    let (dc, _) = S::as_mut_simd_f32s(d_cell);
    let (di, rest) = d_gates.split_at_mut(hp);
    let (df, rest) = rest.split_at_mut(hp);
    let (dov, dg) = rest.split_at_mut(hp);
    let (di, _) = S::as_mut_simd_f32s(di);
    let (df, _) = S::as_mut_simd_f32s(df);
    let (dov, _) = S::as_mut_simd_f32s(dov);
    let (dg, _) = S::as_mut_simd_f32s(dg);
    let one = simd.splat_f32s(1.0);
    // `x (1 - x)`: the sigmoid's derivative from its value.
    let slope = |x: S::f32s| simd.mul_f32s(x, simd.sub_f32s(one, x));
    for k in 0..dc.len() {
        let (i, f, o, g, t) = (gi[k], gf[k], go[k], gg[k], tc[k]);
        let dh = simd.add_f32s(dout[k], drec[k]);
        // dc = dc_next + dh o (1 - tanh(c)^2)
        let d_tanh = simd.sub_f32s(one, simd.mul_f32s(t, t));
        let c = simd.mul_add_e_f32s(simd.mul_f32s(dh, o), d_tanh, dc[k]);
        dov[k] = simd.mul_f32s(simd.mul_f32s(dh, t), slope(o));
        di[k] = simd.mul_f32s(simd.mul_f32s(c, g), slope(i));
        dg[k] = simd.mul_f32s(simd.mul_f32s(c, i), simd.sub_f32s(one, simd.mul_f32s(g, g)));
        df[k] = simd.mul_f32s(simd.mul_f32s(c, cp[k]), slope(f));
        dc[k] = simd.mul_f32s(c, f);
    }
}

/// `c[k] += sum over r < rows of a[r][k] b[r]` for `k < width`: `c` is `width` rows of `n`
/// values, `a`'s rows `stride` apart, `b`'s `n` apart (`n` a multiple of 16). The weight
/// gradients' product `A^T B` over all steps, without transposing `A`: register tiles of 6
/// rows of `c` by 4 vectors with AVX-512 (4 by 2 with AVX2), over chunks of rows whose strip of
/// `b` stays in L1 cache.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a matrix product's operands")]
fn transposed_product<S: Simd>(
    simd: S,
    a: &[f32],
    stride: usize,
    width: usize,
    b: &[f32],
    n: usize,
    rows: usize,
    c: &mut [f32],
) {
    if S::F32_LANES >= 16 {
        transposed_tiled::<S, 6, 4>(simd, a, stride, width, b, n, rows, c);
    } else {
        transposed_tiled::<S, 4, 2>(simd, a, stride, width, b, n, rows, c);
    }
}

#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a matrix product's operands")]
fn transposed_tiled<S: Simd, const R: usize, const C: usize>(
    simd: S,
    a: &[f32],
    stride: usize,
    width: usize,
    b: &[f32],
    n: usize,
    rows: usize,
    c: &mut [f32],
) {
    const CHUNK: usize = 128;
    let nv = n / S::F32_LANES;
    let (bv, _) = S::as_simd_f32s(&b[..rows * n]);
    let (cv, _) = S::as_mut_simd_f32s(&mut c[..width * n]);
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + CHUNK).min(rows);
        let mut c0 = 0;
        while c0 < nv {
            let cw = if c0 + C <= nv { C } else { 1 };
            let mut k0 = 0;
            while k0 < width {
                let kw = if k0 + R <= width { R } else { 1 };
                let at = At {
                    a,
                    stride,
                    bv,
                    nv,
                    k0,
                    c0,
                    rows: r0..r1,
                };
                match (kw == R, cw == C) {
                    (true, true) => at.tile::<S, R, C>(simd, cv),
                    (true, false) => at.tile::<S, R, 1>(simd, cv),
                    (false, true) => at.tile::<S, 1, C>(simd, cv),
                    (false, false) => at.tile::<S, 1, 1>(simd, cv),
                }
                k0 += kw;
            }
            c0 += cw;
        }
        r0 = r1;
    }
}

/// One register tile of [`transposed_product`].
struct At<'a, V> {
    a: &'a [f32],
    stride: usize,
    bv: &'a [V],
    nv: usize,
    k0: usize,
    c0: usize,
    rows: std::ops::Range<usize>,
}

impl<V: Copy> At<'_, V> {
    #[inline(always)]
    fn tile<S: Simd<f32s = V>, const R: usize, const C: usize>(&self, simd: S, cv: &mut [V]) {
        let (nv, k0, c0) = (self.nv, self.k0, self.c0);
        let mut acc = [[simd.splat_f32s(0.0); C]; R];
        for (i, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(&cv[(k0 + i) * nv + c0..][..C]);
        }
        for r in self.rows.clone() {
            let ar = &self.a[r * self.stride + k0..][..R];
            let br = &self.bv[r * nv + c0..][..C];
            for (row, &x) in acc.iter_mut().zip(ar) {
                let x = simd.splat_f32s(x);
                for (s, &y) in row.iter_mut().zip(br) {
                    *s = simd.mul_add_e_f32s(x, y, *s);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            cv[(k0 + i) * nv + c0..][..C].copy_from_slice(row);
        }
    }
}
