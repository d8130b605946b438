//! A player's model run while the player speaks: [`UtteranceStream`].

use super::*;
use crate::features::FeatureError;
use crate::model::{FastState, InputStream};
use crate::player::voice::describe_sums;

/// One utterance classified by a player's model while its audio arrives: the model input
/// ([`InputStream`]) and the network ([`FastNetwork::advance`]) advance with each block, so
/// that at the end only the last steps are left. [`UtteranceStream::finish`] gives exactly
/// what [`PlayerModel::classify`] gives for the whole utterance's
/// [`crate::model::InputExtractor::mfcc`] (`tests/streaming.rs`), and
/// [`UtteranceStream::provisional`] an opinion on what was heard so far.
///
/// The player's normalisation statistics are read when the utterance starts; if they change
/// before it ends (a reset, another player), `finish` classifies the whole utterance again
/// with the new ones.
#[derive(Debug)]
pub struct UtteranceStream {
    adapter: Arc<Adapter>,
    input: InputStream,
    stats: NormStats,
    /// `stats`' mean and deviation, when they fit the input (otherwise the input is used as
    /// it is, as [`NormStats::apply`] leaves it).
    norm: Option<(Vec<f32>, Vec<f32>)>,
    state: FastState,
    /// Input steps through the network.
    consumed: usize,
    /// The input's generation those steps belong to.
    generation: u64,
    step: Vec<f32>,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    frames: usize,
}

impl PlayerModel {
    /// A stream for the player's next utterance (see [`UtteranceStream`]).
    ///
    /// # Errors
    /// [`FeatureError::InvalidConfig`] when the model's input configuration is invalid.
    pub fn stream(&self) -> Result<UtteranceStream, FeatureError> {
        let adapter = Arc::clone(&self.shared.adapter);
        let mut stream = UtteranceStream {
            input: InputStream::new(adapter.input.clone())?,
            adapter,
            stats: self.stats(),
            norm: None,
            state: FastState::default(),
            consumed: 0,
            generation: 0,
            step: Vec::new(),
            sum: Vec::new(),
            sum_sq: Vec::new(),
            frames: 0,
        };
        stream.restart(self);
        Ok(stream)
    }
}

impl UtteranceStream {
    /// Starts a new utterance of `model`'s player (buffers are kept). A model over another
    /// base network gets a new stream.
    pub fn restart(&mut self, model: &PlayerModel) {
        if !Arc::ptr_eq(&self.adapter, &model.shared.adapter)
            && let Ok(fresh) = model.stream()
        {
            *self = fresh;
            return;
        }
        self.stats = model.stats();
        let (mean, std) = self.stats.mean_std();
        self.norm = (mean.len() == self.adapter.input.n_features()).then_some((mean, std));
        self.input.reset();
        self.reset_network();
    }

    fn reset_network(&mut self) {
        self.adapter.fast.start(&mut self.state);
        self.consumed = 0;
        self.generation = self.input.generation();
        let per_frame = self.adapter.per_frame();
        self.sum.clear();
        self.sum.resize(per_frame, 0.0);
        self.sum_sq.clear();
        self.sum_sq.resize(per_frame, 0.0);
        self.frames = 0;
    }

    /// The utterance's audio so far.
    #[must_use]
    pub fn audio(&self) -> &[f32] {
        self.input.audio()
    }

    /// Input steps the network has run over.
    #[must_use]
    pub fn steps_done(&self) -> usize {
        self.state.steps()
    }

    /// The room the utterance is heard in, its sound alone at 16 kHz (the pre-roll before the
    /// detected speech): [`InputStream::set_room`]. Call it after [`restart`](Self::restart),
    /// before the first [`push`](Self::push).
    pub fn set_room(&mut self, room: &[f32]) {
        self.input.set_room(room);
        self.catch_up();
    }

    /// Adds a block of the utterance's 16 kHz audio and runs the network over the steps it
    /// made final.
    pub fn push(&mut self, samples: &[f32]) {
        self.input.push(samples);
        self.catch_up();
    }

    /// Runs the network over the input's final steps it has not seen.
    fn catch_up(&mut self) {
        if self.input.generation() != self.generation {
            self.reset_network();
        }
        let width = self.adapter.input.n_features();
        let per_frame = self.adapter.per_frame().max(1);
        let available = self.input.steps().len() / width.max(1);
        if available <= self.consumed {
            return;
        }
        let new = &self.input.steps()[self.consumed * width..available * width];
        self.step.clear();
        self.step.extend_from_slice(new);
        if let Some((mean, std)) = &self.norm {
            for row in self.step.chunks_exact_mut(width) {
                for ((v, &mu), &sd) in row.iter_mut().zip(mean).zip(std) {
                    *v = (*v - mu) / sd;
                }
            }
        }
        for frame in self.step.chunks_exact(per_frame) {
            for ((s, q), &v) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(frame) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
            self.frames += 1;
        }
        self.adapter.fast.advance(&mut self.state, &self.step);
        self.consumed = available;
    }

    /// What the player's model makes of the steps heard so far, with `heads` (the player's
    /// voice head and weight copy, [`PlayerModel::heads`]); `None` before the first step is
    /// final (about a quarter of a second into the speech).
    pub fn provisional(&mut self, heads: &PlayerHeads) -> Option<Prediction> {
        let analysis = self.analysis()?;
        Some(self.adapter.prediction(heads, &analysis))
    }

    fn analysis(&mut self) -> Option<Analysis> {
        let (logits, mean) = self.adapter.fast.state_logits(&mut self.state)?;
        let last = self.adapter.fast.state_top(&self.state)?;
        let (emotion, intensity) = logits.probabilities(1.0);
        Some(Analysis {
            emotion,
            intensity,
            descriptor: describe_sums(&mean, &self.sum, &self.sum_sq, self.frames),
            last,
        })
    }

    /// Ends the utterance: its MFCC frames (what a confirmation stores) and what `model` (the
    /// player's model the stream was started for) makes of it, the same as
    /// [`PlayerModel::classify`] of those frames.
    ///
    /// # Errors
    /// [`StreamError::Features`] for audio the front end refuses (empty, not finite);
    /// [`StreamError::Classify`] as [`PlayerModel::classify`].
    pub fn finish(
        &mut self,
        model: &PlayerModel,
    ) -> Result<(FeatureMatrix, Prediction), StreamError> {
        let mfcc = self.input.finish()?;
        let same = Arc::ptr_eq(&self.adapter, &model.shared.adapter) && model.stats() == self.stats;
        if !same {
            let prediction = model.classify(&mfcc)?;
            return Ok((mfcc, prediction));
        }
        self.catch_up();
        let analysis = self.analysis().ok_or(AdaptError::Shape {
            expected: self.adapter.input.frame_width(),
            found: 0,
        })?;
        Ok((mfcc, self.adapter.prediction(&model.heads(), &analysis)))
    }
}

/// Why [`UtteranceStream::finish`] gave no prediction.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The front end refused the audio.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// The player's model refused the frames.
    #[error(transparent)]
    Classify(#[from] AdaptError),
}
