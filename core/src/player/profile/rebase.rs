//! Re-basing: carrying a profile made for another base model over to the current one.
//!
//! What a profile holds apart from its voice head does not depend on the base network: the
//! samples are MFCC frames (the front end's output, before the network), the statistics are
//! those of the model inputs, the history is what happened. The voice head is fitted over the
//! network's embedding, so it belongs to the base it was made on. Re-basing keeps the first
//! three, drops the voice head and records it ([`RecordKind::Rebased`]); the player's voice
//! head is then fitted again on the new base from their samples
//! ([`PlayerModel::from_profile`](crate::player::adapt::PlayerModel::from_profile)).

use super::*;

/// What [`ProfileWriter::load_or_rebase`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The player's profile, on the base model asked for.
    pub profile: PlayerProfile,
    /// Set when the file held a profile for another base model that was carried over.
    pub rebased: Option<Rebased>,
}

/// A profile carried over from one base model to another ([`ProfileWriter::load_or_rebase`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebased {
    /// The base model the file was made for.
    pub from: BaseModelRef,
    /// The base model it is now for.
    pub to: BaseModelRef,
    /// The copy of the original file, byte for byte (`<id>.profile.base-<from hash>[-<n>]`).
    pub backup: PathBuf,
}

/// The reason of the [`UpdateRecord`] that [`PlayerProfile::rebase`] appends.
#[must_use]
pub fn rebased_reason(from: &BaseModelRef, to: &BaseModelRef, samples: usize) -> String {
    format!(
        "re-based from base model {from} to {to}: the voice head made on the old base is \
         dropped and fitted again from the {samples} confirmed samples"
    )
}

impl PlayerProfile {
    /// Whether every confirmed sample has `width` values per frame: whether the samples fit a
    /// front end whose frames hold `width` values (the current model's
    /// `input_config().frame_width()`: its MFCCs, and pitch where used). A profile without
    /// samples fits any.
    #[must_use]
    pub fn samples_fit(&self, width: usize) -> bool {
        self.samples
            .iter()
            .all(|s| s.features.n_features() == width)
    }

    /// This profile carried over to the base model `to`: samples, statistics and history are
    /// kept, the voice head (which belongs to the old base) is dropped, and an
    /// [`UpdateRecord`] of kind [`RecordKind::Rebased`] (not accepted, its reason naming both
    /// bases, [`rebased_reason`]) is appended. `updated_unix_ms` becomes now. Whether the
    /// samples fit the new base's front end is the caller's to check
    /// ([`PlayerProfile::samples_fit`]).
    #[must_use]
    pub fn rebase(mut self, to: BaseModelRef) -> PlayerProfile {
        let now = unix_ms_now();
        let reason = rebased_reason(&self.base, &to, self.samples.len());
        self.history.push(UpdateRecord {
            time_unix_ms: now,
            samples_used: self.samples.len(),
            accuracy_before: 0.0,
            accuracy_after: 0.0,
            accepted: false,
            reason,
            seconds: 0.0,
            kind: RecordKind::Rebased,
        });
        self.voice = None;
        self.copy = None;
        self.base = to;
        self.updated_unix_ms = now;
        self
    }
}

/// `hash` as it can appear in a file name: the hash itself when it is 1 to 64 hex digits (as
/// [`BaseModelRef::of_bytes`] makes them), otherwise (a hand-edited file) the xxh3-64 of its
/// text, so that a file's contents never choose a path.
fn file_safe_hash(hash: &str) -> String {
    if (1..=64).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        hash.to_ascii_lowercase()
    } else {
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(hash.as_bytes()))
    }
}

