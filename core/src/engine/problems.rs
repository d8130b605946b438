//! What can go wrong, as values: why the engine stopped, why an utterance was not classified,
//! why a confirmation was refused, what is wrong with a player's profile. Each carries the
//! value or path at fault, and its `Display` gives the words the engine logs.
//!
//! Errors that are not `Clone` travel behind an `Arc`, so events stay `Clone`. Two such errors
//! compare equal when they are the same error or read the same.

use std::fmt;

use super::*;
use crate::audio::AudioError;
use crate::features::FeatureError;
use crate::player::profile::CorruptReason;

fn same<E: fmt::Display>(a: &Arc<E>, b: &Arc<E>) -> bool {
    Arc::ptr_eq(a, b) || a.to_string() == b.to_string()
}

/// Why the engine could not start ([`EngineEvent::Failed`]); it has stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineFailure {
    /// The base model or its anchors could not be loaded.
    #[error("{0}")]
    Model(Arc<EngineError>),
    /// The model's `input.json` describes features that cannot be computed.
    #[error("the model's input configuration: {0}")]
    InputConfig(FeatureError),
    /// Speech detection cannot run at the source's sample rate.
    #[error("speech detection at {rate} Hz: {error}")]
    SpeechDetection {
        /// The source's sample rate, in Hz.
        rate: u32,
        /// What the segmenter refused.
        error: VadError,
    },
}

impl PartialEq for EngineFailure {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Model(a), Self::Model(b)) => same(a, b),
            (Self::InputConfig(a), Self::InputConfig(b)) => a == b,
            (
                Self::SpeechDetection { rate, error },
                Self::SpeechDetection {
                    rate: rate_b,
                    error: error_b,
                },
            ) => rate == rate_b && error == error_b,
            _ => false,
        }
    }
}

/// Why an utterance could not be classified ([`EngineEvent::DetectionFailed`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum DetectionFailure {
    /// Resampling to the model's rate failed.
    #[error("{0}")]
    Resample(Arc<AudioError>),
    /// Its features could not be computed.
    #[error("{0}")]
    Features(FeatureError),
    /// The player's model refused its features.
    #[error("{0}")]
    Classify(Arc<AdaptError>),
}

impl PartialEq for DetectionFailure {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Resample(a), Self::Resample(b)) => same(a, b),
            (Self::Features(a), Self::Features(b)) => a == b,
            (Self::Classify(a), Self::Classify(b)) => same(a, b),
            _ => false,
        }
    }
}

/// Why a confirmation was not taken as a sample ([`EngineEvent::ConfirmRejected`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfirmRejection {
    /// The utterance is unknown, too old, or was confirmed already: the engine keeps the
    /// last `kept` utterances ([`EngineConfig::recent_utterances`]), each for one confirmation.
    #[error("utterance {utterance} is not among the last {kept} heard")]
    NotRecent {
        /// The utterance asked for.
        utterance: u64,
        /// How many utterances the engine keeps.
        kept: usize,
    },
    /// The player's model refused the sample.
    #[error("{0}")]
    Refused(Arc<AdaptError>),
}

impl PartialEq for ConfirmRejection {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::NotRecent { utterance, kept },
                Self::NotRecent {
                    utterance: u,
                    kept: k,
                },
            ) => utterance == u && kept == k,
            (Self::Refused(a), Self::Refused(b)) => same(a, b),
            _ => false,
        }
    }
}

