//! The weighted cross-entropy the trainer and a player's own weight copy
//! ([`crate::player::copy`]) are trained with.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Mean cross-entropy of `logits` `[batch, classes]` against `targets`, each example weighted
/// by `weights` (`None`: all 1); the mean is over the total weight.
pub fn cross_entropy(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    weights: Option<Tensor<1>>,
) -> Tensor<1> {
    let [b, _] = logits.dims();
    let picked: Tensor<1> = log_softmax(logits, 1)
        .gather(1, targets.reshape([b, 1]))
        .reshape([b]);
    match weights {
        Some(w) => {
            let total = w.clone().sum().add_scalar(1e-6);
            (picked * w).sum().neg() / total
        }
        None => picked.mean().neg(),
    }
}
