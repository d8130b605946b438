//! Criterion benchmark: loading and saving a large player profile (500 confirmed samples of
//! 250 x 40 MFCC frames, a voice head over all 8 emotions, about 5 MB on disk).
//!
//! `cargo bench --workspace --bench profile`. `load` reads, checks and decodes the file (target:
//! under 50 ms); `save` encodes it, writes a temporary file, `fsync`s it, renames it over the
//! old one and `fsync`s the directory, so its time depends on the disk.
#![expect(clippy::expect_used, reason = "tests fail loudly")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use voice_emotion::player::profile::ProfileStore;

#[path = "../tests/common/profiles.rs"]
mod profiles;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = ProfileStore::new(dir.path()).expect("store");
    let profile = profiles::large_profile("bench");
    let base = profiles::base();
    let writer = store.acquire(&profile.id).expect("lock");
    writer.save(&profile).expect("save");
    let size = std::fs::metadata(store.path_of(&profile.id))
        .expect("saved")
        .len();
    eprintln!("profile file: {size} bytes ({:.2} MB)", size as f64 / 1e6);

    c.bench_function("profile_load_500_samples", |b| {
        b.iter(|| {
            store
                .load(black_box(&profile.id), &base)
                .expect("loads")
                .expect("exists")
        })
    });
    let mut group = c.benchmark_group("profile_save");
    group.sample_size(20);
    group.bench_function("profile_save_500_samples", |b| {
        b.iter(|| writer.save(black_box(&profile)).expect("saves"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
