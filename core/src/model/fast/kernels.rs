//! The fast path's SIMD kernels: an LSTM layer over a block of steps, the all-steps input
//! projection, the one-row product, the cell, a dense layer, and the rational `tanh`.

use pulp::Simd;

use super::*;

/// One LSTM layer over `steps` inputs (`x`, `stride` values apart, the first `width` used),
/// continuing from `cell` and the hidden state `previous` (`None`: the first step, state
/// zero); writes every step's hidden state to `out` (`steps x padded(hidden)`).
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "the scratch buffers are passed apart"
)]
pub(super) fn lstm_layer<S: Simd>(
    simd: S,
    layer: &Lstm,
    x: &[f32],
    stride: usize,
    width: usize,
    steps: usize,
    gates: &mut AlignedBuf,
    cell: &mut AlignedBuf,
    out: &mut AlignedBuf,
    previous: Option<&[f32]>,
) {
    let hp = layer.recurrent.width;
    let n = layer.input.stride;
    gates.resize(steps * n);
    out.resize(steps * hp);
    project(
        simd,
        x,
        stride,
        width,
        steps,
        &layer.input,
        gates.as_mut_slice(),
    );
    let gates = gates.as_mut_slice();
    let out = out.as_mut_slice();
    let cell = cell.as_mut_slice();
    for t in 0..steps {
        let row = &mut gates[t * n..(t + 1) * n];
        let (before, now) = out.split_at_mut(t * hp);
        if t > 0 {
            let h = &before[(t - 1) * hp..(t - 1) * hp + layer.hidden];
            accumulate(simd, h, &layer.recurrent, row);
        } else if let Some(h) = previous {
            accumulate(simd, &h[..layer.hidden], &layer.recurrent, row);
        }
        lstm_cell(simd, row, hp, cell, &mut now[..hp]);
    }
}

/// `out[t] = bias + x[t][..width] W` for `t < steps`, `x[t]` starting at `t * stride`: the
/// input projections of all steps as one matrix product. Each panel is done in strips of
/// `C` vectors of outputs (a strip of weights, `width x C` vectors, stays in L1 cache while
/// every step passes over it), each strip in register tiles of `R` steps by `C` vectors.
#[inline(always)]
pub(super) fn project<S: Simd>(
    simd: S,
    x: &[f32],
    stride: usize,
    width: usize,
    steps: usize,
    w: &Dense,
    out: &mut [f32],
) {
    project_or_add(simd, x, stride, width, steps, w, out, false);
}

/// [`project`] with `add`: `out[t] += x[t][..width] W` (the bias left out), as the training
/// pass's recurrent products need.
#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a matrix product's operands")]
pub(super) fn project_or_add<S: Simd>(
    simd: S,
    x: &[f32],
    stride: usize,
    width: usize,
    steps: usize,
    w: &Dense,
    out: &mut [f32],
    add: bool,
) {
    // Tiles of 6 steps by 4 vectors: 24 accumulators of the 32 vector registers of AVX-512
    // (tried here: 4x2, 8x2, 12x2, 4x4, 5x4, 2x8, 3x8); 4 by 2 in the 16 of AVX2.
    if S::F32_LANES >= 16 {
        project_tiled::<S, TILE_R_WIDE, TILE_C_WIDE>(simd, x, stride, width, steps, w, out, add);
    } else {
        project_tiled::<S, TILE_R_NARROW, TILE_C_NARROW>(
            simd, x, stride, width, steps, w, out, add,
        );
    }
}

const TILE_R_WIDE: usize = 6;
const TILE_R_NARROW: usize = 4;
const TILE_C_NARROW: usize = 2;
const TILE_C_WIDE: usize = 4;