/// What is wrong with the profiles, or what was done to one: the notice of
/// [`EngineEvent::Ready`] and [`EngineEvent::PlayerSwitched`] (the player then runs on the
/// base model, except after [`ProfileNotice::Rebased`]), and the problem of
/// [`EngineEvent::ProfileProblem`] and [`EngineEvent::PlayersListed`].
#[derive(Debug, Clone)]
pub enum ProfileNotice {
    /// The profile folder cannot be used (no home directory, read-only, a file in the way):
    /// profiles are kept in memory only.
    StoreUnavailable(Arc<ProfileError>),
    /// Another writer (this process or another) holds the player's lock: the player runs on
    /// the base model and nothing is saved.
    Locked {
        /// The player.
        player: PlayerId,
        /// The lock file.
        lock: PathBuf,
    },
    /// The player's lock could not be taken (an I/O error): the player runs on the base model
    /// and nothing is saved.
    NotOpened(Arc<ProfileError>),
    /// The file failed a check and was moved aside; the player starts again from the base
    /// model, and their new profile is saved.
    MovedAside {
        /// The player.
        player: PlayerId,
        /// Where the file was.
        path: PathBuf,
        /// Where it is now.
        moved_to: PathBuf,
        /// What is wrong with it.
        reason: CorruptReason,
    },
    /// The profile was made for another base model and its samples do not fit this model's
    /// front end (another number of MFCCs), so it cannot be re-based; it is left untouched and
    /// nothing is saved.
    WrongBase {
        /// The player.
        player: PlayerId,
        /// The base model in use.
        expected: BaseModelRef,
        /// The base model in the file.
        found: BaseModelRef,
    },
    /// The profile was made for another base model and was carried over to this one
    /// ([`ProfileWriter::load_or_rebase`]): the original file was copied to `backup`, the
    /// player keeps their samples, statistics and history, and their voice head is fitted
    /// again on this base from their samples (it was made on the old one). The re-based
    /// profile is saved.
    Rebased {
        /// The player.
        player: PlayerId,
        /// The base model the profile was made for.
        from: BaseModelRef,
        /// The base model in use, which it is now for.
        to: BaseModelRef,
        /// The copy of the original file.
        backup: PathBuf,
    },
    /// The profile was written by a newer build; it is left untouched and nothing is saved.
    NewerVersion {
        /// The player.
        player: PlayerId,
        /// The file.
        path: PathBuf,
        /// The format version in its header.
        version: u32,
    },
    /// The profile could not be read and is left untouched (a corrupt file that could not be
    /// moved, an id that differs only in case, an I/O error); nothing is saved.
    Unreadable(Arc<ProfileError>),
    /// The profile reads but its voice head does not fit this model; it is left untouched
    /// and nothing is saved.
    DoesNotFit {
        /// The player.
        player: PlayerId,
        /// What does not fit.
        error: Arc<AdaptError>,
    },
    /// The active player's profile could not be saved (the next save tries again).
    SaveFailed(Arc<ProfileError>),
    /// A player's profile could not be deleted.
    ForgetFailed(Arc<ProfileError>),
    /// The profile folder could not be listed.
    ListFailed(Arc<ProfileError>),
}

impl ProfileNotice {
    /// The notice for a profile that [`ProfileStore::acquire`] refused.
    #[must_use]
    pub fn not_acquired(error: ProfileError) -> Self {
        match error {
            ProfileError::Locked { player, path } => Self::Locked { player, lock: path },
            e => Self::NotOpened(Arc::new(e)),
        }
    }

    /// The notice for a profile that [`ProfileWriter::load`] refused.
    #[must_use]
    pub fn not_loaded(error: ProfileError) -> Self {
        match error {
            ProfileError::Corrupt {
                player,
                path,
                moved_to,
                reason,
            } => Self::MovedAside {
                player,
                path,
                moved_to,
                reason,
            },
            ProfileError::WrongBase {
                player,
                expected,
                found,
            } => Self::WrongBase {
                player,
                expected,
                found,
            },
            ProfileError::NewerVersion {
                player,
                path,
                version,
            } => Self::NewerVersion {
                player,
                path,
                version,
            },
            e => Self::Unreadable(Arc::new(e)),
        }
    }

    /// Whether the player's profile is saved from now on (a file moved aside is replaced by a
    /// new profile, a re-based one by the profile on the new base); `false` when the player
    /// runs from memory and their file, if any, is left as it is.
    #[must_use]
    pub fn still_saved(&self) -> bool {
        matches!(
            self,
            Self::MovedAside { .. }
                | Self::Rebased { .. }
                | Self::SaveFailed(_)
                | Self::ForgetFailed(_)
                | Self::ListFailed(_)
        )
    }
}

