//! Training the learned speech detector ([`DetectorNet`]): noisy streams of labelled speech,
//! their frame features and labels, and a small training loop (Adam on binary
//! cross-entropy) whose model maps onto [`DetectorNet`]'s plain weights.
//!
//! The streams are the ones `trainer segment-eval` measures on ([`SpeechStream`]), built from
//! the training speakers' clips, each under one noise drawn from [`training_noise`]: colours of
//! noise, hums (the overtones of some stopping as low as 250 Hz: [`varied_hum`]), steps, and
//! music with tempo, key, timbre and drums drawn per stream (not the
//! fixed progression that `segment-eval` tests with), at SNRs from −5 to 30 dB and loudness
//! from −45 to 0 dB. A frame is speech when its centre lies within an utterance's clean-speech
//! span.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::degrade::{NoiseColour, band_limit, hum, noise, reverberate, shaped_hum};
use super::streams::SpeechStream;
use crate::labels::Emotion;
use crate::speech::{
    BAND_FEATURES, DETECTOR_FEATURES, DenseWeights, DetectorFeatures, DetectorNet,
};

/// Shape and training settings of a [`DetectorNet`].
#[derive(Config, Debug)]
pub struct DetectorTrainingConfig {
    /// Frames whose embeddings the network concatenates.
    #[config(default = 16)]
    pub context: usize,
    /// Frames between two of them.
    #[config(default = 2)]
    pub stride: usize,
    /// Frames before the newest one whose label the network learns (0: the newest, the
    /// detector; more: a boundary net that sees what follows the frame it judges).
    #[config(default = 0)]
    pub delay: usize,
    /// Values in a frame's embedding.
    #[config(default = 12)]
    pub embedding: usize,
    /// Units of the hidden layer.
    #[config(default = 24)]
    pub hidden: usize,
    /// Whether the network reads the pitch features ([`DETECTOR_FEATURES`] a frame) or the
    /// band features alone ([`BAND_FEATURES`]).
    #[config(default = false)]
    pub pitch: bool,
    /// Frames per optimisation step.
    #[config(default = 512)]
    pub batch_size: usize,
    /// Frames drawn per epoch.
    #[config(default = 200_000)]
    pub frames_per_epoch: usize,
    /// Epochs.
    #[config(default = 12)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[config(default = 3e-3)]
    pub learning_rate: f64,
    /// Seed of the initialisation and the frame order.
    #[config(default = 1)]
    pub seed: u64,
}

impl DetectorTrainingConfig {
    /// This configuration with the shape of `net` (context, stride, delay, embedding,
    /// hidden units, pitch features): the shape a model started from `net`
    /// ([`DetectorModel::from_net`]) has.
    #[must_use]
    pub fn with_shape_of(self, net: &DetectorNet) -> Self {
        self.with_context(net.context)
            .with_stride(net.stride)
            .with_delay(net.delay)
            .with_embedding(net.frame.outputs)
            .with_hidden(net.hidden.outputs)
            .with_pitch(net.hears_pitch())
    }
}

/// The frame features and labels of noisy streams: `features` holds
/// [`DETECTOR_FEATURES`] values per frame, each stream's frames contiguous.
#[derive(Debug, Default, Clone)]
pub struct FrameSet {
    /// Features, frame after frame.
    pub features: Vec<f32>,
    /// 1 for speech, 0 otherwise, one per frame.
    pub labels: Vec<f32>,
    /// Index of each frame within its stream (frames before 0 are all-zero features).
    pub position: Vec<u32>,
}

impl FrameSet {
    /// Frames held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether it holds no frame.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Appends the frames of `other` (its streams stay whole).
    pub fn extend(&mut self, other: FrameSet) {
        self.features.extend(other.features);
        self.labels.extend(other.labels);
        self.position.extend(other.position);
    }