#[inline(always)]
#[expect(clippy::too_many_arguments, reason = "a matrix product's operands")]
fn project_tiled<S: Simd, const R: usize, const C: usize>(
    simd: S,
    x: &[f32],
    stride: usize,
    width: usize,
    steps: usize,
    w: &Dense,
    out: &mut [f32],
    add: bool,
) {
    let lanes = S::F32_LANES;
    let (bv, _) = S::as_simd_f32s(w.bias.as_slice());
    let (ov, _) = S::as_mut_simd_f32s(out);
    let nv = bv.len();
    let rows = move |t: usize| &x[t * stride..t * stride + width];
    for (first, columns, panel) in w.panels() {
        let (pv, _) = S::as_simd_f32s(panel);
        let (first, pn) = (first / lanes, columns / lanes);
        let mut c0 = 0;
        while c0 < pn {
            let c = if c0 + C <= pn { C } else { 1 };
            let mut t = 0;
            while t + R <= steps {
                let xr: [&[f32]; R] = std::array::from_fn(|r| rows(t + r));
                let init: [&[S::f32s]; R] = std::array::from_fn(|r| {
                    if add {
                        &ov[(t + r) * nv + first + c0..]
                    } else {
                        &bv[first + c0..]
                    }
                });
                if c == C {
                    let acc = tile::<S, R, C>(simd, xr, pv, pn, c0, init);
                    for (r, acc) in acc.iter().enumerate() {
                        let o = (t + r) * nv + first + c0;
                        ov[o..o + C].copy_from_slice(acc);
                    }
                } else {
                    let acc = tile::<S, R, 1>(simd, xr, pv, pn, c0, init);
                    for (r, acc) in acc.iter().enumerate() {
                        ov[(t + r) * nv + first + c0] = acc[0];
                    }
                }
                t += R;
            }
            for t in t..steps {
                let o = t * nv + first + c0;
                let init = [if add { &ov[o..] } else { &bv[first + c0..] }];
                if c == C {
                    let [acc] = tile::<S, 1, C>(simd, [rows(t)], pv, pn, c0, init);
                    ov[o..o + C].copy_from_slice(&acc);
                } else {
                    let [acc] = tile::<S, 1, 1>(simd, [rows(t)], pv, pn, c0, init);
                    ov[o] = acc[0];
                }
            }
            c0 += c;
        }
    }
}

/// `init_r + x_r P[.., c0..c0 + C]` for the `R` rows `x_r` (one register tile; `init_r` the
/// bias, or the row's output so far).
#[inline(always)]
fn tile<S: Simd, const R: usize, const C: usize>(
    simd: S,
    xr: [&[f32]; R],
    pv: &[S::f32s],
    pn: usize,
    c0: usize,
    init: [&[S::f32s]; R],
) -> [[S::f32s; C]; R] {
    let mut acc = [[simd.splat_f32s(0.0); C]; R];
    for (row, init) in acc.iter_mut().zip(init) {
        row.copy_from_slice(&init[..C]);
    }
    let width = xr.first().map_or(0, |x| x.len());
    for (k, wk) in pv.chunks_exact(pn).take(width).enumerate() {
        let wk = &wk[c0..c0 + C];
        for (xr, acc) in xr.iter().zip(&mut acc) {
            let xb = simd.splat_f32s(xr[k]);
            for (a, &wc) in acc.iter_mut().zip(wk) {
                *a = simd.mul_add_e_f32s(xb, wc, *a);
            }
        }
    }
    acc
}

/// `out += x W` for one row `x` (`W.inputs` or fewer values; `out` the full padded width).
#[inline(always)]
pub(super) fn accumulate<S: Simd>(simd: S, x: &[f32], w: &Dense, out: &mut [f32]) {
    let lanes = S::F32_LANES;
    let (ov, _) = S::as_mut_simd_f32s(out);
    for (first, columns, panel) in w.panels() {
        let (pv, _) = S::as_simd_f32s(panel);
        accumulate_panel(
            simd,
            x,
            pv,
            &mut ov[first / lanes..(first + columns) / lanes],
        );
    }
}

/// `out += x P` for one panel `P` (`out.len()` vectors a row), up to eight vectors of
/// outputs at a time so that eight independent sums are in flight.
#[inline(always)]
pub(super) fn accumulate_panel<S: Simd>(simd: S, x: &[f32], pv: &[S::f32s], ov: &mut [S::f32s]) {
    const C: usize = 8;
    let pn = ov.len();
    let mut c0 = 0;
    while c0 + C <= pn {
        let mut acc = [simd.splat_f32s(0.0); C];
        acc.copy_from_slice(&ov[c0..c0 + C]);
        for (&xk, wk) in x.iter().zip(pv.chunks_exact(pn)) {
            let xb = simd.splat_f32s(xk);
            for (a, &wc) in acc.iter_mut().zip(&wk[c0..c0 + C]) {
                *a = simd.mul_add_e_f32s(xb, wc, *a);
            }
        }
        ov[c0..c0 + C].copy_from_slice(&acc);
        c0 += C;
    }
    for c in c0..pn {
        let mut a = ov[c];
        for (&xk, wk) in x.iter().zip(pv.chunks_exact(pn)) {
            a = simd.mul_add_e_f32s(simd.splat_f32s(xk), wk[c], a);
        }
        ov[c] = a;
    }
}

