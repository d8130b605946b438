//! The store: one file per player, atomic saves, locking, the corrupt-file policy.

use super::*;

// ---------------------------------------------------------------------------------------------
// The store

/// A directory of player profiles, one `<id>.profile` file each (plus `<id>.lock`,
/// `<id>.profile.corrupt-*` files moved aside and `<id>.profile.base-*` copies kept when a
/// profile was re-based). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    pub(super) root: PathBuf,
}

impl ProfileStore {
    /// The store in `root`, created if missing.
    ///
    /// # Errors
    /// [`ProfileError::Io`] when the directory cannot be created.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, ProfileError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_at(&root))?;
        Ok(Self { root })
    }

    /// The per-user store of `app_name`: `profiles/` in the platform's data directory
    /// (`$XDG_DATA_HOME/<app_name>/profiles` or `~/.local/share/...` on Linux,
    /// `~/Library/Application Support/<app_name>/profiles` on macOS,
    /// `%APPDATA%\<app_name>\data\profiles` on Windows).
    ///
    /// # Errors
    /// [`ProfileError::NoDataDirectory`] without a home directory, [`ProfileError::Io`] when
    /// the directory cannot be created.
    pub fn default_location(app_name: &str) -> Result<Self, ProfileError> {
        let dirs = directories::ProjectDirs::from("", "", app_name).ok_or_else(|| {
            ProfileError::NoDataDirectory {
                app_name: app_name.to_owned(),
            }
        })?;
        Self::new(dirs.data_dir().join("profiles"))
    }

    /// The directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The profile file of `id`: `<root>/<id>.profile`.
    #[must_use]
    pub fn path_of(&self, id: &PlayerId) -> PathBuf {
        self.root.join(format!("{id}{PROFILE_SUFFIX}"))
    }

    /// The lock file of `id`: `<root>/<id>.lock`.
    #[must_use]
    pub fn lock_path_of(&self, id: &PlayerId) -> PathBuf {
        self.root.join(format!("{id}{LOCK_SUFFIX}"))
    }

    /// The profile of `id`, `Ok(None)` when there is none.
    ///
    /// Needs no lock: saves replace the file atomically, so a load sees a complete old or new
    /// version. A file that fails a check is moved aside (that takes the player's lock for a
    /// moment, so it never races a save); when a [`ProfileWriter`] of this player is alive,
    /// use [`ProfileWriter::load`] instead, which moves it aside under the writer's lock.
    ///
    /// # Errors
    /// [`ProfileError::Corrupt`] (moved aside) or [`ProfileError::CorruptLeftInPlace`] for a
    /// damaged, truncated, unknown older version or other player's file;
    /// [`ProfileError::WrongBase`] for a profile made on another base model and
    /// [`ProfileError::NewerVersion`] for one written by a newer build (both left in place);
    /// [`ProfileError::IdCaseConflict`]; [`ProfileError::Io`].
    pub fn load(
        &self,
        id: &PlayerId,
        expected_base: &BaseModelRef,
    ) -> Result<Option<PlayerProfile>, ProfileError> {
        match self.read_checked(id, expected_base)? {
            Checked::Good(profile) => Ok(profile.map(|p| *p)),
            Checked::OtherBase { profile, .. } => Err(wrong_base(id, expected_base, *profile)),
            // Move it aside under the lock, deciding again there: a save may have replaced
            // the file meanwhile.
            Checked::Corrupt(path, reason) => match self.acquire(id) {
                Ok(writer) => writer.load(expected_base),
                Err(cause) => Err(ProfileError::CorruptLeftInPlace {
                    player: id.clone(),
                    path,
                    reason,
                    cause: Box::new(cause),
                }),
            },
        }
    }

    /// Reads and checks `id`'s file; a corrupt file is reported, not moved, and a profile for
    /// another base model is returned with the file's bytes.
    pub(super) fn read_checked(
        &self,
        id: &PlayerId,
        expected_base: &BaseModelRef,
    ) -> Result<Checked, ProfileError> {
        let path = self.path_of(id);
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checked::Good(None)),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let result = if len > (HEADER_LEN + MAX_PAYLOAD_BYTES) as u64 {
            Err(Rejected::Corrupt(CorruptReason::TooLarge { len }))
        } else {
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checked::Good(None)),
                Err(e) => return Err(io_at(&path)(e)),
            };
            match decode_file(&bytes, id) {
                Ok(profile) if profile.base.hash != expected_base.hash => {
                    return Ok(Checked::OtherBase {
                        profile: Box::new(profile),
                        bytes,
                    });
                }
                other => other,
            }
        };
        match result {
            Ok(profile) => Ok(Checked::Good(Some(Box::new(profile)))),
            Err(Rejected::CaseConflict(found)) => Err(ProfileError::IdCaseConflict {
                requested: id.clone(),
                found,
                path,
            }),
            Err(Rejected::Newer(version)) => Err(ProfileError::NewerVersion {
                player: id.clone(),
                path,
                version,
            }),
            Err(Rejected::Corrupt(reason)) => Ok(Checked::Corrupt(path, reason)),
        }
    }

    /// Renames `path` to a fresh `<id>.profile.corrupt-<unix_ms>[-n]` (caller holds the lock).
    pub(super) fn move_aside(&self, id: &PlayerId, path: &Path) -> Result<PathBuf, ProfileError> {
        let stamp = unix_ms_now();
        let mut target = self.root.join(format!("{id}{CORRUPT_INFIX}{stamp}"));
        let mut n = 0u32;
        while fs::symlink_metadata(&target).is_ok() {
            n += 1;
            target = self.root.join(format!("{id}{CORRUPT_INFIX}{stamp}-{n}"));
        }
        fs::rename(path, &target).map_err(io_at(path))?;
        sync_dir(&self.root)?;
        tracing::warn!(
            "profile {} is unreadable; moved to {}",
            path.display(),
            target.display()
        );
        Ok(target)
    }

    /// The players with a profile file, sorted (files whose names are not valid ids are
    /// skipped).
    ///
    /// # Errors
    /// [`ProfileError::Io`] when the directory cannot be read.
    pub fn list(&self) -> Result<Vec<PlayerId>, ProfileError> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_at(&self.root))? {
            let entry = entry.map_err(io_at(&self.root))?;
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            let name = entry.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(PROFILE_SUFFIX))
                .and_then(|s| PlayerId::new(s).ok())
                && is_file
            {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Deletes everything stored for `id`: its profile, files moved aside, copies kept on
    /// re-basing, leftover temporary files and its lock file. Takes the lock first.
    ///
    /// # Errors
    /// [`ProfileError::Locked`] while a writer of `id` is alive (use [`ProfileWriter::forget`]
    /// from it), [`ProfileError::Io`].
    pub fn forget(&self, id: &PlayerId) -> Result<(), ProfileError> {
        self.acquire(id)?.forget()
    }

    /// The exclusive writer of `id`'s profile: takes an OS advisory lock on `<id>.lock`, held
    /// until the writer is dropped (or the process ends, however it ends). Removes temporary
    /// files that crashed saves left behind.
    ///
    /// # Errors
    /// [`ProfileError::Locked`] while another writer of `id` is alive, in this process or
    /// another; [`ProfileError::Io`].
    pub fn acquire(&self, id: &PlayerId) -> Result<ProfileWriter, ProfileError> {
        let lock_path = self.lock_path_of(id);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ProfileError::Locked {
                    player: id.clone(),
                    path: lock_path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
        }
        let writer = ProfileWriter {
            store: self.clone(),
            id: id.clone(),
            lock_path,
            _lock: lock,
        };
        for path in self.files_of(id, FileKind::Temp)? {
            remove_if_present(&path)?;
        }
        Ok(writer)
    }

    /// `id`'s files of `kind` in the directory.
    pub(super) fn files_of(
        &self,
        id: &PlayerId,
        kind: FileKind,
    ) -> Result<Vec<PathBuf>, ProfileError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io_at(&self.root))? {
            let entry = entry.map_err(io_at(&self.root))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(id.as_str()) else {
                continue;
            };
            // Suffixes are `-`-separated digits, so another id's files never match.
            let stamped = |infix: &str| {
                rest.strip_prefix(infix).is_some_and(|s| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                })
            };
            // Copies kept on re-basing: a hash (hex digits), maybe a `-<n>` suffix.
            let backup = rest.strip_prefix(BASE_INFIX).is_some_and(|s| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
            });
            let matches = match kind {
                FileKind::Temp => stamped(TMP_INFIX),
                FileKind::All => {
                    rest == PROFILE_SUFFIX || stamped(TMP_INFIX) || stamped(CORRUPT_INFIX) || backup
                }
            };
            if matches {
                out.push(entry.path());
            }
        }
        Ok(out)
    }
}

