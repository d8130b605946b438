//! Labelled speech: the RAVDESS corpus and users' own labelled manifests.
//!
//! * [`Emotion`], [`Intensity`], [`Sex`] and [`Split`]: the labels, with lowercase names
//!   (`FromStr`, `Display` and serde all use them).
//! * [`RavdessName::parse`] decodes a RAVDESS file name (`MM-VV-EE-II-SS-RR-AA.wav`).
//! * [`Dataset::from_ravdess_dir`] walks a RAVDESS folder (`Actor_01/` … `Actor_24/`);
//!   [`Dataset::from_manifest`] reads a labelled TSV manifest (format below);
//!   [`Dataset::open`] picks between them (a folder is RAVDESS, a file a manifest).
//! * Speaker-independent cross-validation: [`FOLDS`] folds of [`ACTORS_PER_FOLD`]
//!   consecutive RAVDESS actors ([`fold_of_actor`]), each fold two female and two male.
//! * [`Dataset::counts`] tallies labels; [`Dataset::summary`] adds the clip-duration
//!   distribution, read from the audio headers where they give it (fast: no sample data is
//!   decoded for WAV, FLAC, Ogg or MP3).
//!
//! # Manifest format
//!
//! A UTF-8, tab-separated file. The first line that is neither blank nor a comment is the
//! header; every later non-blank, non-comment line is one clip. Lines whose first
//! non-whitespace character is `#` are comments. Column names are case-insensitive and may
//! come in any order:
//!
//! | column | required | values |
//! |--------|----------|--------|
//! | `path` | yes | the WAV file, relative to the manifest's folder, or absolute |
//! | `emotion` | yes | `neutral` `calm` `happy` `sad` `angry` `fearful` `disgust` `surprised` |
//! | `speaker` | yes | any non-empty text identifying the speaker |
//! | `split` | no | `train`, `validation`, `calibrate` or `test`; an empty cell means unassigned |
//! | `intensity` | no | `normal` or `strong`; an empty cell means unlabelled |
//!
//! Any other column is an error (so a misspelt `emotoin` is caught rather than ignored), as
//! is a repeated column. Cells are trimmed of surrounding spaces. Every row must have as many
//! cells as the header, name an existing file, and name a file no earlier row named (paths
//! are compared after resolving `.`, `..` and links). Every error names the manifest and,
//! for a row, its line number (1-based, counting every line of the file).
//!
//! An example, with each tab shown as `⇥`:
//!
//! ```text
//! # my recordings
//! path⇥emotion⇥speaker⇥split
//! alice/take1.wav⇥happy⇥alice⇥calibrate
//! alice/take2.wav⇥sad⇥alice⇥test
//! /data/bob/01.wav⇥angry⇥bob⇥train
//! ```
//!
//! # Several corpora
//!
//! [`load_manifests`] mixes manifests into one list of clips: each clip records its corpus
//! (the manifest's file stem, [`corpus_name`]) and the emotions that corpus labels
//! ([`Sample::corpus_emotions`], which a masked loss uses), speakers are named
//! `corpus/speaker` so two corpora cannot share one by accident, and [`CorpusInfo::tally`]
//! counts each corpus. [`speaker_independent_split`] and [`speaker_folds`] hold out speakers,
//! balanced by corpus, with a manifest's `split` column taking precedence.
//!
//! Files: `ravdess.rs` (names, actors, folds), `manifest.rs` (the TSV parser), `corpora.rs`
//! (mixing manifests, emotion sets), `protocol.rs` (speaker splits). Durations come from the
//! audio headers (`audio::audio_duration_seconds`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::audio::AudioError;
use crate::labels::{Emotion, Intensity, ParseLabelError, label_enum};

mod corpora;
mod manifest;
mod protocol;
mod ravdess;
pub use corpora::*;
pub use manifest::*;
pub use protocol::*;
pub use ravdess::*;

// ---------------------------------------------------------------------------------------------
// Samples and datasets
// ---------------------------------------------------------------------------------------------

/// One labelled clip, from RAVDESS or a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The WAV file (for a manifest: resolved against the manifest's folder).
    pub path: PathBuf,
    /// The emotion label.
    pub emotion: Emotion,
    /// The intensity, where labelled (always for RAVDESS).
    pub intensity: Option<Intensity>,
    /// Who speaks: `actor_01` … `actor_24` for RAVDESS, the `speaker` column for a manifest.
    pub speaker: String,
    /// RAVDESS actor (1–24); `None` for manifest rows.
    pub actor: Option<u8>,
    /// RAVDESS statement (1 or 2); `None` for manifest rows.
    pub statement: Option<u8>,
    /// The manifest's `split`, where given; always `None` for RAVDESS.
    pub split: Option<Split>,
    /// The corpus the clip belongs to: `ravdess`, or a manifest's [`corpus_name`].
    #[serde(default)]
    pub corpus: String,
    /// The emotions its corpus labels anywhere (every emotion for RAVDESS; for a manifest,
    /// those of its rows). Training leaves the others out of this clip's loss.
    #[serde(default)]
    pub corpus_emotions: EmotionSet,
}

impl Sample {
    /// The RAVDESS cross-validation fold, for clips with a known actor.
    #[must_use]
    pub fn fold(&self) -> Option<usize> {
        self.actor.map(fold_of_actor)
    }

    /// The speaker's sex, for clips with a known RAVDESS actor.
    #[must_use]
    pub fn sex(&self) -> Option<Sex> {
        self.actor.map(Sex::of_actor)
    }
}

/// Where a [`Dataset`] came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A RAVDESS folder.
    Ravdess(PathBuf),
    /// A labelled manifest file.
    Manifest(PathBuf),
}

impl Source {
    /// The folder or manifest path.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Source::Ravdess(p) | Source::Manifest(p) => p,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ravdess(p) => write!(f, "RAVDESS folder {}", p.display()),
            Source::Manifest(p) => write!(f, "manifest {}", p.display()),
        }
    }
}

