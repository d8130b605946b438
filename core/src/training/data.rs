//! From dataset samples to training examples: decode, (optionally) augment, extract model
//! inputs, on several threads, deterministically.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::audio::{AudioError, SAMPLE_RATE, declip, dehum_in_room, load_clip};
use crate::features::{FeatureError, FeatureMatrix};
use crate::model::{InputConfig, InputExtractor};
use crate::speech::{Segmenter, VadConfig, VadError};
use crate::training::Example;
use crate::training::augment::{AugmentError, Augmenter};
use crate::training::cache::{CacheError, ClipBytes, FeatureCache};
use crate::training::dataset::Sample;
use crate::training::degrade::{BabblePool, Condition, DegradeError, RoomAugment, narrow_line};

/// Why a sample could not become an example. Names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    /// The audio could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Features could not be computed.
    #[error("{path}: {source}")]
    Features {
        /// The clip.
        path: PathBuf,
        /// The front end's error.
        #[source]
        source: FeatureError,
    },
    /// A worker thread panicked or left a sample unprocessed (a bug, reported rather than
    /// losing examples silently).
    #[error("feature extraction stopped before sample {index} ({path}) was processed")]
    Incomplete {
        /// Index of the first missing sample.
        index: usize,
        /// Its file.
        path: PathBuf,
    },
    /// Augmentation failed.
    #[error("{path}: augmentation failed: {source}")]
    Augment {
        /// The clip.
        path: PathBuf,
        /// The augmenter's error.
        #[source]
        source: AugmentError,
    },
    /// A room degradation or listening condition failed.
    #[error("{path}: degrading the audio failed: {source}")]
    Degrade {
        /// The clip.
        path: PathBuf,
        /// The degrader's error.
        #[source]
        source: DegradeError,
    },
}

/// The examples made from one sample (its original, then its augmented copies).
type SampleResult = Result<Vec<Example>, ExampleError>;

/// Augmented copies to make of each sample, and how.
#[derive(Debug, Clone, Copy)]
pub struct Augmentation<'a> {
    /// The augmenter.
    pub augmenter: &'a Augmenter,
    /// Copies per sample (besides the original).
    pub copies: usize,
    /// Base seed; copy `c` of sample `i` uses a seed derived from `(seed, i, c)`.
    pub seed: u64,
    /// Room and microphone degradations applied after the augmenter (`None`: none).
    pub room: Option<&'a RoomAugment>,
    /// Probability that a copy is then heard through a narrow line
    /// ([`crate::training::degrade::narrow_line`]; 0: never).
    pub band_probability: f64,
    /// Other speakers' clips for babble (may be empty).
    pub pool: &'a BabblePool,
}

/// A listening condition applied to every clip before its features (test audio: the
/// robustness table), with noise seeded per clip.
#[derive(Debug, Clone, Copy)]
pub struct Listening<'a> {
    /// The condition.
    pub condition: Condition,
    /// Other speakers' clips for babble.
    pub pool: &'a BabblePool,
    /// Base seed; sample `i` uses a seed derived from `(seed, i)`.
    pub seed: u64,
    /// Cut each clip, once degraded, to the speech a detector finds in it (`None`: the whole
    /// clip).
    pub speech: Option<&'a SpeechCut>,
}

/// Cuts each clip to the speech a [`Segmenter`] finds in it ([`Segmenter::speech_span`]), as
/// the engine's model hears an utterance ([`crate::engine::ClassifiedSpan::Speech`]), and
/// counts the clips in which it finds none (heard whole).
#[derive(Debug)]
pub struct SpeechCut {
    segmenter: Segmenter,
    missed: AtomicUsize,
}

impl SpeechCut {
    /// A cut with the engine's speech detection ([`crate::engine::EngineConfig`]'s detector
    /// settings and nets) at [`SAMPLE_RATE`].
    ///
    /// # Errors
    /// [`VadError`] when the engine's settings do not validate (never with the defaults).
    pub fn engine() -> Result<Self, VadError> {
        Self::with_vad(crate::engine::EngineConfig::default().vad)
    }

    /// A cut with the engine's detector nets and the speech-detection settings `vad` (to try
    /// other settings as the engine would use them).
    ///
    /// # Errors
    /// [`VadError`] when `vad` does not validate.
    pub fn with_vad(vad: VadConfig) -> Result<Self, VadError> {
        let config = crate::engine::EngineConfig::default();
        Ok(Self {
            segmenter: Segmenter::with_detector_nets(
                vad,
                SAMPLE_RATE,
                config.speech_detector,
                config.boundary_detector,
            )?,
            missed: AtomicUsize::new(0),
        })
    }

