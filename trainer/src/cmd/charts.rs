//! `trainer charts`: redraws a model directory's PNG charts from its `report.json`.

use std::path::PathBuf;

use super::CmdResult;
use super::train::{draw_charts, read_chart_splits};

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
