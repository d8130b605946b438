//! Speaker-independent splits of one or more corpora: [`speaker_independent_split`] (one
//! held-out set of speakers) and [`speaker_folds`] (K folds of speakers), each balanced by
//! corpus and deterministic for a seed. A manifest's `split` column takes precedence: a
//! speaker with rows marked `train`, `validation`, or `test`/`calibrate` (both held out) keeps
//! that role, and their unmarked rows follow it.

use std::collections::BTreeSet;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::*;

/// Fraction of each corpus's speakers held out for testing by [`speaker_independent_split`].
pub const TEST_SPEAKER_SHARE: f64 = 0.15;
/// Fraction of each corpus's speakers held out for validation by
/// [`speaker_independent_split`].
pub const VALID_SPEAKER_SHARE: f64 = 0.10;

/// The clips of one training run, as indices into the samples split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerSplit {
    /// A name for reports (`held-out speakers`, `fold 2`).
    pub name: String,
    /// Clips to train on.
    pub train: Vec<usize>,
    /// Clips to select the epoch and fit the temperature on.
    pub valid: Vec<usize>,
    /// Clips to test on.
    pub test: Vec<usize>,
}

/// Why clips could not be split by speaker.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// A speaker has rows of two roles in the `split` column.
    #[error("speaker '{speaker}' has rows with split '{first}' ({}) and '{second}' ({}): all of a speaker's clips must train, validate or be held out (test, calibrate)", first_file.display(), second_file.display())]
    SpeakerInTwoSplits {
        /// The speaker (`corpus/speaker` for mixed manifests).
        speaker: String,
        /// The first split met.
        first: Split,
        /// A clip with that split.
        first_file: PathBuf,
        /// The conflicting split.
        second: Split,
        /// A clip with it.
        second_file: PathBuf,
    },
    /// `--folds K` with fewer than two folds or more folds than speakers to deal.
    #[error(
        "{folds} folds: need at least 2, and at most one per speaker without a split ({speakers})"
    )]
    BadFoldCount {
        /// Folds asked for.
        folds: usize,
        /// Speakers that the `split` column leaves free.
        speakers: usize,
    },
    /// A split would have no clips in a role.
    #[error(
        "{split}: no {role} speakers (each corpus with at least 3 speakers and no {role} rows in its split column gives one); add speakers or mark some rows '{role}'"
    )]
    NoSpeakers {
        /// The split's name.
        split: String,
        /// `train`, `validation` or `test`.
        role: &'static str,
    },
}

/// A speaker's role in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Train,
    Validation,
    Test,
}

impl Role {
    fn of(split: Split) -> Role {
        match split {
            Split::Train => Role::Train,
            Split::Validation => Role::Validation,
            Split::Calibrate | Split::Test => Role::Test,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Train => "train",
            Role::Validation => "validation",
            Role::Test => "test",
        }
    }
}

/// Speakers fixed by the `split` column, and the free ones of each corpus (sorted).
struct Speakers<'a> {
    fixed: BTreeMap<&'a str, Role>,
    /// Per corpus (sorted by name): its free speakers, sorted.
    free: BTreeMap<&'a str, Vec<&'a str>>,
    /// Corpora with fixed speakers of a role.
    fixed_roles: BTreeSet<(&'a str, Role)>,
}

fn speakers(samples: &[Sample]) -> Result<Speakers<'_>, SplitError> {
    let mut fixed: BTreeMap<&str, (Role, &Sample)> = BTreeMap::new();
    for s in samples {
        let Some(split) = s.split else { continue };
        let role = Role::of(split);
        match fixed.get(s.speaker.as_str()) {
            Some(&(r, first)) if r != role => {
                return Err(SplitError::SpeakerInTwoSplits {
                    speaker: s.speaker.clone(),
                    first: first.split.unwrap_or(Split::Train),
                    first_file: first.path.clone(),
                    second: split,
                    second_file: s.path.clone(),
                });
            }
            Some(_) => {}
            None => {
                fixed.insert(&s.speaker, (role, s));
            }
        }
    }
    let mut free: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut fixed_roles = BTreeSet::new();
    for s in samples {
        match fixed.get(s.speaker.as_str()) {
            Some(&(role, _)) => {
                fixed_roles.insert((s.corpus.as_str(), role));
            }
            None => {
                free.entry(&s.corpus).or_default().insert(&s.speaker);
            }
        }
    }
    Ok(Speakers {
        fixed: fixed.into_iter().map(|(k, (r, _))| (k, r)).collect(),
        free: free
            .into_iter()
            .map(|(c, set)| (c, set.into_iter().collect()))
            .collect(),
        fixed_roles,
    })
}

/// A corpus's own shuffle: seeded by `seed` and a stable hash of its name, so adding a corpus
/// does not reshuffle the others.
fn shuffled<'a>(speakers: &[&'a str], corpus: &str, seed: u64) -> Vec<&'a str> {
    // FNV-1a.
    let hash = corpus.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut v = speakers.to_vec();
    v.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ hash));
    v
}

