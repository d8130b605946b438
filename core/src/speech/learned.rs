//! The learned frame classifier ([`Detector::Learned`](super::Detector::Learned)): a network of
//! a few thousand weights over the recent spectral frames that says how likely the newest
//! frame is speech.
//!
//! Every frame (one hop of [`VadConfig::frame_ms`](super::VadConfig::frame_ms)) gives
//! [`DETECTOR_FEATURES`] values from a [`SpectralScorer`] with [`DETECTOR_BANDS`] mel bands
//! between [`DETECTOR_LOWEST_HZ`] and [`DETECTOR_HIGHEST_HZ`]:
//! * each band's level above its own noise estimate, in dB / 10 (what the spectral detector
//!   averages), and
//! * each band's level minus the mean level of all bands, in dB / 10 (the spectrum's shape,
//!   whatever the loudness);
//! * then [`PITCH_FEATURES`] values from [`FramePitch`]: the frame's periodicity, and whether
//!   its pitch holds or glides from the frame before.
//!
//! A network reads the first [`BAND_FEATURES`] of them (the band levels alone, as every
//! network trained before the pitch features existed) or all [`DETECTOR_FEATURES`], as its
//! `frame` layer's inputs say; the pitch features are computed only for a network that reads
//! them.
//!
//! The network ([`DetectorNet`]) maps each frame's features to a small embedding
//! (`frame` layer, ReLU), concatenates the embeddings of the newest frame and of
//! `context - 1` earlier ones, `stride` frames apart (320 ms by default), and gives one logit
//! through a hidden layer (ReLU). It looks only backwards, so it adds no latency. Frames
//! before the stream's first have all-zero features.
//!
//! Steady noise of any colour leaves the first half of the features near zero whatever its
//! level, as for the spectral detector; what the network adds is the pattern over time and
//! frequency: speech's syllable rhythm and moving formants against music's held notes, a
//! hum's fixed lines or a fan's flat spectrum. It is trained by `trainer train-detector` on
//! speech mixed with synthetic room noises (`docs/training.md`); the weights the engine uses
//! by default are [`DetectorNet::builtin`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::SpectralScorer;
use super::pitch::{FramePitch, PITCH_FEATURES};

/// Mel bands of the learned detector's features.
pub const DETECTOR_BANDS: usize = 24;
/// Lower edge of its lowest band, in Hz.
pub const DETECTOR_LOWEST_HZ: f32 = 100.0;
/// Upper edge of its highest band, in Hz (at most 45% of the sample rate).
pub const DETECTOR_HIGHEST_HZ: f32 = 7_000.0;
/// The band features of one frame: per band, the level above the noise estimate and the shape.
pub const BAND_FEATURES: usize = 2 * DETECTOR_BANDS;
/// Features of one frame: the band features, then the pitch features.
pub const DETECTOR_FEATURES: usize = BAND_FEATURES + PITCH_FEATURES;
/// Largest magnitude of a feature (in units of 10 dB).
const FEATURE_CAP: f32 = 3.0;

/// The weights the engine uses by default (trained on RAVDESS actors 1-18 with synthetic
/// room noise; model card: `models/speech-detector/README.md`).
const BUILTIN: &str = include_str!("../../../models/speech-detector/detector.json");

/// The boundary net the engine uses by default (the same training with labels 15 frames
/// behind the newest frame; model card: `models/speech-detector/README.md`).
const BUILTIN_BOUNDARY: &str = include_str!("../../../models/speech-detector/boundary.json");