    /// Appends the frames of `samples` (a stream at `sample_rate` Hz, frames of `hop`
    /// samples) whose speech spans are `truth`.
    pub fn add_stream(
        &mut self,
        samples: &[f32],
        truth: &[std::ops::Range<usize>],
        hop: usize,
        sample_rate: u32,
    ) {
        let mut features = DetectorFeatures::new(hop, sample_rate);
        let mut frame = [0.0; DETECTOR_FEATURES];
        for (i, chunk) in samples.chunks_exact(hop).enumerate() {
            features.next(chunk, &mut frame);
            self.features.extend_from_slice(&frame);
            let centre = i * hop + hop / 2;
            let speech = truth.iter().any(|t| t.contains(&centre));
            self.labels.push(f32::from(u8::from(speech)));
            self.position.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
    }

    /// The label the network learns for the input ending at frame `i`: that of the frame
    /// `delay` frames earlier (0 before its stream's start).
    fn label(&self, i: usize, delay: usize) -> f32 {
        if (self.position[i] as usize) < delay {
            0.0
        } else {
            self.labels[i - delay]
        }
    }

    /// The network's input for frame `i`: the features of the frames `i - k * stride` for
    /// `k` in `0..context`, zeros before its stream's start.
    /// Each frame gives its first `width` features.
    fn context_into(
        &self,
        i: usize,
        context: usize,
        stride: usize,
        width: usize,
        out: &mut Vec<f32>,
    ) {
        let f = DETECTOR_FEATURES;
        let pos = self.position[i] as usize;
        for k in 0..context {
            let back = k * stride;
            if back <= pos {
                let j = i - back;
                out.extend_from_slice(&self.features[j * f..j * f + width]);
            } else {
                out.extend(std::iter::repeat_n(0.0, width));
            }
        }
    }
}

/// Noise for one training stream, unit power: a kind drawn at random (see the module docs)
/// and its name.
pub fn training_noise(n: usize, sample_rate: u32, rng: &mut impl Rng) -> (Vec<f32>, &'static str) {
    match rng.random_range(0..9) {
        0 => (noise(NoiseColour::White, n, rng), "white"),
        1 => (noise(NoiseColour::Pink, n, rng), "pink"),
        2 => (noise(NoiseColour::Brown, n, rng), "brown"),
        3 => {
            let f0 = rng.random_range(45.0..=130.0);
            (hum(f0, n, sample_rate, rng), "hum")
        }
        4 => {
            // Pink noise that steps up or down by 6 to 15 dB somewhere.
            let mut x = noise(NoiseColour::Pink, n, rng);
            let at = rng.random_range(n / 5..=4 * n / 5);
            let gain = 10f32.powf(-rng.random_range(6.0..15.0) / 20.0);
            let quiet = if rng.random::<bool>() {
                &mut x[..at]
            } else {
                &mut x[at..]
            };
            quiet.iter_mut().for_each(|v| *v *= gain);
            (x, "step")
        }
        5 | 6 => (varied_music(n, sample_rate, rng), "music"),
        7 => {
            // A buzz over the microphone's own white hiss 5 to 45 dB under it (a buzz whose
            // overtones stop low leaves the upper bands to the hiss).
            let h = varied_hum(n, sample_rate, rng);
            let w = noise(NoiseColour::White, n, rng);
            let gain = 10f32.powf(-rng.random_range(5.0..45.0) / 20.0);
            let mix: Vec<f32> = h.iter().zip(&w).map(|(a, b)| a + gain * b).collect();
            (mix, "hum+hiss")
        }
        _ => {
            // A hum under a fan.
            let h = varied_hum(n, sample_rate, rng);
            let p = noise(NoiseColour::Pink, n, rng);
            let mix: Vec<f32> = h.iter().zip(&p).map(|(a, b)| 0.6 * a + 0.8 * b).collect();
            (mix, "hum+pink")
        }
    }
}

/// A hum of 45–130 Hz whose overtones stop anywhere from 250 Hz to 4 kHz (log-uniform) and
/// fall as `1/k^r`, `r` from 0 (all equal, a buzz) to 1.5; unit power.
#[must_use]
pub fn varied_hum(n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    let f0 = rng.random_range(45.0..=130.0);
    let ceiling = 250.0 * 16f64.powf(rng.random::<f64>());
    let rolloff = rng.random_range(0.0..=1.5);
    shaped_hum(f0, ceiling, rolloff, n, sample_rate, rng)
}

fn midi_hz(m: f64) -> f64 {
    440.0 * 2f64.powf((m - 69.0) / 12.0)
}

/// Music with its tempo (70–170 beats a minute), key, chords, timbre (3 to 8 partials, their
/// roll-off, each note's decay) and drums drawn at random; unit power.
#[must_use]
pub fn varied_music(n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    let sr = f64::from(sample_rate.max(1));
    let mut out = vec![0.0f64; n];
    let beat = 60.0 / rng.random_range(70.0..170.0);
    let key = rng.random_range(-6.0..6.0f64).round();
    let partials = rng.random_range(3..=8);
    let rolloff = rng.random_range(0.5..1.6);
    let decay_s = rng.random_range(0.1..1.0);
    let drums = rng.random_bool(0.6);
    let scale = [0.0, 2.0, 4.0, 5.0, 7.0, 9.0, 11.0];
    let progression: Vec<usize> = (0..4).map(|_| rng.random_range(0..7)).collect();
    let chord_beats = rng.random_range(1..=4);
    let melody_per_beat = rng.random_range(1..=4);
    let mut add_note = |start_s: f64, dur_s: f64, midi: f64, amp: f64| {
        let f = midi_hz(midi);
        let start = (start_s.max(0.0) * sr) as usize;
        let len = ((dur_s + 0.1) * sr) as usize;
        let decay = 1.0 / (decay_s * sr);
        let attack = 0.01 * sr;
        for (i, slot) in out.iter_mut().skip(start).take(len).enumerate() {
            let t = i as f64 / sr;
            let env = (i as f64 / attack).min(1.0) * (-(i as f64) * decay).exp();
            let mut tone = 0.0;
            for k in 1..=partials {
                let fk = f * f64::from(k);
                if fk < sr / 2.0 {
                    tone += (std::f64::consts::TAU * fk * t).sin() / f64::from(k).powf(rolloff);
                }
            }
            *slot += amp * env * tone;
        }
    };
    let seconds = n as f64 / sr;
    let mut t = -rng.random_range(0.0..beat);
    let mut beat_no = 0usize;
    let mut drum_hits = Vec::new();
    while t < seconds {
        let degree = progression[(beat_no / chord_beats) % progression.len()];
        let root = 57.0 + key + scale[degree];
        if beat_no.is_multiple_of(chord_beats) {
            for step in [0, 2, 4] {
                let d = degree + step;
                let m = 57.0 + key + scale[d % 7] + 12.0 * (d / 7) as f64;
                add_note(t, chord_beats as f64 * beat, m, 0.4);
            }
        }
        add_note(t, beat, root - 12.0, 0.7);
        for k in 0..melody_per_beat {
            let d = rng.random_range(0..7);
            let m = 69.0 + key + scale[d] + if rng.random::<bool>() { 12.0 } else { 0.0 };
            add_note(
                t + k as f64 * beat / melody_per_beat as f64,
                beat / melody_per_beat as f64,
                m,
                0.5,
            );
        }
        if drums {
            drum_hits.push((t, beat_no.is_multiple_of(2)));
        }
        t += beat;
        beat_no += 1;
    }
    // Drums: a kick (a falling low sine) on even beats, a snare or hat (a noise burst)
    // on the others.
    for (t, kick) in drum_hits {
        let start = (t.max(0.0) * sr) as usize;
        let len = (0.15 * sr) as usize;
        for (i, slot) in out.iter_mut().skip(start).take(len).enumerate() {
            let s = i as f64 / sr;
            *slot += if kick {
                1.2 * (-s / 0.05).exp()
                    * (std::f64::consts::TAU * (50.0 + 80.0 * (-s / 0.02).exp()) * s).sin()
            } else {
                0.5 * (-s / 0.03).exp() * rng.random_range(-1.0..1.0)
            };
        }
    }
    let p = out.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64;
    let g = if p > 0.0 { 1.0 / p.sqrt() } else { 0.0 };
    out.iter().map(|v| (v * g) as f32).collect()
}

/// How the microphones of the training streams vary: the share of streams heard each way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicrophoneShares {
    /// Share heard through a band-limited microphone or line: the whole stream, speech and
    /// noise, band-passed from 0–400 Hz to 3–7 kHz (telephone lines, 8 kHz headsets,
    /// Bluetooth hands-free profiles).
    pub band_limited: f64,
    /// Share of the streams of noise alone (no clips) heard through a band-limited microphone
    /// or line: music through a narrow band sounds like speech, and these streams teach that
    /// it is not. Set it equal to `band_limited` for one share of every stream.
    pub band_limited_alone: f64,
    /// Share with the microphone's own hiss: white noise 5 to 40 dB under the speech, added
    /// after the stream is scaled (a quiet microphone's self-noise does not fall with the
    /// speech's level), on top of the room's noise.
    pub own_noise: f64,
}