/// What [`ProfileStore::read_checked`] found.
pub(super) enum Checked {
    /// A valid profile of the requested player and base, or none.
    Good(Option<Box<PlayerProfile>>),
    /// A valid profile of the requested player made for another base model.
    OtherBase {
        /// The profile.
        profile: Box<PlayerProfile>,
        /// The file's bytes, as read.
        bytes: Vec<u8>,
    },
    /// The file at this path failed a check.
    Corrupt(PathBuf, CorruptReason),
}

#[derive(Clone, Copy)]
pub(super) enum FileKind {
    /// Temporary files of unfinished saves.
    Temp,
    /// Everything but the lock file.
    All,
}

/// The [`ProfileError::WrongBase`] of `profile`, found where `expected` was asked for.
pub(super) fn wrong_base(
    id: &PlayerId,
    expected: &BaseModelRef,
    profile: PlayerProfile,
) -> ProfileError {
    ProfileError::WrongBase {
        player: id.clone(),
        expected: expected.clone(),
        found: profile.base,
    }
}

pub(super) fn remove_if_present(path: &Path) -> Result<(), ProfileError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_at(path)(e)),
        _ => Ok(()),
    }
}

/// Makes renames and deletions in `dir` durable (Unix; elsewhere the rename is enough).
pub(super) fn sync_dir(dir: &Path) -> Result<(), ProfileError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The one writer of a player's profile, holding the player's lock until dropped. See
/// [`ProfileStore::acquire`].
#[derive(Debug)]
pub struct ProfileWriter {
    pub(super) store: ProfileStore,
    pub(super) id: PlayerId,
    pub(super) lock_path: PathBuf,
    /// Open for as long as the writer lives; closing it releases the lock.
    pub(super) _lock: File,
}