impl ProfileWriter {
    /// As [`ProfileWriter::load`], except that a profile made for another base model is
    /// carried over to `base` when its samples fit the current front end (every sample has
    /// `width` values per frame, [`PlayerProfile::samples_fit`]): the file is first
    /// copied byte for byte to `<id>.profile.base-<old hash>` ([`ProfileWriter::back_up`]),
    /// then the profile is re-based ([`PlayerProfile::rebase`]) and returned with
    /// [`Loaded::rebased`] set.
    ///
    /// The file itself is not rewritten here: save the returned profile (or what is made of
    /// it) to finish. Until then it holds the old profile, and calling this again finds the
    /// same copy rather than making another.
    ///
    /// # Errors
    /// As [`ProfileWriter::load`]; [`ProfileError::WrongBase`] (file untouched, no copy made)
    /// when the profile is for another base model and its samples do not fit `width` values a frame;
    /// [`ProfileError::Io`] when the copy cannot be written (the file is then untouched too).
    pub fn load_or_rebase(
        &self,
        base: &BaseModelRef,
        width: usize,
    ) -> Result<Option<Loaded>, ProfileError> {
        match self.store.read_checked(&self.id, base)? {
            Checked::OtherBase { profile, bytes } if profile.samples_fit(width) => {
                let backup = self.back_up(&profile.base, &bytes)?;
                let from = profile.base.clone();
                let profile = profile.rebase(base.clone());
                tracing::info!(
                    "profile of player {} re-based from base model {from} to {base}; the \
                     original is kept as {}",
                    self.id,
                    backup.display()
                );
                Ok(Some(Loaded {
                    profile,
                    rebased: Some(Rebased {
                        from,
                        to: base.clone(),
                        backup,
                    }),
                }))
            }
            checked => Ok(self.settle(checked, base)?.map(|profile| Loaded {
                profile,
                rebased: None,
            })),
        }
    }

    /// Keeps `bytes` (a profile file made for base model `from`) as
    /// `<id>.profile.base-<from hash>` next to the profile, and returns its path. A file
    /// already there is never overwritten: one holding exactly `bytes` is reused, otherwise
    /// the copy gets the first free `-<n>` suffix. The copy is written to a temporary file,
    /// `fsync`ed and renamed, so it is whole whenever it exists.
    ///
    /// # Errors
    /// [`ProfileError::Io`].
    pub fn back_up(&self, from: &BaseModelRef, bytes: &[u8]) -> Result<PathBuf, ProfileError> {
        let root = self.store.root();
        let stem = format!("{}{BASE_INFIX}{}", self.id, file_safe_hash(&from.hash));
        let mut n = 0u32;
        let target = loop {
            let candidate = if n == 0 {
                root.join(&stem)
            } else {
                root.join(format!("{stem}-{n}"))
            };
            match fs::symlink_metadata(&candidate) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => break candidate,
                Err(e) => return Err(io_at(&candidate)(e)),
                Ok(meta) => {
                    if meta.is_file() && meta.len() == bytes.len() as u64 {
                        let same = fs::read(&candidate).map_err(io_at(&candidate))?;
                        if same == bytes {
                            return Ok(candidate);
                        }
                    }
                }
            }
            n = n.checked_add(1).ok_or_else(|| ProfileError::Io {
                path: root.join(&stem),
                source: io::Error::other("no free name for the copy"),
            })?;
        };
        // Under this writer's lock nothing else names files of this player, and `target` was
        // free just now.
        self.write_atomically(&target, &[bytes])?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Emotion;
    use crate::player::copy::UpperCopy;
    use crate::player::voice::{VoiceFit, VoiceHead};

    const N_MFCC: usize = 40;

    fn base(what: &str) -> BaseModelRef {
        BaseModelRef::of_bytes("base", what.as_bytes())
    }

    fn features(frames: usize, cols: usize, seed: usize) -> QuantisedMatrix {
        QuantisedMatrix::encode(&FeatureMatrix {
            data: (0..frames * cols)
                .map(|i| ((i * 7 + seed * 13) % 31) as f32 - 15.0)
                .collect(),
            n_frames: frames,
            n_features: cols,
        })
    }

    fn voice() -> VoiceHead {
        let d: Vec<Vec<f32>> = (0..8)
            .map(|k| (0..6).map(|j| ((k * 5 + j * 3) % 7) as f32).collect())
            .collect();
        let refs: Vec<&[f32]> = d.iter().map(Vec::as_slice).collect();
        let labels: Vec<Emotion> = (0..8).map(|k| Emotion::ALL[k % 2]).collect();
        VoiceHead::fit(&refs, &labels, None, &VoiceFit::default()).unwrap()
    }

    /// A weight copy over a top layer of 3 values, a dense layer of 2 units.
    fn copy() -> UpperCopy {
        UpperCopy::from_values(
            (vec![0.5, -0.25, 0.0, 1.0, 2.0, -1.0], vec![0.1, 0.2], 3, 2),
            (
                (0..2 * Emotion::COUNT).map(|i| i as f32 / 10.0).collect(),
                vec![0.0; Emotion::COUNT],
                2,
                Emotion::COUNT,
            ),
        )
        .unwrap()
        // Fine-tuned a little on two emotions, so that it has heard some and not others.
        .fine_tune(
            0.0,
            (
                &[&[1.0, 0.0, -1.0], &[0.0, 1.0, 0.5]],
                &[Emotion::Sad, Emotion::Angry],
            ),
            (&[], &[]),
            &crate::player::copy::UpperTuning {
                steps: 3,
                ..Default::default()
            },
        )
    }

