//! Several labelled corpora as one list of clips: [`load_manifests`], the emotions a corpus
//! labels ([`EmotionSet`]) and a count of each corpus ([`CorpusInfo`]).

use super::*;

/// The corpus name of clips read from a RAVDESS folder.
pub const RAVDESS_CORPUS: &str = "ravdess";

/// A set of emotions (a bit per [`Emotion`]), such as those a corpus labels.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmotionSet(u8);

impl EmotionSet {
    /// No emotion.
    pub const EMPTY: EmotionSet = EmotionSet(0);
    /// All eight emotions.
    pub const ALL: EmotionSet = EmotionSet(u8::MAX);

    /// Whether `emotion` is in the set.
    #[must_use]
    pub fn contains(self, emotion: Emotion) -> bool {
        self.0 & (1 << emotion.index()) != 0
    }

    /// The set with `emotion` added.
    #[must_use]
    pub fn with(self, emotion: Emotion) -> EmotionSet {
        EmotionSet(self.0 | (1 << emotion.index()))
    }

    /// Whether every emotion is in the set.
    #[must_use]
    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    /// The emotions not in the set.
    #[must_use]
    pub fn complement(self) -> EmotionSet {
        EmotionSet(!self.0)
    }

    /// The emotions of both sets.
    #[must_use]
    pub fn union(self, other: EmotionSet) -> EmotionSet {
        EmotionSet(self.0 | other.0)
    }

    /// The emotions in the set, in [`Emotion::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Emotion> {
        Emotion::ALL.into_iter().filter(move |&e| self.contains(e))
    }

    /// Number of emotions in the set.
    #[must_use]
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Every emotion: clips of a corpus that labels all eight lose nothing to masking.
impl Default for EmotionSet {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromIterator<Emotion> for EmotionSet {
    fn from_iter<I: IntoIterator<Item = Emotion>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, EmotionSet::with)
    }
}

impl fmt::Debug for EmotionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The names, comma-separated (`none` for the empty set).
impl fmt::Display for EmotionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.iter().map(Emotion::name).collect();
        f.write_str(&names.join(", "))
    }
}

/// Reads several manifests ([`Dataset::from_manifest`]) as one list of clips, in manifest then
/// row order. Each clip keeps its corpus ([`corpus_name`] of its manifest) and the emotions
/// that corpus labels; its speaker becomes `corpus/speaker`, so two corpora that both call a
/// speaker `1` keep them apart (per-speaker statistics and held-out speakers go by it).
///
/// # Errors
/// The first manifest's error ([`Dataset::from_manifest`]); [`DatasetError::NoManifests`]
/// for an empty list; [`DatasetError::DuplicateCorpus`] for two manifests with one name;
/// [`DatasetError::SharedClip`] for a file two manifests both list (it would be trained and
/// tested on).
pub fn load_manifests(manifests: &[PathBuf]) -> Result<Vec<Sample>, DatasetError> {
    if manifests.is_empty() {
        return Err(DatasetError::NoManifests);
    }
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut files: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut out = Vec::new();
    for manifest in manifests {
        let name = corpus_name(manifest);
        if let Some(first) = names.get(&name) {
            return Err(DatasetError::DuplicateCorpus {
                corpus: name,
                first: first.clone(),
                second: manifest.clone(),
            });
        }
        names.insert(name, manifest.clone());
        for mut s in Dataset::from_manifest(manifest)?.into_samples() {
            let key = fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone());
            if let Some(first) = files.get(&key) {
                return Err(DatasetError::SharedClip {
                    file: s.path,
                    first: first.clone(),
                    second: manifest.clone(),
                });
            }
            files.insert(key, manifest.clone());
            s.speaker = format!("{}/{}", s.corpus, s.speaker);
            out.push(s);
        }
    }
    Ok(out)
}

/// One corpus of a list of clips, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusInfo {
    /// Its name ([`Sample::corpus`]).
    pub name: String,
    /// Clips.
    pub clips: usize,
    /// Distinct speakers.
    pub speakers: usize,
    /// Clips per emotion, in [`Emotion::ALL`] order.
    pub by_emotion: [usize; Emotion::COUNT],
    /// The emotions the corpus labels ([`Sample::corpus_emotions`]).
    pub emotions: EmotionSet,
    /// Clips with an intensity label.
    pub intensity_labelled: usize,
}

impl CorpusInfo {
    /// Each corpus of `samples`, in order of first appearance.
    #[must_use]
    pub fn tally(samples: &[Sample]) -> Vec<CorpusInfo> {
        let mut out: Vec<CorpusInfo> = Vec::new();
        let mut speakers: Vec<std::collections::BTreeSet<&str>> = Vec::new();
        for s in samples {
            let k = match out.iter().position(|c| c.name == s.corpus) {
                Some(k) => k,
                None => {
                    out.push(CorpusInfo {
                        name: s.corpus.clone(),
                        clips: 0,
                        speakers: 0,
                        by_emotion: [0; Emotion::COUNT],
                        emotions: EmotionSet::EMPTY,
                        intensity_labelled: 0,
                    });
                    speakers.push(std::collections::BTreeSet::new());
                    out.len() - 1
                }
            };
            let c = &mut out[k];
            c.clips += 1;
            c.by_emotion[s.emotion.index()] += 1;
            c.emotions = c.emotions.union(s.corpus_emotions.with(s.emotion));
            c.intensity_labelled += usize::from(s.intensity.is_some());
            speakers[k].insert(&s.speaker);
        }
        for (c, set) in out.iter_mut().zip(speakers) {
            c.speakers = set.len();
        }
        out
    }
}
