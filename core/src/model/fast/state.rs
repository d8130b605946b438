//! [`FastState`]: the fast path run step by step, as an utterance's input arrives.

use super::*;

/// An utterance part-way through a [`FastNetwork`]: each layer's last hidden state and cell
/// after the steps seen so far, the sum of the first layer's outputs and, with attention
/// pooling, its running sums. What lets the
/// engine run the network while the player speaks ([`FastNetwork::advance`]); the result is
/// the same, value for value, as one [`FastNetwork::forward_described`] over all the steps,
/// however they were split.
#[derive(Debug, Default, Clone)]
pub struct FastState {
    steps: usize,
    hidden: Vec<AlignedBuf>,
    cell: Vec<AlignedBuf>,
    first_sum: Vec<f32>,
    attention: AttentionSum,
    pooled: Vec<f32>,
    gates: AlignedBuf,
    outputs: [AlignedBuf; 2],
    dense: AlignedBuf,
    emotion: AlignedBuf,
    intensity: AlignedBuf,
}

impl FastState {
    /// Steps seen so far.
    #[must_use]
    pub fn steps(&self) -> usize {
        self.steps
    }
}

impl FastNetwork {
    /// Empties `state` for a new utterance (its memory is kept).
    pub fn start(&self, state: &mut FastState) {
        state.steps = 0;
        state
            .hidden
            .resize_with(self.layers.len(), AlignedBuf::default);
        state
            .cell
            .resize_with(self.layers.len(), AlignedBuf::default);
        for ((h, c), layer) in state
            .hidden
            .iter_mut()
            .zip(&mut state.cell)
            .zip(&self.layers)
        {
            h.resize(layer.recurrent.width);
            h.as_mut_slice().fill(0.0);
            c.resize(layer.recurrent.width);
            c.as_mut_slice().fill(0.0);
        }
        state.first_sum.clear();
        state.first_sum.resize(self.first_layer_units(), 0.0);
        state
            .attention
            .reset(self.layers.last().map_or(0, |l| l.hidden));
    }

    /// Runs the network over more normalised steps of the utterance (`steps * n_features`
    /// values; a partial step is ignored). `state` must come from [`FastNetwork::start`] on
    /// this network.
    pub fn advance(&self, state: &mut FastState, input: &[f32]) {
        let steps = input.len() / self.n_features.max(1);
        if steps == 0 || state.hidden.len() != self.layers.len() {
            return;
        }
        self.simd.dispatch(Advance {
            net: self,
            input: &input[..steps * self.n_features],
            steps,
            state,
        });
    }

    /// The top LSTM layer's pooled output after the steps seen so far (what
    /// [`FastNetwork::forward_analysed`] gives last for those steps); `None` before the first
    /// step.
    #[must_use]
    pub fn state_top(&self, state: &FastState) -> Option<Vec<f32>> {
        if state.steps == 0 || state.hidden.len() != self.layers.len() {
            return None;
        }
        let mut pooled = Vec::new();
        self.pooled_into(state, &mut pooled);
        Some(pooled)
    }

    /// The top layer's pooled output for the steps `state` has seen, into `out`.
    fn pooled_into(&self, state: &FastState, out: &mut Vec<f32>) {
        out.clear();
        if self.pooling.reads_last() {
            let top = self.layers.len() - 1;
            out.extend_from_slice(&state.hidden[top].as_slice()[..self.layers[top].hidden]);
        }
        if self.attention.is_some() {
            state.attention.append_pooled(out);
        }
    }

    /// The logits after the steps seen so far and the mean of the first layer's outputs over
    /// them (what [`FastNetwork::forward_described`] gives for those steps); `None` before the
    /// first step.
    pub fn state_logits(&self, state: &mut FastState) -> Option<(Logits, Vec<f32>)> {
        if state.steps == 0 || state.hidden.len() != self.layers.len() {
            return None;
        }
        let logits = self.simd.dispatch(StateHeads { net: self, state });
        let n = state.steps as f32;
        Some((logits, state.first_sum.iter().map(|s| s / n).collect()))
    }
}

/// [`FastNetwork::advance`], monomorphised for each SIMD level.
struct Advance<'a> {
    net: &'a FastNetwork,
    input: &'a [f32],
    steps: usize,
    state: &'a mut FastState,
}

impl WithSimd for Advance<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Advance {
            net,
            input,
            steps,
            state,
        } = self;
        let FastState {
            steps: seen,
            hidden,
            cell,
            first_sum,
            attention,
            gates,
            outputs: [even, odd],
            ..
        } = state;
        let mut last_width = net.n_features;
        for (l, layer) in net.layers.iter().enumerate() {
            let (x, stride, current) = net.layer_io(l, input, even, odd);
            let before = (*seen > 0).then(|| hidden[l].as_slice());
            lstm_layer(
                simd,
                layer,
                x,
                stride,
                last_width,
                steps,
                gates,
                &mut cell[l],
                current,
                before,
            );
            let hp = layer.recurrent.width;
            let out = current.as_slice();
            if l == 0 {
                for row in out.chunks_exact(hp).take(steps) {
                    for (m, &v) in first_sum.iter_mut().zip(row) {
                        *m += v;
                    }
                }
            }
            if let (Some(w), true) = (&net.attention, l + 1 == net.layers.len()) {
                for row in out.chunks_exact(hp).take(steps) {
                    attention.add(w, &row[..layer.hidden]);
                }
            }
            hidden[l]
                .as_mut_slice()
                .copy_from_slice(&out[(steps - 1) * hp..steps * hp]);
            last_width = layer.hidden;
        }
        *seen += steps;
    }
}

/// [`FastNetwork::state_logits`]'s heads, monomorphised for each SIMD level.
struct StateHeads<'a> {
    net: &'a FastNetwork,
    state: &'a mut FastState,
}

impl WithSimd for StateHeads<'_> {
    type Output = Logits;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Logits {
        let StateHeads { net, state } = self;
        let mut pooled = std::mem::take(&mut state.pooled);
        net.pooled_into(state, &mut pooled);
        let logits = heads(
            simd,
            net,
            &pooled,
            &mut state.dense,
            &mut state.emotion,
            &mut state.intensity,
        );
        state.pooled = pooled;
        logits
    }
}