    /// An adapted player on base "old": samples of `cols` coefficients, statistics, a voice
    /// head, a weight copy and one update record.
    fn adapted(player: &str, cols: usize) -> PlayerProfile {
        let mut p = PlayerProfile::new(PlayerId::new(player).unwrap(), base("old"));
        p.samples = (0..5)
            .map(|k| ConfirmedSample {
                features: features(12, cols, k),
                emotion: Emotion::ALL[k % Emotion::COUNT],
                intensity: None,
                time_unix_ms: 1_700_000_000_000 + k as u64,
                audio: None,
            })
            .collect();
        let mut norm = NormStats::new(cols);
        norm.add(&features(20, cols, 9).decode());
        p.norm = Some(norm);
        p.voice = Some(voice());
        p.copy = Some(copy());
        p.history.push(UpdateRecord {
            time_unix_ms: 1_700_000_100_000,
            samples_used: 5,
            accuracy_before: 0.4,
            accuracy_after: 0.6,
            accepted: true,
            reason: "fitted".to_owned(),
            seconds: 0.1,
            kind: RecordKind::Update,
        });
        p
    }

    fn store() -> (tempfile::TempDir, ProfileStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(dir.path()).unwrap();
        (dir, store)
    }

    fn file_names(store: &ProfileStore) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rebasing_keeps_samples_statistics_and_history_and_drops_the_voice_head() {
        let old = adapted("ana", N_MFCC);
        let rebased = old.clone().rebase(base("new"));
        assert_eq!(rebased.base, base("new"));
        assert_eq!(rebased.voice, None);
        assert_eq!(rebased.copy, None);
        assert_eq!(rebased.samples, old.samples);
        assert_eq!(rebased.norm, old.norm);
        assert_eq!(
            (&rebased.id, rebased.created_unix_ms),
            (&old.id, old.created_unix_ms)
        );
        assert_eq!(rebased.history.len(), 2);
        assert_eq!(rebased.history[0], old.history[0]);
        let record = &rebased.history[1];
        assert_eq!(record.kind, RecordKind::Rebased);
        assert!(!record.accepted);
        assert_eq!(record.samples_used, 5);
        assert_eq!(record.reason, rebased_reason(&base("old"), &base("new"), 5));
        assert!(
            record.reason.contains(&base("old").to_string())
                && record.reason.contains(&base("new").to_string()),
            "{}",
            record.reason
        );
        assert!(rebased.updated_unix_ms >= old.updated_unix_ms);
    }

    #[test]
    fn samples_fit_only_a_front_end_of_their_width() {
        assert!(adapted("ana", N_MFCC).samples_fit(N_MFCC));
        assert!(!adapted("ana", 13).samples_fit(N_MFCC));
        let mut mixed = adapted("ana", N_MFCC);
        mixed.samples[3].features = features(12, 13, 3);
        assert!(!mixed.samples_fit(N_MFCC));
        assert!(PlayerProfile::new(PlayerId::new("e").unwrap(), base("old")).samples_fit(N_MFCC));
    }

