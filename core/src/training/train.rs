//! Training the emotion model: examples, batches, the loop (Adam, cross-entropy on both heads,
//! early stopping on validation accuracy or loss), seeded and reproducible.

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::features::FeatureMatrix;
use crate::labels::{Emotion, Intensity};
use crate::model::{
    EmotionModel, EmotionOutput, FastLstmTrainer, FastTrainingError, LstmPass, Pooling, Selection,
    TrainingConfig, normalised, predict,
};
use crate::training::average::WeightAverage;
use crate::training::dataset::EmotionSet;
use crate::training::masking::spec_augment;
use crate::training::{
    BatchLabels, Example, Normaliser, length_batches, make_batch, make_labels, softened,
};

pub use crate::model::cross_entropy;

/// [`cross_entropy`] with `penalty` (`[batch, classes]`, as [`crate::training::Batch::emotion_penalty`])
/// added to the logits first: a class whose penalty is [`crate::training::MASKED_LOGIT`] is
/// left out of that example's softmax (its probability is 0, its gradient 0). `None`, or a
/// penalty of zeros, gives exactly [`cross_entropy`].
pub fn masked_cross_entropy(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    weights: Option<Tensor<1>>,
    penalty: Option<Tensor<2>>,
) -> Tensor<1> {
    let logits = match penalty {
        Some(p) => logits + p,
        None => logits,
    };
    cross_entropy(logits, targets, weights)
}

/// Mean cross-entropy of `logits` `[batch, classes]` against label-smoothed targets: `1 - ε`
/// on each example's target, `ε` spread evenly over the classes its `penalty` leaves in (as
/// [`masked_cross_entropy`]; `None`: every class). `epsilon` 0 gives
/// [`masked_cross_entropy`]'s value.
pub fn smoothed_cross_entropy(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    penalty: Option<Tensor<2>>,
    epsilon: f32,
) -> Tensor<1> {
    let [b, classes] = logits.dims();
    let device = logits.device();
    let (logits, allowed) = match penalty {
        Some(p) => {
            let allowed = p.clone().equal_elem(0.0).float();
            (logits + p, allowed)
        }
        None => (logits, Tensor::ones([b, classes], &device)),
    };
    let log_p = log_softmax(logits, 1);
    let picked: Tensor<1> = log_p
        .clone()
        .gather(1, targets.reshape([b, 1]))
        .reshape([b]);
    // Masked classes' log-probabilities are about -1e9: multiplied by 0 they drop out.
    let spread: Tensor<1> =
        ((log_p * allowed.clone()).sum_dim(1) / allowed.sum_dim(1)).reshape([b]);
    (picked.mul_scalar(1.0 - epsilon) + spread.mul_scalar(epsilon))
        .mean()
        .neg()
}

/// Cross-entropy of the network's emotion distribution softened by `temperature` against
/// `targets` (`[batch, classes]`, each row a distribution: already softened teacher
/// probabilities, [`crate::training::softened`]), times `temperature²` so its gradients keep
/// the scale of a plain cross-entropy's (Hinton et al., 2015), averaged over the batch. A row
/// of zeros (an example without teachers) adds 0. `penalty` leaves classes out as in
/// [`masked_cross_entropy`]; their targets must be 0.
pub fn distillation_cross_entropy(
    logits: Tensor<2>,
    targets: Tensor<2>,
    penalty: Option<Tensor<2>>,
    temperature: f32,
) -> Tensor<1> {
    let logits = match penalty {
        Some(p) => logits + p,
        None => logits,
    };
    let log_p = log_softmax(logits.div_scalar(temperature), 1);
    (log_p * targets)
        .sum_dim(1)
        .mean()
        .neg()
        .mul_scalar(temperature * temperature)
        .reshape([1])
}

/// Per-epoch figures.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training emotion accuracy (with dropout, on augmented data).
    pub train_accuracy: f64,
    /// Validation loss.
    pub valid_loss: f64,
    /// Validation emotion accuracy.
    pub valid_accuracy: f64,
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The kept model (by [`TrainingConfig::selection`]), in inference mode.
    pub model: EmotionModel,
    /// Every epoch's figures.
    pub history: Vec<EpochMetrics>,
    /// Epoch of the kept model.
    pub best_epoch: usize,
    /// Whether the run was stopped from outside.
    pub interrupted: bool,
}

