//! The on-disk feature cache gives exactly the features a fresh extraction gives, skips the
//! decode on a second run, follows a file's bytes (not its name), never reads a corrupt or
//! foreign entry, and survives an entry it cannot write.

mod common;

use voice_emotion::model::InputConfig;
use voice_emotion::training::cache::{ClipKey, FeatureCache};
use voice_emotion::training::data::{cached_examples, examples};
use voice_emotion::training::dataset::{Dataset, Sample};

fn clips(n: usize) -> Vec<Sample> {
    let dataset =
        Dataset::from_ravdess_dir(common::ravdess_dir()).unwrap_or_else(|e| panic!("RAVDESS: {e}"));
    let samples: Vec<Sample> = dataset
        .samples()
        .iter()
        .filter(|s| s.actor == Some(3))
        .take(n)
        .cloned()
        .collect();
    assert_eq!(samples.len(), n, "actor 3 has {n} clips");
    samples
}

fn entry_of(cache: &FeatureCache, sample: &Sample) -> std::path::PathBuf {
    let bytes =
        std::fs::read(&sample.path).unwrap_or_else(|e| panic!("{}: {e}", sample.path.display()));
    let entry = cache.entry_path(ClipKey::of(&bytes));
    assert!(
        entry.is_file(),
        "no cache entry for {}",
        sample.path.display()
    );
    entry
}

#[test]
fn a_second_run_reads_every_clip_from_the_cache_with_identical_features() {
    let samples = clips(12);
    let input = InputConfig::default();
    let root = tempfile::tempdir().unwrap();
    let cache = FeatureCache::open(root.path(), &input).unwrap();
    let fresh = examples(&samples, &input, None, 2, &|_| {}).unwrap();

    let (first, counts) = cached_examples(&samples, &input, &cache, 2, &|_| {}).unwrap();
    assert_eq!((counts.hits, counts.misses, counts.unwritten), (0, 12, 0));
    let (second, counts) = cached_examples(&samples, &input, &cache, 2, &|_| {}).unwrap();
    assert_eq!((counts.hits, counts.misses, counts.unwritten), (12, 0, 0));
    for ((a, b), c) in fresh.iter().zip(&first).zip(&second) {
        assert_eq!(a.features, b.features);
        assert_eq!(a.features, c.features);
        assert_eq!(
            (a.emotion, a.intensity, &a.speaker, a.classes),
            (c.emotion, c.intensity, &c.speaker, c.classes)
        );
    }

    // Reopening the same front end finds the same folder; another configuration does not.
    let again = FeatureCache::open(root.path(), &input).unwrap();
    assert_eq!(again.dir(), cache.dir());
    let other = InputConfig {
        stack: input.stack + 1,
        ..input.clone()
    };
    let elsewhere = FeatureCache::open(root.path(), &other).unwrap();
    assert_ne!(elsewhere.dir(), cache.dir());
    let (_, counts) = cached_examples(&samples[..2], &other, &elsewhere, 2, &|_| {}).unwrap();
    assert_eq!(counts.misses, 2, "a foreign front end's features were read");
}

#[test]
fn entries_follow_the_bytes_and_bad_entries_are_recomputed() {
    let samples = clips(3);
    let input = InputConfig::default();
    let root = tempfile::tempdir().unwrap();
    let cache = FeatureCache::open(root.path(), &input).unwrap();
    let (first, _) = cached_examples(&samples, &input, &cache, 2, &|_| {}).unwrap();

    // The same bytes under another name and folder: a hit.
    let copies = tempfile::tempdir().unwrap();
    let renamed: Vec<Sample> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let path = copies.path().join(format!("renamed_{i}.wav"));
            std::fs::copy(&s.path, &path).unwrap();
            Sample { path, ..s.clone() }
        })
        .collect();
    let (again, counts) = cached_examples(&renamed, &input, &cache, 2, &|_| {}).unwrap();
    assert_eq!(counts.hits, 3);
    assert_eq!(first[1].features, again[1].features);

    // A truncated entry and one of garbage are recomputed and rewritten, never read.
    let e0 = entry_of(&cache, &samples[0]);
    let e1 = entry_of(&cache, &samples[1]);
    let whole = std::fs::read(&e0).unwrap();
    std::fs::write(&e0, &whole[..whole.len() / 2]).unwrap();
    std::fs::write(&e1, b"not a feature matrix").unwrap();
    let (fixed, counts) = cached_examples(&samples, &input, &cache, 2, &|_| {}).unwrap();
    assert_eq!((counts.hits, counts.misses), (1, 2));
    for (a, b) in first.iter().zip(&fixed) {
        assert_eq!(a.features, b.features);
    }
    assert_eq!(
        std::fs::read(&e0).unwrap(),
        whole,
        "the entry was rewritten"
    );

    // One changed byte in the audio (past the header): a different key, so a miss.
    let mut bytes = std::fs::read(&samples[2].path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let changed = copies.path().join("changed.wav");
    std::fs::write(&changed, &bytes).unwrap();
    let one = [Sample {
        path: changed,
        ..samples[2].clone()
    }];
    let (_, counts) = cached_examples(&one, &input, &cache, 1, &|_| {}).unwrap();
    assert_eq!((counts.hits, counts.misses), (0, 1));
}

#[test]
fn an_entry_that_cannot_be_written_is_counted_and_the_run_goes_on() {
    let samples = clips(2);
    let input = InputConfig::default();
    let root = tempfile::tempdir().unwrap();
    let cache = FeatureCache::open(root.path(), &input).unwrap();
    // A file where the first clip's shard folder must go.
    let (_, counts) = cached_examples(&samples[..1], &input, &cache, 1, &|_| {}).unwrap();
    assert_eq!(counts.misses, 1);
    let entry = entry_of(&cache, &samples[0]);
    let shard_dir = entry.parent().unwrap().to_path_buf();
    std::fs::remove_dir_all(&shard_dir).unwrap();
    std::fs::write(&shard_dir, b"in the way").unwrap();

    let fresh = examples(&samples, &input, None, 1, &|_| {}).unwrap();
    let (got, counts) = cached_examples(&samples, &input, &cache, 1, &|_| {}).unwrap();
    assert!(counts.unwritten >= 1, "{counts:?}");
    let message = counts
        .first_error
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("feature cache"), "{message}");
    for (a, b) in fresh.iter().zip(&got) {
        assert_eq!(a.features, b.features);
    }
}

#[test]
fn a_missing_clip_is_named() {
    let mut samples = clips(1);
    samples[0].path = samples[0].path.with_file_name("no-such-clip.wav");
    let root = tempfile::tempdir().unwrap();
    let input = InputConfig::default();
    let cache = FeatureCache::open(root.path(), &input).unwrap();
    let err = cached_examples(&samples, &input, &cache, 1, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("no-such-clip.wav"), "{err}");
}