/// Errors reading or checking a [`DetectorNet`].
#[derive(Debug, thiserror::Error)]
pub enum DetectorNetError {
    /// The JSON could not be parsed.
    #[error("speech detector weights: {0}")]
    Json(#[from] serde_json::Error),
    /// A layer's weights do not match its shape or the previous layer.
    #[error("speech detector layer {layer}: {reason}")]
    Shape {
        /// The layer.
        layer: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// A dense layer: `outputs` values from `inputs`, `weight` stored input row after input row
/// (`weight[i * outputs + o]`, burn's `[d_input, d_output]` layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseWeights {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// `inputs * outputs` weights.
    pub weight: Vec<f32>,
    /// `outputs` biases.
    pub bias: Vec<f32>,
}

impl DenseWeights {
    fn check(&self, layer: &'static str, inputs: usize) -> Result<(), DetectorNetError> {
        let bad = |reason: String| Err(DetectorNetError::Shape { layer, reason });
        if self.inputs != inputs {
            return bad(format!("{} inputs, expected {inputs}", self.inputs));
        }
        if self.outputs == 0 {
            return bad("no outputs".to_owned());
        }
        if self.weight.len() != self.inputs * self.outputs {
            return bad(format!(
                "{} weights for {}x{}",
                self.weight.len(),
                self.inputs,
                self.outputs
            ));
        }
        if self.bias.len() != self.outputs {
            return bad(format!(
                "{} biases for {} outputs",
                self.bias.len(),
                self.outputs
            ));
        }
        if let Some(v) = self
            .weight
            .iter()
            .chain(&self.bias)
            .find(|v| !v.is_finite())
        {
            return bad(format!("a weight is {v}"));
        }
        Ok(())
    }

    /// `out = bias + input · weight`, then ReLU when `relu`.
    fn forward(&self, input: &[f32], out: &mut [f32], relu: bool) {
        out.copy_from_slice(&self.bias);
        for (x, row) in input.iter().zip(self.weight.chunks_exact(self.outputs)) {
            for (o, w) in out.iter_mut().zip(row) {
                *o += x * w;
            }
        }
        if relu {
            for o in out.iter_mut() {
                *o = o.max(0.0);
            }
        }
    }
}

/// The learned detector's network; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorNet {
    /// Frames whose embeddings are concatenated (the newest and `context - 1` earlier ones).
    pub context: usize,
    /// Frames between two of them.
    pub stride: usize,
    /// How many frames before the newest one the logit is about: 0 for the detector (the
    /// newest frame, no latency); a boundary net ([`DetectorNet::builtin_boundary`]) judges
    /// the frame `delay` frames back, seeing what came after it. Less than [`span`](Self::span).
    #[serde(default)]
    pub delay: usize,
    /// Features of a frame to its embedding.
    pub frame: DenseWeights,
    /// The concatenated embeddings to the hidden layer.
    pub hidden: DenseWeights,
    /// The hidden layer to the logit (one output).
    pub output: DenseWeights,
}

impl DetectorNet {
    /// The weights shipped with the crate (parsed once per call; keep the `Arc`).
    ///
    /// # Panics
    /// Never: a test parses and checks the shipped file.
    #[must_use]
    pub fn builtin() -> Arc<Self> {
        static NET: std::sync::OnceLock<Arc<DetectorNet>> = std::sync::OnceLock::new();
        NET.get_or_init(|| {
            Arc::new(Self::from_json(BUILTIN).unwrap_or_else(|e| {
                unreachable!("the shipped speech detector is checked by a test: {e}")
            }))
        })
        .clone()
    }

    /// The boundary net shipped with the crate: it judges the frame 150 ms before the newest
    /// one, having heard what followed it, and places utterances' speech starts and ends
    /// ([`Segmenter::with_detector_nets`](super::Segmenter::with_detector_nets)).
    ///
    /// # Panics
    /// Never: a test parses and checks the shipped file.
    #[must_use]
    pub fn builtin_boundary() -> Arc<Self> {
        static NET: std::sync::OnceLock<Arc<DetectorNet>> = std::sync::OnceLock::new();
        NET.get_or_init(|| {
            Arc::new(Self::from_json(BUILTIN_BOUNDARY).unwrap_or_else(|e| {
                unreachable!("the shipped boundary net is checked by a test: {e}")
            }))
        })
        .clone()
    }

    /// Parses and checks weights saved by `trainer train-detector`.
    ///
    /// # Errors
    /// [`DetectorNetError`] for bad JSON or shapes that do not fit together.
    pub fn from_json(json: &str) -> Result<Self, DetectorNetError> {
        let net: Self = serde_json::from_str(json)?;
        net.check()?;
        Ok(net)
    }

