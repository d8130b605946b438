//! The features of a corpus's clips as recorded, computed on every core with a progress bar,
//! from the on-disk feature cache where it has them (`train`).

use std::path::PathBuf;
use std::time::Instant;

use voice_emotion::model::InputConfig;
use voice_emotion::training::Example;
use voice_emotion::training::cache::FeatureCache;
use voice_emotion::training::data::{cached_examples, examples};
use voice_emotion::training::dataset::Sample;

/// The examples of `samples` as recorded, through the cache under `cache_root` when given.
/// Prints a line with the time taken and the cache's hits, and a warning for entries that
/// could not be written.
pub fn examples_of(
    samples: &[Sample],
    input: &InputConfig,
    cache_root: Option<PathBuf>,
    threads: usize,
) -> Result<Vec<Example>, Box<dyn std::error::Error>> {
    let bar = super::train::progress_bar(samples.len(), "features");
    let progress = |d: usize| bar.set_position(d as u64);
    let started = Instant::now();
    let mut warning = None;
    let (originals, from_cache) = match cache_root {
        Some(root) => {
            let cache = FeatureCache::open(&root, input)?;
            let (originals, counts) = cached_examples(samples, input, &cache, threads, &progress)?;
            warning = counts.first_error.map(|e| {
                format!(
                    "warning: {} clips' features could not be cached (they were computed): {e}",
                    counts.unwritten
                )
            });
            let note = format!(
                "{} from the cache in {}",
                counts.hits,
                cache.dir().display()
            );
            (originals, note)
        }
        None => (
            examples(samples, input, None, threads, &progress)?,
            "no cache".to_owned(),
        ),
    };
    bar.finish_and_clear();
    eprintln!(
        "features: {} clips in {:.1} s on {threads} threads, {from_cache}",
        samples.len(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    Ok(originals)
}