/// A training stream: `clips` (each cut to its speech, at `sample_rate`; none: a minute of
/// noise alone) laid out with gaps of 0.3 to 3 s, some in a reverberant room, under one
/// [`training_noise`] at an SNR drawn from −5 to 30 dB; heard through a band-limited
/// microphone and with the microphone's own noise in the shares `microphones` gives; the whole
/// scaled to −45 to 0 dB. A share of 0 draws nothing from `rng`. Returns the audio, the speech
/// spans and the noise's name.
pub fn training_stream(
    clips: &[Vec<f32>],
    sample_rate: u32,
    microphones: MicrophoneShares,
    rng: &mut impl Rng,
) -> (Vec<f32>, Vec<std::ops::Range<usize>>, &'static str) {
    let band_limited = if clips.is_empty() {
        microphones.band_limited_alone
    } else {
        microphones.band_limited
    };
    let room = rng.random_bool(0.3).then(|| rng.random_range(0.2..0.9));
    let clips: Vec<(Vec<f32>, Emotion)> = clips
        .iter()
        .map(|c| {
            let c = match room {
                Some(rt60) => reverberate(c, rt60, rng.random_range(-3.0..10.0), sample_rate, rng)
                    .map(|mut wet| {
                        // Keep the truth's span: the reverb's tail is not speech.
                        wet.truncate(c.len());
                        wet
                    })
                    .unwrap_or_else(|_| c.clone()),
                None => c.clone(),
            };
            (c, Emotion::Neutral)
        })
        .collect();
    // No clips: a minute of noise alone.
    let lead = if clips.is_empty() { 30.0 } else { 1.5 };
    let mut stream = SpeechStream::build(&clips, sample_rate, 0.3..3.0, lead, rng);
    if clips.is_empty() {
        // Noise alone: its level as if under speech of a typical active level (-26 dBFS).
        stream.speech_power = 10f64.powf(-2.6);
    }
    let (noise, name) = training_noise(stream.samples.len(), sample_rate, rng);
    let snr = rng.random_range(-5.0..30.0);
    let mut noisy = stream.with_noise(&noise, snr);
    // No draw at all without band limits: such streams are those drawn before they existed.
    if band_limited > 0.0 && rng.random_bool(band_limited.min(1.0)) {
        let low = rng.random_range(0.0..400.0);
        let high = rng
            .random_range(3_000.0..7_000.0f64)
            .min(f64::from(sample_rate) / 2.0);
        if let Ok(limited) = band_limit(&noisy, low, high, sample_rate) {
            noisy = limited;
        }
    }
    let gain = 10f32.powf(-rng.random_range(0.0..45.0) / 20.0);
    let peak = noisy.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let norm = if peak > 0.0 { gain / peak } else { 1.0 };
    noisy.iter_mut().for_each(|v| *v *= norm);
    if microphones.own_noise > 0.0 && rng.random_bool(microphones.own_noise.min(1.0)) {
        let snr = rng.random_range(5.0..40.0);
        let level = (stream.speech_power / 10f64.powf(snr / 10.0)).sqrt() * f64::from(norm);
        let hiss = super::degrade::noise(NoiseColour::White, noisy.len(), rng);
        noisy
            .iter_mut()
            .zip(&hiss)
            .for_each(|(v, w)| *v += (level * f64::from(*w)) as f32);
    }
    (noisy, stream.truth, name)
}

