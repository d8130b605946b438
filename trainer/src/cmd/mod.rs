//! One module per subcommand: an `Args` struct (clap) and a `run` function.

pub mod adapt_copy;
pub mod adapt_eval;
pub mod anchors;
pub mod charts;
pub mod dataset;
pub mod evaluate;
pub mod export_reference;
pub mod features;
pub mod originals;
pub mod predict;
pub mod robustness;
pub mod segment_eval;
pub mod splits;
pub mod stream;
pub mod teachers;
pub mod train;
pub mod train_detector;

/// Error of a subcommand: a message printed as one line by `main`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// The default worker count for feature extraction: every core this process may use.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}