/// What went wrong loading or summarising a dataset. Every variant names the folder, file or
/// manifest at fault; manifest row errors also give the line number.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// `RAVDESS_DIR` is unset or does not name a RAVDESS folder.
    #[error("RAVDESS_DIR {reason}: point it at the RAVDESS speech folder (Actor_01/ … Actor_24/)")]
    RavdessEnv {
        /// What is wrong, with the value when there is one.
        reason: String,
    },
    /// A folder or file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The RAVDESS folder has no `Actor_NN` sub-folders.
    #[error("{}: no Actor_NN folders found (expected the RAVDESS layout Actor_01/ … Actor_24/)", dir.display())]
    NoActorDirs {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder named `Actor_…` whose suffix is not an actor number 01–24.
    #[error("{}: folder name is not Actor_01 … Actor_24", dir.display())]
    BadActorDir {
        /// The sub-folder.
        dir: PathBuf,
    },
    /// A `.wav` file whose name breaks the RAVDESS code.
    #[error(transparent)]
    BadName(#[from] NameError),
    /// A file whose actor field disagrees with its `Actor_NN` folder.
    #[error("{}: actor {name_actor:02} in the name, but the file is in the folder of actor {dir_actor:02}", path.display())]
    ActorMismatch {
        /// The file.
        path: PathBuf,
        /// Actor number of the folder.
        dir_actor: u8,
        /// Actor number in the file name.
        name_actor: u8,
    },
    /// A RAVDESS folder holds no `.wav` files.
    #[error("{}: no .wav files found in its Actor_NN folders", dir.display())]
    NoClips {
        /// The folder.
        dir: PathBuf,
    },
    /// A manifest has no header line or no rows (blank lines and `#` comments do not count).
    #[error("manifest {} is empty: {what}", manifest.display())]
    EmptyManifest {
        /// The manifest.
        manifest: PathBuf,
        /// `no header line` or `a header but no rows`.
        what: &'static str,
    },
    /// The header lacks a required column.
    #[error("{}:{line}: header has no '{column}' column (required: path, emotion, speaker; optional: split, intensity)", manifest.display())]
    MissingColumn {
        /// The manifest.
        manifest: PathBuf,
        /// Line of the header.
        line: usize,
        /// The missing column.
        column: &'static str,
    },
    /// The header has a column that is not part of the format.
    #[error("{}:{line}: unknown column '{column}' (allowed: path, emotion, speaker, split, intensity)", manifest.display())]
    UnknownColumn {
        /// The manifest.
        manifest: PathBuf,
        /// Line of the header.
        line: usize,
        /// The column's name as written.
        column: String,
    },
    /// The header names a column twice.
    #[error("{}:{line}: column '{column}' appears twice in the header", manifest.display())]
    DuplicateColumn {
        /// The manifest.
        manifest: PathBuf,
        /// Line of the header.
        line: usize,
        /// The repeated column.
        column: String,
    },
    /// A row has more or fewer tab-separated cells than the header.
    #[error("{}:{line}: {found} tab-separated cells, but the header has {expected}", manifest.display())]
    ColumnCount {
        /// The manifest.
        manifest: PathBuf,
        /// The row's line.
        line: usize,
        /// Cells in the header.
        expected: usize,
        /// Cells in the row.
        found: usize,
    },
    /// A required cell is empty.
    #[error("{}:{line}: column '{column}' is empty", manifest.display())]
    EmptyCell {
        /// The manifest.
        manifest: PathBuf,
        /// The row's line.
        line: usize,
        /// The column.
        column: &'static str,
    },
    /// A label cell (`emotion`, `split`, `intensity`) holds an unknown value.
    #[error("{}:{line}: column '{column}': {source}", manifest.display())]
    BadLabel {
        /// The manifest.
        manifest: PathBuf,
        /// The row's line.
        line: usize,
        /// The column.
        column: &'static str,
        /// The value and what was expected.
        #[source]
        source: ParseLabelError,
    },
    /// A row names a file that does not exist (or is not a file).
    #[error("{}:{line}: file not found: {}", manifest.display(), file.display())]
    MissingFile {
        /// The manifest.
        manifest: PathBuf,
        /// The row's line.
        line: usize,
        /// The file, resolved against the manifest's folder.
        file: PathBuf,
    },
    /// Two rows name the same file.
    #[error("{}:{line}: duplicate row: {} was already listed on line {first_line}", manifest.display(), file.display())]
    DuplicateRow {
        /// The manifest.
        manifest: PathBuf,
        /// The later row's line.
        line: usize,
        /// The earlier row's line.
        first_line: usize,
        /// The file, resolved against the manifest's folder.
        file: PathBuf,
    },
    /// [`load_manifests`] was given no manifest.
    #[error("no manifest given")]
    NoManifests,
    /// Two manifests give one corpus name (their file stems are equal).
    #[error("manifests {} and {} are both corpus '{corpus}' (a corpus is named by its manifest's file name): rename one", first.display(), second.display())]
    DuplicateCorpus {
        /// The shared name.
        corpus: String,
        /// The first manifest.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Two manifests list the same file.
    #[error("{} is listed by manifest {} and by manifest {}: a clip may belong to one corpus only", file.display(), first.display(), second.display())]
    SharedClip {
        /// The file, as the second manifest resolves it.
        file: PathBuf,
        /// The first manifest.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// A clip's audio header could not be read (by [`Dataset::summary`]).
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// A list of labelled clips, in a deterministic order: RAVDESS sorted by actor folder then
/// file name, a manifest in row order. Never empty (the loaders refuse empty sources).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dataset {
    source: Source,
    samples: Vec<Sample>,
}

impl Dataset {
    /// Loads `path`: a folder as RAVDESS ([`Self::from_ravdess_dir`]), anything else as a
    /// manifest ([`Self::from_manifest`]).
    ///
    /// # Errors
    /// Those of the chosen loader.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DatasetError> {
        let path = path.as_ref();
        if path.is_dir() {
            Self::from_ravdess_dir(path)
        } else {
            Self::from_manifest(path)
        }
    }

    /// Walks a RAVDESS folder: every `Actor_NN` sub-folder (sorted), every `.wav` file in it
    /// (sorted by name). Other entries are ignored: files at the top level (`README.md`,
    /// `MANIFEST.tsv`), non-`.wav` files, sub-folders inside actor folders and hidden files
    /// (names starting with `.`, such as macOS `._` resource forks).
    ///
    /// # Errors
    /// [`DatasetError::Io`] naming the unreadable folder; [`DatasetError::NoActorDirs`],
    /// [`DatasetError::BadActorDir`] (`Actor_xx` with a bad number), [`DatasetError::BadName`]
    /// (a `.wav` whose name breaks the code), [`DatasetError::ActorMismatch`] (a file in the
    /// wrong actor's folder) and [`DatasetError::NoClips`].
    pub fn from_ravdess_dir(dir: impl AsRef<Path>) -> Result<Self, DatasetError> {
        let dir = dir.as_ref();
        let mut actor_dirs = Vec::new();
        for entry in read_dir_sorted(dir)? {
            let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(suffix) = name.strip_prefix("Actor_") else {
                continue;
            };
            if !entry.is_dir() {
                continue;
            }
            let actor = match suffix.parse::<u8>() {
                Ok(a) if suffix.len() == 2 && (1..=RAVDESS_ACTORS).contains(&a) => a,
                _ => return Err(DatasetError::BadActorDir { dir: entry }),
            };
            actor_dirs.push((actor, entry));
        }
        if actor_dirs.is_empty() {
            return Err(DatasetError::NoActorDirs {
                dir: dir.to_path_buf(),
            });
        }
        let mut samples = Vec::new();
        for (dir_actor, actor_dir) in actor_dirs {
            for path in read_dir_sorted(&actor_dir)? {
                let visible_wav = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
                    && path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
                if !visible_wav || !path.is_file() {
                    continue;
                }
                let name = RavdessName::parse(&path)?;
                if name.actor != dir_actor {
                    return Err(DatasetError::ActorMismatch {
                        path,
                        dir_actor,
                        name_actor: name.actor,
                    });
                }
                samples.push(Sample {
                    path,
                    emotion: name.emotion,
                    intensity: Some(name.intensity),
                    speaker: name.speaker(),
                    actor: Some(name.actor),
                    statement: Some(name.statement),
                    split: None,
                    corpus: RAVDESS_CORPUS.to_owned(),
                    corpus_emotions: EmotionSet::ALL,
                });
            }
        }
        if samples.is_empty() {
            return Err(DatasetError::NoClips {
                dir: dir.to_path_buf(),
            });
        }
        Ok(Dataset {
            source: Source::Ravdess(dir.to_path_buf()),
            samples,
        })
    }

    /// Reads a labelled manifest (format in the [module docs](self)).
    ///
    /// # Errors
    /// [`DatasetError::Io`] if the manifest cannot be read, else the first problem found, in
    /// line order, naming the manifest and line: [`DatasetError::EmptyManifest`],
    /// [`DatasetError::MissingColumn`], [`DatasetError::UnknownColumn`],
    /// [`DatasetError::DuplicateColumn`], [`DatasetError::ColumnCount`],
    /// [`DatasetError::EmptyCell`], [`DatasetError::BadLabel`],
    /// [`DatasetError::MissingFile`], [`DatasetError::DuplicateRow`].
    pub fn from_manifest(manifest: impl AsRef<Path>) -> Result<Self, DatasetError> {
        let manifest = manifest.as_ref();
        let io = |source| DatasetError::Io {
            path: manifest.to_path_buf(),
            source,
        };
        // A FIFO or device would block or never end, a huge file would be read whole.
        let (file, len) = crate::audio::open_regular_file(manifest).map_err(|e| match e {
            crate::audio::AudioError::Io { source, .. } => io(source),
            other => io(std::io::Error::other(other.to_string())),
        })?;
        if len > MAX_MANIFEST_BYTES {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("{len} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have"),
            )));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(file, MAX_MANIFEST_BYTES),
            &mut text,
        )
        .map_err(io)?;
        let base = manifest.parent().unwrap_or(Path::new(""));
        Self::from_manifest_text(&text, manifest, base)
    }

    /// Parses manifest text as [`Dataset::from_manifest`] does: `manifest` names it in errors,
    /// relative paths are resolved against `base` (and must exist there).
    ///
    /// # Errors
    /// As [`Dataset::from_manifest`], but never [`DatasetError::Io`].
    pub fn from_manifest_text(
        text: &str,
        manifest: &Path,
        base: &Path,
    ) -> Result<Self, DatasetError> {
        let samples = parse_manifest(text, manifest, base)?;
        Ok(Dataset {
            source: Source::Manifest(manifest.to_path_buf()),
            samples,
        })
    }

    /// Where the clips came from.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The clips, in load order.
    #[must_use]
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Takes the clips out.
    #[must_use]
    pub fn into_samples(self) -> Vec<Sample> {
        self.samples
    }

    /// Number of clips (never 0).
    #[must_use]
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Always `false`: the loaders refuse empty sources. Present for API convention.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Indices of the clips for leave-one-fold-out cross-validation on `fold`:
    /// `(train, test)`, where `test` holds the clips of the fold's four actors and `train`
    /// every other clip with a known actor. Clips without an actor (manifest rows) are in
    /// neither; both lists are empty for `fold >= FOLDS`.
    #[must_use]
    pub fn fold_indices(&self, fold: usize) -> (Vec<usize>, Vec<usize>) {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        if fold >= FOLDS {
            return (train, test);
        }
        for (i, s) in self.samples.iter().enumerate() {
            match s.fold() {
                Some(f) if f == fold => test.push(i),
                Some(_) => train.push(i),
                None => {}
            }
        }
        (train, test)
    }

    /// Label counts (no file is read).
    #[must_use]
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.samples.len(),
            by_emotion: [0; Emotion::COUNT],
            by_intensity: [0; Intensity::COUNT],
            intensity_unlabelled: 0,
            by_sex: [0; Sex::COUNT],
            sex_unknown: 0,
            by_speaker: BTreeMap::new(),
            by_fold: [0; FOLDS],
            fold_unknown: 0,
            by_split: [0; Split::COUNT],
            split_unassigned: 0,
        };
        for s in &self.samples {
            c.by_emotion[s.emotion.index()] += 1;
            match s.intensity {
                Some(i) => c.by_intensity[i.index()] += 1,
                None => c.intensity_unlabelled += 1,
            }
            match s.sex() {
                Some(x) => c.by_sex[x.index()] += 1,
                None => c.sex_unknown += 1,
            }
            *c.by_speaker.entry(s.speaker.clone()).or_insert(0) += 1;
            match s.fold() {
                Some(f) => c.by_fold[f] += 1,
                None => c.fold_unknown += 1,
            }
            match s.split {
                Some(x) => c.by_split[x.index()] += 1,
                None => c.split_unassigned += 1,
            }
        }
        c
    }

    /// Every clip's duration in seconds, in sample order, from its header alone where the
    /// format says it (WAV, FLAC; otherwise by decoding).
    /// `progress(done, total)` is called after each file.
    ///
    /// # Errors
    /// [`DatasetError::Audio`] naming the first file whose header is unreadable, invalid,
    /// declares a sample rate outside 8–192 kHz or no frames.
    pub fn durations(
        &self,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<f64>, DatasetError> {
        let total = self.samples.len();
        let mut out = Vec::with_capacity(total);
        for (i, s) in self.samples.iter().enumerate() {
            out.push(crate::audio::audio_duration_seconds(&s.path)?);
            progress(i + 1, total);
        }
        Ok(out)
    }

    /// [`Self::counts`] plus the duration distribution ([`Self::durations`]).
    ///
    /// # Errors
    /// As [`Self::durations`].
    pub fn summary(&self, progress: impl FnMut(usize, usize)) -> Result<Summary, DatasetError> {
        let seconds = self.durations(progress)?;
        let durations =
            DurationStats::from_seconds(&seconds).ok_or_else(|| DatasetError::NoClips {
                dir: self.source.path().to_path_buf(),
            })?;
        Ok(Summary {
            counts: self.counts(),
            durations,
        })
    }
}

