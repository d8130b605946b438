//! `trainer charts`: redraws a model directory's PNG charts from its `report.json`; the
//! drawing itself, which `trainer train` uses too.

use std::path::{Path, PathBuf};

use voice_emotion::training::EpochMetrics;

use super::CmdResult;

/// Arguments of `trainer charts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model directory (holding `report.json`); the charts are written there.
    #[arg(long)]
    pub model: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> CmdResult {
    let splits = read_chart_splits(&args.model.join("report.json"))?;
    for name in draw_charts(&args.model, &splits)? {
        println!("{}", args.model.join(name).display());
    }
    Ok(())
}

/// What the charts of one split need (from a run, or read back from `report.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ChartSplit {
    /// The split's name.
    #[serde(rename = "split")]
    pub name: String,
    /// Per-epoch figures.
    pub history: Vec<EpochMetrics>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Test accuracy with speaker statistics.
    #[serde(skip)]
    pub accuracy: f64,
    /// Confusion matrix with speaker statistics.
    #[serde(skip)]
    pub confusion: Vec<Vec<usize>>,
}

/// Draws the training curves and confusion matrices of `splits` into `out`; returns the file
/// names written.
pub fn draw_charts(
    out: &Path,
    splits: &[ChartSplit],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut written = Vec::new();
    for (k, r) in splits.iter().enumerate() {
        let suffix = if splits.len() > 1 {
            format!("_fold{k}")
        } else {
            String::new()
        };
        let curves = format!("training_curves{suffix}.png");
        crate::plots::training_curves(
            &out.join(&curves),
            &format!("{}: training curves", r.name),
            &r.history,
            r.best_epoch,
        )?;
        let confusion = format!("confusion_matrix{suffix}.png");
        crate::plots::confusion_matrix(
            &out.join(&confusion),
            &format!(
                "{}: accuracy {:.3} (speaker statistics)",
                r.name, r.accuracy
            ),
            &r.confusion,
        )?;
        written.push(curves);
        written.push(confusion);
    }
    if splits.len() > 1 {
        let n = voice_emotion::labels::Emotion::COUNT;
        let mut total = vec![vec![0usize; n]; n];
        for r in splits {
            for (row, line) in r.confusion.iter().enumerate().take(n) {
                for (col, count) in line.iter().enumerate().take(n) {
                    total[row][col] += count;
                }
            }
        }
        let mean = splits.iter().map(|r| r.accuracy).sum::<f64>() / splits.len() as f64;
        crate::plots::confusion_matrix(
            &out.join("confusion_matrix.png"),
            &format!("all {} folds summed: mean accuracy {mean:.3}", splits.len()),
            &total,
        )?;
        written.push("confusion_matrix.png".to_owned());
    }
    Ok(written)
}

/// Reads the splits of a `report.json` for [`draw_charts`].
pub fn read_chart_splits(report: &Path) -> Result<Vec<ChartSplit>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(report)
        .map_err(|e| format!("cannot read {}: {e}", report.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a training report: {e}", report.display()))?;
    let bad = |what: &str| format!("{}: {what}", report.display());
    let splits = value
        .get("splits")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| bad("no `splits` list"))?;
    splits
        .iter()
        .map(|split| {
            let mut chart: ChartSplit = serde_json::from_value(split.clone())
                .map_err(|e| bad(&format!("a split is malformed: {e}")))?;
            let scores = split
                .get("speaker_norm")
                .ok_or_else(|| bad("no `speaker_norm`"))?;
            chart.accuracy = scores
                .get("accuracy")
                .and_then(serde_json::Value::as_f64)
                .ok_or_else(|| bad("no accuracy"))?;
            chart.confusion =
                serde_json::from_value(scores.get("confusion").cloned().unwrap_or_default())
                    .map_err(|e| bad(&format!("bad confusion matrix: {e}")))?;
            Ok(chart)
        })
        .collect()
}