    /// The speech of `clip`, or all of it when none is found.
    #[must_use]
    pub fn cut(&self, clip: Vec<f32>) -> Vec<f32> {
        self.cut_in_room(clip).0
    }

    /// [`SpeechCut::cut`], and the room before the speech as the engine hands it to the front
    /// end ([`crate::speech::Utterance::before_speech`]; empty when no speech is found).
    #[must_use]
    pub fn cut_in_room(&self, clip: Vec<f32>) -> (Vec<f32>, Vec<f32>) {
        match self.segmenter.clone().speech_span_in_room(&clip) {
            Some((room, speech)) => (clip[speech].to_vec(), clip[room].to_vec()),
            None => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                (clip, Vec::new())
            }
        }
    }

    /// Clips cut so far in which no speech was found.
    #[must_use]
    pub fn missed(&self) -> usize {
        self.missed.load(Ordering::Relaxed)
    }
}

/// Turns `samples` into examples: the original of each, then its augmented copies, in
/// sample order (independent of `threads`). `progress` is called with the number of samples
/// done so far.
///
/// # Errors
/// The first [`ExampleError`] met, naming its file.
pub fn examples(
    samples: &[Sample],
    input: &InputConfig,
    augmentation: Option<Augmentation<'_>>,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Example>, ExampleError> {
    examples_in(samples, input, augmentation, None, threads, progress)
}

/// [`examples`] of audio heard through a [`Listening`] condition (`None`: as recorded). The
/// condition applies to each clip before any augmentation.
///
/// # Errors
/// The first [`ExampleError`] met, naming its file.
pub fn examples_in(
    samples: &[Sample],
    input: &InputConfig,
    augmentation: Option<Augmentation<'_>>,
    listening: Option<Listening<'_>>,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Example>, ExampleError> {
    in_parallel(
        samples,
        input,
        threads,
        progress,
        &|sample, i, extractor| one_sample(sample, i, extractor, augmentation, listening),
    )
}

/// What a [`cached_examples`] run found in its cache.
#[derive(Debug, Default)]
pub struct CacheCounts {
    /// Clips whose features came from the cache (not decoded).
    pub hits: usize,
    /// Clips decoded and computed (then stored).
    pub misses: usize,
    /// Computed clips whose entry could not be written.
    pub unwritten: usize,
    /// The first write failure, if any.
    pub first_error: Option<CacheError>,
}

/// [`examples`] of the clips as recorded (no augmentation, no listening condition), read from
/// `cache` where it has them and stored there where it does not. The examples are exactly
/// those [`examples`] gives. A cache entry that cannot be written is counted, never fatal.
///
/// # Errors
/// The first [`ExampleError`] met, naming its file.
pub fn cached_examples(
    samples: &[Sample],
    input: &InputConfig,
    cache: &FeatureCache,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<Example>, CacheCounts), ExampleError> {
    let counts = Mutex::new(CacheCounts::default());
    let tally = |f: &mut dyn FnMut(&mut CacheCounts)| {
        if let Ok(mut c) = counts.lock() {
            f(&mut c);
        }
    };
    let examples = in_parallel(
        samples,
        input,
        threads,
        progress,
        &|sample, _, extractor| {
            let clip = ClipBytes::read(&sample.path)?;
            let features = match cache.get(clip.key()) {
                Some(features) => {
                    tally(&mut |c| c.hits += 1);
                    features
                }
                None => {
                    let signal = clip.decode()?;
                    let features =
                        extractor
                            .extract(&signal)
                            .map_err(|source| ExampleError::Features {
                                path: sample.path.clone(),
                                source,
                            })?;
                    let mut unwritten = cache.put(clip.key(), &features).err();
                    tally(&mut |c| {
                        c.misses += 1;
                        if let Some(e) = unwritten.take() {
                            c.unwritten += 1;
                            c.first_error.get_or_insert(e);
                        }
                    });
                    features
                }
            };
            Ok(vec![example_of(sample, features)])
        },
    )?;
    let counts = counts
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((examples, counts))
}