/// Label counts of a [`Dataset`]. Arrays are indexed by the label's `index()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Clips in all.
    pub total: usize,
    /// Clips per [`Emotion`].
    pub by_emotion: [usize; Emotion::COUNT],
    /// Clips per [`Intensity`], among those labelled.
    pub by_intensity: [usize; Intensity::COUNT],
    /// Clips with no intensity label.
    pub intensity_unlabelled: usize,
    /// Clips per speaker [`Sex`], among those with a known RAVDESS actor.
    pub by_sex: [usize; Sex::COUNT],
    /// Clips of unknown sex (manifest rows).
    pub sex_unknown: usize,
    /// Clips per speaker id (sorted by id).
    pub by_speaker: BTreeMap<String, usize>,
    /// Clips per RAVDESS fold, among those with a known actor.
    pub by_fold: [usize; FOLDS],
    /// Clips with no actor, hence no fold (manifest rows).
    pub fold_unknown: usize,
    /// Clips per [`Split`], among those assigned one.
    pub by_split: [usize; Split::COUNT],
    /// Clips with no split.
    pub split_unassigned: usize,
}

/// Distribution of clip durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    /// Number of clips.
    pub count: usize,
    /// Shortest.
    pub min: f64,
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Mean.
    pub mean: f64,
    /// Longest.
    pub max: f64,
    /// Sum of all durations.
    pub total: f64,
}