/// The LSTM cell on one step's gate values `[i | f | o | g]` (each block `hp` long):
/// `c = sigmoid(f) c + sigmoid(i) tanh(g)`, `h = sigmoid(o) tanh(c)`.
#[inline(always)]
pub(super) fn lstm_cell<S: Simd>(
    simd: S,
    gates: &[f32],
    hp: usize,
    cell: &mut [f32],
    hidden: &mut [f32],
) {
    let (gi, rest) = gates.split_at(hp);
    let (gf, rest) = rest.split_at(hp);
    let (go, gg) = rest.split_at(hp);
    let (gi, _) = S::as_simd_f32s(gi);
    let (gf, _) = S::as_simd_f32s(gf);
    let (go, _) = S::as_simd_f32s(go);
    let (gg, _) = S::as_simd_f32s(gg);
    let (cv, _) = S::as_mut_simd_f32s(cell);
    let (hv, _) = S::as_mut_simd_f32s(hidden);
    for (((c, h), (&i, &f)), (&o, &g)) in cv
        .iter_mut()
        .zip(hv)
        .zip(gi.iter().zip(gf))
        .zip(go.iter().zip(gg))
    {
        let i = sigmoid(simd, i);
        let f = sigmoid(simd, f);
        let o = sigmoid(simd, o);
        let g = tanh(simd, g);
        *c = simd.mul_add_e_f32s(f, *c, simd.mul_f32s(i, g));
        *h = simd.mul_f32s(o, tanh(simd, *c));
    }
}

/// `relu?(bias + x W)` into `out` (the layer's padded width).
#[inline(always)]
pub(super) fn dense_layer<S: Simd>(
    simd: S,
    w: &Dense,
    x: &[f32],
    out: &mut AlignedBuf,
    relu: bool,
) {
    out.resize(w.stride);
    let out = out.as_mut_slice();
    out.copy_from_slice(w.bias.as_slice());
    accumulate(simd, x, w, out);
    if relu {
        let (ov, _) = S::as_mut_simd_f32s(out);
        let zero = simd.splat_f32s(0.0);
        for v in ov {
            *v = simd.max_f32s(*v, zero);
        }
    }
}

/// The mean over `steps` rows (`stride` apart) of their first `width` values, into `mean`.
pub(super) fn mean_of_steps(
    values: &[f32],
    stride: usize,
    width: usize,
    steps: usize,
    mean: &mut Vec<f32>,
) {
    mean.clear();
    mean.resize(width, 0.0);
    for row in values.chunks_exact(stride).take(steps) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    let n = steps.max(1) as f32;
    for m in mean.iter_mut() {
        *m /= n;
    }
}

/// Largest input of the rational `tanh`: beyond it, `tanh` is 1 in `f32`.
pub(super) const TANH_CLAMP: f32 = 7.905_311;

/// `tanh(x)`: a rational function (odd degree 13 over even degree 6, the approximation of
/// Eigen's `generic_fast_tanh_float`), at most 3e-7 from `tanh` for every `f32` with fused
/// multiply-adds (4e-7 in scalar code, which rounds products and sums apart).
#[inline(always)]
pub(super) fn tanh<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    const ALPHA: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const BETA: [f32; 4] = [4.893_525e-3, 2.268_434_7e-3, 1.185_347e-4, 1.198_258_4e-6];
    let x = simd.min_f32s(
        simd.max_f32s(x, simd.splat_f32s(-TANH_CLAMP)),
        simd.splat_f32s(TANH_CLAMP),
    );
    let x2 = simd.mul_f32s(x, x);
    let mut p = simd.splat_f32s(ALPHA[6]);
    for &a in ALPHA[..6].iter().rev() {
        p = simd.mul_add_e_f32s(x2, p, simd.splat_f32s(a));
    }
    let mut q = simd.splat_f32s(BETA[3]);
    for &b in BETA[..3].iter().rev() {
        q = simd.mul_add_e_f32s(x2, q, simd.splat_f32s(b));
    }
    simd.div_f32s(simd.mul_f32s(x, p), q)
}

/// `1 / (1 + exp(-x)) = (1 + tanh(x / 2)) / 2`.
#[inline(always)]
pub(super) fn sigmoid<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let half = simd.splat_f32s(0.5);
    simd.mul_add_e_f32s(half, tanh(simd, simd.mul_f32s(half, x)), half)
}