    /// Checks that the layers fit together.
    ///
    /// # Errors
    /// [`DetectorNetError::Shape`] naming the first layer that does not.
    pub fn check(&self) -> Result<(), DetectorNetError> {
        if self.context == 0 || self.stride == 0 || self.context * self.stride > 1_000 {
            return Err(DetectorNetError::Shape {
                layer: "context",
                reason: format!(
                    "{} frames {} apart (each 1 or more, spanning at most 1000 frames)",
                    self.context, self.stride
                ),
            });
        }
        if self.delay >= self.span() {
            return Err(DetectorNetError::Shape {
                layer: "delay",
                reason: format!(
                    "{} frames, at least the {} frames the network sees",
                    self.delay,
                    self.span()
                ),
            });
        }
        if self.frame.inputs != BAND_FEATURES && self.frame.inputs != DETECTOR_FEATURES {
            return Err(DetectorNetError::Shape {
                layer: "frame",
                reason: format!(
                    "{} inputs, expected {BAND_FEATURES} (bands) or {DETECTOR_FEATURES} (bands \
                     and pitch)",
                    self.frame.inputs
                ),
            });
        }
        self.frame.check("frame", self.frame.inputs)?;
        self.hidden
            .check("hidden", self.context * self.frame.outputs)?;
        self.output.check("output", self.hidden.outputs)?;
        if self.output.outputs != 1 {
            return Err(DetectorNetError::Shape {
                layer: "output",
                reason: format!("{} outputs, expected 1", self.output.outputs),
            });
        }
        Ok(())
    }

    /// Weights in all layers.
    #[must_use]
    pub fn parameters(&self) -> usize {
        [&self.frame, &self.hidden, &self.output]
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum()
    }

    /// Whether the network reads the pitch features as well as the band features.
    #[must_use]
    pub fn hears_pitch(&self) -> bool {
        self.frame.inputs == DETECTOR_FEATURES
    }

    /// Frames of history the network sees (the newest included).
    #[must_use]
    pub fn span(&self) -> usize {
        (self.context - 1) * self.stride + 1
    }
}

/// The features of successive frames ([`DETECTOR_FEATURES`] each); see the module docs.
#[derive(Debug, Clone)]
pub struct DetectorFeatures {
    scorer: SpectralScorer,
    /// `None`: the pitch features stay 0.
    pitch: Option<FramePitch>,
}

impl DetectorFeatures {
    /// Features of frames of `hop` samples at `sample_rate` Hz, the pitch features
    /// included.
    #[must_use]
    pub fn new(hop: usize, sample_rate: u32) -> Self {
        Self::with_pitch(hop, sample_rate, true)
    }

    /// [`DetectorFeatures::new`], with the pitch features computed only when `pitch` (0
    /// otherwise: what a network of the band features alone needs).
    #[must_use]
    pub fn with_pitch(hop: usize, sample_rate: u32, pitch: bool) -> Self {
        Self {
            scorer: SpectralScorer::with_bands(
                hop,
                sample_rate,
                DETECTOR_BANDS,
                DETECTOR_LOWEST_HZ..DETECTOR_HIGHEST_HZ,
            ),
            pitch: pitch.then(|| FramePitch::new(sample_rate)),
        }
    }

    /// Forgets the signal.
    pub fn reset(&mut self) {
        self.scorer.reset();
        if let Some(p) = &mut self.pitch {
            p.reset();
        }
    }

    /// Forgets the samples of the analysis window but not the noise estimates
    /// ([`SpectralScorer::forget_samples`]).
    pub fn forget_samples(&mut self) {
        self.scorer.forget_samples();
        if let Some(p) = &mut self.pitch {
            p.reset();
        }
    }

    /// Whether the last frame's noise estimates jumped to a noise that stepped up
    /// ([`SpectralScorer::followed_a_step`]).
    #[must_use]
    pub fn followed_a_step(&self) -> bool {
        self.scorer.followed_a_step()
    }