/// The network as a burn module (for training); [`DetectorModel::to_net`] gives the plain
/// weights the engine runs.
#[derive(Module, Debug)]
pub struct DetectorModel {
    frame: Linear,
    hidden: Linear,
    output: Linear,
    context: usize,
    stride: usize,
    delay: usize,
}

impl DetectorTrainingConfig {
    /// Features a frame gives the network.
    #[must_use]
    pub fn frame_width(&self) -> usize {
        if self.pitch {
            DETECTOR_FEATURES
        } else {
            BAND_FEATURES
        }
    }

    /// A randomly initialised model on `device`.
    pub fn init(&self, device: &Device) -> DetectorModel {
        DetectorModel {
            frame: LinearConfig::new(self.frame_width(), self.embedding).init(device),
            hidden: LinearConfig::new(self.context * self.embedding, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, 1).init(device),
            context: self.context,
            stride: self.stride,
            delay: self.delay,
        }
    }
}

impl DetectorModel {
    /// A model on `device` holding `net`'s weights, to train further from them.
    ///
    /// # Errors
    /// `net`'s shape error when its layers do not fit together.
    pub fn from_net(net: &DetectorNet, device: &Device) -> Result<Self, String> {
        net.check().map_err(|e| e.to_string())?;
        let dense = |d: &DenseWeights| Linear {
            weight: Param::from_tensor(
                Tensor::<1>::from_floats(d.weight.as_slice(), device)
                    .reshape([d.inputs, d.outputs]),
            ),
            bias: Some(Param::from_tensor(Tensor::<1>::from_floats(
                d.bias.as_slice(),
                device,
            ))),
        };
        Ok(DetectorModel {
            frame: dense(&net.frame),
            hidden: dense(&net.hidden),
            output: dense(&net.output),
            context: net.context,
            stride: net.stride,
            delay: net.delay,
        })
    }

