//! Which clips train, validate and test under each protocol of `trainer train`: actor folds of
//! RAVDESS, speaker folds of manifests, the random split, and thinning for smoke runs.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use voice_emotion::training::dataset::{Sample, speaker_folds, speaker_independent_split};

use super::train::Protocol;

/// Parses `0-4` or `0,2,5` into fold numbers (0-5).
pub(super) fn parse_folds(spec: &str) -> Result<Vec<usize>, String> {
    super::evaluate::parse_numbers(spec, "--folds", "a fold", 0..=5)
}

/// At most `n` samples of each speaker, spread evenly over that speaker's samples (in their
/// order), so every emotion stays represented.
pub(super) fn thinned(samples: &[Sample], n: usize) -> Vec<Sample> {
    let mut by_speaker: std::collections::BTreeMap<&str, Vec<&Sample>> =
        std::collections::BTreeMap::new();
    for s in samples {
        by_speaker.entry(s.speaker.as_str()).or_default().push(s);
    }
    let mut out = Vec::new();
    for clips in by_speaker.values() {
        let keep = n.min(clips.len());
        // The middle clip of each of `keep` equal stretches.
        out.extend((0..keep).map(|k| clips[(2 * k + 1) * clips.len() / (2 * keep)].clone()));
    }
    out
}

/// Speaker folds of manifests when `--folds` does not say.
pub(super) const DEFAULT_MANIFEST_FOLDS: usize = 5;

/// A train/validation/test split of sample indices.
pub(super) struct Split {
    pub(super) name: String,
    /// The fold's number (`cv`), else 0.
    pub(super) fold: usize,
    pub(super) train: Vec<usize>,
    pub(super) valid: Vec<usize>,
    pub(super) test: Vec<usize>,
}

fn actor_split(samples: &[Sample], name: &str, test: &[u8], valid: &[u8]) -> Split {
    let mut s = Split {
        name: name.to_owned(),
        fold: 0,
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for (i, x) in samples.iter().enumerate() {
        match x.actor {
            Some(a) if test.contains(&a) => s.test.push(i),
            Some(a) if valid.contains(&a) => s.valid.push(i),
            _ => s.train.push(i),
        }
    }
    s
}

/// The splits of `protocol`. `cv` runs `folds` (all six when `None`); each fold validates on
/// two actors of the next fold *among those run*, so `--folds 0-4` never touches actors
/// 21-24 (fold 4 validates on actors 1-2, as fold 5 does in the full run); a single fold
/// validates on the next fold, or fold 0 after fold 4.
pub(super) fn splits(
    protocol: Protocol,
    samples: &[Sample],
    seed: u64,
    folds: Option<&[usize]>,
) -> Vec<Split> {
    let all: Vec<usize> = (0..6).collect();
    let folds = folds.unwrap_or(&all);
    match protocol {
        Protocol::SpeakerIndependent => {
            vec![actor_split(
                samples,
                "actors 21-24",
                &[21, 22, 23, 24],
                &[19, 20],
            )]
        }
        Protocol::Cv => folds
            .iter()
            .enumerate()
            .map(|(k, &fold)| {
                let fold = fold as u8;
                let test: Vec<u8> = (1..=4).map(|k| fold * 4 + k).collect();
                // Validate on two actors (one male, one female) of the next fold run; a fold
                // run alone validates on the next one, never on fold 5 (the held-out actors).
                let next = if folds.len() > 1 {
                    folds[(k + 1) % folds.len()] as u8
                } else if fold >= 4 {
                    0
                } else {
                    fold + 1
                };
                let valid = [next * 4 + 1, next * 4 + 2];
                Split {
                    fold: usize::from(fold),
                    ..actor_split(
                        samples,
                        &format!("fold {fold} (actors {:02}-{:02})", test[0], test[3]),
                        &test,
                        &valid,
                    )
                }
            })
            .collect(),
        Protocol::Random => {
            let mut order: Vec<usize> = (0..samples.len()).collect();
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            let n_test = samples.len() / 5;
            let n_valid = (samples.len() - n_test) / 10;
            vec![Split {
                name: "random 80/20 of recordings".to_owned(),
                fold: 0,
                test: order[..n_test].to_vec(),
                valid: order[n_test..n_test + n_valid].to_vec(),
                train: order[n_test + n_valid..].to_vec(),
            }]
        }
    }
}

/// The splits of `protocol` for clips from manifests: speakers held out by corpus
/// (`voice_emotion::training::dataset`), or the random split of recordings.
pub(super) fn manifest_splits(
    protocol: Protocol,
    samples: &[Sample],
    seed: u64,
    folds: usize,
) -> Result<Vec<Split>, Box<dyn std::error::Error>> {
    let from = |(fold, s): (usize, voice_emotion::training::dataset::SpeakerSplit)| Split {
        name: s.name,
        fold,
        train: s.train,
        valid: s.valid,
        test: s.test,
    };
    Ok(match protocol {
        Protocol::SpeakerIndependent => vec![from((0, speaker_independent_split(samples, seed)?))],
        Protocol::Cv => speaker_folds(samples, folds, seed)?
            .into_iter()
            .enumerate()
            .map(from)
            .collect(),
        Protocol::Random => splits(protocol, samples, seed, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_parse_as_actors_do_and_name_the_bad_part() {
        assert_eq!(parse_folds("0-4"), Ok(vec![0, 1, 2, 3, 4]));
        assert_eq!(parse_folds("5, 1,1"), Ok(vec![1, 5]));
        assert_eq!(
            parse_folds("4-6"),
            Err("--folds: '4-6' is not a fold number or range (0-5)".to_owned())
        );
        assert_eq!(
            parse_folds(" , "),
            Err("--folds: ' , ' names no fold".to_owned())
        );
    }

    #[test]
    fn thinning_keeps_n_clips_of_each_speaker_spread_over_their_clips() {
        let dir = std::env::temp_dir();
        let sample = |speaker: &str, k: usize| Sample {
            path: dir.join(format!("{speaker}-{k}.wav")),
            // In file-name order, as RAVDESS lists an actor: by emotion, then the rest.
            emotion: voice_emotion::labels::Emotion::ALL[k * 8 / 60],
            intensity: None,
            speaker: speaker.to_owned(),
            actor: None,
            statement: None,
            split: None,
            corpus: "test".to_owned(),
            corpus_emotions: voice_emotion::training::dataset::EmotionSet::ALL,
        };
        let samples: Vec<Sample> = (0..60)
            .map(|k| sample("a", k))
            .chain((0..3).map(|k| sample("b", k)))
            .collect();
        let thin = thinned(&samples, 8);
        let a: Vec<&Sample> = thin.iter().filter(|s| s.speaker == "a").collect();
        assert_eq!(a.len(), 8);
        assert_eq!(thin.iter().filter(|s| s.speaker == "b").count(), 3);
        let emotions: std::collections::BTreeSet<_> = a.iter().map(|s| s.emotion).collect();
        assert_eq!(emotions.len(), 8, "{emotions:?}");
    }
}