    #[test]
    fn a_profile_for_another_base_is_backed_up_then_rebased() {
        let (_dir, store) = store();
        let old = adapted("ana", N_MFCC);
        let writer = store.acquire(&old.id).unwrap();
        writer.save(&old).unwrap();
        let path = store.path_of(&old.id);
        let original = fs::read(&path).unwrap();

        // The plain loads still refuse it.
        assert!(matches!(
            writer.load(&base("new")),
            Err(ProfileError::WrongBase { .. })
        ));

        let loaded = writer
            .load_or_rebase(&base("new"), N_MFCC)
            .unwrap()
            .unwrap();
        let rebased = loaded.rebased.unwrap();
        assert_eq!((&rebased.from, &rebased.to), (&base("old"), &base("new")));
        let expected_backup = store
            .root()
            .join(format!("ana.profile.base-{}", base("old").hash));
        assert_eq!(rebased.backup, expected_backup);
        assert_eq!(
            fs::read(&rebased.backup).unwrap(),
            original,
            "byte for byte"
        );
        assert_eq!(
            loaded.profile,
            old.clone().rebase(base("new")).with_time(&loaded.profile)
        );
        // The file itself is rewritten only by a save.
        assert_eq!(fs::read(&path).unwrap(), original);
        // Asking again before the save reuses the copy.
        let again = writer
            .load_or_rebase(&base("new"), N_MFCC)
            .unwrap()
            .unwrap();
        assert_eq!(again.rebased.unwrap().backup, expected_backup);
        assert_eq!(
            file_names(&store),
            [
                "ana.lock".to_owned(),
                "ana.profile".to_owned(),
                format!("ana.profile.base-{}", base("old").hash),
            ]
        );

        writer.save(&loaded.profile).unwrap();
        let now = writer.load(&base("new")).unwrap().unwrap();
        assert_eq!(now, loaded.profile);
        // On the right base nothing happens.
        let same = writer
            .load_or_rebase(&base("new"), N_MFCC)
            .unwrap()
            .unwrap();
        assert_eq!((same.profile, same.rebased), (loaded.profile, None));
        // The copy is the old profile, for the old base.
        assert_eq!(
            decode_profile(&fs::read(&expected_backup).unwrap()).unwrap(),
            old
        );
        // Forgetting the player deletes the copy too.
        writer.forget().unwrap();
        assert!(file_names(&store).is_empty(), "{:?}", file_names(&store));
    }

    impl PlayerProfile {
        /// `self` with `other`'s times (those of a re-base are now).
        fn with_time(mut self, other: &PlayerProfile) -> Self {
            self.updated_unix_ms = other.updated_unix_ms;
            if let (Some(a), Some(b)) = (self.history.last_mut(), other.history.last()) {
                a.time_unix_ms = b.time_unix_ms;
            }
            self
        }
    }

    #[test]
    fn a_backup_is_never_overwritten() {
        let (_dir, store) = store();
        let old = adapted("bob", N_MFCC);
        let writer = store.acquire(&old.id).unwrap();
        writer.save(&old).unwrap();
        let original = fs::read(store.path_of(&old.id)).unwrap();
        let first = store
            .root()
            .join(format!("bob.profile.base-{}", base("old").hash));
        // Something else already holds the name, and the next one.
        fs::write(&first, b"an older copy").unwrap();
        let second = store
            .root()
            .join(format!("bob.profile.base-{}-1", base("old").hash));
        fs::write(&second, &original[..original.len() - 1]).unwrap();
        let loaded = writer
            .load_or_rebase(&base("new"), N_MFCC)
            .unwrap()
            .unwrap();
        let backup = loaded.rebased.unwrap().backup;
        assert_eq!(
            backup,
            store
                .root()
                .join(format!("bob.profile.base-{}-2", base("old").hash))
        );
        assert_eq!(fs::read(&backup).unwrap(), original);
        assert_eq!(fs::read(&first).unwrap(), b"an older copy");
        assert_eq!(fs::read(&second).unwrap(), &original[..original.len() - 1]);
        // No temporary file left behind.
        assert_eq!(file_names(&store).len(), 5, "{:?}", file_names(&store));
    }