/// Trains on `train` (already augmented; unnormalised), selecting on `valid`.
///
/// Each training example is normalised with its speaker's statistics with probability
/// `speaker_norm_probability`, else with the global ones; validation uses per-speaker
/// statistics. `on_epoch` sees each epoch's metrics and returns `false` to stop (Ctrl-C);
/// `on_step` is called after each optimisation step with the running loss.
///
/// `devices` is where the network trains: the model lives on the first; with several, each
/// batch is split between them and trained data-parallel ([`data_parallel_step`]). Empty
/// means the default CPU device. Validation runs on the first device. With
/// [`LstmPass::Fast`] the LSTM layers run on [`FastLstmTrainer`] instead, one thread per
/// device ([`fast_step`]).
///
/// # Errors
/// [`FastTrainingError`] from the fast LSTM pass (weights burn cannot hand back, an input of
/// the wrong width); burn's pass has none.
pub fn train(
    config: &TrainingConfig,
    train: &[Example],
    valid: &[Example],
    norm: &Normaliser,
    devices: &[Device],
    mut on_step: impl FnMut(usize, usize, f64),
    mut on_epoch: impl FnMut(&EpochMetrics) -> bool,
) -> Result<TrainOutcome, FastTrainingError> {
    let devices = if devices.is_empty() {
        vec![crate::model::default_device()]
    } else {
        devices.to_vec()
    };
    let device = &devices[0];
    let ad_devices: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    for d in &ad_devices {
        d.seed(config.seed);
    }
    let mut model = config.model.init(&ad_devices[0]);
    let mut optim = AdamConfig::new().init();
    let mut fast = (config.lstm_pass.unwrap_or_default() == LstmPass::Fast)
        .then(|| FastLstmTrainer::new(devices.len(), config.seed));
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let valid_norm: Vec<FeatureMatrix> = valid
        .iter()
        .map(|e| normalised(&e.features, norm.stats(&e.speaker, true)))
        .collect();
    let mut best: Option<(f64, f64, usize, EmotionModel)> = None;
    let mut history = Vec::new();
    let lengths: Vec<usize> = train.iter().map(|e| e.features.n_frames).collect();
    let mut interrupted = false;
    let mut average = config.weight_average.map(WeightAverage::new);
    let steps_per_epoch = train.len().div_ceil(config.batch_size.max(1));
    for epoch in 1..=config.max_epochs {
        let batches = length_batches(&lengths, config.batch_size, config.length_pool, &mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (step, chunk) in batches.iter().enumerate() {
            let mut targets = Vec::new();
            let mut normed: Vec<FeatureMatrix> = chunk
                .iter()
                .map(|&i| {
                    let e = &train[i];
                    let per_speaker = rand::Rng::random_bool(
                        &mut rng,
                        config.speaker_norm_probability.clamp(0.0, 1.0),
                    );
                    let mut m = normalised(&e.features, norm.stats(&e.speaker, per_speaker));
                    if let Some(masks) = &config.spec_augment {
                        spec_augment(&mut m, masks, &mut rng);
                    }
                    if let Some(distil) = &config.distillation {
                        // The teachers saw the unmasked input under the same normalisation.
                        targets.push(e.teacher.map_or([0.0; Emotion::COUNT], |t| {
                            softened(
                                &t.for_normalisation(per_speaker),
                                e.classes,
                                distil.temperature,
                            )
                        }));
                    }
                    m
                })
                .collect();
            let mixing = config
                .mixup
                .map(|alpha| mix_inputs(&mut normed, alpha, &mut rng));
            let teachers = config.distillation.is_some().then_some(&targets[..]);
            let items: Vec<BatchItem<'_>> = normed
                .iter()
                .zip(chunk)
                .map(|(m, &i)| (m, train[i].emotion, train[i].intensity, train[i].classes))
                .collect();
            let partners: Vec<BatchItem<'_>> = match &mixing {
                Some((_, order)) => order.iter().map(|&j| items[j]).collect(),
                None => Vec::new(),
            };
            let targets = StepTargets {
                teachers,
                mix: mixing.as_ref().map(|&(lambda, _)| Mix {
                    lambda,
                    partners: &partners,
                }),
            };
            let stepped_config;
            let config = match config.lr_schedule {
                Some(schedule) => {
                    let done = (epoch - 1) * steps_per_epoch + step;
                    let total = config.max_epochs * steps_per_epoch;
                    stepped_config = TrainingConfig {
                        learning_rate: schedule.rate(config.learning_rate, done, total),
                        ..config.clone()
                    };
                    &stepped_config
                }
                None => config,
            };
            let (stepped, value, hits) = match &mut fast {
                Some(trainer) => fast_step(
                    model,
                    &mut optim,
                    trainer,
                    &items,
                    targets,
                    &ad_devices[0],
                    config,
                )?,
                None => data_parallel_step(model, &mut optim, &items, targets, &ad_devices, config),
            };
            model = stepped;
            if let Some(average) = &mut average {
                average.update(&model.valid());
            }
            correct += hits;
            seen += chunk.len();
            loss_sum += value * chunk.len() as f64;
            on_step(step + 1, steps_per_epoch, loss_sum / seen as f64);
        }
        let inference = match average.as_ref().and_then(WeightAverage::model) {
            Some(averaged) => averaged.clone(),
            None => model.valid(),
        };
        let (valid_loss, valid_accuracy) =
            evaluate_loss(&inference, &valid_norm, valid, config, &device.clone());
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            valid_loss,
            valid_accuracy,
        };
        history.push(metrics);
        let better = match &best {
            None => true,
            Some((acc, loss, _, _)) => match config.selection.unwrap_or_default() {
                Selection::Accuracy => {
                    valid_accuracy > *acc || (valid_accuracy == *acc && valid_loss < *loss)
                }
                Selection::Loss => valid_loss < *loss,
                Selection::Last => true,
            },
        };
        if better {
            best = Some((valid_accuracy, valid_loss, epoch, inference));
        }
        if !on_epoch(&metrics) {
            interrupted = true;
            break;
        }
        if let Some((_, _, best_epoch, _)) = &best
            && epoch - best_epoch >= config.patience
        {
            break;
        }
    }
    let (model, best_epoch) = match best {
        Some((_, _, epoch, m)) => (m, epoch),
        None => (model.valid(), 0),
    };
    Ok(TrainOutcome {
        model,
        history,
        best_epoch,
        interrupted,
    })
}

/// Mixup of a batch ([`TrainingConfig::mixup`]): draws `λ` from Beta(`alpha`, `alpha`) (the
/// larger of `λ` and `1 - λ`) and a shuffled order of the batch, and replaces each input with
/// `λ` times itself plus `1 - λ` times its partner's over its own frames (the partner cut to
/// them, or padded with zeros, the normalised features' mean). Returns `λ` and each item's
/// partner. A batch of one is mixed with itself.
fn mix_inputs(inputs: &mut [FeatureMatrix], alpha: f64, rng: &mut ChaCha8Rng) -> (f32, Vec<usize>) {
    use rand::seq::SliceRandom;
    use rand_distr::Distribution;
    let lambda = rand_distr::Beta::new(alpha, alpha)
        .map_or(1.0, |beta| beta.sample(rng))
        .max(0.5) as f32;
    let lambda = if lambda.is_finite() { lambda } else { 1.0 };
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.shuffle(rng);
    let own: Vec<FeatureMatrix> = inputs.to_vec();
    for (input, &j) in inputs.iter_mut().zip(&order) {
        *input = mixed(input, &own[j], lambda);
    }
    (lambda, order)
}