    /// The next frame's features into `out` (bands merged at low sample rates leave their
    /// slots 0). Returns the spectral score of the same bands.
    pub fn next(&mut self, frame: &[f32], out: &mut [f32; DETECTOR_FEATURES]) -> f32 {
        let score = self.scorer.score(frame);
        out.fill(0.0);
        let excess = self.scorer.band_excess_db();
        let powers = self.scorer.band_powers();
        let n = powers.len().min(DETECTOR_BANDS);
        let db = |p: f32| 10.0 * p.max(1e-20).log10();
        let mean = powers[..n].iter().map(|&p| db(p)).sum::<f32>() / n.max(1) as f32;
        let (bands, pitch) = out.split_at_mut(BAND_FEATURES);
        let (levels, shapes) = bands.split_at_mut(DETECTOR_BANDS);
        for b in 0..n {
            levels[b] = (excess[b] / 10.0).clamp(-FEATURE_CAP, FEATURE_CAP);
            shapes[b] = ((db(powers[b]) - mean) / 10.0).clamp(-FEATURE_CAP, FEATURE_CAP);
        }
        if let (Some(tracker), Ok(pitch)) = (&mut self.pitch, pitch.try_into()) {
            tracker.next(frame, pitch);
        }
        score
    }
}

/// A [`DetectorNet`] run frame after frame on features computed elsewhere: the ring of recent
/// embeddings and the layers' buffers. [`LearnedScorer`] feeds it its own features; the
/// segmenter feeds a boundary net the detector's features of the same frame, so the spectrum
/// is computed once.
#[derive(Debug, Clone)]
pub(super) struct NetRunner {
    net: Arc<DetectorNet>,
    /// `span` embeddings, oldest overwritten first.
    ring: Vec<f32>,
    /// Where the next embedding goes, in embeddings.
    pos: usize,
    /// The embedding of an all-zero frame (what precedes the stream).
    empty: Vec<f32>,
    concat: Vec<f32>,
    hidden: Vec<f32>,
}

impl NetRunner {
    pub(super) fn new(net: Arc<DetectorNet>) -> Self {
        let e = net.frame.outputs;
        let mut empty = vec![0.0; e];
        net.frame
            .forward(&[0.0; DETECTOR_FEATURES], &mut empty, true);
        // (`forward` reads the first `net.frame.inputs` features.)
        let span = net.span();
        let mut ring = Vec::with_capacity(span * e);
        for _ in 0..span {
            ring.extend_from_slice(&empty);
        }
        Self {
            concat: vec![0.0; net.hidden.inputs],
            hidden: vec![0.0; net.hidden.outputs],
            ring,
            pos: 0,
            empty,
            net,
        }
    }

    /// Forgets the frames seen so far, as at the stream's start.
    pub(super) fn forget(&mut self) {
        for slot in self.ring.chunks_exact_mut(self.empty.len()) {
            slot.copy_from_slice(&self.empty);
        }
        self.pos = 0;
    }

    /// The logit of the next frame, given its features.
    pub(super) fn next(&mut self, features: &[f32; DETECTOR_FEATURES]) -> f32 {
        let net = &self.net;
        let e = net.frame.outputs;
        let span = net.span();
        let slot = &mut self.ring[self.pos * e..(self.pos + 1) * e];
        net.frame.forward(features, slot, true);
        for k in 0..net.context {
            let at = (self.pos + span - k * net.stride) % span;
            self.concat[k * e..(k + 1) * e].copy_from_slice(&self.ring[at * e..(at + 1) * e]);
        }
        self.pos = (self.pos + 1) % span;
        net.hidden.forward(&self.concat, &mut self.hidden, true);
        let mut logit = [0.0];
        net.output.forward(&self.hidden, &mut logit, false);
        if logit[0].is_finite() { logit[0] } else { 0.0 }
    }
}

/// The learned detector at run time: features, the ring of recent embeddings, the network.
#[derive(Debug, Clone)]
pub struct LearnedScorer {
    features: DetectorFeatures,
    frame: [f32; DETECTOR_FEATURES],
    runner: NetRunner,
}

impl LearnedScorer {
    /// A scorer for frames of `hop` samples at `sample_rate` Hz with `net`; it computes the
    /// pitch features when `net` reads them or `pitch` (a boundary net fed its features
    /// does).
    #[must_use]
    pub fn new(net: Arc<DetectorNet>, hop: usize, sample_rate: u32, pitch: bool) -> Self {
        Self {
            features: DetectorFeatures::with_pitch(hop, sample_rate, pitch || net.hears_pitch()),
            frame: [0.0; DETECTOR_FEATURES],
            runner: NetRunner::new(net),
        }
    }

    /// Forgets the signal.
    pub fn reset(&mut self) {
        self.forget_context();
        self.features.reset();
    }

    /// Forgets the frames scored so far, as at the stream's start, but keeps the noise
    /// estimates: what [`Segmenter::flush`](super::Segmenter::flush) does to the detector.
    pub fn forget_context(&mut self) {
        self.features.forget_samples();
        self.runner.forget();
    }

