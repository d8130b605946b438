//! The engine thread's players: opening a profile (re-basing one made for another base
//! model), switching, saving, forgetting, listing.

use super::*;

/// Why a player becomes the engine's active one ([`Worker::activate`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum Activation {
    /// The engine started with them.
    Start,
    /// The game switched to them.
    Switch,
}

impl Worker {
    pub(super) fn fresh(&self, id: PlayerId, writer: Option<ProfileWriter>) -> Active {
        Active {
            id,
            model: PlayerModel::new(Arc::clone(&self.adapter), PlayerState::default(), None),
            writer,
            dirty: false,
            last_save: Instant::now(),
        }
    }

    /// Opens `id`'s profile; problems fall back to the base model, with a notice.
    pub(super) fn open_player(&self, id: PlayerId) -> (Active, Option<ProfileNotice>) {
        let Some(store) = &self.store else {
            return (self.fresh(id, None), None);
        };
        let writer = match store.acquire(&id) {
            Ok(w) => w,
            Err(e) => {
                let notice = ProfileNotice::not_acquired(e);
                tracing::warn!("{notice}");
                return (self.fresh(id, None), Some(notice));
            }
        };
        // A profile made for another base model is carried over to this one (a copy of the
        // file kept first) when its samples fit this model's front end.
        let width = self.adapter.input_config().frame_width();
        match writer.load_or_rebase(&self.reference, width) {
            Ok(None) => (self.fresh(id, Some(writer)), None),
            Ok(Some(Loaded { profile, rebased })) => {
                match PlayerModel::from_profile(Arc::clone(&self.adapter), profile) {
                    Ok(model) => {
                        let notice = rebased.map(|r| ProfileNotice::Rebased {
                            player: id.clone(),
                            from: r.from,
                            to: r.to,
                            backup: r.backup,
                        });
                        if let Some(notice) = &notice {
                            tracing::info!("{notice}");
                        }
                        (
                            Active {
                                id,
                                model,
                                writer: Some(writer),
                                // A re-based profile replaces the file at the next save.
                                dirty: notice.is_some(),
                                last_save: Instant::now(),
                            },
                            notice,
                        )
                    }
                    Err(e) => {
                        // Keep the file as it is: it holds the player's samples.
                        let notice = ProfileNotice::DoesNotFit {
                            player: id.clone(),
                            error: Arc::new(e),
                        };
                        tracing::warn!("{notice}");
                        (self.fresh(id, None), Some(notice))
                    }
                }
            }
            Err(e) => {
                // A corrupt file moved aside gets a new profile; for the others (another base
                // model with samples that do not fit, a file left in place, an I/O error) the
                // file is never overwritten.
                let notice = ProfileNotice::not_loaded(e);
                tracing::warn!("{notice}");
                let writer = notice.still_saved().then_some(writer);
                (self.fresh(id, writer), Some(notice))
            }
        }
    }

    /// Sends the active player's [`EngineEvent::PlayerHistory`].
    pub(super) fn send_history(&self) {
        if let Some(active) = &self.active {
            self.history_of(active);
        }
    }

    pub(super) fn history_of(&self, active: &Active) {
        self.out.send(EngineEvent::PlayerHistory {
            player: active.id.clone(),
            samples_per_emotion: active.model.samples_per_emotion(),
            history: active.model.history().into(),
        });
    }

    /// Lists the players with a saved profile ([`EngineEvent::PlayersListed`]).
    pub(super) fn list_players(&mut self) {
        let (players, problem) = match self.store.as_ref().map(ProfileStore::list) {
            None => (Vec::new(), None),
            Some(Ok(players)) => (players, None),
            Some(Err(e)) => {
                let problem = ProfileNotice::ListFailed(Arc::new(e));
                tracing::warn!("listing players: {problem}");
                (Vec::new(), Some(problem))
            }
        };
        self.known.clone_from(&players);
        self.out
            .send(EngineEvent::PlayersListed { players, problem });
    }

