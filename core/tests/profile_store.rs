//! The player profile store in one process: round trips, hostile ids, every kind of damaged
//! file, locking, forgetting and size. `profile_processes.rs` has the tests with child
//! processes (locks across processes, crash safety).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::fs;
use std::time::Instant;

use voice_emotion::player::profile::{
    BaseModelRef, CorruptReason, FORMAT_VERSION, HEADER_LEN, IdRejection, MAGIC, PlayerId,
    PlayerProfile, ProfileError, ProfileStore,
};

#[path = "common/profiles.rs"]
mod profiles;
use profiles::{base, corrupt_copies, id, names, profile, sample, store};

fn save(store: &ProfileStore, p: &PlayerProfile) {
    store.acquire(&p.id).unwrap().save(p).unwrap();
}

/// Saves a small profile of `player`, returns it and its file's bytes.
fn saved(store: &ProfileStore, player: &str) -> (PlayerProfile, Vec<u8>) {
    let p = profile(player, 3, 20, true);
    save(store, &p);
    let bytes = fs::read(store.path_of(&p.id)).unwrap();
    (p, bytes)
}

/// Loads `player`'s file, expecting it to be moved aside for `reason`; checks the copy holds
/// exactly the bad bytes, nothing is left at the profile's path, and a fresh save works.
fn assert_moved_aside(store: &ProfileStore, player: &str, bad: &[u8], reason: CorruptReason) {
    let pid = id(player);
    let path = store.path_of(&pid);
    match store.load(&pid, &base()) {
        Err(ProfileError::Corrupt {
            player: p,
            path: from,
            moved_to,
            reason: r,
        }) => {
            assert_eq!((p, &from, r), (pid.clone(), &path, reason));
            assert_eq!(fs::read(&moved_to).unwrap(), bad, "moved aside unchanged");
            assert!(
                moved_to
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&format!("{player}.profile.corrupt-"))
            );
        }
        other => panic!("{player}: expected Corrupt({reason:?}), got {other:?}"),
    }
    assert!(!path.exists());
    assert!(
        store.load(&pid, &base()).unwrap().is_none(),
        "base model now"
    );
    let fresh = profile(player, 1, 10, false);
    save(store, &fresh);
    assert_eq!(store.load(&pid, &base()).unwrap(), Some(fresh));
}