    /// Scores the next frame: the logit of its being speech (0 is even odds).
    pub fn score(&mut self, frame: &[f32]) -> f32 {
        self.features.next(frame, &mut self.frame);
        if self.features.followed_a_step() {
            // The frames since the noise stepped up were the noise: the network forgets
            // them, as at the stream's start.
            self.runner.forget();
        }
        self.runner.next(&self.frame)
    }

    /// Whether the last scored frame's noise estimates jumped to a noise that stepped up
    /// ([`SpectralScorer::followed_a_step`]).
    #[must_use]
    pub fn followed_a_step(&self) -> bool {
        self.features.followed_a_step()
    }

    /// The features of the last scored frame.
    #[must_use]
    pub fn features(&self) -> &[f32; DETECTOR_FEATURES] {
        &self.frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_weights_parse_and_fit_together() {
        let net = DetectorNet::from_json(BUILTIN).expect("shipped weights");
        assert!(net.parameters() < 20_000, "{} weights", net.parameters());
        assert!(net.span() <= 100, "span {} frames", net.span());
        assert_eq!(net.delay, 0, "the detector judges the newest frame");
        let boundary = DetectorNet::from_json(BUILTIN_BOUNDARY).expect("shipped boundary net");
        assert_eq!(boundary.delay, 15);
        assert!(boundary.parameters() < 20_000);
    }

    #[test]
    fn bad_weights_are_errors_naming_the_layer() {
        let mut net = (*DetectorNet::builtin()).clone();
        net.hidden.bias.pop();
        let err = net.check().expect_err("short bias");
        assert!(err.to_string().contains("hidden"), "{err}");
        let mut net = (*DetectorNet::builtin()).clone();
        net.frame.weight[0] = f32::NAN;
        assert!(net.check().is_err());
        assert!(DetectorNet::from_json("{").is_err());
        let mut net = (*DetectorNet::builtin()).clone();
        net.delay = net.span();
        let err = net.check().expect_err("a delay past what it sees");
        assert!(err.to_string().contains("delay"), "{err}");
    }

    /// The shipped detector widened to the pitch features, their weights 0.
    fn widened() -> DetectorNet {
        let mut net = (*DetectorNet::builtin()).clone();
        net.frame
            .weight
            .resize(DETECTOR_FEATURES * net.frame.outputs, 0.0);
        net.frame.inputs = DETECTOR_FEATURES;
        net
    }

    #[test]
    fn a_network_reads_the_band_features_or_all_of_them() {
        let net = widened();
        net.check().expect("bands and pitch");
        assert!(net.hears_pitch() && !DetectorNet::builtin().hears_pitch());
        let mut odd = net.clone();
        odd.frame
            .weight
            .truncate((DETECTOR_FEATURES - 1) * odd.frame.outputs);
        odd.frame.inputs = DETECTOR_FEATURES - 1;
        let err = odd.check().expect_err("50 inputs").to_string();
        assert!(err.contains("frame") && err.contains("50 inputs"), "{err}");
    }

    #[test]
    fn pitch_features_are_computed_for_a_network_that_reads_them() {
        // A tone with a gliding pitch: the pitch features are non-zero once computed, and
        // with zero weights on them the widened network scores exactly as the shipped one.
        let rate = 16_000;
        let tone: Vec<f32> = (0..rate)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (std::f32::consts::TAU * 150.0 * (t + 0.3 * t * t)).sin() * 0.1
            })
            .collect();
        let mut plain = LearnedScorer::new(DetectorNet::builtin(), 160, rate as u32, false);
        let mut wide = LearnedScorer::new(Arc::new(widened()), 160, rate as u32, false);
        let mut heard = 0;
        for frame in tone.chunks_exact(160) {
            assert_eq!(plain.score(frame), wide.score(frame));
            assert!(plain.features()[BAND_FEATURES..].iter().all(|&v| v == 0.0));
            heard += usize::from(wide.features()[BAND_FEATURES] > 0.9);
        }
        assert!(heard > 80, "{heard} periodic frames of 100");
    }

    #[test]
    fn hostile_frames_give_finite_scores() {
        let mut s = LearnedScorer::new(DetectorNet::builtin(), 7, 8_000, true);
        for frame in [vec![], vec![f32::NAN; 7], vec![1e30; 7], vec![0.0; 100]] {
            assert!(s.score(&frame).is_finite());
        }
    }
}