impl fmt::Display for ProfileNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NOT_SAVED: &str = "using the base model, nothing will be saved";
        const UNTOUCHED: &str = "using the base model, the profile is left untouched";
        match self {
            Self::StoreUnavailable(e) => write!(
                f,
                "{e}; profiles are kept in memory only, nothing will be saved"
            ),
            Self::Locked { player, lock } => {
                let e = ProfileError::Locked {
                    player: player.clone(),
                    path: lock.clone(),
                };
                write!(f, "{e}; {NOT_SAVED}")
            }
            Self::NotOpened(e) => write!(f, "{e}; {NOT_SAVED}"),
            Self::MovedAside {
                player,
                path,
                moved_to,
                reason,
            } => {
                let e = ProfileError::Corrupt {
                    player: player.clone(),
                    path: path.clone(),
                    moved_to: moved_to.clone(),
                    reason: reason.clone(),
                };
                write!(f, "{e}; starting again from the base model")
            }
            Self::WrongBase {
                player,
                expected,
                found,
            } => {
                let e = ProfileError::WrongBase {
                    player: player.clone(),
                    expected: expected.clone(),
                    found: found.clone(),
                };
                write!(f, "{e}; {UNTOUCHED}")
            }
            Self::Rebased {
                player,
                from,
                to,
                backup,
            } => write!(
                f,
                "profile of player {player} was made for base model {from}; re-based to {to} \
                 (samples, statistics and history kept, the voice head is fitted again from the \
                 samples), the original is kept as {}",
                backup.display()
            ),
            Self::NewerVersion {
                player,
                path,
                version,
            } => {
                let e = ProfileError::NewerVersion {
                    player: player.clone(),
                    path: path.clone(),
                    version: *version,
                };
                write!(f, "{e}; {UNTOUCHED}")
            }
            Self::Unreadable(e) => write!(f, "{e}; {UNTOUCHED}"),
            Self::DoesNotFit { player, error } => write!(
                f,
                "profile of player {player} does not fit this model ({error}); {UNTOUCHED}"
            ),
            Self::SaveFailed(e) | Self::ForgetFailed(e) | Self::ListFailed(e) => {
                write!(f, "{e}")
            }
        }
    }
}

impl std::error::Error for ProfileNotice {}