    /// Logits `[batch, 1]` of inputs `[batch, context, features]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, context, _] = x.dims();
        let e = relu(self.frame.forward(x));
        let flat = e.reshape([batch, context * self.frame.weight.dims()[1]]);
        self.output.forward(relu(self.hidden.forward(flat)))
    }

    /// The plain weights.
    ///
    /// # Errors
    /// A message when burn cannot give a tensor's values back.
    pub fn to_net(&self) -> Result<DetectorNet, String> {
        let dense = |l: &Linear| -> Result<DenseWeights, String> {
            let [inputs, outputs] = l.weight.dims();
            let read = |t: Tensor<1>| {
                t.into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| format!("{e:?}"))
            };
            Ok(DenseWeights {
                inputs,
                outputs,
                weight: read(l.weight.val().reshape([inputs * outputs]))?,
                bias: match &l.bias {
                    Some(b) => read(b.val())?,
                    None => vec![0.0; outputs],
                },
            })
        };
        let net = DetectorNet {
            context: self.context,
            stride: self.stride,
            delay: self.delay,
            frame: dense(&self.frame)?,
            hidden: dense(&self.hidden)?,
            output: dense(&self.output)?,
        };
        net.check().map_err(|e| e.to_string())?;
        Ok(net)
    }
}

/// Mean binary cross-entropy of `logits` against 0/1 `targets`, computed stably.
fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let softplus = logits.clone().clamp_min(0.0) + logits.clone().abs().neg().exp().log1p();
    (softplus - logits * targets).mean()
}

/// One epoch's figures.
#[derive(Debug, Clone, Copy)]
pub struct DetectorEpoch {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub valid_loss: f64,
    /// Validation frame accuracy at logit 0.
    pub valid_accuracy: f64,
}