impl DurationStats {
    /// Statistics of `seconds`; `None` when it is empty.
    #[must_use]
    pub fn from_seconds(seconds: &[f64]) -> Option<Self> {
        let mut sorted = seconds.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let total: f64 = sorted.iter().sum();
        Some(DurationStats {
            count: n,
            min,
            median,
            mean: total / n as f64,
            max,
            total,
        })
    }

    /// The total in hours.
    #[must_use]
    pub fn total_hours(&self) -> f64 {
        self.total / 3600.0
    }
}

/// Label counts and the duration distribution of a [`Dataset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Label counts.
    pub counts: Counts,
    /// Clip durations.
    pub durations: DurationStats,
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The entries of `dir` as paths, sorted by file name.
fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let io = |source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The RAVDESS folder from `RAVDESS_DIR`; panics (fails the test) when unset or missing.
    fn ravdess_dir() -> PathBuf {
        ravdess_dir_from_env().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A fresh, empty folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "voice_emotion_dataset_{}_{tag}_{n}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }

        /// Writes a mono 16-bit WAV of `frames` frames at `rate` Hz (creating folders).
        fn wav(&self, rel: &str, rate: u32, frames: usize) -> PathBuf {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: rate,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for i in 0..frames {
                w.write_sample(((i % 100) as i16 - 50) * 100).unwrap();
            }
            w.finalize().unwrap();
            path
        }

        fn file(&self, rel: &str, text: &str) -> PathBuf {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn parses_the_readme_example() {
        let n = RavdessName::parse("03-01-06-01-02-01-12.wav").unwrap();
        assert_eq!(
            n,
            RavdessName {
                modality: 3,
                vocal_channel: 1,
                emotion: Emotion::Fearful,
                intensity: Intensity::Normal,
                statement: 2,
                repetition: 1,
                actor: 12,
            }
        );
        assert_eq!(n.sex(), Sex::Female);
        assert_eq!(n.fold(), 2);
        assert_eq!(n.speaker(), "actor_12");
        assert_eq!(n.to_string(), "03-01-06-01-02-01-12.wav");
        // a whole path, upper-case extension, a male strong clip
        let n = RavdessName::parse(Path::new("/x/Actor_01/03-01-08-02-01-02-01.WAV")).unwrap();
        assert_eq!(
            (n.emotion, n.intensity, n.statement, n.repetition, n.actor),
            (Emotion::Surprised, Intensity::Strong, 1, 2, 1)
        );
        assert_eq!(n.sex(), Sex::Male);
    }

    #[test]
    fn every_bad_name_names_the_file_and_field() {
        let cases: &[(&str, &str)] = &[
            (
                "03-01-09-01-01-01-01.wav",
                "field 'emotion' has value 09, expected 01-08",
            ),
            ("03-01-00-01-01-01-01.wav", "field 'emotion' has value 00"),
            (
                "02-01-01-01-01-01-01.wav",
                "field 'modality' has value 02, expected 03",
            ),
            (
                "03-02-01-01-01-01-01.wav",
                "field 'vocal_channel' has value 02, expected 01",
            ),
            (
                "03-01-01-02-01-01-01.wav",
                "field 'intensity' has value 02, expected 01 for neutral",
            ),
            (
                "03-01-03-03-01-01-01.wav",
                "field 'intensity' has value 03, expected 01-02",
            ),
            ("03-01-03-01-03-01-01.wav", "field 'statement' has value 03"),
            (
                "03-01-03-01-01-00-01.wav",
                "field 'repetition' has value 00",
            ),
            (
                "03-01-03-01-01-01-25.wav",
                "field 'actor' has value 25, expected 01-24",
            ),
            (
                "03-01-03-01-01-01-00.wav",
                "field 'actor' has value 00, expected 01-24",
            ),
            ("03-01-03-01-01-01.wav", "expected 7 fields"),
            ("03-01-03-01-01-01-01-01.wav", "found 8"),
            (
                "03-01-0x-01-01-01-01.wav",
                "field 'emotion' is '0x', expected two digits",
            ),
            (
                "03-01-03-01-01-01-1.wav",
                "field 'actor' is '1', expected two digits",
            ),
            ("03-01-03-01-01-01-001.wav", "field 'actor' is '001'"),
            ("03-01-+3-01-01-01-01.wav", "field 'emotion' is '+3'"),
            ("03-01-03-01-01-01-01.mp3", "expected a .wav file"),
            ("03-01-03-01-01-01-01", "expected a .wav file"),
        ];
        for (name, want) in cases {
            let err = RavdessName::parse(name).expect_err(name).to_string();
            assert!(err.starts_with(name), "{name}: {err}");
            assert!(err.contains(want), "{name}: got '{err}', want '{want}'");
        }
        let err = RavdessName::parse("/some/dir/03-01-09-01-01-01-01.wav").unwrap_err();
        assert!(matches!(
            err,
            NameError::Value {
                field: "emotion",
                ..
            }
        ));
        assert!(
            err.to_string()
                .contains("/some/dir/03-01-09-01-01-01-01.wav")
        );
        assert!(RavdessName::parse("/").is_err());
    }

    #[test]
    fn labels_round_trip() {
        let names = [
            "neutral",
            "calm",
            "happy",
            "sad",
            "angry",
            "fearful",
            "disgust",
            "surprised",
        ];
        assert_eq!(Emotion::COUNT, 8);
        for (i, e) in Emotion::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(Emotion::from_index(i), Some(*e));
            assert_eq!(e.name(), names[i]);
            assert_eq!(e.to_string(), names[i]);
            assert_eq!(names[i].parse::<Emotion>(), Ok(*e));
            assert_eq!(usize::from(e.ravdess_code()), i + 1);
            assert_eq!(Emotion::from_ravdess_code(e.ravdess_code()), Some(*e));
            assert_eq!(
                serde_json::to_string(e).unwrap(),
                format!("\"{}\"", names[i])
            );
            let back: Emotion = serde_json::from_str(&format!("\"{}\"", names[i])).unwrap();
            assert_eq!(back, *e);
        }
        assert_eq!(Emotion::from_index(8), None);
        assert_eq!(Emotion::from_ravdess_code(0), None);
        assert_eq!(Emotion::from_ravdess_code(9), None);
        assert_eq!("Angry".parse::<Emotion>(), Ok(Emotion::Angry));
        let err = "excited".parse::<Emotion>().unwrap_err();
        assert_eq!(err.value, "excited");
        assert!(
            err.to_string().contains("unknown emotion 'excited'"),
            "{err}"
        );
        assert_eq!(format!("{:>8}|", Emotion::Sad), "     sad|");

        assert_eq!("strong".parse::<Intensity>(), Ok(Intensity::Strong));
        assert_eq!("calibrate".parse::<Split>(), Ok(Split::Calibrate));
        assert_eq!(
            Split::ALL,
            [
                Split::Train,
                Split::Validation,
                Split::Calibrate,
                Split::Test
            ]
        );
        assert_eq!("Validation".parse::<Split>(), Ok(Split::Validation));
        assert!("dev".parse::<Split>().is_err());
        assert!("loud".parse::<Intensity>().is_err());
        assert_eq!(serde_json::to_string(&Split::Test).unwrap(), "\"test\"");
        assert_eq!(Sex::of_actor(1), Sex::Male);
        assert_eq!(Sex::of_actor(24), Sex::Female);
    }

    #[test]
    fn folds_are_four_consecutive_actors_balanced_by_sex() {
        let mut actors_in = vec![Vec::new(); FOLDS];
        for actor in 1..=RAVDESS_ACTORS {
            actors_in[fold_of_actor(actor)].push(actor);
        }
        for (fold, actors) in actors_in.iter().enumerate() {
            let first = u8::try_from(fold).unwrap() * 4 + 1;
            assert_eq!(
                actors,
                &(first..first + 4).collect::<Vec<_>>(),
                "fold {fold}"
            );
            assert_eq!(actors_of_fold(fold), Some(first..=first + 3));
            let male = actors
                .iter()
                .filter(|&&a| Sex::of_actor(a) == Sex::Male)
                .count();
            assert_eq!(male, 2, "fold {fold}");
            assert_eq!(actors.len() - male, 2, "fold {fold}");
        }
        assert_eq!(actors_of_fold(FOLDS), None);
        // out-of-range values clamp instead of panicking
        assert_eq!(fold_of_actor(0), 0);
        assert_eq!(fold_of_actor(200), FOLDS - 1);
    }

    #[test]
    fn whole_ravdess_folder() {
        let dir = ravdess_dir();
        let ds = Dataset::from_ravdess_dir(&dir).unwrap();
        assert_eq!(ds.len(), 1440);
        assert_eq!(ds.source(), &Source::Ravdess(dir.clone()));
        // deterministic order: actor folder, then file name
        let keys: Vec<(u8, PathBuf)> = ds
            .samples()
            .iter()
            .map(|s| (s.actor.unwrap(), s.path.file_name().unwrap().into()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for s in ds.samples() {
            let name = RavdessName::parse(&s.path).unwrap();
            assert_eq!(
                s.path.file_name().unwrap().to_str(),
                Some(&*name.to_string())
            );
            assert_eq!(s.speaker, name.speaker());
            assert_eq!(s.statement, Some(name.statement));
            assert!(s.split.is_none());
        }

        let c = ds.counts();
        assert_eq!(c.total, 1440);
        assert_eq!(c.by_emotion, [96, 192, 192, 192, 192, 192, 192, 192]);
        assert_eq!(c.by_intensity, [96 + 7 * 96, 7 * 96]);
        assert_eq!(c.intensity_unlabelled, 0);
        assert_eq!(c.by_sex, [720, 720]);
        assert_eq!(c.by_speaker.len(), 24);
        assert!(c.by_speaker.values().all(|&n| n == 60));
        assert_eq!(
            c.by_speaker.keys().next().map(String::as_str),
            Some("actor_01")
        );
        assert_eq!(c.by_fold, [240; FOLDS]);
        assert_eq!(c.fold_unknown, 0);
        assert_eq!(c.by_split, [0, 0, 0, 0]);
        assert_eq!(c.split_unassigned, 1440);

        for fold in 0..FOLDS {
            let (train, test) = ds.fold_indices(fold);
            assert_eq!((train.len(), test.len()), (1200, 240));
            let test_speakers: std::collections::BTreeSet<_> =
                test.iter().map(|&i| &ds.samples()[i].speaker).collect();
            assert_eq!(test_speakers.len(), 4);
            assert!(
                train
                    .iter()
                    .all(|&i| !test_speakers.contains(&ds.samples()[i].speaker))
            );
        }

        // the README gives 2.94 s to 5.27 s, median 3.67 s
        let start = std::time::Instant::now();
        let mut calls = 0;
        let summary = ds.summary(|_, total| {
            calls += 1;
            assert_eq!(total, 1440);
        });
        let summary = summary.unwrap();
        eprintln!("1440 audio headers read in {:?}", start.elapsed());
        assert_eq!(calls, 1440);
        let d = summary.durations;
        assert_eq!(d.count, 1440);
        assert!((d.min - 2.94).abs() < 0.01, "{d:?}");
        assert!((d.max - 5.27).abs() < 0.01, "{d:?}");
        assert!((d.median - 3.67).abs() < 0.01, "{d:?}");
        assert!(d.min <= d.mean && d.mean <= d.max);
        assert!((d.total - d.mean * 1440.0).abs() < 1e-6);

        // header durations agree with a full decode
        let first = &ds.samples()[0].path;
        let (audio, _) = crate::audio::read_audio(first).unwrap();
        let header = ds.durations(|_, _| {}).unwrap()[0];
        assert!((audio.duration_seconds() - header).abs() < 1e-9);

        // open() picks the RAVDESS loader for a folder
        assert_eq!(Dataset::open(&dir).unwrap().len(), 1440);
    }

    #[test]
    fn ravdess_folder_errors_name_the_culprit() {
        // missing folder
        let missing = std::env::temp_dir().join("voice_emotion_no_such_dir_4242");
        let err = Dataset::from_ravdess_dir(&missing).unwrap_err();
        assert!(matches!(err, DatasetError::Io { .. }));
        assert!(
            err.to_string().contains("voice_emotion_no_such_dir_4242"),
            "{err}"
        );

        // no Actor_ folders
        let t = TempDir::new("noactors");
        t.file("README.md", "hi");
        let err = Dataset::from_ravdess_dir(t.path()).unwrap_err();
        assert!(matches!(err, DatasetError::NoActorDirs { .. }), "{err}");
        assert!(err.to_string().contains(&*t.path().to_string_lossy()));

        // an empty actor folder
        fs::create_dir_all(t.path().join("Actor_01")).unwrap();
        let err = Dataset::from_ravdess_dir(t.path()).unwrap_err();
        assert!(matches!(err, DatasetError::NoClips { .. }), "{err}");

        // non-wav and hidden files are ignored; a good wav loads
        t.file("Actor_01/notes.txt", "x");
        t.file("Actor_01/._03-01-01-01-01-01-01.wav", "junk");
        t.file("Actor_01/03-01-01-01-01-01-01.wav", "");
        t.file("Actor_02/03-01-05-02-01-01-02.wav", "");
        t.file("MANIFEST.tsv", "whatever");
        let ds = Dataset::from_ravdess_dir(t.path()).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.samples()[1].emotion, Emotion::Angry);
        assert_eq!(ds.samples()[1].intensity, Some(Intensity::Strong));

        // a wav with a bad name is an error naming it
        let bad = t.file("Actor_02/03-01-09-01-01-01-02.wav", "");
        let err = Dataset::from_ravdess_dir(t.path()).unwrap_err();
        assert!(matches!(err, DatasetError::BadName(_)), "{err}");
        assert!(err.to_string().contains(&*bad.to_string_lossy()), "{err}");
        assert!(err.to_string().contains("'emotion'"), "{err}");
        fs::remove_file(bad).unwrap();

        // a file in the wrong actor's folder
        let wrong = t.file("Actor_02/03-01-01-01-01-01-03.wav", "");
        let err = Dataset::from_ravdess_dir(t.path()).unwrap_err();
        assert!(
            matches!(
                err,
                DatasetError::ActorMismatch {
                    dir_actor: 2,
                    name_actor: 3,
                    ..
                }
            ),
            "{err}"
        );
        fs::remove_file(wrong).unwrap();

        // an Actor_ folder with a bad number
        fs::create_dir_all(t.path().join("Actor_25")).unwrap();
        let err = Dataset::from_ravdess_dir(t.path()).unwrap_err();
        assert!(matches!(err, DatasetError::BadActorDir { .. }), "{err}");
        assert!(err.to_string().contains("Actor_25"), "{err}");
    }

    /// Writes `text` as `manifest.tsv` in a folder holding a.wav, b.wav, sub/c.wav.
    fn manifest_dir(tag: &str, text: &str) -> (TempDir, PathBuf) {
        let t = TempDir::new(tag);
        t.wav("a.wav", 16_000, 16_000);
        t.wav("b.wav", 8_000, 4_000);
        t.wav("sub/c.wav", 48_000, 144_000);
        let m = t.file("manifest.tsv", text);
        (t, m)
    }

    #[test]
    fn manifest_happy_path() {
        let t = TempDir::new("abs");
        let abs = t.wav("elsewhere.wav", 16_000, 8_000);
        let text = format!(
            "\u{feff}# my recordings\n\
             \n\
             Speaker\tintensity\tpath\tsplit\temotion\r\n\
             alice\tstrong\ta.wav\tcalibrate\tangry\r\n\
             # a comment between rows\n\
             \x20 # indented comment\n\
             alice\t\tb.wav\ttest\tsad\n\
             bob\tnormal\tsub/c.wav\t\tneutral\n\
             bob\t\t{}\ttrain\tSurprised\n\
             \n",
            abs.display()
        );
        let (dir, m) = manifest_dir("happy", &text);
        let ds = Dataset::from_manifest(&m).unwrap();
        assert_eq!(ds.source(), &Source::Manifest(m.clone()));
        let s = ds.samples();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].path, dir.path().join("a.wav"));
        assert_eq!(s[0].emotion, Emotion::Angry);
        assert_eq!(s[0].intensity, Some(Intensity::Strong));
        assert_eq!(s[0].speaker, "alice");
        assert_eq!(s[0].split, Some(Split::Calibrate));
        assert_eq!(
            (s[0].actor, s[0].statement, s[0].fold(), s[0].sex()),
            (None, None, None, None)
        );
        assert_eq!(s[1].intensity, None);
        assert_eq!(s[1].split, Some(Split::Test));
        assert_eq!(s[2].path, dir.path().join("sub/c.wav"));
        assert_eq!(s[2].split, None);
        assert_eq!(s[3].path, abs);
        assert_eq!(s[3].emotion, Emotion::Surprised);

        let summary = ds.summary(|_, _| {}).unwrap();
        let c = &summary.counts;
        assert_eq!(c.by_speaker.get("alice"), Some(&2));
        assert_eq!(c.by_speaker.get("bob"), Some(&2));
        assert_eq!(c.by_split, [1, 0, 1, 1]);
        assert_eq!(c.split_unassigned, 1);
        assert_eq!(c.by_intensity, [1, 1]);
        assert_eq!(c.intensity_unlabelled, 2);
        assert_eq!((c.fold_unknown, c.by_fold), (4, [0; FOLDS]));
        assert_eq!(c.sex_unknown, 4);
        assert_eq!(ds.fold_indices(0), (vec![], vec![]));
        // 1 s, 0.5 s, 3 s, 0.5 s
        let d = summary.durations;
        assert_eq!((d.min, d.median, d.max, d.total), (0.5, 0.75, 3.0, 5.0));
        assert_eq!(d.mean, 1.25);

        // only the required columns; open() picks the manifest loader for a file
        let (_d2, m2) = manifest_dir("minimal", "path\temotion\tspeaker\na.wav\tcalm\tme\n");
        let ds = Dataset::open(&m2).unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(
            (ds.samples()[0].split, ds.samples()[0].intensity),
            (None, None)
        );
    }

    /// Loads a manifest of `text` and returns the error message, checking it names the
    /// manifest and (when given) the `line`.
    fn manifest_error(tag: &str, text: &str, line: Option<usize>) -> (DatasetError, String) {
        let (_dir, m) = manifest_dir(tag, text);
        let err = Dataset::from_manifest(&m).expect_err(tag);
        let msg = err.to_string();
        assert!(msg.contains(&*m.to_string_lossy()), "{tag}: {msg}");
        if let Some(line) = line {
            assert!(
                msg.contains(&format!("manifest.tsv:{line}:")),
                "{tag}: {msg}"
            );
        }
        (err, msg)
    }

    #[test]
    fn manifest_errors_name_the_manifest_and_line() {
        let h = "path\temotion\tspeaker\tsplit\n";
        let (e, _) = manifest_error("empty", "", None);
        assert!(matches!(
            e,
            DatasetError::EmptyManifest {
                what: "no header line",
                ..
            }
        ));
        let (e, _) = manifest_error("comments", "# nothing\n\n  \n", None);
        assert!(matches!(e, DatasetError::EmptyManifest { .. }));
        let (e, _) = manifest_error("norows", &format!("# c\n{h}\n"), None);
        assert!(matches!(
            e,
            DatasetError::EmptyManifest {
                what: "a header but no rows",
                ..
            }
        ));

        let (e, m) = manifest_error("nocol", "path\tspeaker\na.wav\tx\n", Some(1));
        assert!(
            matches!(
                e,
                DatasetError::MissingColumn {
                    column: "emotion",
                    ..
                }
            ),
            "{m}"
        );
        let (e, m) = manifest_error("nopath", "emotion\tspeaker\nsad\tx\n", Some(1));
        assert!(
            matches!(e, DatasetError::MissingColumn { column: "path", .. }),
            "{m}"
        );
        let (e, m) = manifest_error("nospk", "# c\npath\temotion\na.wav\tsad\n", Some(2));
        assert!(
            matches!(
                e,
                DatasetError::MissingColumn {
                    column: "speaker",
                    ..
                }
            ),
            "{m}"
        );
        let (e, m) = manifest_error("extra", "path\temotion\tspeaker\tnotes\n", Some(1));
        assert!(matches!(e, DatasetError::UnknownColumn { .. }), "{m}");
        assert!(m.contains("'notes'"), "{m}");
        let (e, m) = manifest_error("dupcol", "path\temotion\tspeaker\tPath\n", Some(1));
        assert!(matches!(e, DatasetError::DuplicateColumn { .. }), "{m}");

        let (e, m) = manifest_error("emotion", &format!("{h}a.wav\texcited\tx\ttest\n"), Some(2));
        assert!(
            matches!(
                e,
                DatasetError::BadLabel {
                    column: "emotion",
                    ..
                }
            ),
            "{m}"
        );
        assert!(
            m.contains("'excited'") && m.contains("neutral, calm"),
            "{m}"
        );
        let (e, m) = manifest_error("split", &format!("{h}a.wav\tsad\tx\tdev\n"), Some(2));
        assert!(
            matches!(
                e,
                DatasetError::BadLabel {
                    column: "split",
                    ..
                }
            ),
            "{m}"
        );
        assert!(m.contains("'dev'"), "{m}");
        let (e, m) = manifest_error(
            "intensity",
            "path\temotion\tspeaker\tintensity\na.wav\tsad\tx\tloud\n",
            Some(2),
        );
        assert!(
            matches!(
                e,
                DatasetError::BadLabel {
                    column: "intensity",
                    ..
                }
            ),
            "{m}"
        );

        let (e, m) = manifest_error(
            "missing",
            &format!("{h}a.wav\tsad\tx\t\nnope.wav\tsad\tx\t\n"),
            Some(3),
        );
        assert!(matches!(e, DatasetError::MissingFile { .. }), "{m}");
        assert!(m.contains("nope.wav"), "{m}");
        let (e, m) = manifest_error("dir", &format!("{h}sub\tsad\tx\t\n"), Some(2));
        assert!(matches!(e, DatasetError::MissingFile { .. }), "{m}");

        let (e, m) = manifest_error(
            "duprow",
            &format!("{h}a.wav\tsad\tx\t\nb.wav\tsad\tx\t\n# c\n./a.wav\thappy\ty\t\n"),
            Some(5),
        );
        assert!(
            matches!(e, DatasetError::DuplicateRow { first_line: 2, .. }),
            "{m}"
        );

        let (e, m) = manifest_error("short", &format!("{h}a.wav\tsad\tx\n"), Some(2));
        assert!(
            matches!(
                e,
                DatasetError::ColumnCount {
                    expected: 4,
                    found: 3,
                    ..
                }
            ),
            "{m}"
        );
        let (e, m) = manifest_error("long", &format!("{h}a.wav\tsad\tx\t\t\n"), Some(2));
        assert!(
            matches!(
                e,
                DatasetError::ColumnCount {
                    expected: 4,
                    found: 5,
                    ..
                }
            ),
            "{m}"
        );
        let (e, m) = manifest_error("emptycell", &format!("{h}a.wav\tsad\t \ttest\n"), Some(2));
        assert!(
            matches!(
                e,
                DatasetError::EmptyCell {
                    column: "speaker",
                    ..
                }
            ),
            "{m}"
        );

        let missing = std::env::temp_dir().join("voice_emotion_no_such_manifest_4242.tsv");
        let err = Dataset::from_manifest(&missing).unwrap_err();
        assert!(matches!(err, DatasetError::Io { .. }));
        assert!(
            err.to_string()
                .contains("voice_emotion_no_such_manifest_4242.tsv")
        );
    }

    #[test]
    fn summary_reports_a_broken_wav() {
        let (dir, m) = manifest_dir(
            "broken",
            "path\temotion\tspeaker\na.wav\tsad\tx\nbad.wav\tsad\tx\n",
        );
        let bad = dir.file("bad.wav", "not a wav at all");
        let ds = Dataset::from_manifest(&m).unwrap();
        let err = ds.summary(|_, _| {}).unwrap_err();
        assert!(matches!(err, DatasetError::Audio(_)), "{err}");
        assert!(err.to_string().contains(&*bad.to_string_lossy()), "{err}");
    }

    #[test]
    fn duration_stats() {
        assert_eq!(DurationStats::from_seconds(&[]), None);
        let d = DurationStats::from_seconds(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (d.count, d.min, d.median, d.mean, d.max, d.total),
            (3, 1.0, 2.0, 2.0, 3.0, 6.0)
        );
        assert_eq!(
            DurationStats::from_seconds(&[7200.0])
                .unwrap()
                .total_hours(),
            2.0
        );
    }
}
