//! Profiles saved by older formats still load.
//!
//! Format 1 (the build whose players had fine-tuned networks): the player keeps every sample,
//! their statistics and history, and gets a voice head fitted from the same samples.
//! `fixtures/veteran-v1.profile` was written by that build (commit 76ab888) through its own
//! `ProfileStore`: 8 made-up utterances (one per emotion), statistics, one update record and
//! fine-tuned weights (a copy of the base model's).
//!
//! Format 2 (update records without their kind): `fixtures/migrated-v2.profile` is what the
//! format-2 build (commit f955241) saved after reading the format-1 fixture, before the voice
//! head was fitted (the game closed first): its last record is the migration, as text only.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use voice_emotion::model::EmotionClassifier;
use voice_emotion::model::default_device;
use voice_emotion::player::adapt::{ANCHORS_FILE, AdaptConfig, Adapter, AnchorSet, PlayerModel};
use voice_emotion::player::profile::{
    BaseModelRef, FORMAT_VERSION, MIGRATED_FROM_V1, PlayerId, ProfileStore, RecordKind,
    decode_profile,
};

/// The adapter of the shipped model in `models`.
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
fn adapter(models: &Path) -> Arc<Adapter> {
    let classifier = EmotionClassifier::load(models, &default_device()).unwrap();
    let anchors = AnchorSet::read(&models.join(ANCHORS_FILE)).unwrap();
    Arc::new(Adapter::new(&classifier, &anchors, AdaptConfig::new()))
}

#[test]
fn a_version_1_profile_keeps_its_samples_and_gets_a_voice_head() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = root.join("../models/base");
    let fixture = root.join("tests/fixtures/veteran-v1.profile");
    let bytes = fs::read(&fixture).unwrap();
    assert_eq!(bytes[8..12], 1u32.to_le_bytes(), "the fixture is format 1");

    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::new(dir.path()).unwrap();
    let id = PlayerId::new("veteran").unwrap();
    fs::copy(&fixture, store.path_of(&id)).unwrap();
    // The fixture names the base model shipped when it was written (those weights have been
    // replaced since); this test is about the format, so it loads against that reference.
    let base: BaseModelRef = decode_profile(&bytes).unwrap().base;
    let profile = store
        .load(&id, &base)
        .unwrap()
        .expect("a format-1 profile loads");
    assert_eq!(profile, decode_profile(&bytes).unwrap());
    assert_eq!(profile.samples.len(), 8);
    assert!(profile.norm.is_some());
    assert!(profile.voice.is_none());
    let reasons: Vec<&str> = profile.history.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons, ["written by the format-1 build", MIGRATED_FROM_V1]);
    let kinds: Vec<RecordKind> = profile.history.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Update, RecordKind::MigratedFromV1]);
    // Loading did not touch the file.
    assert_eq!(fs::read(store.path_of(&id)).unwrap(), bytes);

    let adapter = adapter(&models);
    let player = PlayerModel::from_profile(Arc::clone(&adapter), profile.clone()).unwrap();
    player.wait_idle();
    let history = player.state().history;
    assert_eq!(
        history.len(),
        3,
        "the voice head was fitted at load: {history:#?}"
    );
    assert_eq!(history[2].samples_used, 8);
    assert_eq!(player.is_adapted(), history[2].accepted);

    // Saved again it is the current format with the same samples, and the next load fits nothing.
    store
        .acquire(&id)
        .unwrap()
        .save(&player.to_profile(id.clone(), base.clone()))
        .unwrap();
    assert_eq!(
        fs::read(store.path_of(&id)).unwrap()[8..12],
        FORMAT_VERSION.to_le_bytes()
    );
    let again = store.load(&id, &base).unwrap().unwrap();
    assert_eq!(again.samples, profile.samples);
    assert_eq!(again.norm, profile.norm);
    let reloaded = PlayerModel::from_profile(adapter, again).unwrap();
    reloaded.wait_idle();
    assert_eq!(reloaded.state().history.len(), 3);
    assert_eq!(reloaded.is_adapted(), player.is_adapted());
}

#[test]
fn a_version_2_profile_keeps_its_records_and_a_pending_migration_still_fits_the_voice_head() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = root.join("../models/base");
    let v1 =
        decode_profile(&fs::read(root.join("tests/fixtures/veteran-v1.profile")).unwrap()).unwrap();
    let bytes = fs::read(root.join("tests/fixtures/migrated-v2.profile")).unwrap();
    assert_eq!(bytes[8..12], 2u32.to_le_bytes(), "the fixture is format 2");
    let profile = decode_profile(&bytes).unwrap();
    assert_eq!(
        profile, v1,
        "format 2 holds what format 1 held, less the old weights"
    );
    let kinds: Vec<RecordKind> = profile.history.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RecordKind::Update, RecordKind::MigratedFromV1]);

    let adapter = adapter(&models);
    let player = PlayerModel::from_profile(Arc::clone(&adapter), profile.clone()).unwrap();
    player.wait_idle();
    let history = player.state().history;
    assert_eq!(history.len(), 3, "fitted at load: {history:#?}");
    assert_eq!(history[2].kind, RecordKind::Update);

    // A profile whose last record is an ordinary update fits nothing at load, whatever the
    // words of its reason.
    let mut ordinary = profile;
    ordinary.history[1].kind = RecordKind::Update;
    let player = PlayerModel::from_profile(adapter, ordinary).unwrap();
    player.wait_idle();
    assert_eq!(player.state().history.len(), 2);
}