/// How many of `n` speakers a `share` holds out: rounded, and at least one from 3 speakers.
fn quota(n: usize, share: f64) -> usize {
    let k = (n as f64 * share).round() as usize;
    if n >= 3 { k.max(1) } else { k }
}

fn indices(
    samples: &[Sample],
    name: String,
    role_of: impl Fn(&str) -> Role,
) -> Result<SpeakerSplit, SplitError> {
    let mut split = SpeakerSplit {
        name,
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for (i, s) in samples.iter().enumerate() {
        match role_of(&s.speaker) {
            Role::Train => split.train.push(i),
            Role::Validation => split.valid.push(i),
            Role::Test => split.test.push(i),
        }
    }
    for (list, role) in [
        (&split.test, Role::Test),
        (&split.valid, Role::Validation),
        (&split.train, Role::Train),
    ] {
        if list.is_empty() {
            return Err(SplitError::NoSpeakers {
                split: split.name.clone(),
                role: role.name(),
            });
        }
    }
    Ok(split)
}

/// Holds out speakers: of each corpus's speakers without a `split`, about 15% test and 10%
/// validation ([`TEST_SPEAKER_SHARE`], [`VALID_SPEAKER_SHARE`]; at least one of each from a
/// corpus of 3 or more such speakers), chosen by `seed`; the rest train. A corpus whose
/// `split` column already names test (or validation) speakers gives no more of that role.
///
/// # Errors
/// [`SplitError::SpeakerInTwoSplits`]; [`SplitError::NoSpeakers`] when a role ends up empty.
pub fn speaker_independent_split(
    samples: &[Sample],
    seed: u64,
) -> Result<SpeakerSplit, SplitError> {
    let sp = speakers(samples)?;
    let mut role: BTreeMap<&str, Role> = sp.fixed.clone();
    for (corpus, free) in &sp.free {
        let order = shuffled(free, corpus, seed);
        let n_test = if sp.fixed_roles.contains(&(corpus, Role::Test)) {
            0
        } else {
            quota(order.len(), TEST_SPEAKER_SHARE)
        };
        let n_valid = if sp.fixed_roles.contains(&(corpus, Role::Validation)) {
            0
        } else {
            quota(order.len(), VALID_SPEAKER_SHARE)
        };
        for (k, s) in order.into_iter().enumerate() {
            let r = if k < n_test {
                Role::Test
            } else if k < n_test + n_valid {
                Role::Validation
            } else {
                Role::Train
            };
            role.insert(s, r);
        }
    }
    indices(samples, "held-out speakers".to_owned(), |s| {
        role.get(s).copied().unwrap_or(Role::Train)
    })
}

/// `folds` folds of speakers for cross-validation. The speakers without a `split` are
/// shuffled within each corpus (by `seed`) and dealt in turn into the folds, corpus after
/// corpus, so every fold gets its share of each corpus. Fold `k` tests on its speakers and
/// validates on half (rounded up) of each corpus's speakers in fold `k + 1` (wrapping), or,
/// for a corpus whose `split` column names validation speakers, on those; speakers the column
/// fixes keep their role in every fold.
///
/// # Errors
/// [`SplitError::SpeakerInTwoSplits`]; [`SplitError::BadFoldCount`] for fewer than 2 folds or
/// more folds than free speakers; [`SplitError::NoSpeakers`] when a fold's role is empty.
pub fn speaker_folds(
    samples: &[Sample],
    folds: usize,
    seed: u64,
) -> Result<Vec<SpeakerSplit>, SplitError> {
    let sp = speakers(samples)?;
    let n_free: usize = sp.free.values().map(Vec::len).sum();
    if folds < 2 || folds > n_free {
        return Err(SplitError::BadFoldCount {
            folds,
            speakers: n_free,
        });
    }
    // (corpus, fold) -> speakers in dealing order.
    let mut dealt: BTreeMap<(&str, usize), Vec<&str>> = BTreeMap::new();
    let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next = 0usize;
    for (corpus, free) in &sp.free {
        for s in shuffled(free, corpus, seed) {
            let f = next % folds;
            next += 1;
            dealt.entry((corpus, f)).or_default().push(s);
            fold_of.insert(s, f);
        }
    }
    (0..folds)
        .map(|fold| {
            let after = (fold + 1) % folds;
            let mut valid: BTreeSet<&str> = BTreeSet::new();
            for corpus in sp.free.keys() {
                if sp.fixed_roles.contains(&(corpus, Role::Validation)) {
                    continue;
                }
                if let Some(list) = dealt.get(&(corpus, after)) {
                    valid.extend(list.iter().take(list.len().div_ceil(2)));
                }
            }
            let speakers = fold_of.values().filter(|&&f| f == fold).count();
            indices(
                samples,
                format!("fold {fold} ({speakers} speakers)"),
                |s| match (sp.fixed.get(s), fold_of.get(s)) {
                    (Some(&r), _) => r,
                    (None, Some(&f)) if f == fold => Role::Test,
                    _ if valid.contains(s) => Role::Validation,
                    _ => Role::Train,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(corpus: &str, speaker: &str, k: usize, split: Option<Split>) -> Sample {
        Sample {
            path: PathBuf::from(format!("/{corpus}/{speaker}/{k}.wav")),
            emotion: Emotion::ALL[k % Emotion::COUNT],
            intensity: None,
            speaker: format!("{corpus}/{speaker}"),
            actor: None,
            statement: None,
            split,
            corpus: corpus.to_owned(),
            corpus_emotions: EmotionSet::ALL,
        }
    }

    /// `n` speakers of 4 clips each in `corpus`.
    fn corpus(corpus: &str, n: usize) -> Vec<Sample> {
        (0..n)
            .flat_map(|s| (0..4).map(move |k| sample(corpus, &format!("s{s}"), k, None)))
            .collect()
    }

    fn speakers_in<'a>(samples: &'a [Sample], idx: &[usize]) -> BTreeSet<&'a str> {
        idx.iter().map(|&i| samples[i].speaker.as_str()).collect()
    }

    #[test]
    fn held_out_speakers_are_balanced_by_corpus_and_seeded() {
        let mut samples = corpus("big", 20);
        samples.extend(corpus("small", 3));
        samples.extend(corpus("pair", 2));
        let split = speaker_independent_split(&samples, 7).unwrap();
        let (train, valid, test) = (
            speakers_in(&samples, &split.train),
            speakers_in(&samples, &split.valid),
            speakers_in(&samples, &split.test),
        );
        assert!(train.is_disjoint(&valid) && train.is_disjoint(&test) && valid.is_disjoint(&test));
        let count = |set: &BTreeSet<&str>, c: &str| set.iter().filter(|s| s.starts_with(c)).count();
        // 20 speakers: 3 test, 2 validation; 3: one each; 2: none held out.
        assert_eq!((count(&test, "big/"), count(&valid, "big/")), (3, 2));
        assert_eq!((count(&test, "small/"), count(&valid, "small/")), (1, 1));
        assert_eq!((count(&test, "pair/"), count(&valid, "pair/")), (0, 0));
        assert_eq!(
            split.train.len() + split.valid.len() + split.test.len(),
            samples.len()
        );
        assert_eq!(speaker_independent_split(&samples, 7).unwrap(), split);
        assert_ne!(speaker_independent_split(&samples, 8).unwrap(), split);
    }

    #[test]
    fn the_split_column_wins_and_a_speaker_in_two_splits_is_an_error() {
        let mut samples = corpus("a", 10);
        // One row of a speaker marks them all.
        samples[0].split = Some(Split::Test);
        samples[4].split = Some(Split::Calibrate);
        let split = speaker_independent_split(&samples, 1).unwrap();
        let test = speakers_in(&samples, &split.test);
        // s0 marked test, s1 calibrate (held out too): no other test speaker of `a`.
        assert_eq!(test.into_iter().collect::<Vec<_>>(), ["a/s0", "a/s1"]);
        assert_eq!(speakers_in(&samples, &split.valid).len(), 1);

        samples[5].split = Some(Split::Train);
        let err = speaker_independent_split(&samples, 1).unwrap_err();
        assert!(
            matches!(err, SplitError::SpeakerInTwoSplits { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("a/s1") && msg.contains("'calibrate'") && msg.contains("'train'"),
            "{msg}"
        );
        assert!(
            msg.contains("/a/s1/0.wav") && msg.contains("/a/s1/1.wav"),
            "{msg}"
        );

        // Too few speakers to hold any out.
        let err = speaker_independent_split(&corpus("pair", 2), 1).unwrap_err();
        assert!(
            matches!(err, SplitError::NoSpeakers { role: "test", .. }),
            "{err}"
        );
    }

    #[test]
    fn folds_deal_each_corpus_over_every_fold() {
        let mut samples = corpus("x", 10);
        samples.extend(corpus("y", 5));
        let folds = speaker_folds(&samples, 5, 3).unwrap();
        assert_eq!(folds.len(), 5);
        let mut tested = BTreeSet::new();
        for f in &folds {
            let test = speakers_in(&samples, &f.test);
            let valid = speakers_in(&samples, &f.valid);
            let train = speakers_in(&samples, &f.train);
            assert_eq!(test.len(), 3, "{}", f.name);
            assert_eq!(test.iter().filter(|s| s.starts_with("x/")).count(), 2);
            assert!(
                test.is_disjoint(&valid) && test.is_disjoint(&train) && valid.is_disjoint(&train)
            );
            // Half of the next fold's speakers of each corpus, rounded up: 1 of x, 1 of y.
            assert_eq!(valid.len(), 2, "{}", f.name);
            assert_eq!(test.len() + valid.len() + train.len(), 15);
            tested.extend(test);
        }
        assert_eq!(tested.len(), 15, "every speaker tested once");
        assert_eq!(speaker_folds(&samples, 5, 3).unwrap(), folds);
        for bad in [0, 1, 16] {
            let err = speaker_folds(&samples, bad, 3).unwrap_err();
            assert!(
                matches!(err, SplitError::BadFoldCount { speakers: 15, .. }),
                "{err}"
            );
        }
    }
}