    pub(super) fn autosave(&mut self) {
        let due = self
            .active
            .as_ref()
            .is_some_and(|a| a.dirty && a.last_save.elapsed() >= self.config.autosave_every);
        if due {
            self.save_active();
        }
    }

    pub(super) fn save_active(&mut self) {
        if let Some(mut active) = self.active.take() {
            let saved = self.save(&active);
            if saved {
                active.dirty = false;
            }
            active.last_save = Instant::now();
            let new_profile = saved && !self.known.contains(&active.id);
            self.active = Some(active);
            if new_profile {
                self.list_players();
            }
        }
    }

    /// Saves `active` when it has a writer; returns whether it was saved.
    pub(super) fn save(&self, active: &Active) -> bool {
        let Some(writer) = &active.writer else {
            return false;
        };
        let profile = active
            .model
            .snapshot(active.id.clone(), self.reference.clone());
        match writer.save(&profile) {
            Ok(()) => {
                self.counters.saves.fetch_add(1, Ordering::Relaxed);
                self.out.send(EngineEvent::ProfileSaved {
                    player: active.id.clone(),
                });
                true
            }
            Err(e) => {
                let problem = ProfileNotice::SaveFailed(Arc::new(e));
                tracing::warn!("saving player {}: {problem}", active.id);
                self.out.send(EngineEvent::ProfileProblem {
                    player: active.id.clone(),
                    problem,
                });
                false
            }
        }
    }

    pub(super) fn switch(&mut self, id: PlayerId) {
        if self.active.as_ref().is_some_and(|a| a.id == id) {
            return;
        }
        if let Some(old) = self.active.take() {
            old.model.wait_idle();
            if self.collect_from(&old) || old.dirty {
                self.save(&old);
            }
            // Dropping `old` releases its lock before the new player's is taken.
        }
        self.recent.clear();
        let (active, notice) = self.open_player(id);
        self.activate(active, notice, Activation::Switch);
    }

    /// Makes `active` the worker's player and tells the game: [`EngineEvent::Ready`] at
    /// start or [`EngineEvent::PlayerSwitched`] (the player, whether adapted, their samples,
    /// `notice`), then their [`EngineEvent::PlayerHistory`] and the players listed.
    pub(super) fn activate(
        &mut self,
        active: Active,
        notice: Option<ProfileNotice>,
        activation: Activation,
    ) {
        let (player, adapted, samples) = (
            active.id.clone(),
            active.model.is_adapted(),
            active.samples(),
        );
        self.out.send(match activation {
            Activation::Start => EngineEvent::Ready {
                player,
                adapted,
                samples,
                notice,
            },
            Activation::Switch => EngineEvent::PlayerSwitched {
                player,
                adapted,
                samples,
                notice,
            },
        });
        self.active = Some(active);
        self.send_history();
        self.list_players();
    }

    pub(super) fn forget(&mut self, id: &PlayerId) {
        let is_active = self.active.as_ref().is_some_and(|a| &a.id == id);
        let result = if is_active {
            let Some(old) = self.active.take() else {
                return;
            };
            old.model.wait_idle();
            let _ = old.model.take_outcomes();
            self.recent.clear();
            let result = match old.writer {
                Some(writer) => writer.forget(),
                None => match &self.store {
                    Some(store) => store.forget(id),
                    None => Ok(()),
                },
            };
            drop(old.model);
            let (active, _) = self.open_player(id.clone());
            self.active = Some(active);
            result
        } else {
            match &self.store {
                Some(store) => store.forget(id),
                None => Ok(()),
            }
        };
        match result {
            Ok(()) => self
                .out
                .send(EngineEvent::PlayerForgotten { player: id.clone() }),
            Err(e) => self.out.send(EngineEvent::ProfileProblem {
                player: id.clone(),
                problem: ProfileNotice::ForgetFailed(Arc::new(e)),
            }),
        }
        if is_active {
            self.send_history();
        }
        self.list_players();
    }
}