fn batch_tensor(
    set: &FrameSet,
    indices: &[usize],
    config: &DetectorTrainingConfig,
    device: &Device,
) -> (Tensor<3>, Tensor<2>) {
    let width = config.frame_width();
    let mut x = Vec::with_capacity(indices.len() * config.context * width);
    let mut y = Vec::with_capacity(indices.len());
    for &i in indices {
        set.context_into(i, config.context, config.stride, width, &mut x);
        y.push(set.label(i, config.delay));
    }
    let n = indices.len();
    (
        Tensor::<1>::from_floats(x.as_slice(), device).reshape([n, config.context, width]),
        Tensor::<1>::from_floats(y.as_slice(), device).reshape([n, 1]),
    )
}

fn validate(
    model: &DetectorModel,
    valid: &FrameSet,
    config: &DetectorTrainingConfig,
    device: &Device,
) -> (f64, f64) {
    // Every 3rd frame is enough to rank epochs.
    let indices: Vec<usize> = (0..valid.len()).step_by(3).collect();
    let (mut loss, mut correct, mut seen) = (0.0, 0usize, 0usize);
    for chunk in indices.chunks(4096) {
        let (x, y) = batch_tensor(valid, chunk, config, device);
        let logits = model.forward(x);
        loss += f64::from(bce_with_logits(logits.clone(), y.clone()).into_scalar::<f32>())
            * chunk.len() as f64;
        let z = logits.into_data().try_into_vec::<f32>().unwrap_or_default();
        for (&i, v) in chunk.iter().zip(z) {
            correct += usize::from((v > 0.0) == (valid.label(i, config.delay) > 0.5));
        }
        seen += chunk.len();
    }
    (
        loss / seen.max(1) as f64,
        correct as f64 / seen.max(1) as f64,
    )
}