#[test]
fn a_missing_profile_loads_as_none() {
    let (_dir, store) = store();
    assert!(store.load(&id("nobody"), &base()).unwrap().is_none());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn round_trip_keeps_everything() {
    let (_dir, store) = store();
    let mut p = profile("alice", 4, 37, true);
    p.samples.push(sample(7, 12, true)); // with audio
    p.samples.push(sample(8, 0, false)); // an empty matrix
    assert!(p.norm.is_some() && p.voice.is_some() && p.history.len() == 3);
    let writer = store.acquire(&p.id).unwrap();
    writer.save(&p).unwrap();
    assert_eq!(writer.load(&base()).unwrap().as_ref(), Some(&p));
    drop(writer);
    assert_eq!(store.load(&p.id, &base()).unwrap().as_ref(), Some(&p));

    // Saving again replaces it.
    p.voice = None;
    p.samples.truncate(1);
    save(&store, &p);
    assert_eq!(store.load(&p.id, &base()).unwrap(), Some(p.clone()));

    let bytes = fs::read(store.path_of(&p.id)).unwrap();
    assert_eq!(bytes[..8], MAGIC);
    assert_eq!(bytes[8..12], FORMAT_VERSION.to_le_bytes());
    assert_eq!(
        bytes[12..20],
        ((bytes.len() - HEADER_LEN) as u64).to_le_bytes()
    );
    assert_eq!(store.list().unwrap(), vec![p.id.clone()]);
    assert_eq!(names(&store), ["alice.lock", "alice.profile"]);
}

#[test]
fn hostile_ids_are_rejected() {
    let long = "a".repeat(1000);
    let cases: [(&str, IdRejection); 12] = [
        ("../x", IdRejection::BadCharacter { ch: '/', index: 2 }),
        ("a/b", IdRejection::BadCharacter { ch: '/', index: 1 }),
        ("a\\b", IdRejection::BadCharacter { ch: '\\', index: 1 }),
        (
            "/etc/passwd",
            IdRejection::BadCharacter { ch: '/', index: 0 },
        ),
        ("C:x", IdRejection::BadCharacter { ch: ':', index: 1 }),
        ("", IdRejection::Empty),
        (&long, IdRejection::TooLong { len: 1000 }),
        ("..", IdRejection::LeadingDot),
        ("CON", IdRejection::ReservedName),
        ("lpt1.save", IdRejection::ReservedName),
        ("a\0b", IdRejection::BadCharacter { ch: '\0', index: 1 }),
        ("jörð", IdRejection::BadCharacter { ch: 'ö', index: 1 }),
    ];
    for (bad, expected) in cases {
        let err = PlayerId::new(bad).unwrap_err();
        let message = err.to_string();
        let ProfileError::InvalidPlayerId { id, reason } = err else {
            panic!("{bad:?}: {message}")
        };
        assert_eq!(reason, expected, "{bad:?}");
        assert!(id.chars().count() <= 65, "the error shows a short id");
        assert!(message.len() < 200, "{message}");
        assert!(bad.parse::<PlayerId>().is_err());
    }
}

#[test]
fn a_flipped_byte_is_corrupt_and_moved_aside() {
    let (_dir, store) = store();
    let (_, mut bytes) = saved(&store, "flip");
    let at = HEADER_LEN + (bytes.len() - HEADER_LEN) / 2;
    bytes[at] ^= 0x10;
    fs::write(store.path_of(&id("flip")), &bytes).unwrap();
    let reason = CorruptReason::ChecksumMismatch {
        expected: u64::from_le_bytes(bytes[20..28].try_into().unwrap()),
        actual: xxhash_rust::xxh3::xxh3_64(&bytes[HEADER_LEN..]),
    };
    assert_moved_aside(&store, "flip", &bytes, reason);
}

#[test]
fn truncated_files_are_corrupt_and_moved_aside() {
    let (_dir, store) = store();
    let (_, good) = saved(&store, "cut");
    let payload = (good.len() - HEADER_LEN) as u64;
    let cuts = [
        0,
        1,
        7,
        8,
        11,
        12,
        19,
        20,
        27,
        28,
        29,
        good.len() / 2,
        good.len() - 1,
    ];
    for &cut in &cuts {
        fs::write(store.path_of(&id("cut")), &good[..cut]).unwrap();
        let reason = if cut < HEADER_LEN {
            CorruptReason::TooShort { len: cut as u64 }
        } else {
            CorruptReason::LengthMismatch {
                expected: payload,
                actual: (cut - HEADER_LEN) as u64,
            }
        };
        assert_moved_aside(&store, "cut", &good[..cut], reason);
    }
    // An extended file is as wrong as a truncated one.
    let mut longer = good.clone();
    longer.push(0);
    fs::write(store.path_of(&id("cut")), &longer).unwrap();
    let reason = CorruptReason::LengthMismatch {
        expected: payload,
        actual: payload + 1,
    };
    assert_moved_aside(&store, "cut", &longer, reason);
    // Every bad copy kept, none overwritten (even within the same millisecond).
    assert_eq!(corrupt_copies(&store, "cut").len(), cuts.len() + 1);
}

#[test]
fn unknown_version_and_bad_magic_are_corrupt_and_moved_aside() {
    let (_dir, store) = store();
    let (_, good) = saved(&store, "v");
    let mut older = good.clone();
    older[8..12].copy_from_slice(&0u32.to_le_bytes());
    // A garbage version field in a damaged header: corrupt, not "from a newer build".
    let mut garbage = good.clone();
    garbage[8..12].copy_from_slice(b"this");
    garbage.truncate(garbage.len() - 3);
    fs::write(store.path_of(&id("v")), &garbage).unwrap();
    let reason = CorruptReason::LengthMismatch {
        expected: (good.len() - HEADER_LEN) as u64,
        actual: (garbage.len() - HEADER_LEN) as u64,
    };
    assert_moved_aside(&store, "v", &garbage, reason);
    fs::write(store.path_of(&id("v")), &older).unwrap();
    let reason = CorruptReason::UnsupportedVersion { found: 0 };
    assert_moved_aside(&store, "v", &older, reason);

    let mut magic = good.clone();
    magic[..8].copy_from_slice(b"PK\x03\x04zip!");
    fs::write(store.path_of(&id("v")), &magic).unwrap();
    let reason = CorruptReason::BadMagic {
        found: *b"PK\x03\x04zip!",
    };
    assert_moved_aside(&store, "v", &magic, reason);
    assert_eq!(corrupt_copies(&store, "v").len(), 3);
}

#[test]
fn a_profile_from_a_newer_build_is_left_in_place_untouched() {
    let (_dir, store) = store();
    let (p, good) = saved(&store, "future");
    // The same header layout, a higher version, a payload this build cannot decode (fields
    // it has never heard of), length and checksum consistent.
    let mut payload = good[HEADER_LEN..].to_vec();
    payload.extend_from_slice(b"fields this build has never heard of");
    let mut newer = MAGIC.to_vec();
    newer.extend_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    newer.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    newer.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    newer.extend_from_slice(&payload);
    let path = store.path_of(&p.id);
    fs::write(&path, &newer).unwrap();
    for attempt in 0..2 {
        let result = if attempt == 0 {
            store.load(&p.id, &base())
        } else {
            store.acquire(&p.id).unwrap().load(&base())
        };
        match result {
            Err(ProfileError::NewerVersion {
                player,
                path: at,
                version,
            }) => {
                assert_eq!(
                    (player, at, version),
                    (p.id.clone(), path.clone(), FORMAT_VERSION + 1)
                );
            }
            other => panic!("expected NewerVersion, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), newer, "left untouched");
        assert!(
            corrupt_copies(&store, "future").is_empty(),
            "not moved aside"
        );
    }
}

#[test]
fn a_payload_that_does_not_decode_is_corrupt() {
    let (_dir, store) = store();
    // A well-formed header (right length and checksum) around bytes that are no profile.
    let payload = b"\xff\xff\xff\xff\xff not a profile".to_vec();
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    fs::write(store.path_of(&id("junk")), &bytes).unwrap();
    match store.load(&id("junk"), &base()) {
        Err(ProfileError::Corrupt {
            reason: CorruptReason::Decode { message },
            moved_to,
            ..
        }) => {
            assert!(!message.is_empty());
            assert_eq!(fs::read(moved_to).unwrap(), bytes);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_profile_for_another_base_is_left_in_place() {
    let (_dir, store) = store();
    let (p, bytes) = saved(&store, "bob");
    let newer = BaseModelRef::of_bytes("base", b"retrained weights");
    assert_ne!(newer.hash, base().hash);
    match store.load(&p.id, &newer) {
        Err(ProfileError::WrongBase {
            player,
            expected,
            found,
        }) => {
            assert_eq!(player, p.id);
            assert_eq!((expected, found), (newer.clone(), base()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(store.path_of(&p.id)).unwrap(), bytes, "untouched");
    assert!(corrupt_copies(&store, "bob").is_empty());
    assert_eq!(store.load(&p.id, &base()).unwrap(), Some(p.clone()));
    // The caller may start over on the new base: the save replaces the old profile.
    let fresh = PlayerProfile::new(p.id.clone(), newer.clone());
    save(&store, &fresh);
    assert_eq!(store.load(&p.id, &newer).unwrap(), Some(fresh));
}

#[test]
fn a_profile_renamed_to_another_id_is_corrupt() {
    let (_dir, store) = store();
    let (alice, bytes) = saved(&store, "alice");
    fs::rename(store.path_of(&alice.id), store.path_of(&id("bob"))).unwrap();
    let reason = CorruptReason::WrongPlayer { found: alice.id };
    assert_moved_aside(&store, "bob", &bytes, reason);
}

#[test]
fn ids_differing_only_in_case_are_not_mixed_up() {
    // What a case-insensitive file system does when "Carol" and "carol" both save.
    let (_dir, store) = store();
    let (carol, bytes) = saved(&store, "Carol");
    fs::rename(store.path_of(&carol.id), store.path_of(&id("carol"))).unwrap();
    match store.load(&id("carol"), &base()) {
        Err(ProfileError::IdCaseConflict {
            requested, found, ..
        }) => assert_eq!((requested, found), (id("carol"), carol.id)),
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(store.path_of(&id("carol"))).unwrap(), bytes);
}

#[test]
fn a_second_writer_is_refused_until_the_first_drops() {
    let (_dir, store) = store();
    let dave = id("dave");
    let first = store.acquire(&dave).unwrap();
    match store.acquire(&dave) {
        Err(ProfileError::Locked { player, path }) => {
            assert_eq!((player, path), (dave.clone(), store.lock_path_of(&dave)));
        }
        other => panic!("{other:?}"),
    }
    // Another store on the same directory is no way around it.
    let again = ProfileStore::new(store.root()).unwrap();
    assert!(matches!(
        again.acquire(&dave),
        Err(ProfileError::Locked { .. })
    ));
    assert!(matches!(
        store.forget(&dave),
        Err(ProfileError::Locked { .. })
    ));
    // Other players are independent.
    let _erin = store.acquire(&id("erin")).unwrap();
    drop(first);
    let second = store.acquire(&dave).unwrap();
    second
        .save(&PlayerProfile::new(dave.clone(), base()))
        .unwrap();
}

#[test]
fn a_corrupt_file_is_left_in_place_while_another_writer_holds_the_lock() {
    let (_dir, store) = store();
    let (p, mut bytes) = saved(&store, "frank");
    bytes.truncate(bytes.len() - 1);
    fs::write(store.path_of(&p.id), &bytes).unwrap();
    let writer = store.acquire(&p.id).unwrap();
    match store.load(&p.id, &base()) {
        Err(ProfileError::CorruptLeftInPlace { reason, cause, .. }) => {
            assert!(matches!(reason, CorruptReason::LengthMismatch { .. }));
            assert!(matches!(*cause, ProfileError::Locked { .. }));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(store.path_of(&p.id)).unwrap(), bytes);
    // The lock holder moves it aside.
    assert!(matches!(
        writer.load(&base()),
        Err(ProfileError::Corrupt { .. })
    ));
    assert_eq!(corrupt_copies(&store, "frank").len(), 1);
}

#[test]
fn a_writer_saves_only_its_own_player() {
    let (_dir, store) = store();
    let writer = store.acquire(&id("gina")).unwrap();
    let other = PlayerProfile::new(id("hank"), base());
    assert!(matches!(
        writer.save(&other),
        Err(ProfileError::NotThisWritersPlayer { .. })
    ));
    assert!(!store.path_of(&id("hank")).exists());
}

#[test]
fn forget_removes_everything_of_one_player_only() {
    let (_dir, store) = store();
    // Ids that share a prefix with "p1", one of which looks like p1's temporary files.
    let others = ["p10", "p1.x", "p1.profile.tmp-7"];
    for o in others {
        saved(&store, o);
    }
    let (_, mut bytes) = saved(&store, "p1");
    bytes[HEADER_LEN] ^= 1;
    fs::write(store.path_of(&id("p1")), &bytes).unwrap();
    assert!(store.load(&id("p1"), &base()).is_err()); // moved aside
    saved(&store, "p1");
    fs::write(store.root().join("p1.profile.tmp-999-3"), b"half a save").unwrap();
    let before = names(&store);
    assert!(
        before
            .iter()
            .filter(|n| n.starts_with("p1.profile"))
            .count()
            >= 3
    );

    store.forget(&id("p1")).unwrap();
    let mut expected: Vec<String> = others
        .iter()
        .flat_map(|o| [format!("{o}.lock"), format!("{o}.profile")])
        .collect();
    expected.sort();
    assert_eq!(names(&store), expected);
    assert_eq!(
        store.list().unwrap(),
        vec![id("p1.profile.tmp-7"), id("p1.x"), id("p10")]
    );
    for o in others {
        assert!(store.load(&id(o), &base()).unwrap().is_some());
    }
    // Forgetting nothing is fine, and the player can start again.
    store.forget(&id("p1")).unwrap();
    saved(&store, "p1");
    // A writer can forget its own player.
    store.acquire(&id("p1")).unwrap().forget().unwrap();
    assert_eq!(names(&store), expected);
}

#[test]
fn acquiring_removes_temporary_files_of_crashed_saves() {
    let (_dir, store) = store();
    let leftover = store.root().join("ivy.profile.tmp-4242-0");
    fs::write(&leftover, b"partial").unwrap();
    let _w = store.acquire(&id("ivy")).unwrap();
    assert!(!leftover.exists());
}

#[test]
fn a_profile_of_500_samples_stays_under_8_mb() {
    let (_dir, store) = store();
    let p = profiles::large_profile("big");
    save(&store, &p);
    let size = fs::metadata(store.path_of(&p.id)).unwrap().len();
    println!(
        "profile of {} samples of {}x{} and an 8-emotion voice head: {size} bytes ({:.2} MB)",
        profiles::SAMPLES,
        profiles::FRAMES,
        profiles::N_MFCC,
        size as f64 / 1e6
    );
    assert!(size < 8_000_000, "{size} bytes");
    let start = Instant::now();
    let loaded = store.load(&p.id, &base()).unwrap();
    println!("load: {:?} (unoptimised test build)", start.elapsed());
    assert_eq!(loaded, Some(p));
}