    #[test]
    fn samples_of_another_front_end_are_not_rebased() {
        let (_dir, store) = store();
        let old = adapted("cy", 13);
        let writer = store.acquire(&old.id).unwrap();
        writer.save(&old).unwrap();
        let original = fs::read(store.path_of(&old.id)).unwrap();
        match writer.load_or_rebase(&base("new"), N_MFCC) {
            Err(ProfileError::WrongBase {
                player,
                expected,
                found,
            }) => {
                assert_eq!(
                    (player, expected, found),
                    (old.id.clone(), base("new"), base("old"))
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(store.path_of(&old.id)).unwrap(), original);
        assert_eq!(file_names(&store), ["cy.lock", "cy.profile"]);
        // The same profile on its own base loads as ever.
        let same = writer.load_or_rebase(&base("old"), 13).unwrap().unwrap();
        assert_eq!((same.profile, same.rebased), (old, None));
    }

    #[test]
    fn a_hash_that_is_not_hex_does_not_choose_the_backup_path() {
        let (_dir, store) = store();
        let writer = store.acquire(&PlayerId::new("dee").unwrap()).unwrap();
        let odd = BaseModelRef {
            name: "odd".to_owned(),
            hash: "../../escape".to_owned(),
        };
        let backup = writer.back_up(&odd, b"bytes").unwrap();
        assert_eq!(backup.parent(), Some(store.root()));
        let name = backup.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with("dee.profile.base-"), "{name}");
        assert_eq!(name.len(), "dee.profile.base-".len() + 16, "{name}");
    }

    /// `profile` as a build of format `version` wrote it: 3 or 4 (which share a layout) its
    /// weight copy left out, 5 its weight copy without the emotions it heard.
    fn file_with_version(profile: &PlayerProfile, version: u32) -> Vec<u8> {
        let payload = match version {
            3 | 4 => bincode::serde::encode_to_vec(
                super::super::migrate::PlayerProfileV4::from(profile),
                bincode_config(),
            ),
            5 => bincode::serde::encode_to_vec(
                super::super::migrate::PlayerProfileV5::from(profile),
                bincode_config(),
            ),
            _ => panic!("no layout for version {version}"),
        }
        .unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes
    }

    #[test]
    fn a_profile_with_a_weight_copy_round_trips_in_format_6() {
        assert_eq!(FORMAT_VERSION, 6);
        let p = adapted("dot", N_MFCC);
        assert!(p.copy.is_some());
        let bytes = encode_profile(&p).unwrap();
        assert_eq!(bytes[8..12], 6u32.to_le_bytes());
        assert_eq!(decode_profile(&bytes).unwrap(), p);
        let (_dir, store) = store();
        store.acquire(&p.id).unwrap().save(&p).unwrap();
        assert_eq!(store.load(&p.id, &base("old")).unwrap(), Some(p));
    }

    #[test]
    fn a_rebased_profile_round_trips() {
        let p = adapted("eve", N_MFCC).rebase(base("new"));
        let bytes = encode_profile(&p).unwrap();
        assert_eq!(decode_profile(&bytes).unwrap(), p);
        let (_dir, store) = store();
        store.acquire(&p.id).unwrap().save(&p).unwrap();
        assert_eq!(store.load(&p.id, &base("new")).unwrap(), Some(p));
    }

    #[test]
    fn a_version_5_file_decodes_without_its_weight_copy() {
        for p in [
            adapted("ivy", N_MFCC),
            adapted("ivy", N_MFCC).rebase(base("new")),
        ] {
            let v5 = file_with_version(&p, 5);
            let mut expected = p;
            expected.copy = None;
            assert_eq!(decode_profile(&v5).unwrap(), expected);
        }
    }

    #[test]
    fn a_version_4_file_decodes_without_a_weight_copy() {
        for p in [
            adapted("ida", N_MFCC),
            adapted("ida", N_MFCC).rebase(base("new")),
        ] {
            let v4 = file_with_version(&p, 4);
            let mut expected = p;
            expected.copy = None;
            assert_eq!(decode_profile(&v4).unwrap(), expected);
        }
    }

    #[test]
    fn a_version_3_file_still_decodes_but_may_not_hold_a_rebased_record() {
        // Version 3 has version 4's layout: a file as the version-3 build wrote it.
        let mut p = adapted("fay", N_MFCC);
        p.copy = None;
        let v3 = file_with_version(&p, 3);
        assert_eq!(decode_profile(&v3).unwrap(), p);
        let (_dir, store) = store();
        fs::write(store.path_of(&p.id), &v3).unwrap();
        assert_eq!(store.load(&p.id, &base("old")).unwrap(), Some(p.clone()));
        // A version-3 build never wrote the new kind: such a file is damaged.
        let rebased = p.rebase(base("new"));
        match decode_profile(&file_with_version(&rebased, 3)) {
            Err(CorruptReason::Decode { message }) => {
                assert!(message.contains("Rebased"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_build_leaves_a_file_of_a_newer_version_untouched() {
        // What this build's loader does with a file whose version is above its own (as the
        // version-3 build did with version 4).
        let p = adapted("gus", N_MFCC).rebase(base("new"));
        let bytes = encode_profile(&p).unwrap();
        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let (_dir, store) = store();
        fs::write(store.path_of(&p.id), &future).unwrap();
        assert!(matches!(
            store.load(&p.id, &base("new")),
            Err(ProfileError::NewerVersion { version, .. }) if version == FORMAT_VERSION + 1
        ));
        assert_eq!(fs::read(store.path_of(&p.id)).unwrap(), future);
    }
}
