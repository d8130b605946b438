//! `adapt-eval --fine-tune`: the player's own weight copy (the dense layer and heads
//! fine-tuned on their confirmed samples, `voice_emotion::training::upper`) on top of the
//! voice head, guarded as the voice head is, measured against the voice head alone.

use voice_emotion::features::FeatureMatrix;
use voice_emotion::labels::Emotion;
use voice_emotion::model::{EmotionClassifier, InputExtractor, NormStats, Prediction, normalised};
use voice_emotion::player::adapt::{Adapter, AnchorSet};
use voice_emotion::player::voice::{VoiceHead, describe, fuse};
use voice_emotion::training::upper::{
    UpperTuning, fine_tune_upper, head_probabilities, last_states,
};

/// The anchors' last LSTM states and labels, computed once per model.
pub struct AnchorStates {
    states: Vec<Vec<f32>>,
    labels: Vec<Emotion>,
}

impl AnchorStates {
    /// Of `anchors` (already normalised model inputs) through `classifier`'s network.
    pub fn new(classifier: &EmotionClassifier, anchors: &AnchorSet) -> Self {
        let inputs: Vec<FeatureMatrix> = anchors.anchors.iter().map(|a| a.input.decode()).collect();
        let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
        Self {
            states: last_states(classifier.model(), &refs, classifier.device()),
            labels: anchors.anchors.iter().map(|a| a.emotion).collect(),
        }
    }
}

/// One speaker's figures.
#[derive(Debug, Clone, Copy)]
pub struct CopyOutcome {
    /// Test accuracy of the network and the voice head (what `adapt-eval` reports).
    pub voice_head: f64,
    /// With the fine-tuned copy in place of the network.
    pub copy: f64,
    /// Held-back accuracy without and with the copy (the guard's figures).
    pub guard: (f64, f64),
}

impl CopyOutcome {
    /// Whether the guard keeps the copy.
    pub fn accepted(&self) -> bool {
        self.guard.1 >= self.guard.0
    }

    /// The accuracy the player gets: the copy's when the guard keeps it.
    pub fn guarded(&self) -> f64 {
        if self.accepted() {
            self.copy
        } else {
            self.voice_head
        }
    }
}

/// One simulated player at the end of their confirmations.
pub struct Player<'a> {
    /// Their confirmed MFCCs with the labels they gave.
    pub confirmed: &'a [(&'a FeatureMatrix, Emotion)],
    /// Their test clips and true emotions.
    pub test: &'a [(&'a FeatureMatrix, Emotion)],
    /// Their statistics, already blended with the training set's.
    pub stats: &'a NormStats,
    /// The voice head they ended with.
    pub voice: Option<&'a VoiceHead>,
}

/// What the copy does for `player`, against the voice head alone.
pub fn measure(
    classifier: &EmotionClassifier,
    adapter: &Adapter,
    extractor: &InputExtractor,
    anchors: &AnchorStates,
    player: &Player<'_>,
    tuning: &UpperTuning,
) -> CopyOutcome {
    let Player {
        confirmed,
        test,
        stats,
        voice,
    } = *player;
    let model = classifier.model();
    let device = classifier.device();
    let input = classifier.input_config();
    let per_frame = input.frame_width() * if input.deltas { 2 } else { 1 };
    let weight = adapter.config().network_weight;
    // Normalised inputs, last states, descriptors.
    let prepare = |clips: &[(&FeatureMatrix, Emotion)]| {
        let inputs: Vec<FeatureMatrix> = clips
            .iter()
            .map(|(m, _)| normalised(&extractor.finish(m), stats))
            .collect();
        let descriptors: Vec<Vec<f32>> = inputs
            .iter()
            .map(|x| {
                let (_, mean) = classifier.fast_network().forward_described(x);
                describe(&mean, x, per_frame)
            })
            .collect();
        let refs: Vec<&FeatureMatrix> = inputs.iter().collect();
        let labels: Vec<Emotion> = clips.iter().map(|c| c.1).collect();
        (last_states(model, &refs, device), descriptors, labels)
    };
    let (states, descriptors, labels) = prepare(confirmed);
    let (test_states, test_descriptors, truth) = prepare(test);
    let hits =
        |p: &[[f32; Emotion::COUNT]], d: &[Vec<f32>], head: Option<&VoiceHead>, y: &[Emotion]| {
            p.iter()
                .zip(d)
                .zip(y)
                .filter(|((p, d), y)| {
                    let opinion = head.and_then(|h| h.opinion(d));
                    let fused = fuse(p, opinion.as_ref(), weight);
                    Prediction::from_probabilities(fused, [0.5; 2]).emotion == **y
                })
                .count()
        };
    let anchor_rows: Vec<&[f32]> = anchors.states.iter().map(Vec::as_slice).collect();
    let anchors_in = (anchor_rows.as_slice(), anchors.labels.as_slice());
    let rows =
        |idx: &[usize]| -> Vec<&[f32]> { idx.iter().map(|&i| states[i].as_slice()).collect() };
    // The guard: the voice head's parts, each classified by a voice head and a copy fitted
    // on the others.
    let parts = adapter.config().guard_folds.max(2);
    let (mut base_hits, mut copy_hits) = (0usize, 0usize);
    for part in 0..parts {
        let (train, held): (Vec<usize>, Vec<usize>) =
            (0..labels.len()).partition(|i| i % parts != part);
        if held.is_empty() || train.is_empty() {
            continue;
        }
        let train_labels: Vec<Emotion> = train.iter().map(|&i| labels[i]).collect();
        let held_labels: Vec<Emotion> = held.iter().map(|&i| labels[i]).collect();
        let train_d: Vec<&[f32]> = train.iter().map(|&i| descriptors[i].as_slice()).collect();
        let held_d: Vec<Vec<f32>> = held.iter().map(|&i| descriptors[i].clone()).collect();
        let head = VoiceHead::fit(
            &train_d,
            &train_labels,
            adapter.prior(),
            &adapter.config().voice_fit(),
        )
        .ok();
        let copy = fine_tune_upper(
            model,
            (&rows(&train), &train_labels),
            anchors_in,
            tuning,
            device,
        );
        let held_rows = rows(&held);
        base_hits += hits(
            &head_probabilities(model, &held_rows, device),
            &held_d,
            head.as_ref(),
            &held_labels,
        );
        copy_hits += hits(
            &head_probabilities(&copy, &held_rows, device),
            &held_d,
            head.as_ref(),
            &held_labels,
        );
    }
    let n = labels.len().max(1) as f64;
    let all: Vec<usize> = (0..labels.len()).collect();
    let copy = fine_tune_upper(model, (&rows(&all), &labels), anchors_in, tuning, device);
    let test_rows: Vec<&[f32]> = test_states.iter().map(Vec::as_slice).collect();
    let t = truth.len().max(1) as f64;
    CopyOutcome {
        voice_head: hits(
            &head_probabilities(model, &test_rows, device),
            &test_descriptors,
            voice,
            &truth,
        ) as f64
            / t,
        copy: hits(
            &head_probabilities(&copy, &test_rows, device),
            &test_descriptors,
            voice,
            &truth,
        ) as f64
            / t,
        guard: (base_hits as f64 / n, copy_hits as f64 / n),
    }
}
