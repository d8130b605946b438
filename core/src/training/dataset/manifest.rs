//! Labelled TSV manifests (format in the [module docs](super)) and the [`Split`] column.

use super::*;

/// The role a manifest assigns to a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used to train or fine-tune a model.
    Train,
    /// Used to choose the epoch and fit the confidence temperature while training (never
    /// trained on).
    Validation,
    /// Used to calibrate a trained model to the speaker (e.g. per-user normalisation).
    Calibrate,
    /// Held out for evaluation.
    Test,
}

label_enum!(Split, "split", "train, validation, calibrate, test", [
    Train => "train",
    Validation => "validation",
    Calibrate => "calibrate",
    Test => "test",
]);

/// Manifest columns, in the order their cells are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Path,
    Emotion,
    Speaker,
    Split,
    Intensity,
}

impl Column {
    const ALL: [Column; 5] = [
        Column::Path,
        Column::Emotion,
        Column::Speaker,
        Column::Split,
        Column::Intensity,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Column::Path => "path",
            Column::Emotion => "emotion",
            Column::Speaker => "speaker",
            Column::Split => "split",
            Column::Intensity => "intensity",
        }
    }

    pub(super) fn required(self) -> bool {
        matches!(self, Column::Path | Column::Emotion | Column::Speaker)
    }
}

/// The corpus name of a manifest: its file name without the extension (`studio.tsv`:
/// `studio`), or `manifest` when it has none.
#[must_use]
pub fn corpus_name(manifest: &Path) -> String {
    manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "manifest".to_owned())
}

/// Largest manifest file read, in bytes (a million rows of 256 bytes).
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// Parses manifest text; `manifest` is used in errors, `base` resolves relative paths.
pub(super) fn parse_manifest(
    text: &str,
    manifest: &Path,
    base: &Path,
) -> Result<Vec<Sample>, DatasetError> {
    let m = || manifest.to_path_buf();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });

    let Some((header_line, header)) = lines.next() else {
        return Err(DatasetError::EmptyManifest {
            manifest: m(),
            what: "no header line",
        });
    };
    // position of each known column in the row, indexed like Column::ALL
    let mut position: [Option<usize>; Column::ALL.len()] = [None; Column::ALL.len()];
    let header_cells: Vec<&str> = header.split('\t').map(str::trim).collect();
    for (i, cell) in header_cells.iter().enumerate() {
        let Some(k) = Column::ALL
            .iter()
            .position(|c| c.name().eq_ignore_ascii_case(cell))
        else {
            return Err(DatasetError::UnknownColumn {
                manifest: m(),
                line: header_line,
                column: (*cell).to_owned(),
            });
        };
        if position[k].replace(i).is_some() {
            return Err(DatasetError::DuplicateColumn {
                manifest: m(),
                line: header_line,
                column: (*cell).to_owned(),
            });
        }
    }
    for (k, c) in Column::ALL.iter().enumerate() {
        if c.required() && position[k].is_none() {
            return Err(DatasetError::MissingColumn {
                manifest: m(),
                line: header_line,
                column: c.name(),
            });
        }
    }

    let corpus = corpus_name(manifest);
    let mut samples = Vec::new();
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    for (line, row) in lines {
        let cells: Vec<&str> = row.split('\t').map(str::trim).collect();
        if cells.len() != header_cells.len() {
            return Err(DatasetError::ColumnCount {
                manifest: m(),
                line,
                expected: header_cells.len(),
                found: cells.len(),
            });
        }
        // The cell of a column, `None` when the column is absent or the cell empty.
        let cell = |c: Column| -> Option<&str> {
            let k = Column::ALL.iter().position(|x| *x == c)?;
            position[k]
                .and_then(|i| cells.get(i).copied())
                .filter(|s| !s.is_empty())
        };
        let required = |c: Column| {
            cell(c).ok_or_else(|| DatasetError::EmptyCell {
                manifest: m(),
                line,
                column: c.name(),
            })
        };
        let label_error = |column: &'static str| {
            move |source| DatasetError::BadLabel {
                manifest: m(),
                line,
                column,
                source,
            }
        };
        let path_text = required(Column::Path)?;
        let emotion: Emotion = required(Column::Emotion)?
            .parse()
            .map_err(label_error("emotion"))?;
        let speaker = required(Column::Speaker)?.to_owned();
        let split = cell(Column::Split)
            .map(str::parse::<Split>)
            .transpose()
            .map_err(label_error("split"))?;
        let intensity = cell(Column::Intensity)
            .map(str::parse::<Intensity>)
            .transpose()
            .map_err(label_error("intensity"))?;
        let path = base.join(path_text);
        if !path.is_file() {
            return Err(DatasetError::MissingFile {
                manifest: m(),
                line,
                file: path,
            });
        }
        let key = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(&first_line) = seen.get(&key) {
            return Err(DatasetError::DuplicateRow {
                manifest: m(),
                line,
                first_line,
                file: path,
            });
        }
        seen.insert(key, line);
        samples.push(Sample {
            path,
            emotion,
            intensity,
            speaker,
            actor: None,
            statement: None,
            split,
            corpus: corpus.clone(),
            corpus_emotions: EmotionSet::ALL,
        });
    }
    if samples.is_empty() {
        return Err(DatasetError::EmptyManifest {
            manifest: m(),
            what: "a header but no rows",
        });
    }
    let labelled: EmotionSet = samples.iter().map(|s| s.emotion).collect();
    for s in &mut samples {
        s.corpus_emotions = labelled;
    }
    Ok(samples)
}