/// Runs `one` over every sample on `threads` workers (each with its own extractor) and
/// returns the examples in sample order.
fn in_parallel(
    samples: &[Sample],
    input: &InputConfig,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    one: &(dyn Fn(&Sample, usize, &mut InputExtractor) -> SampleResult + Sync),
) -> Result<Vec<Example>, ExampleError> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SampleResult>>> =
        Mutex::new((0..samples.len()).map(|_| None).collect());
    let worker = || -> Result<(), ExampleError> {
        let mut extractor =
            InputExtractor::new(input.clone()).map_err(|source| ExampleError::Features {
                path: PathBuf::new(),
                source,
            })?;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(sample) = samples.get(i) else {
                return Ok(());
            };
            let r = one(sample, i, &mut extractor);
            if let Ok(mut guard) = results.lock()
                && let Some(slot) = guard.get_mut(i)
            {
                *slot = Some(r);
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
        }
    };
    let setup: Vec<Result<(), ExampleError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1)).map(|_| scope.spawn(worker)).collect();
        // A panicked worker leaves its sample's slot empty: reported below.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Ok(())))
            .collect()
    });
    for r in setup {
        r?;
    }
    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Vec::with_capacity(samples.len());
    for (index, r) in results.into_iter().enumerate() {
        match r {
            Some(r) => out.extend(r?),
            None => {
                return Err(ExampleError::Incomplete {
                    index,
                    path: samples[index].path.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The example of `sample` with these features.
fn example_of(sample: &Sample, features: FeatureMatrix) -> Example {
    Example {
        features,
        emotion: sample.emotion,
        intensity: sample.intensity,
        speaker: sample.speaker.clone(),
        classes: sample.corpus_emotions.with(sample.emotion),
        teacher: None,
    }
}

fn one_sample(
    sample: &Sample,
    index: usize,
    extractor: &mut InputExtractor,
    augmentation: Option<Augmentation<'_>>,
    listening: Option<Listening<'_>>,
) -> Result<Vec<Example>, ExampleError> {
    let degrade_err = |source| ExampleError::Degrade {
        path: sample.path.clone(),
        source,
    };
    let mut signal = load_clip(&sample.path)?;
    // The room's sound before the speech, where a cut found it (the front end's noise
    // estimate, as in the engine).
    let mut room = Vec::new();
    if let Some(l) = listening {
        let seed = mix_seed(l.seed, index, 0);
        signal = l
            .condition
            .apply(&signal, SAMPLE_RATE, &sample.speaker, l.pool, seed)
            .map_err(degrade_err)?;
        if let Some(cut) = l.speech {
            (signal, room) = cut.cut_in_room(signal);
        }
        // The engine restores clipped samples of what it classifies, and removes a hum (found
        // in the room before the speech when the cut left enough of it).
        signal = dehum_in_room(&declip(&signal, SAMPLE_RATE).0, &room, SAMPLE_RATE).0;
    }
    let example = |features| example_of(sample, features);
    let features_of = |extractor: &mut InputExtractor, s: &[f32], room: &[f32]| {
        extractor
            .extract_in_room(s, room)
            .map_err(|source| ExampleError::Features {
                path: sample.path.clone(),
                source,
            })
    };
    let mut out = vec![example(features_of(extractor, &signal, &room)?)];
    if let Some(a) = augmentation {
        for copy in 0..a.copies {
            let seed = mix_seed(a.seed, index, copy);
            let mut augmented =
                a.augmenter
                    .apply(&signal, SAMPLE_RATE, seed)
                    .map_err(|source| ExampleError::Augment {
                        path: sample.path.clone(),
                        source,
                    })?;
            if let Some(room) = a.room {
                augmented = room
                    .apply(
                        &augmented,
                        SAMPLE_RATE,
                        &sample.speaker,
                        a.pool,
                        seed ^ 0x5EED_0F50_0D00,
                    )
                    .map_err(degrade_err)?;
            }
            if a.band_probability > 0.0 {
                augmented = narrow_line(
                    &augmented,
                    SAMPLE_RATE,
                    a.band_probability,
                    seed ^ 0xBA4D_0F50_0D00,
                )
                .map_err(degrade_err)?;
            }
            // An augmented copy has no room of its own: its estimate comes from itself.
            out.push(example(features_of(extractor, &augmented, &[])?));
        }
    }
    Ok(out)
}

/// The seed of copy `copy` of sample `index` under base seed `seed`.
fn mix_seed(seed: u64, index: usize, copy: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((index as u64) << 8)
        .wrapping_add(copy as u64)
}
