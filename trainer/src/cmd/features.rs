//! `trainer features`: (being written)
use super::CmdResult;

/// Arguments of `trainer features`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A RAVDESS folder or a labelled manifest (TSV).
    pub input: std::path::PathBuf,
}

/// Runs the subcommand.
pub fn run(_args: &Args) -> CmdResult {
    Err("not written yet".into())
}