/// Distinguishes temporary files of saves in flight in one process.
pub(super) static SAVE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ProfileWriter {
    /// The player whose profile this writes.
    #[must_use]
    pub fn player(&self) -> &PlayerId {
        &self.id
    }

    /// The lock file held.
    #[must_use]
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// As [`ProfileStore::load`], under this writer's lock (a damaged file is always moved
    /// aside, as [`ProfileError::Corrupt`], unless the rename fails).
    ///
    /// # Errors
    /// As [`ProfileStore::load`].
    pub fn load(
        &self,
        expected_base: &BaseModelRef,
    ) -> Result<Option<PlayerProfile>, ProfileError> {
        let checked = self.store.read_checked(&self.id, expected_base)?;
        self.settle(checked, expected_base)
    }

    /// What [`ProfileWriter::load`] makes of what [`ProfileStore::read_checked`] found: a
    /// damaged file is moved aside, a profile for another base is [`ProfileError::WrongBase`].
    pub(super) fn settle(
        &self,
        checked: Checked,
        expected_base: &BaseModelRef,
    ) -> Result<Option<PlayerProfile>, ProfileError> {
        match checked {
            Checked::Good(profile) => Ok(profile.map(|p| *p)),
            Checked::OtherBase { profile, .. } => {
                Err(wrong_base(&self.id, expected_base, *profile))
            }
            Checked::Corrupt(path, reason) => match self.store.move_aside(&self.id, &path) {
                Ok(moved_to) => Err(ProfileError::Corrupt {
                    player: self.id.clone(),
                    path,
                    moved_to,
                    reason,
                }),
                Err(cause) => Err(ProfileError::CorruptLeftInPlace {
                    player: self.id.clone(),
                    path,
                    reason,
                    cause: Box::new(cause),
                }),
            },
        }
    }

    /// Writes `profile` atomically: a temporary file `<id>.profile.tmp-<pid>-<n>` in the same
    /// directory, `fsync`, rename over `<id>.profile`, `fsync` of the directory. If the process
    /// dies at any point, the previous file (or none) stays whole; the temporary file is
    /// removed by the next [`ProfileStore::acquire`].
    ///
    /// # Errors
    /// [`ProfileError::NotThisWritersPlayer`] for another player's profile,
    /// [`ProfileError::Encode`], [`ProfileError::Io`].
    pub fn save(&self, profile: &PlayerProfile) -> Result<(), ProfileError> {
        if profile.id != self.id {
            return Err(ProfileError::NotThisWritersPlayer {
                writer: self.id.clone(),
                profile: profile.id.clone(),
            });
        }
        let (header, payload) = encode_file(profile)?;
        self.write_atomically(&self.store.path_of(&self.id), &[&header, &payload])
    }

    /// Writes `parts`, one after the other, to `target` atomically: a temporary file
    /// `<id>.profile.tmp-<pid>-<n>` in the store's directory, `fsync`, rename over `target`,
    /// `fsync` of the directory; the temporary file is removed if anything fails before the
    /// rename. Call under this writer's lock, for a `target` of this player.
    pub(super) fn write_atomically(
        &self,
        target: &Path,
        parts: &[&[u8]],
    ) -> Result<(), ProfileError> {
        let root = self.store.root();
        let tmp = root.join(format!(
            "{}{TMP_INFIX}{}-{}",
            self.id,
            std::process::id(),
            SAVE_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io_at(&tmp))?;
            for part in parts {
                file.write_all(part).map_err(io_at(&tmp))?;
            }
            file.sync_all().map_err(io_at(&tmp))?;
            drop(file);
            fs::rename(&tmp, target).map_err(io_at(target))
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(root)
    }

    /// Deletes everything stored for this player (profile, files moved aside, copies kept on
    /// re-basing, temporary files, then the lock file) and releases the lock.
    ///
    /// # Errors
    /// [`ProfileError::Io`]; files not yet deleted stay.
    pub fn forget(self) -> Result<(), ProfileError> {
        for path in self.store.files_of(&self.id, FileKind::All)? {
            remove_if_present(&path)?;
        }
        // Last, while still locked: a writer that opens the lock file from now on makes a new
        // one and finds nothing of the old profile.
        remove_if_present(&self.lock_path)?;
        sync_dir(self.store.root())
    }
}
