//! Features of training clips, cached on disk so a second run over the same corpus skips
//! decoding, resampling and the front end.
//!
//! An entry is keyed by the BLAKE3 hash of the audio file's bytes (renaming or moving a file
//! keeps its entry; changing one byte does not) inside a folder keyed by the front end: the
//! [`InputConfig`] and the features the front end computes *now* for a fixed probe signal
//! (48 kHz, so the resampler is covered too). A change to the front end's code that changes
//! its output therefore changes the folder, and stale features are never read.
//!
//! Entries are written to a temporary file and renamed into place, so an interrupted run or
//! two runs at once never leave half an entry; an entry that cannot be read back (corrupt,
//! wrong shape) is recomputed and overwritten.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::audio::{AudioError, DEFAULT_MAX_SECONDS, SAMPLE_RATE, decode_audio, open_regular_file};
use crate::features::{FeatureError, FeatureMatrix};
use crate::model::{InputConfig, InputExtractor};

/// Bumped when the entry format changes.
const FORMAT: &str = "bevy_voice_emotion feature cache v1";

/// A cache of features under one front end (see the module documentation).
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
    n_features: usize,
}

/// What went wrong opening or writing the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache folder or an entry could not be created or written.
    #[error("feature cache {path}: {source}")]
    Io {
        /// The folder or entry.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The front end could not compute the probe's features (a bad input configuration).
    #[error("feature cache: the front end fails on its probe signal: {0}")]
    Probe(#[source] FeatureError),
    /// The probe signal could not be resampled.
    #[error("feature cache: the probe signal cannot be resampled: {0}")]
    ProbeAudio(#[source] AudioError),
    /// An entry could not be encoded.
    #[error("feature cache {path}: cannot encode an entry: {message}")]
    Encode {
        /// The entry.
        path: PathBuf,
        /// bincode's message.
        message: String,
    },
}

/// The key of one audio file's entry: the BLAKE3 hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClipKey([u8; 32]);

impl ClipKey {
    /// The key of these file bytes.
    #[must_use]
    pub fn of(bytes: &[u8]) -> ClipKey {
        ClipKey(*blake3::hash(bytes).as_bytes())
    }
}

impl std::fmt::Display for ClipKey {
    /// The hash in lower-case hex.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// An audio file read whole, with its [`ClipKey`]; [`ClipBytes::decode`] gives its samples.
#[derive(Debug)]
pub struct ClipBytes {
    path: PathBuf,
    bytes: Vec<u8>,
    key: ClipKey,
}

impl ClipBytes {
    /// Reads `path` (a regular file; see [`open_regular_file`]).
    ///
    /// # Errors
    /// [`AudioError::Io`] naming the file.
    pub fn read(path: &Path) -> Result<ClipBytes, AudioError> {
        let (mut file, len) = open_regular_file(path)?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|source| AudioError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let key = ClipKey::of(&bytes);
        Ok(ClipBytes {
            path: path.to_path_buf(),
            bytes,
            key,
        })
    }

    /// The key of the bytes.
    #[must_use]
    pub fn key(&self) -> ClipKey {
        self.key
    }

    /// Decodes the bytes, mixed to mono at [`SAMPLE_RATE`] (as [`crate::audio::load_clip`]).
    ///
    /// # Errors
    /// As [`crate::audio::load_clip`], naming the file.
    pub fn decode(&self) -> Result<Vec<f32>, AudioError> {
        let (audio, _) = decode_audio(
            std::io::Cursor::new(&self.bytes[..]),
            &self.path,
            self.bytes.len() as u64,
            DEFAULT_MAX_SECONDS,
        )?;
        Ok(audio.into_rate(SAMPLE_RATE)?.samples)
    }
}

/// A deterministic 1.5 s probe at 48 kHz: silence, a gliding harmonic tone with a rising and
/// falling envelope, a little noise, silence. It goes through the resampler, the trim and
/// every coefficient.
fn probe() -> Vec<f32> {
    let rate = 48_000.0f64;
    let n = 72_000usize;
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let hiss = ((noise >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 2e-3;
            let voiced = if (0.25..1.25).contains(&t) {
                let u = (t - 0.25) / 1.0;
                let envelope = (std::f64::consts::PI * u).sin().powi(2) * 0.4;
                // A glide from 110 to 230 Hz.
                let phase = 2.0 * std::f64::consts::PI * (110.0 * u + 60.0 * u * u);
                envelope
                    * (1..=8)
                        .map(|k| (phase * f64::from(k)).sin() / f64::from(k))
                        .sum::<f64>()
            } else {
                0.0
            };
            (voiced + hiss) as f32
        })
        .collect()
}

/// The default cache root: `features` in the OS's cache folder for `bevy_voice_emotion`
/// (`~/.cache/bevy_voice_emotion/features` on Linux); `None` where the OS has no home folder.
#[must_use]
pub fn default_root() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "bevy_voice_emotion")
        .map(|dirs| dirs.cache_dir().join("features"))
}

impl FeatureCache {
    /// Opens (creating it if needed) the cache of `input`'s front end under `root`.
    ///
    /// # Errors
    /// [`CacheError::Io`] if the folder cannot be created; [`CacheError::Probe`] for an input
    /// configuration the front end refuses.
    pub fn open(root: impl AsRef<Path>, input: &InputConfig) -> Result<FeatureCache, CacheError> {
        let mut extractor = InputExtractor::new(input.clone()).map_err(CacheError::Probe)?;
        let probe = crate::audio::Audio {
            samples: probe(),
            sample_rate: 48_000,
        }
        .into_rate(SAMPLE_RATE)
        .map_err(CacheError::ProbeAudio)?;
        let features = extractor
            .extract(&probe.samples)
            .map_err(CacheError::Probe)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(FORMAT.as_bytes());
        hasher.update(
            serde_json::to_string(input)
                .unwrap_or_else(|_| format!("{input:?}"))
                .as_bytes(),
        );
        hasher.update(&(features.n_frames as u64).to_le_bytes());
        for v in &features.data {
            hasher.update(&v.to_le_bytes());
        }
        let front_end: String = hasher.finalize().as_bytes()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = root.as_ref().join(format!("front-end-{front_end}"));
        fs::create_dir_all(&dir).map_err(|source| CacheError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(FeatureCache {
            dir,
            n_features: input.n_features(),
        })
    }

    /// The folder of this front end's entries.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry of `key` lives (whether or not it exists): `<dir>/<first two hex
    /// digits>/<hex>.bin`.
    #[must_use]
    pub fn entry_path(&self, key: ClipKey) -> PathBuf {
        let hex = key.to_string();
        self.dir.join(&hex[..2]).join(format!("{hex}.bin"))
    }

    /// The cached features of the clip with this key, if present and whole.
    #[must_use]
    pub fn get(&self, key: ClipKey) -> Option<FeatureMatrix> {
        let bytes = fs::read(self.entry_path(key)).ok()?;
        let (m, _): (FeatureMatrix, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).ok()?;
        (m.n_features == self.n_features
            && m.n_frames.checked_mul(m.n_features) == Some(m.data.len())
            && m.data.iter().all(|v| v.is_finite()))
        .then_some(m)
    }

    /// Stores the features of the clip with this key (atomically: a temporary file renamed
    /// into place).
    ///
    /// # Errors
    /// [`CacheError::Io`] naming the entry when it cannot be written.
    pub fn put(&self, key: ClipKey, features: &FeatureMatrix) -> Result<(), CacheError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = self.entry_path(key);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        let bytes =
            bincode::serde::encode_to_vec(features, bincode::config::standard()).map_err(|e| {
                CacheError::Encode {
                    path: path.clone(),
                    message: e.to_string(),
                }
            })?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let tmp = path.with_extension(format!(
            "tmp.{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&tmp, &bytes).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(|source| {
            let _ = fs::remove_file(&tmp);
            CacheError::Io {
                path: path.clone(),
                source,
            }
        })
    }
}