impl PartialEq for ProfileNotice {
    fn eq(&self, other: &Self) -> bool {
        use ProfileNotice as N;
        match (self, other) {
            (N::StoreUnavailable(a), N::StoreUnavailable(b))
            | (N::NotOpened(a), N::NotOpened(b))
            | (N::Unreadable(a), N::Unreadable(b))
            | (N::SaveFailed(a), N::SaveFailed(b))
            | (N::ForgetFailed(a), N::ForgetFailed(b))
            | (N::ListFailed(a), N::ListFailed(b)) => same(a, b),
            (N::Locked { player, lock }, N::Locked { player: p, lock: l }) => {
                player == p && lock == l
            }
            (
                N::MovedAside {
                    player,
                    path,
                    moved_to,
                    reason,
                },
                N::MovedAside {
                    player: p,
                    path: pa,
                    moved_to: m,
                    reason: r,
                },
            ) => player == p && path == pa && moved_to == m && reason == r,
            (
                N::WrongBase {
                    player,
                    expected,
                    found,
                },
                N::WrongBase {
                    player: p,
                    expected: e,
                    found: fo,
                },
            ) => player == p && expected == e && found == fo,
            (
                N::Rebased {
                    player,
                    from,
                    to,
                    backup,
                },
                N::Rebased {
                    player: p,
                    from: fr,
                    to: t,
                    backup: b,
                },
            ) => player == p && from == fr && to == t && backup == b,
            (
                N::NewerVersion {
                    player,
                    path,
                    version,
                },
                N::NewerVersion {
                    player: p,
                    path: pa,
                    version: v,
                },
            ) => player == p && path == pa && version == v,
            (
                N::DoesNotFit { player, error },
                N::DoesNotFit {
                    player: p,
                    error: e,
                },
            ) => player == p && same(error, e),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana() -> PlayerId {
        PlayerId::new("ana").unwrap()
    }

    #[test]
    fn a_lock_held_elsewhere_is_told_apart_from_other_open_errors() {
        let locked = ProfileNotice::not_acquired(ProfileError::Locked {
            player: ana(),
            path: PathBuf::from("/p/ana.lock"),
        });
        assert_eq!(
            locked,
            ProfileNotice::Locked {
                player: ana(),
                lock: PathBuf::from("/p/ana.lock")
            }
        );
        assert_eq!(
            locked.to_string(),
            "profile of player ana is being written elsewhere (lock /p/ana.lock); using the \
             base model, nothing will be saved"
        );
        assert!(!locked.still_saved());
        let io = ProfileNotice::not_acquired(ProfileError::Io {
            path: PathBuf::from("/p"),
            source: std::io::Error::other("denied"),
        });
        assert!(matches!(io, ProfileNotice::NotOpened(_)), "{io:?}");
        assert_eq!(
            io.to_string(),
            "/p: denied; using the base model, nothing will be saved"
        );
    }

    #[test]
    fn a_corrupt_file_moved_aside_keeps_its_paths_and_is_saved_again() {
        let notice = ProfileNotice::not_loaded(ProfileError::Corrupt {
            player: ana(),
            path: PathBuf::from("/p/ana.profile"),
            moved_to: PathBuf::from("/p/ana.profile.corrupt-1"),
            reason: CorruptReason::BadMagic { found: [0; 8] },
        });
        let ProfileNotice::MovedAside { moved_to, .. } = &notice else {
            panic!("{notice:?}");
        };
        assert_eq!(moved_to, &PathBuf::from("/p/ana.profile.corrupt-1"));
        assert!(notice.still_saved());
        assert!(
            notice
                .to_string()
                .ends_with("moved to /p/ana.profile.corrupt-1; starting again from the base model"),
            "{notice}"
        );
    }

    #[test]
    fn files_for_another_model_or_a_newer_build_are_left_untouched() {
        let base = |hash: &str| BaseModelRef {
            name: "base".to_owned(),
            hash: hash.to_owned(),
        };
        let wrong = ProfileNotice::not_loaded(ProfileError::WrongBase {
            player: ana(),
            expected: base("aa"),
            found: base("bb"),
        });
        assert!(
            matches!(wrong, ProfileNotice::WrongBase { .. }),
            "{wrong:?}"
        );
        assert!(
            wrong
                .to_string()
                .ends_with("; using the base model, the profile is left untouched")
        );
        let newer = ProfileNotice::not_loaded(ProfileError::NewerVersion {
            player: ana(),
            path: PathBuf::from("/p/ana.profile"),
            version: 9,
        });
        assert!(matches!(
            newer,
            ProfileNotice::NewerVersion { version: 9, .. }
        ));
        assert!(!newer.still_saved() && !wrong.still_saved());
        let io = ProfileNotice::not_loaded(ProfileError::Io {
            path: PathBuf::from("/p/ana.profile"),
            source: std::io::Error::other("denied"),
        });
        assert!(matches!(io, ProfileNotice::Unreadable(_)), "{io:?}");
    }

    #[test]
    fn a_rebased_profile_names_both_bases_and_its_backup_and_is_saved() {
        let base = |hash: &str| BaseModelRef {
            name: "base".to_owned(),
            hash: hash.to_owned(),
        };
        let notice = ProfileNotice::Rebased {
            player: ana(),
            from: base("aa"),
            to: base("bb"),
            backup: PathBuf::from("/p/ana.profile.base-aa"),
        };
        assert!(notice.still_saved());
        assert_eq!(
            notice.to_string(),
            "profile of player ana was made for base model base (aa); re-based to base (bb) \
             (samples, statistics and history kept, the voice head is fitted again from the \
             samples), the original is kept as /p/ana.profile.base-aa"
        );
        assert_eq!(notice, notice.clone());
        let ProfileNotice::Rebased { backup, .. } = &notice else {
            unreachable!()
        };
        let other = ProfileNotice::Rebased {
            player: ana(),
            from: base("aa"),
            to: base("bb"),
            backup: backup.with_extension("base-aa-1"),
        };
        assert_ne!(notice, other);
        assert_ne!(
            notice,
            ProfileNotice::WrongBase {
                player: ana(),
                expected: base("bb"),
                found: base("aa"),
            }
        );
    }

    #[test]
    fn shared_errors_compare_by_what_they_say() {
        let err = || {
            Arc::new(ProfileError::Io {
                path: PathBuf::from("/p"),
                source: std::io::Error::other("full"),
            })
        };
        assert_eq!(
            ProfileNotice::SaveFailed(err()),
            ProfileNotice::SaveFailed(err())
        );
        assert_ne!(
            ProfileNotice::SaveFailed(err()),
            ProfileNotice::ForgetFailed(err())
        );
        assert_eq!(ProfileNotice::SaveFailed(err()).to_string(), "/p: full");
        let rejected = ConfirmRejection::NotRecent {
            utterance: 7,
            kept: 32,
        };
        assert_eq!(
            rejected.to_string(),
            "utterance 7 is not among the last 32 heard"
        );
        let failed = EngineFailure::SpeechDetection {
            rate: 4000,
            error: VadError::OutOfRange {
                field: "sensitivity",
                value: 2.0,
                min: 0.0,
                max: 1.0,
            },
        };
        assert!(
            failed
                .to_string()
                .starts_with("speech detection at 4000 Hz: ")
        );
    }
}