/// `lambda · a + (1 - lambda) · b` over `a`'s frames: `b` is cut to `a`'s length, or padded
/// with zeros past its end, so the network's last state (which the heads read) still ends on
/// `a`, the example that weighs most.
fn mixed(a: &FeatureMatrix, b: &FeatureMatrix, lambda: f32) -> FeatureMatrix {
    let mut data: Vec<f32> = a.data.iter().map(|v| lambda * v).collect();
    for (out, v) in data.iter_mut().zip(&b.data) {
        *out += (1.0 - lambda) * v;
    }
    FeatureMatrix {
        data,
        n_frames: a.n_frames,
        n_features: a.n_features,
    }
}

/// One item of a training batch: normalised features, emotion, intensity (when labelled) and
/// the emotions its corpus labels, as [`make_batch`] takes them.
pub type BatchItem<'a> = (&'a FeatureMatrix, Emotion, Option<Intensity>, EmotionSet);

/// Teacher targets of a batch's items, in order (softened, [`softened`]), with
/// [`TrainingConfig::distillation`]; `None` without.
pub type BatchTargets<'a> = Option<&'a [[f32; Emotion::COUNT]]>;

/// Mixup partners of a batch ([`TrainingConfig::mixup`]): item `i`'s input is already
/// `lambda` times its own plus `1 - lambda` times that of `partners[i]`, whose labels the loss
/// weighs by `1 - lambda` (its own by `lambda`; each label's softmax keeps to its own corpus's
/// emotions; teacher targets, which mixup does not go with, count for the item's own term
/// only). `partners` is in the items' order.
#[derive(Debug, Clone, Copy)]
pub struct Mix<'a> {
    /// Weight of each item's own example, in `[0.5, 1]`.
    pub lambda: f32,
    /// The example each item was mixed with (only its labels are read).
    pub partners: &'a [BatchItem<'a>],
}

/// What a step trains towards besides its items' own labels.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTargets<'a> {
    /// The items' teacher targets, when distilling.
    pub teachers: BatchTargets<'a>,
    /// Their mixup partners, with [`TrainingConfig::mixup`].
    pub mix: Option<Mix<'a>>,
}

