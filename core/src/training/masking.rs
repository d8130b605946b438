//! SpecAugment-style masking of normalised training inputs ([`SpecAugmentConfig`]).

use rand::Rng;

use crate::features::FeatureMatrix;
use crate::model::SpecAugmentConfig;

/// Masks `input` (normalised, `steps x n_features`) in place: `config.time_masks` runs of
/// whole steps and `config.coefficient_masks` bands of coefficients are set to 0, the
/// training set's mean. A band of coefficients `c0..c1` clears every column `j` with
/// `j % config.coefficients` in it, so the coefficients and their deltas in every stacked
/// frame. Each mask's width is drawn from `0..=max` and its place uniformly where it fits; a
/// mask wider than the input covers all of it. Draws nothing from `rng` for a mask count of 0.
pub fn spec_augment(input: &mut FeatureMatrix, config: &SpecAugmentConfig, rng: &mut impl Rng) {
    let steps = input
        .n_frames
        .min(input.data.len() / input.n_features.max(1));
    let width = input.n_features;
    if steps == 0 || width == 0 {
        return;
    }
    for _ in 0..config.time_masks {
        let (start, len) = band(steps, config.max_time_width, rng);
        input.data[start * width..(start + len) * width].fill(0.0);
    }
    let period = config.coefficients.clamp(1, width);
    for _ in 0..config.coefficient_masks {
        let (start, len) = band(period, config.max_coefficient_width, rng);
        if len == 0 {
            continue;
        }
        for row in input.data[..steps * width].chunks_exact_mut(width) {
            for (j, v) in row.iter_mut().enumerate() {
                if (start..start + len).contains(&(j % period)) {
                    *v = 0.0;
                }
            }
        }
    }
}

/// A band `(start, len)` within `0..n`: `len` drawn from `0..=max.min(n)`, `start` where it fits.
fn band(n: usize, max: usize, rng: &mut impl Rng) -> (usize, usize) {
    let len = rng.random_range(0..=max.min(n));
    let start = rng.random_range(0..=n - len);
    (start, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ones(steps: usize, n_features: usize) -> FeatureMatrix {
        FeatureMatrix {
            data: vec![1.0; steps * n_features],
            n_frames: steps,
            n_features,
        }
    }

    fn config(time: usize, coefficient: usize) -> SpecAugmentConfig {
        SpecAugmentConfig::new()
            .with_time_masks(time)
            .with_coefficient_masks(coefficient)
            .with_coefficients(4)
    }

    #[test]
    fn time_masks_clear_whole_steps_within_the_widths() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut cleared_some = false;
        for _ in 0..200 {
            let mut m = ones(30, 24);
            spec_augment(&mut m, &config(1, 0).with_max_time_width(5), &mut rng);
            let cleared: Vec<bool> = m
                .frames()
                .map(|row| {
                    let zeros = row.iter().filter(|&&v| v == 0.0).count();
                    assert!(zeros == 0 || zeros == row.len(), "a step is cleared whole");
                    zeros == row.len()
                })
                .collect();
            let n = cleared.iter().filter(|&&c| c).count();
            assert!(n <= 5, "{n} steps cleared by one mask of at most 5");
            // One mask is one contiguous run.
            let runs =
                cleared.windows(2).filter(|w| !w[0] && w[1]).count() + usize::from(cleared[0]);
            assert!(runs <= 1);
            cleared_some |= n > 0;
        }
        assert!(cleared_some);
    }

    #[test]
    fn coefficient_masks_clear_a_coefficient_and_its_delta_in_every_stacked_frame() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut cleared_some = false;
        for _ in 0..200 {
            // 4 coefficients + 4 deltas, 3 frames stacked: 24 columns.
            let mut m = ones(10, 24);
            spec_augment(
                &mut m,
                &config(0, 1).with_max_coefficient_width(2),
                &mut rng,
            );
            let first = m.frame(0).unwrap().to_vec();
            for row in m.frames() {
                assert_eq!(row, first.as_slice(), "every step is masked alike");
            }
            let masked: Vec<usize> = (0..4).filter(|&c| first[c] == 0.0).collect();
            assert!(masked.len() <= 2);
            for (j, &v) in first.iter().enumerate() {
                assert_eq!(v == 0.0, masked.contains(&(j % 4)), "column {j}");
            }
            cleared_some |= !masked.is_empty();
        }
        assert!(cleared_some);
    }

    #[test]
    fn no_masks_change_nothing_and_draw_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut m = ones(10, 24);
        spec_augment(&mut m, &config(0, 0), &mut rng);
        assert!(m.data.iter().all(|&v| v == 1.0));
        assert_eq!(
            rng.random::<u64>(),
            ChaCha8Rng::seed_from_u64(3).random::<u64>()
        );
    }

    #[test]
    fn masks_wider_than_the_input_stay_inside_it() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for steps in 0..4 {
            let mut m = ones(steps, 8);
            let wide = config(3, 3)
                .with_max_time_width(50)
                .with_max_coefficient_width(50)
                .with_coefficients(100);
            spec_augment(&mut m, &wide, &mut rng);
            assert_eq!(m.data.len(), steps * 8);
        }
        let mut empty = FeatureMatrix {
            data: Vec::new(),
            n_frames: 3,
            n_features: 0,
        };
        spec_augment(&mut empty, &config(2, 2), &mut rng);
    }
}