/// Trains on `train`, keeping the epoch with the lowest loss on `valid`. The network starts
/// from `start`'s weights when given (whose shape `config` must have:
/// [`DetectorTrainingConfig::with_shape_of`]), else from a random initialisation. `on_epoch`
/// sees each epoch's figures.
///
/// # Errors
/// A message when `start`'s shape is not `config`'s, or the trained weights cannot be read
/// back.
pub fn train_detector(
    config: &DetectorTrainingConfig,
    start: Option<&DetectorNet>,
    train: &FrameSet,
    valid: &FrameSet,
    device: &Device,
    mut on_epoch: impl FnMut(&DetectorEpoch),
) -> Result<DetectorNet, String> {
    if train.is_empty() || valid.is_empty() {
        return Err("no training or validation frames".to_owned());
    }
    let ad = device.clone().autodiff();
    ad.seed(config.seed);
    let mut model = match start {
        Some(net) => {
            let shaped = DetectorTrainingConfig::new().with_shape_of(net);
            let ours = (
                config.context,
                config.stride,
                config.delay,
                config.embedding,
                config.hidden,
                config.pitch,
            );
            let theirs = (
                shaped.context,
                shaped.stride,
                shaped.delay,
                shaped.embedding,
                shaped.hidden,
                shaped.pitch,
            );
            if ours != theirs {
                return Err(format!(
                    "the starting network's shape (context, stride, delay, embedding, hidden, \
                     pitch) {theirs:?} is not the configuration's {ours:?}"
                ));
            }
            DetectorModel::from_net(net, &ad)?
        }
        None => config.init(&ad),
    };
    let mut optim = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut best: Option<(f64, DetectorNet)> = None;
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        let take = config.frames_per_epoch.min(order.len());
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for chunk in order[..take].chunks(config.batch_size.max(1)) {
            let (x, y) = batch_tensor(train, chunk, config, &ad);
            let loss = bce_with_logits(model.forward(x), y);
            loss_sum += f64::from(loss.clone().into_scalar::<f32>()) * chunk.len() as f64;
            seen += chunk.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
        }
        let inference = model.valid();
        let (valid_loss, valid_accuracy) = validate(&inference, valid, config, device);
        on_epoch(&DetectorEpoch {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            valid_loss,
            valid_accuracy,
        });
        if best.as_ref().is_none_or(|(l, _)| valid_loss < *l) {
            best = Some((valid_loss, inference.to_net()?));
        }
    }
    best.map(|(_, net)| net)
        .ok_or_else(|| "no epoch ran".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::LearnedScorer;
    use std::sync::Arc;

    #[test]
    fn the_trained_module_and_the_plain_network_agree() {
        for pitch in [false, true] {
            module_and_network_agree(pitch);
        }
    }

    fn module_and_network_agree(pitch: bool) {
        let device = crate::model::default_device();
        let config = DetectorTrainingConfig::new()
            .with_context(5)
            .with_stride(3)
            .with_pitch(pitch);
        let model = config.init(&device);
        let net = Arc::new(model.to_net().expect("weights"));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let clips = vec![vec![0.1f32; 8_000], vec![-0.05f32; 4_000]];
        let (audio, truth, _) = training_stream(
            &clips,
            16_000,
            MicrophoneShares {
                band_limited: 0.25,
                band_limited_alone: 0.25,
                own_noise: 0.25,
            },
            &mut rng,
        );
        let mut set = FrameSet::default();
        set.add_stream(&audio, &truth, 160, 16_000);
        assert_eq!(net.hears_pitch(), pitch);
        let mut scorer = LearnedScorer::new(net, 160, 16_000, false);
        let plain: Vec<f32> = audio.chunks_exact(160).map(|f| scorer.score(f)).collect();
        let indices: Vec<usize> = (0..set.len()).collect();
        let (x, _) = batch_tensor(&set, &indices, &config, &device);
        let burn = model
            .forward(x)
            .into_data()
            .try_into_vec::<f32>()
            .expect("logits");
        assert_eq!(plain.len(), burn.len());
        for (i, (a, b)) in plain.iter().zip(&burn).enumerate() {
            assert!((a - b).abs() < 1e-4, "frame {i}: {a} against {b}");
        }
    }

    #[test]
    fn training_can_start_from_a_networks_weights() {
        let device = crate::model::default_device();
        let shipped = (*DetectorNet::builtin()).clone();
        let model = DetectorModel::from_net(&shipped, &device).expect("fits");
        assert_eq!(model.to_net().expect("weights"), shipped);
        let config = DetectorTrainingConfig::new()
            .with_epochs(1)
            .with_frames_per_epoch(64)
            .with_batch_size(32)
            .with_learning_rate(1e-4);
        let mut set = FrameSet::default();
        set.add_stream(
            &[0.01; 160 * 64],
            std::slice::from_ref(&(1600..6400)),
            160,
            16_000,
        );
        let shaped = config.clone().with_shape_of(&shipped);
        let trained =
            train_detector(&shaped, Some(&shipped), &set, &set, &device, |_| {}).expect("trains");
        assert_eq!(trained.parameters(), shipped.parameters());
        assert!(
            trained.frame.weight != shipped.frame.weight,
            "a step was taken from the starting weights"
        );
        let moved = trained
            .hidden
            .weight
            .iter()
            .zip(&shipped.hidden.weight)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(moved < 0.05, "small steps stay near the start: {moved}");
        let other = config.with_hidden(8);
        let err = train_detector(&other, Some(&shipped), &set, &set, &device, |_| {})
            .expect_err("shape mismatch");
        assert!(err.contains("shape"), "{err}");
    }

    #[test]
    fn a_boundary_net_learns_the_label_of_an_older_frame() {
        let mut set = FrameSet::default();
        // Frames centred at 80, 240, 400, ...: speech covers the 4th to the 6th.
        set.add_stream(
            &[0.0; 160 * 10],
            std::slice::from_ref(&(480..960)),
            160,
            16_000,
        );
        let labels: Vec<f32> = (0..set.len()).map(|i| set.label(i, 0)).collect();
        assert_eq!(labels, [0., 0., 0., 1., 1., 1., 0., 0., 0., 0.]);
        let delayed: Vec<f32> = (0..set.len()).map(|i| set.label(i, 2)).collect();
        assert_eq!(delayed, [0., 0., 0., 0., 0., 1., 1., 1., 0., 0.]);
    }

    /// Share of `x`'s power above `hz` (one spectrum of the whole signal).
    fn power_above(x: &[f32], hz: f64, sample_rate: u32) -> f64 {
        let mut planner = realfft::RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(x.len());
        let mut buf = x.to_vec();
        let mut spectrum = forward.make_output_vec();
        forward.process(&mut buf, &mut spectrum).expect("fft");
        let bin_hz = f64::from(sample_rate) / x.len() as f64;
        let (mut above, mut total) = (0.0, 0.0);
        for (k, c) in spectrum.iter().enumerate() {
            let p = f64::from(c.norm_sqr());
            total += p;
            if k as f64 * bin_hz > hz {
                above += p;
            }
        }
        above / total.max(f64::MIN_POSITIVE)
    }

    #[test]
    fn band_limits_for_noise_alone_reach_only_the_streams_without_speech() {
        let shares = |alone| MicrophoneShares {
            band_limited: 0.0,
            band_limited_alone: alone,
            own_noise: 0.0,
        };
        let clips: Vec<Vec<f32>> = vec![vec![0.2f32; 8_000], vec![-0.1f32; 6_000]];
        let mut wide_seen = false;
        for seed in 0..4 {
            let stream = |clips: &[Vec<f32>], alone| {
                training_stream(
                    clips,
                    16_000,
                    shares(alone),
                    &mut ChaCha8Rng::seed_from_u64(seed),
                )
                .0
            };
            // With speech: untouched, to the sample (no band is even drawn).
            assert_eq!(stream(&clips, 1.0), stream(&clips, 0.0), "seed {seed}");
            // Noise alone: band-passed, so nothing above the band's top (7 kHz at most).
            let (limited, wide) = (stream(&[], 1.0), stream(&[], 0.0));
            let above = power_above(&limited, 7_050.0, 16_000);
            assert!(above < 1e-6, "seed {seed}: {above}");
            wide_seen |= power_above(&wide, 7_050.0, 16_000) > 1e-3;
        }
        // Some of the unlimited noises (white, pink) do reach above 7 kHz.
        assert!(wide_seen);
    }

    #[test]
    fn the_microphones_own_hiss_lies_5_to_40_db_under_the_speech() {
        let clips: Vec<Vec<f32>> = (0..3)
            .map(|k| {
                (0..12_000)
                    .map(|i| 0.3 * (i as f32 * (0.3 + 0.05 * k as f32)).sin())
                    .collect()
            })
            .collect();
        let shares = |own_noise| MicrophoneShares {
            band_limited: 0.15,
            band_limited_alone: 0.15,
            own_noise,
        };
        for seed in 0..20 {
            let (quiet, truth, _) = training_stream(
                &clips,
                16_000,
                shares(0.0),
                &mut ChaCha8Rng::seed_from_u64(seed),
            );
            let (hissing, _, _) = training_stream(
                &clips,
                16_000,
                shares(1.0),
                &mut ChaCha8Rng::seed_from_u64(seed),
            );
            // The hiss is drawn last: everything before it is the same stream.
            let hiss: Vec<f64> = hissing
                .iter()
                .zip(&quiet)
                .map(|(a, b)| f64::from(*a) - f64::from(*b))
                .collect();
            let power = |xs: &mut dyn Iterator<Item = f64>| {
                let (sum, n) = xs.fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
                sum / n.max(1) as f64
            };
            let hiss_power = power(&mut hiss.iter().copied());
            // The speech spans carry the room's noise and reverb too, so the ratio reads a few
            // dB off the drawn 5 to 40 dB (5.7 to 42.3 dB over 40 seeds).
            let speech_power = power(
                &mut truth
                    .iter()
                    .flat_map(|r| quiet[r.clone()].iter().map(|v| f64::from(*v))),
            );
            let under = 10.0 * (speech_power / hiss_power).log10();
            assert!((4.0..45.0).contains(&under), "seed {seed}: {under:.1} dB");
            assert!(hissing.iter().all(|v| v.is_finite()), "seed {seed}");
        }
    }

    #[test]
    fn every_training_noise_has_unit_power() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..40 {
            let (x, name) = training_noise(16_000 * 3, 16_000, &mut rng);
            let p = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64;
            assert!((0.3..3.0).contains(&p), "{name}: power {p}");
            assert!(x.iter().all(|v| v.is_finite()), "{name}");
        }
    }
}