/// One optimisation step of `model` over `items` (with their `targets`: teacher targets when
/// distilling, mixup partners) on `devices` (autodiff devices, at least one; the model lives
/// on the first). Returns the stepped model, the batch's loss and how many emotions the model
/// got right before the step.
///
/// With one device this is a plain step. With several, burn's data-parallel step: the batch
/// is cut into one contiguous part per device, each device computes its part's gradients on a
/// replica of the model (`Module::fork`) in its own thread, and
/// [`ModuleOptimizer::step_multi`] sums the gradients and updates the model. Each part's loss
/// is weighted by its share of the batch (its clips for the emotion loss, its labelled
/// intensities for the intensity loss), so the summed gradients are those of the whole batch
/// and the step is the one a single device would take, up to rounding (and dropout, whose
/// masks each device draws from its own generator).
pub fn data_parallel_step(
    model: EmotionModel,
    optim: &mut ModuleOptimizer,
    items: &[BatchItem<'_>],
    targets: StepTargets<'_>,
    devices: &[Device],
    config: &TrainingConfig,
) -> (EmotionModel, f64, usize) {
    let parts = devices.len().min(items.len());
    if parts <= 1 {
        let Some(device) = devices.first() else {
            return (model, 0.0, 0);
        };
        let (grads, loss, hits) = part_gradients(&model, items, targets, device, config, None);
        return (optim.step(config.learning_rate, model, grads), loss, hits);
    }
    let known = |part: &[BatchItem<'_>]| part.iter().filter(|i| i.2.is_some()).count();
    let known_total = known(items);
    let partners_known_total = targets.mix.map_or(0, |m| known(m.partners));
    let fraction = |n: usize, total: usize| {
        if total == 0 {
            0.0
        } else {
            n as f32 / total as f32
        }
    };
    let size = items.len().div_ceil(parts);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .enumerate()
            .zip(devices)
            .map(|((k, part), device)| {
                let part_targets = StepTargets {
                    teachers: targets
                        .teachers
                        .map(|t| &t[(k * size).min(t.len())..((k + 1) * size).min(t.len())]),
                    mix: targets.mix.map(|m| Mix {
                        lambda: m.lambda,
                        partners: &m.partners[(k * size).min(m.partners.len())
                            ..((k + 1) * size).min(m.partners.len())],
                    }),
                };
                let replica = model.clone().fork(device);
                let share = Share {
                    emotion: part.len() as f32 / items.len() as f32,
                    intensity: fraction(known(part), known_total),
                    partner_intensity: part_targets
                        .mix
                        .map_or(0.0, |m| fraction(known(m.partners), partners_known_total)),
                };
                scope.spawn(move || {
                    let result =
                        part_gradients(&replica, part, part_targets, device, config, Some(share));
                    (result, device.clone())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut grads = MultiGradientsParams::default();
    let (mut loss, mut hits) = (0.0, 0);
    for ((part_grads, part_loss, part_hits), device) in results {
        grads.grads.push((part_grads, device));
        loss += part_loss;
        hits += part_hits;
    }
    (
        optim.step_multi(config.learning_rate, model, grads),
        loss,
        hits,
    )
}

/// One optimisation step of `model` (on the autodiff `device`) over `items` with the LSTM
/// layers' pass of `trainer` ([`LstmPass::Fast`]): the trainer runs both layers (its
/// threads splitting the batch), burn runs the dense layer, the heads and the loss on the
/// second layer's last states as a leaf tensor (with attention pooling: its outputs at every
/// step, which burn pools), the trainer turns burn's gradient with respect to them into the
/// LSTM weights' gradients, and Adam steps every weight. The same
/// loss as [`data_parallel_step`]; returns the same.
///
/// # Errors
/// [`FastTrainingError`] from the trainer.
pub fn fast_step(
    model: EmotionModel,
    optim: &mut ModuleOptimizer,
    trainer: &mut FastLstmTrainer,
    items: &[BatchItem<'_>],
    targets: StepTargets<'_>,
    device: &Device,
    config: &TrainingConfig,
) -> Result<(EmotionModel, f64, usize), FastTrainingError> {
    if items.is_empty() {
        return Ok((model, 0.0, 0));
    }
    let inputs: Vec<&FeatureMatrix> = items.iter().map(|i| i.0).collect();
    let n = items.len();
    // The LSTM layers' output as a leaf tensor burn differentiates to: the last states, or
    // every step's outputs for a model that pools them.
    let (leaf, out) = match model.pooling() {
        Pooling::Last => {
            let last = trainer.forward(&model, &inputs, config.model.dropout)?;
            let width = last.len() / n;
            let leaf =
                Tensor::<2>::from_data(TensorData::new(last, [n, width]), device).require_grad();
            let out = model.heads(leaf.clone());
            (Leaf::Last(leaf), out)
        }
        Pooling::Attention | Pooling::LastAndAttention => {
            // At least one step (zeros for inputs without any), and `n` is at least 1.
            let (all, steps) = trainer.forward_outputs(&model, &inputs, config.model.dropout)?;
            let width = all.len() / (n * steps);
            let leaf = Tensor::<3>::from_data(TensorData::new(all, [n, steps, width]), device)
                .require_grad();
            let mask: Vec<f32> = inputs
                .iter()
                .flat_map(|m| (0..steps).map(move |t| f32::from(u8::from(t < m.n_frames))))
                .collect();
            let mask = Tensor::<3>::from_data(TensorData::new(mask, [n, steps, 1]), device);
            let out = model.heads(model.pool(leaf.clone(), mask));
            (Leaf::All(leaf), out)
        }
    };
    let (loss, value, hits) = batch_loss(out, make_labels(items, device), targets, config, None);
    let grads = loss.backward();
    let (d_leaf, size) = match &leaf {
        Leaf::Last(t) => (
            t.grad(&grads).map(|g| g.into_data()),
            t.dims().iter().product(),
        ),
        Leaf::All(t) => (
            t.grad(&grads).map(|g| g.into_data()),
            t.dims().iter().product(),
        ),
    };
    let d_last: Vec<f32> = d_leaf
        .map(|g| g.try_into_vec::<f32>().unwrap_or_default())
        .unwrap_or_default();
    let mut params = GradientsParams::from_grads(grads, &model);
    let d_last = if d_last.is_empty() {
        vec![0.0; size]
    } else {
        d_last
    };
    trainer
        .backward(&d_last)?
        .register(&model, &mut params, &device.clone().inner());
    Ok((optim.step(config.learning_rate, model, params), value, hits))
}

/// What [`fast_step`] hands burn of the LSTM layers: the last states `[batch, hidden_2]` or
/// every step's outputs `[batch, steps, hidden_2]`.
enum Leaf {
    Last(Tensor<2>),
    All(Tensor<3>),
}

/// A part's share of its batch, weighting its losses in a data-parallel step.
#[derive(Debug, Clone, Copy)]
struct Share {
    emotion: f32,
    intensity: f32,
    /// Of the mixup partners' labelled intensities.
    partner_intensity: f32,
}

/// The gradients of `model`'s loss on `items` (on `device`), the loss and the emotions right.
fn part_gradients(
    model: &EmotionModel,
    items: &[BatchItem<'_>],
    targets: StepTargets<'_>,
    device: &Device,
    config: &TrainingConfig,
    share: Option<Share>,
) -> (GradientsParams, f64, usize) {
    let batch = make_batch(items, device);
    let out = model.forward(batch.inputs, batch.mask);
    let labels = BatchLabels {
        emotions: batch.emotions,
        intensities: batch.intensities,
        intensity_known: batch.intensity_known,
        emotion_penalty: batch.emotion_penalty,
    };
    let (loss, value, hits) = batch_loss(out, labels, targets, config, share);
    let grads = GradientsParams::from_grads(loss.backward(), model);
    (grads, value, hits)
}

/// The loss of the network's outputs `out` on a batch with `labels` (and teacher `targets`
/// when distilling), weighted by the part's `share` in a data-parallel step; its value and
/// how many emotions were right (against `labels`). With mixup partners the loss is `lambda`
/// times that against `labels` plus `1 - lambda` times that against the partners' labels.
fn batch_loss(
    out: EmotionOutput,
    batch: BatchLabels,
    targets: StepTargets<'_>,
    config: &TrainingConfig,
    share: Option<Share>,
) -> (Tensor<1>, f64, usize) {
    let n = out.emotion.dims()[0];
    let device = out.emotion.device();
    let teachers = targets.teachers;
    let predicted = out.emotion.clone().argmax(1).reshape([n]);
    let hits: Vec<i64> = predicted
        .equal(batch.emotions.clone())
        .int()
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap_or_default();
    let hits = hits.iter().filter(|&&h| h != 0).count();
    let loss = match targets.mix {
        None => labelled_loss(out, batch, teachers, config, share),
        Some(mix) => {
            let theirs = make_labels(mix.partners, &device);
            let own = labelled_loss(out.clone(), batch, teachers, config, share);
            let theirs_share = share.map(|s| Share {
                intensity: s.partner_intensity,
                ..s
            });
            let other = labelled_loss(out, theirs, None, config, theirs_share);
            own.mul_scalar(mix.lambda) + other.mul_scalar(1.0 - mix.lambda)
        }
    };
    let value = f64::from(loss.clone().into_scalar::<f32>());
    (loss, value, hits)
}

/// [`batch_loss`]'s loss against one set of labels.
fn labelled_loss(
    out: EmotionOutput,
    batch: BatchLabels,
    targets: BatchTargets<'_>,
    config: &TrainingConfig,
    share: Option<Share>,
) -> Tensor<1> {
    let n = out.emotion.dims()[0];
    let device = out.emotion.device();
    // Emotions a clip's corpus never labels are left out of its softmax; intensity counts
    // only where labelled.
    let emotion = match config.label_smoothing.filter(|&e| e > 0.0) {
        Some(epsilon) => smoothed_cross_entropy(
            out.emotion.clone(),
            batch.emotions,
            batch.emotion_penalty.clone(),
            epsilon.min(1.0),
        ),
        None => masked_cross_entropy(
            out.emotion.clone(),
            batch.emotions,
            None,
            batch.emotion_penalty.clone(),
        ),
    };
    let emotion = match (&config.distillation, targets) {
        (Some(distil), Some(targets)) if targets.len() == n => {
            let soft: Vec<f32> = targets.iter().flatten().copied().collect();
            let soft = Tensor::from_data(TensorData::new(soft, [n, Emotion::COUNT]), &device);
            let taught = distillation_cross_entropy(
                out.emotion,
                soft,
                batch.emotion_penalty,
                distil.temperature,
            );
            let weight = distil.weight.clamp(0.0, 1.0);
            emotion.mul_scalar(1.0 - weight) + taught.mul_scalar(weight)
        }
        _ => emotion,
    };
    let intensity = cross_entropy(
        out.intensity,
        batch.intensities,
        Some(batch.intensity_known),
    )
    .mul_scalar(config.intensity_weight);
    match share {
        None => emotion + intensity,
        Some(share) => emotion.mul_scalar(share.emotion) + intensity.mul_scalar(share.intensity),
    }
}

fn evaluate_loss(
    model: &EmotionModel,
    inputs: &[FeatureMatrix],
    examples: &[Example],
    config: &TrainingConfig,
    device: &Device,
) -> (f64, f64) {
    if inputs.is_empty() {
        return (0.0, 0.0);
    }
    let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
    let p = predict(model, &refs, config.batch_size.max(1) * 2, device);
    let mut loss = 0.0f64;
    let mut correct = 0usize;
    for (probs, e) in p.emotion.iter().zip(examples) {
        let k = e.emotion.index();
        loss -= f64::from(probs[k].max(1e-7)).ln();
        let best = (0..Emotion::COUNT)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap_or(0);
        correct += usize::from(best == k);
    }
    (
        loss / examples.len() as f64,
        correct as f64 / examples.len() as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::dataset::EmotionSet;
    use crate::training::{MASKED_LOGIT, make_batch};

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    /// Logits `[3, 8]`, targets and a device.
    fn logits(values: &[f32]) -> (Tensor<2>, Tensor<1, Int>, Device) {
        let device = crate::model::default_device();
        let logits = Tensor::from_data(TensorData::new(values.to_vec(), [3, 8]), &device);
        let targets = Tensor::from_data(TensorData::new(vec![2i64, 0, 7], [3]), &device);
        (logits, targets, device)
    }

    const VALUES: [f32; 24] = [
        0.3, -1.2, 2.0, 0.1, 0.9, -0.4, 1.5, 0.0, //
        1.1, 0.2, -0.3, 0.8, -2.0, 0.6, 0.4, 1.9, //
        -0.5, 0.7, 0.2, 1.3, 0.0, -1.1, 0.5, 0.9,
    ];

    #[test]
    fn masked_loss_with_every_class_is_the_plain_loss_and_ignores_masked_logits() {
        let (l, t, device) = logits(&VALUES);
        let plain = scalar(cross_entropy(l.clone(), t.clone(), None));
        // No penalty, and a penalty of zeros (a full mask): the same loss, bit for bit.
        let none = scalar(masked_cross_entropy(l.clone(), t.clone(), None, None));
        let zeros = Tensor::zeros([3, 8], &device);
        let full = scalar(masked_cross_entropy(l, t.clone(), None, Some(zeros)));
        assert_eq!(plain.to_bits(), none.to_bits());
        assert_eq!(plain.to_bits(), full.to_bits());

        // Mask calm and surprised (the second example's corpus lacks them; the third's
        // target is surprised, so its corpus labels it): items as the training loop makes.
        let features = crate::features::FeatureMatrix {
            data: vec![0.0; 4],
            n_frames: 2,
            n_features: 2,
        };
        let six: EmotionSet = Emotion::ALL
            .into_iter()
            .filter(|e| !matches!(e, Emotion::Calm | Emotion::Surprised))
            .collect();
        let items = [
            (&features, Emotion::Happy, None, EmotionSet::ALL),
            (&features, Emotion::Neutral, None, six),
            (&features, Emotion::Surprised, None, six),
        ];
        let batch = make_batch(&items, &device);
        let penalty = batch
            .emotion_penalty
            .expect("a partial mask gives a penalty");
        let p: Vec<f32> = penalty.clone().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(&p[..8], &[0.0; 8]);
        assert_eq!(p[8 + 1], MASKED_LOGIT);
        assert_eq!(p[8 + 7], MASKED_LOGIT);
        // The target is never masked: surprised is kept for the third example.
        assert_eq!(p[16 + 1], MASKED_LOGIT);
        assert_eq!(p[16 + 7], 0.0);
        assert_eq!(p.iter().filter(|&&v| v != 0.0).count(), 3);

        let masked = |values: &[f32]| {
            let (l, t, _) = logits(values);
            scalar(masked_cross_entropy(l, t, None, Some(penalty.clone())))
        };
        let loss = masked(&VALUES);
        // By hand: each example's softmax over its corpus's classes only.
        let by_hand = |row: usize, target: usize, skip: &[usize]| {
            let r = &VALUES[row * 8..row * 8 + 8];
            let z: f64 = (0..8)
                .filter(|k| !skip.contains(k))
                .map(|k| f64::from(r[k]).exp())
                .sum();
            z.ln() - f64::from(r[target])
        };
        let expected = (by_hand(0, 2, &[]) + by_hand(1, 0, &[1, 7]) + by_hand(2, 7, &[1])) / 3.0;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-5,
            "{loss} vs {expected}"
        );
        assert!(
            loss < plain,
            "masking removes competitors: {loss} vs {plain}"
        );
        // Changing a masked logit changes nothing.
        let mut moved = VALUES;
        moved[8 + 1] = 50.0;
        moved[16 + 1] = -30.0;
        assert_eq!(masked(&moved).to_bits(), loss.to_bits());
        // A full-mask batch has no penalty at all (RAVDESS: the loss as before masks).
        let full = make_batch(&items[..1], &device);
        assert!(full.emotion_penalty.is_none());
    }

    #[test]
    fn smoothed_loss_matches_a_hand_computation_and_spreads_only_over_labelled_classes() {
        let (l, t, device) = logits(&VALUES);
        // ε = 0 is the plain loss.
        let plain = scalar(cross_entropy(l.clone(), t.clone(), None));
        let zero = scalar(smoothed_cross_entropy(l.clone(), t.clone(), None, 0.0));
        assert!((plain - zero).abs() < 1e-6, "{plain} vs {zero}");
        // The second example's corpus lacks calm (1) and surprised (7).
        let mut penalty = vec![0.0f32; 24];
        penalty[8 + 1] = MASKED_LOGIT;
        penalty[8 + 7] = MASKED_LOGIT;
        let penalty = Tensor::from_data(TensorData::new(penalty, [3, 8]), &device);
        let epsilon = 0.2;
        let loss = scalar(smoothed_cross_entropy(l, t, Some(penalty), epsilon));
        let by_hand = |row: usize, target: usize, skip: &[usize]| {
            let r = &VALUES[row * 8..row * 8 + 8];
            let kept: Vec<usize> = (0..8).filter(|k| !skip.contains(k)).collect();
            let z: f64 = kept
                .iter()
                .map(|&k| f64::from(r[k]).exp())
                .sum::<f64>()
                .ln();
            let log_p = |k: usize| f64::from(r[k]) - z;
            let spread = kept.iter().map(|&k| log_p(k)).sum::<f64>() / kept.len() as f64;
            -(1.0 - f64::from(epsilon)) * log_p(target) - f64::from(epsilon) * spread
        };
        let expected = (by_hand(0, 2, &[]) + by_hand(1, 0, &[1, 7]) + by_hand(2, 7, &[])) / 3.0;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-4,
            "{loss} vs {expected}"
        );
    }

    #[test]
    fn softened_teacher_probabilities_keep_to_the_labelled_classes() {
        let p = [0.4f32, 0.1, 0.3, 0.0, 0.1, 0.05, 0.05, 0.0];
        // T = 1 and every class: the probabilities as they are.
        let same = softened(&p, EmotionSet::ALL, 1.0);
        for (a, b) in same.iter().zip(p) {
            assert!((a - b).abs() < 1e-6, "{same:?}");
        }
        // T = 2 without calm (1): square roots of the rest, renormalised.
        let without_calm: EmotionSet = Emotion::ALL
            .into_iter()
            .filter(|e| *e != Emotion::Calm)
            .collect();
        let soft = softened(&p, without_calm, 2.0);
        let roots: Vec<f32> = p.iter().map(|v| v.sqrt()).collect();
        let total: f32 = roots.iter().sum::<f32>() - roots[1];
        assert_eq!(soft[1], 0.0);
        assert!((soft[0] - roots[0] / total).abs() < 1e-6, "{soft:?}");
        assert!((soft[2] - roots[2] / total).abs() < 1e-6, "{soft:?}");
        assert!((soft.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Softer than the original: the top class loses share.
        assert!(soft[0] < p[0] / (1.0 - p[1]));
        // Nothing on the labelled classes, or garbage: no target.
        let only_calm: EmotionSet = [Emotion::Calm].into_iter().collect();
        let mut zero_calm = p;
        zero_calm[1] = 0.0;
        assert_eq!(softened(&zero_calm, only_calm, 2.0), [0.0; 8]);
        assert_eq!(softened(&[f32::NAN; 8], EmotionSet::ALL, 2.0), [0.0; 8]);
    }

    #[test]
    fn distillation_loss_matches_a_hand_computation() {
        let (l, _, device) = logits(&VALUES);
        let temperature = 2.0f32;
        // Row 0: a spread target; row 1: its corpus lacks calm (1), which the target leaves
        // out; row 2: no teachers (zeros), adding nothing.
        let mut q = vec![0.0f32; 24];
        q[..8].copy_from_slice(&[0.1, 0.1, 0.4, 0.1, 0.1, 0.1, 0.05, 0.05]);
        q[8..16].copy_from_slice(&[0.5, 0.0, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]);
        let mut penalty = vec![0.0f32; 24];
        penalty[8 + 1] = MASKED_LOGIT;
        let targets = Tensor::from_data(TensorData::new(q.clone(), [3, 8]), &device);
        let penalty = Tensor::from_data(TensorData::new(penalty, [3, 8]), &device);
        let loss = scalar(distillation_cross_entropy(
            l,
            targets,
            Some(penalty),
            temperature,
        ));
        let t = f64::from(temperature);
        let by_hand = |row: usize, skip: &[usize]| {
            let r = &VALUES[row * 8..row * 8 + 8];
            let kept: Vec<usize> = (0..8).filter(|k| !skip.contains(k)).collect();
            let z = kept
                .iter()
                .map(|&k| (f64::from(r[k]) / t).exp())
                .sum::<f64>()
                .ln();
            -kept
                .iter()
                .map(|&k| f64::from(q[row * 8 + k]) * (f64::from(r[k]) / t - z))
                .sum::<f64>()
        };
        let expected = t * t * (by_hand(0, &[]) + by_hand(1, &[1])) / 3.0;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-4,
            "{loss} vs {expected}"
        );
    }

    #[test]
    fn intensity_loss_counts_only_labelled_examples() {
        let device = crate::model::default_device();
        let features = crate::features::FeatureMatrix {
            data: vec![0.0; 4],
            n_frames: 2,
            n_features: 2,
        };
        let items = [
            (
                &features,
                Emotion::Sad,
                Some(Intensity::Strong),
                EmotionSet::ALL,
            ),
            (&features, Emotion::Sad, None, EmotionSet::ALL),
        ];
        let batch = make_batch(&items, &device);
        let logits: Tensor<2> = Tensor::from_data(
            TensorData::new(vec![0.2f32, 1.0, 3.0, -1.0], [2, 2]),
            &device,
        );
        let both = scalar(cross_entropy(
            logits.clone(),
            batch.intensities.clone(),
            Some(batch.intensity_known.clone()),
        ));
        let first_only = scalar(cross_entropy(
            logits.slice([0..1, 0..2]),
            batch.intensities.slice(0..1),
            None,
        ));
        assert!((both - first_only).abs() < 1e-5, "{both} vs {first_only}");
        // No labelled intensity in a batch: no intensity loss.
        let none = make_batch(&items[1..], &device);
        let zero = scalar(cross_entropy(
            Tensor::from_data(TensorData::new(vec![3.0f32, -1.0], [1, 2]), &device),
            none.intensities,
            Some(none.intensity_known),
        ));
        assert_eq!(zero, 0.0);
    }

    /// Six examples of different lengths, intensity labelled on four, one corpus without
    /// calm and surprised.
    fn toy_examples(n_features: usize) -> Vec<ToyExample> {
        let six: EmotionSet = Emotion::ALL
            .into_iter()
            .filter(|e| !matches!(e, Emotion::Calm | Emotion::Surprised))
            .collect();
        (0..6)
            .map(|i| {
                let n_frames = 5 + 3 * i;
                let data = (0..n_frames * n_features)
                    .map(|k| ((k * 37 + i * 11) % 23) as f32 / 11.0 - 1.0)
                    .collect();
                let features = FeatureMatrix {
                    data,
                    n_frames,
                    n_features,
                };
                let intensity = (i % 3 != 2).then_some(Intensity::Strong);
                let classes = if i < 3 { EmotionSet::ALL } else { six };
                (features, Emotion::ALL[i % 6], intensity, classes)
            })
            .collect()
    }

    #[test]
    fn a_data_parallel_step_over_two_replicas_is_the_single_device_step() {
        data_parallel_matches_one_device(false, false);
    }

    #[test]
    fn a_distilling_data_parallel_step_gives_each_replica_its_own_targets() {
        data_parallel_matches_one_device(true, false);
    }

    #[test]
    fn a_mixup_data_parallel_step_gives_each_replica_its_own_partners() {
        data_parallel_matches_one_device(false, true);
    }

    /// Mixup partners for the six toy items, chosen so that each half of the batch has
    /// partners with another count of labelled intensities than its own (3 and 1 against 2
    /// and 2), as a data-parallel step must weigh.
    fn partners_of<'a>(items: &[BatchItem<'a>]) -> Vec<BatchItem<'a>> {
        [0, 1, 3, 4, 2, 5].map(|i| items[i]).to_vec()
    }

    type ToyExample = (FeatureMatrix, Emotion, Option<Intensity>, EmotionSet);
    type ToyRun = (
        TrainingConfig,
        Device,
        EmotionModel,
        Vec<ToyExample>,
        Vec<[f32; Emotion::COUNT]>,
    );

    /// A toy run's pieces: a config (6 inputs, `hidden_1` units, dropout off, distillation
    /// with `weight` when `distil`), its model on an autodiff device seeded with `seed`, the
    /// toy clips, and teacher targets that put most weight `shift` classes past each label (so
    /// the targets differ from the labels and from one clip to the next).
    fn toy_run(hidden_1: usize, distil: bool, weight: f32, seed: u64, shift: usize) -> ToyRun {
        let n_features = 6;
        let config = TrainingConfig::new(
            crate::model::EmotionModelConfig::new(n_features)
                .with_hidden_1(hidden_1)
                .with_hidden_2(6)
                .with_dense(8)
                .with_dropout(0.0),
        )
        .with_learning_rate(1e-2)
        .with_distillation(distil.then(|| {
            crate::model::DistillationConfig::new()
                .with_weight(weight)
                .with_temperature(2.0)
        }));
        let device = crate::model::default_device().autodiff();
        device.seed(seed);
        let start = config.model.init(&device);
        let examples = toy_examples(n_features);
        let targets = examples
            .iter()
            .map(|(_, e, _, classes)| {
                let mut p = [0.05f32; Emotion::COUNT];
                p[(e.index() + shift) % Emotion::COUNT] = 0.6;
                softened(&p, *classes, 2.0)
            })
            .collect();
        (config, device, start, examples, targets)
    }

    fn items_of(examples: &[ToyExample]) -> Vec<BatchItem<'_>> {
        examples
            .iter()
            .map(|(f, e, i, c)| (f, *e, *i, *c))
            .collect()
    }

    /// The outputs of `model` (in inference mode) on `items`, emotions then intensities.
    fn probe(model: &EmotionModel, items: &[BatchItem<'_>]) -> Vec<f32> {
        let batch = make_batch(items, &crate::model::default_device());
        let out = model.clone().valid().forward(batch.inputs, batch.mask);
        let mut v: Vec<f32> = out.emotion.into_data().try_to_vec::<f32>().unwrap();
        v.extend(out.intensity.into_data().try_to_vec::<f32>().unwrap());
        v
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    }

    fn data_parallel_matches_one_device(distil: bool, mixed: bool) {
        let (config, device, start, examples, targets) = toy_run(8, distil, 0.7, 7, 2);
        let items = items_of(&examples);
        let partners = partners_of(&items);
        let teachers = distil.then_some(&targets[..]);
        let targets = StepTargets {
            teachers,
            mix: mixed.then(|| Mix {
                lambda: 0.7,
                partners: &partners,
            }),
        };
        let probe = |model: &EmotionModel| probe(model, &items);
        let before = probe(&start);
        let mut single_optim = AdamConfig::new().init();
        let mut multi_optim = AdamConfig::new().init();
        let (mut single, mut multi) = (start.clone(), start);
        let two = [device.clone(), device.clone()];
        // Three steps, so Adam's moments are compared too.
        for _ in 0..3 {
            let (s, single_loss, single_hits) = data_parallel_step(
                single,
                &mut single_optim,
                &items,
                targets,
                std::slice::from_ref(&device),
                &config,
            );
            let (m, multi_loss, multi_hits) =
                data_parallel_step(multi, &mut multi_optim, &items, targets, &two, &config);
            (single, multi) = (s, m);
            assert!(
                (single_loss - multi_loss).abs() < 1e-5,
                "{single_loss} vs {multi_loss}"
            );
            assert_eq!(single_hits, multi_hits);
        }
        let (a, b) = (probe(&single), probe(&multi));
        let moved = largest_difference(&a, &before);
        assert!(moved > 1e-3, "the steps changed nothing ({moved})");
        let apart = largest_difference(&a, &b);
        assert!(apart < 1e-5, "two replicas stepped elsewhere: {apart}");

        // More devices than clips: one part a clip, the rest idle.
        let three = [device.clone(), device.clone(), device.clone()];
        let (_, loss, _) = data_parallel_step(
            single,
            &mut single_optim,
            &items[..2],
            StepTargets {
                teachers: teachers.map(|t| &t[..2]),
                mix: None,
            },
            &three,
            &config,
        );
        assert!(loss.is_finite() && loss > 0.0, "{loss}");
    }

    /// Three steps with the fast LSTM pass (one thread and two) land where burn's steps land
    /// (losses, hits and the stepped model's outputs), with and without distillation and
    /// mixup partners, with attention pooling, and with clips whose corpus leaves emotions
    /// out.
    #[test]
    fn fast_lstm_steps_are_burns_steps() {
        for (distil, mixed, pooling) in [
            (false, false, Pooling::Last),
            (true, false, Pooling::Last),
            (false, true, Pooling::Last),
            (false, false, Pooling::Attention),
            (false, false, Pooling::LastAndAttention),
        ] {
            let (mut config, device, mut start, examples, targets) = toy_run(20, distil, 0.5, 3, 3);
            if pooling != Pooling::Last {
                config.model.pooling = Some(pooling);
                start = config.model.init(&device);
                assert_eq!(start.pooling(), pooling);
            }
            let items = items_of(&examples);
            let partners = partners_of(&items);
            let targets = StepTargets {
                teachers: distil.then_some(&targets[..]),
                mix: mixed.then(|| Mix {
                    lambda: 0.6,
                    partners: &partners,
                }),
            };
            let probe = |model: &EmotionModel| probe(model, &items);
            let mut burn_optim = AdamConfig::new().init();
            let mut burn = start.clone();
            let mut losses = Vec::new();
            for _ in 0..3 {
                let (m, loss, hits) = data_parallel_step(
                    burn,
                    &mut burn_optim,
                    &items,
                    targets,
                    std::slice::from_ref(&device),
                    &config,
                );
                burn = m;
                losses.push((loss, hits));
            }
            let reference = probe(&burn);
            let moved = largest_difference(&reference, &probe(&start));
            assert!(moved > 1e-3, "the steps changed nothing ({moved})");
            for threads in [1, 2] {
                let mut optim = AdamConfig::new().init();
                let mut trainer = FastLstmTrainer::new(threads, 0);
                let mut model = start.clone();
                for &(burn_loss, burn_hits) in &losses {
                    let (m, loss, hits) = fast_step(
                        model,
                        &mut optim,
                        &mut trainer,
                        &items,
                        targets,
                        &device,
                        &config,
                    )
                    .unwrap();
                    model = m;
                    assert!((loss - burn_loss).abs() < 1e-5, "{loss} vs {burn_loss}");
                    assert_eq!(hits, burn_hits);
                }
                let apart = largest_difference(&probe(&model), &reference);
                assert!(
                    apart < 1e-5,
                    "distil {distil}, mixed {mixed}, {pooling:?}, {threads} threads: the fast \
                     steps went elsewhere ({apart})"
                );
            }
        }
    }

    #[test]
    fn mixup_mixes_each_input_with_its_partner_over_its_own_frames() {
        let matrix = |n_frames: usize, value: f32| FeatureMatrix {
            data: vec![value; n_frames * 2],
            n_frames,
            n_features: 2,
        };
        let originals = vec![
            matrix(3, 1.0),
            matrix(5, -2.0),
            matrix(1, 4.0),
            matrix(2, 8.0),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut lambdas = Vec::new();
        for _ in 0..50 {
            let mut inputs = originals.clone();
            let (lambda, order) = mix_inputs(&mut inputs, 0.4, &mut rng);
            assert!((0.5..=1.0).contains(&lambda), "{lambda}");
            lambdas.push(lambda);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2, 3], "not a shuffle: {order:?}");
            for (i, (input, &j)) in inputs.iter().zip(&order).enumerate() {
                let (a, b) = (&originals[i], &originals[j]);
                assert_eq!(input.n_frames, a.n_frames);
                for t in 0..input.n_frames {
                    let own = if t < a.n_frames { a.data[2 * t] } else { 0.0 };
                    let theirs = if t < b.n_frames { b.data[2 * t] } else { 0.0 };
                    let want = lambda * own + (1.0 - lambda) * theirs;
                    assert!((input.data[2 * t] - want).abs() < 1e-6, "{i} at {t}");
                }
            }
        }
        // Beta(0.4, 0.4): most draws near the ends, so both strong and even mixes occur.
        assert!(lambdas.iter().any(|&l| l > 0.9) && lambdas.iter().any(|&l| l < 0.7));
    }

    #[test]
    fn length_batches_cover_every_example_once_and_group_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 7919) % 200 + 1).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let batches = length_batches(&lengths, 32, 8, &mut rng);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 32));
        // Padding: steps run (the longest in each batch) against a plain shuffle's.
        let padded = |bs: &[Vec<usize>]| -> usize {
            bs.iter()
                .map(|b| b.iter().map(|&i| lengths[i]).max().unwrap_or(0) * b.len())
                .sum()
        };
        let plain = length_batches(&lengths, 32, 1, &mut rng);
        let (grouped, plain) = (padded(&batches), padded(&plain));
        assert!(
            grouped * 10 < plain * 7,
            "grouped {grouped} vs plain {plain}"
        );
        // Reproducible for a seed.
        let again = length_batches(&lengths, 32, 8, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(again, batches);
    }
}
