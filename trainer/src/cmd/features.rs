//! `trainer features <AUDIO>`: prints the reference MFCC matrix of an audio file (WAV, FLAC,
//! Ogg Vorbis or MP3; the librosa-compatible configuration, 40 coefficients), one row per
//! frame.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use voice_emotion::audio::{SAMPLE_RATE, read_audio};
use voice_emotion::features::{FeatureMatrix, Mfcc, MfccConfig};

use super::CmdResult;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A header `c0,...,c39`, then one row per frame of plain decimal numbers.
    Csv,
    /// One JSON object: `{"n_frames", "n_features", "frames": [[...], ...]}`.
    Json,
}

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Mel-frequency cepstral coefficients (40).
    Mfcc,
    /// The log-mel spectrogram in dB (64 bands) the MFCCs are computed from.
    LogMel,
}

/// Arguments of `trainer features`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The audio file: WAV, FLAC, Ogg Vorbis or MP3 (any rate from 8 to 192 kHz, any channel
    /// count; resampled to 16 kHz mono).
    pub wav: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Which features.
    #[arg(long, value_enum, default_value_t = Kind::Mfcc)]
    pub kind: Kind,
}

/// Decodes the file, computes the features and prints them to stdout.
pub fn run(args: &Args) -> CmdResult {
    let (audio, _) = read_audio(&args.wav)?;
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", args.wav.display());
    let signal = audio.into_rate(SAMPLE_RATE)?.samples;
    let mut mfcc = Mfcc::new(MfccConfig::default())?;
    let matrix = match args.kind {
        Kind::Mfcc => mfcc.process(&signal),
        Kind::LogMel => mfcc.log_mel(&signal),
    }
    .map_err(|e| named(&e))?;
    match write(&matrix, args.format) {
        // `trainer features x.wav | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn write(matrix: &FeatureMatrix, format: Format) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Csv => matrix.write_csv(&mut out)?,
        Format::Json => {
            write!(
                out,
                "{{\"n_frames\":{},\"n_features\":{},\"frames\":[",
                matrix.n_frames, matrix.n_features
            )?;
            for (t, frame) in matrix.frames().enumerate() {
                let row: Vec<String> = frame.iter().map(|v| format!("{v:.6}")).collect();
                let sep = if t == 0 { "" } else { "," };
                write!(out, "{sep}[{}]", row.join(","))?;
            }
            writeln!(out, "]}}")?;
        }
    }
    out.flush()
}
