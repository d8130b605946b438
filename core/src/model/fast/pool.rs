//! Attention pooling ([`Pooling::Attention`], [`Pooling::LastAndAttention`]) in the fast
//! path, one step at a time: the same arithmetic, in the same order, for a whole utterance
//! ([`FastNetwork::forward_into`]) and for one that arrives in parts
//! ([`FastNetwork::advance`]), so both give the same values.

/// The running state of attention pooling over the steps seen so far: the largest score,
/// the sum of the weights `exp(score - max)` and the weighted sum of the outputs.
#[derive(Debug, Default, Clone)]
pub(super) struct AttentionSum {
    steps: usize,
    max: f32,
    total: f32,
    sum: Vec<f32>,
}

impl AttentionSum {
    /// Empties it for a new utterance of `width`-value outputs (its memory is kept).
    pub(super) fn reset(&mut self, width: usize) {
        self.steps = 0;
        self.max = 0.0;
        self.total = 0.0;
        self.sum.clear();
        self.sum.resize(width, 0.0);
    }

    /// Adds one step's output `h` scored by the weights `w` (`score = w . h`). The largest
    /// score so far is the softmax's shift, so no weight exceeds 1 and none overflows.
    pub(super) fn add(&mut self, w: &[f32], h: &[f32]) {
        let score: f32 = w.iter().zip(h).map(|(a, b)| a * b).sum();
        if self.steps == 0 {
            self.max = score;
            self.total = 1.0;
            let width = self.sum.len();
            self.sum.copy_from_slice(&h[..width]);
        } else if score > self.max {
            let scale = (self.max - score).exp();
            self.max = score;
            self.total = self.total * scale + 1.0;
            for (s, &v) in self.sum.iter_mut().zip(h) {
                *s = *s * scale + v;
            }
        } else {
            let weight = (score - self.max).exp();
            self.total += weight;
            for (s, &v) in self.sum.iter_mut().zip(h) {
                *s += weight * v;
            }
        }
        self.steps += 1;
    }

    /// The pooled output so far, appended to `out` (zeros before any step).
    pub(super) fn append_pooled(&self, out: &mut Vec<f32>) {
        let total = if self.steps == 0 { 1.0 } else { self.total };
        out.extend(self.sum.iter().map(|s| s / total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running form equals a plain softmax-weighted mean, also when a later score is the
    /// largest (the running sum is rescaled).
    #[test]
    fn running_attention_is_the_softmax_weighted_mean() {
        let w = [0.5f32, -1.0, 2.0];
        let outputs: Vec<[f32; 3]> = vec![
            [0.1, 0.2, -0.3],
            [1.0, -0.5, 0.9],
            [-0.2, 0.4, 0.1],
            [0.7, 0.0, 1.5],
        ];
        let mut pool = AttentionSum::default();
        pool.reset(3);
        for h in &outputs {
            pool.add(&w, h);
        }
        let mut got = Vec::new();
        pool.append_pooled(&mut got);
        let scores: Vec<f32> = outputs
            .iter()
            .map(|h| w.iter().zip(h).map(|(a, b)| a * b).sum())
            .collect();
        let z: f32 = scores.iter().map(|s| s.exp()).sum();
        for j in 0..3 {
            let want: f32 = outputs
                .iter()
                .zip(&scores)
                .map(|(h, s)| s.exp() / z * h[j])
                .sum();
            assert!(
                (got[j] - want).abs() < 1e-6,
                "value {j}: {} vs {want}",
                got[j]
            );
        }
        pool.reset(3);
        got.clear();
        pool.append_pooled(&mut got);
        assert_eq!(got, vec![0.0; 3]);
    }
}
