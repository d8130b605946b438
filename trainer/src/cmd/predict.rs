//! `trainer predict`: classifies audio files (WAV, FLAC, Ogg Vorbis, MP3) and prints the seed's
//! summary table.

use std::path::PathBuf;

use voice_emotion::audio::load_clip;
use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::default_device;
use voice_emotion::training::dataset::RavdessName;

use super::CmdResult;

/// Arguments of `trainer predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Audio files: WAV, FLAC, Ogg Vorbis or MP3 (any rate; a RAVDESS name also gives the
    /// actual emotion). Each is classified cold, with the training set's statistics.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let mut classifier = EmotionClassifier::load(&args.model, &default_device())?;
    let mut rows = Vec::new();
    let (mut correct, mut known) = (0usize, 0usize);
    for file in &args.files {
        let signal = load_clip(file)?;
        let p = classifier
            .classify(&signal, None)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let actual = RavdessName::parse(file).ok().map(|n| n.emotion);
        let verdict = match actual {
            Some(a) if a == p.emotion => {
                correct += 1;
                known += 1;
                "Correct"
            }
            Some(_) => {
                known += 1;
                "Incorrect"
            }
            None => "-",
        };
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        rows.push([
            name,
            actual.map_or_else(|| "-".to_owned(), |a| a.to_string()),
            p.emotion.to_string(),
            format!("{:.2}", p.confidence),
            verdict.to_owned(),
        ]);
    }
    let headers = ["file", "actual", "predicted", "confidence", "result"];
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([headers[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate() {
            s.push_str(&format!("{cell:<w$}  ", w = widths[c]));
        }
        println!("{}", s.trim_end());
    };
    line(headers);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    if known > 0 {
        println!(
            "\n{correct}/{known} correct ({:.1}%)",
            100.0 * correct as f64 / known as f64
        );
    }
    Ok(())
}
