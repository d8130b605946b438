//! Engine events to the plugin's messages and resources: plain conversions, tested without
//! an `App` (the systems in `systems.rs` only call them).

use std::sync::Arc;

use voice_emotion::engine::{Detection, ProfileNotice};
use voice_emotion::labels::Emotion;
use voice_emotion::player::PlayerId;
use voice_emotion::player::profile::UpdateRecord;

use crate::messages::{
    EmotionDetected, EmotionProvisional, PlayerChanged, PlayerModelUpdated, UpdateOutcome,
};
use crate::resources::{ActivePlayer, KnownPlayers};
use voice_emotion::model::Prediction;

impl EmotionDetected {
    /// The message for a detection, [`sure`](Self::sure) when its confidence reaches
    /// `sure_confidence` (and [`family_sure`](Self::family_sure) when its family's does); its
    /// latency runs from the end of speech to now.
    pub(crate) fn new(d: Detection, sure_confidence: f32) -> Self {
        let p = &d.prediction;
        let (arousal, valence) = p.arousal_valence();
        let (family, family_confidence) = p.family();
        Self {
            utterance: d.utterance,
            player: d.player,
            emotion: p.emotion,
            confidence: p.confidence,
            probabilities: p.probabilities,
            intensity: p.intensity,
            intensity_confidence: p.intensity_probabilities[p.intensity.index()],
            duration_seconds: d.duration_seconds,
            adapted: d.adapted,
            clipped: d.clipped,
            hum_hz: d.hum_hz,
            mfcc: d.mfcc,
            latency_ms: d.ended_at.elapsed().as_secs_f64() * 1000.0,
            teach_score: p.teach_score(),
            arousal,
            valence,
            family,
            family_confidence,
            sure: p.confidence >= sure_confidence,
            family_sure: family_confidence >= sure_confidence,
        }
    }
}

impl EmotionProvisional {
    /// The message of an engine's provisional result.
    pub(crate) fn new(
        utterance: u64,
        player: PlayerId,
        p: &Prediction,
        heard_seconds: f64,
        sure_confidence: f32,
    ) -> Self {
        let (arousal, valence) = p.arousal_valence();
        Self {
            utterance,
            player,
            emotion: p.emotion,
            confidence: p.confidence,
            probabilities: p.probabilities,
            arousal,
            valence,
            heard_seconds,
            sure: p.confidence >= sure_confidence,
        }
    }
}

impl From<&UpdateRecord> for UpdateOutcome {
    fn from(record: &UpdateRecord) -> Self {
        if record.accepted {
            Self::Accepted
        } else {
            Self::Refused {
                reason: record.reason.clone(),
            }
        }
    }
}

impl From<(PlayerId, UpdateRecord, Option<Emotion>)> for PlayerModelUpdated {
    /// The message for an update of `player`'s model, with what they should confirm next.
    fn from((player, record, confirm_next): (PlayerId, UpdateRecord, Option<Emotion>)) -> Self {
        Self {
            player,
            outcome: UpdateOutcome::from(&record),
            accuracy_before: record.accuracy_before,
            accuracy_after: record.accuracy_after,
            samples_used: record.samples_used,
            seconds: record.seconds,
            confirm_next,
        }
    }
}

impl From<&PlayerChanged> for ActivePlayer {
    /// The active player as of a change (no updates yet this session).
    fn from(c: &PlayerChanged) -> Self {
        Self {
            id: Some(c.player.clone()),
            adapted: c.adapted,
            samples: c.samples,
            updates: 0,
            notice: c.notice.clone(),
            samples_per_emotion: [0; Emotion::COUNT],
            history: Arc::default(),
        }
    }
}

impl From<(Vec<PlayerId>, Option<ProfileNotice>)> for KnownPlayers {
    fn from((players, problem): (Vec<PlayerId>, Option<ProfileNotice>)) -> Self {
        Self { players, problem }
    }
}

impl ActivePlayer {
    /// Whether `player` is the active one.
    #[must_use]
    pub fn is(&self, player: &PlayerId) -> bool {
        self.id.as_ref() == Some(player)
    }

    /// Counts a finished update of `player` (if active): an accepted one gives them their own
    /// weights.
    pub(crate) fn count_update(&mut self, update: &PlayerModelUpdated) {
        if self.is(&update.player) {
            self.updates += 1;
            self.adapted |= update.outcome == UpdateOutcome::Accepted;
        }
    }

    /// `player`'s confirmed samples per emotion and update history, when they are active;
    /// their sample count follows.
    pub(crate) fn set_history(
        &mut self,
        player: &PlayerId,
        samples_per_emotion: [usize; Emotion::COUNT],
        history: Arc<[UpdateRecord]>,
    ) {
        if self.is(player) {
            self.samples = samples_per_emotion.iter().sum();
            self.samples_per_emotion = samples_per_emotion;
            self.history = history;
        }
    }

    /// A profile problem of `player`: when active, their notice, and the [`PlayerChanged`]
    /// that tells the game.
    pub(crate) fn profile_problem(
        &mut self,
        player: &PlayerId,
        problem: &ProfileNotice,
    ) -> Option<PlayerChanged> {
        if !self.is(player) {
            return None;
        }
        self.notice = Some(problem.clone());
        Some(PlayerChanged {
            player: player.clone(),
            adapted: self.adapted,
            samples: self.samples,
            notice: Some(problem.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use voice_emotion::features::FeatureMatrix;
    use voice_emotion::labels::{EmotionFamily, Intensity};
    use voice_emotion::model::Prediction;
    use voice_emotion::player::profile::ProfileError;
    use voice_emotion::player::profile::RecordKind;

    use super::*;
    use crate::outcome::Outcome;

    fn id(s: &str) -> PlayerId {
        PlayerId::new(s).unwrap()
    }

    fn record(accepted: bool) -> UpdateRecord {
        UpdateRecord {
            time_unix_ms: 1,
            samples_used: 6,
            accuracy_before: 0.5,
            accuracy_after: 0.75,
            accepted,
            reason: "held-back accuracy fell".to_owned(),
            seconds: 0.02,
            kind: RecordKind::Update,
        }
    }

    #[test]
    fn a_detection_becomes_its_message() {
        let mut e = [0.05; Emotion::COUNT];
        e[Emotion::Sad.index()] = 0.65;
        let d = Detection {
            utterance: 7,
            player: id("ana"),
            prediction: Prediction::from_probabilities(e, [0.3, 0.7]),
            duration_seconds: 2.5,
            ended_at: Instant::now() - Duration::from_millis(20),
            processing: Duration::from_millis(3),
            adapted: true,
            clipped: 0.02,
            hum_hz: Some(60.0),
            mfcc: Arc::new(FeatureMatrix {
                data: vec![0.0; 40],
                n_frames: 1,
                n_features: 40,
            }),
        };
        let m = EmotionDetected::new(d.clone(), 0.7);
        assert_eq!((m.utterance, m.player.as_str()), (7, "ana"));
        assert_eq!((m.emotion, m.confidence), (Emotion::Sad, 0.65));
        assert_eq!(
            (m.intensity, m.intensity_confidence),
            (Intensity::Strong, 0.7)
        );
        assert!(m.adapted && m.latency_ms >= 20.0, "{}", m.latency_ms);
        assert_eq!(m.clipped, 0.02);
        assert_eq!(m.hum_hz, Some(60.0));
        assert_eq!(m.mfcc.n_features, 40);
        assert!(!m.sure, "0.65 is below the 0.7 asked for");
        assert_eq!(m.outcome(), Outcome::Uncertain);
        assert_eq!(m.family, EmotionFamily::Sad);
        assert_eq!(
            m.family_outcome(),
            Outcome::Uncertain,
            "sad is a family of one"
        );
        // Angry 0.4 and disgust 0.4: neither is sure, their family (tense) is.
        let mut e = [0.2 / 6.0; Emotion::COUNT];
        e[Emotion::Angry.index()] = 0.4;
        e[Emotion::Disgust.index()] = 0.4;
        let d = Detection {
            prediction: Prediction::from_probabilities(e, [0.3, 0.7]),
            ..d
        };
        let m = EmotionDetected::new(d, 0.7);
        assert_eq!(m.outcome(), Outcome::Uncertain);
        assert_eq!(m.family_outcome(), Outcome::Sure(EmotionFamily::Tense));
    }

    #[test]
    fn update_records_become_outcomes() {
        let kept = PlayerModelUpdated::from((id("ana"), record(true), None));
        assert_eq!(kept.outcome, UpdateOutcome::Accepted);
        assert_eq!((kept.samples_used, kept.accuracy_after), (6, 0.75));
        let refused = PlayerModelUpdated::from((id("ana"), record(false), None));
        assert_eq!(
            refused.outcome,
            UpdateOutcome::Refused {
                reason: "held-back accuracy fell".to_owned()
            }
        );
    }

    #[test]
    fn the_active_player_follows_changes_updates_and_problems() {
        let changed = PlayerChanged {
            player: id("ana"),
            adapted: false,
            samples: 3,
            notice: None,
        };
        let mut active = ActivePlayer::from(&changed);
        assert!(active.is(&id("ana")) && !active.is(&id("bo")));
        active.count_update(&PlayerModelUpdated::from((id("bo"), record(true), None)));
        assert_eq!(
            (active.updates, active.adapted),
            (0, false),
            "another player's update"
        );
        active.count_update(&PlayerModelUpdated::from((id("ana"), record(false), None)));
        assert_eq!((active.updates, active.adapted), (1, false));
        active.count_update(&PlayerModelUpdated::from((id("ana"), record(true), None)));
        assert_eq!((active.updates, active.adapted), (2, true));
        let full = ProfileNotice::SaveFailed(Arc::new(ProfileError::Io {
            path: "/p/ana.profile".into(),
            source: std::io::Error::other("disk full"),
        }));
        assert_eq!(active.profile_problem(&id("bo"), &full), None);
        let told = active.profile_problem(&id("ana"), &full).unwrap();
        assert_eq!(told.notice.as_ref(), Some(&full));
        assert_eq!((told.adapted, told.samples), (true, 3));
        assert_eq!(active.notice.as_ref(), Some(&full));
        assert_eq!(full.to_string(), "/p/ana.profile: disk full");
    }

    #[test]
    fn the_history_follows_the_active_player_only() {
        let changed = PlayerChanged {
            player: id("ana"),
            adapted: false,
            samples: 0,
            notice: None,
        };
        let mut active = ActivePlayer::from(&changed);
        assert!(active.history.is_empty());
        let mut counts = [0; Emotion::COUNT];
        counts[Emotion::Sad.index()] = 2;
        counts[Emotion::Happy.index()] = 1;
        active.set_history(&id("bo"), counts, vec![record(true)].into());
        assert_eq!(active.samples, 0, "another player's history");
        active.set_history(&id("ana"), counts, vec![record(false), record(true)].into());
        assert_eq!(active.samples, 3);
        assert_eq!(active.samples_per_emotion, counts);
        assert_eq!(active.history.len(), 2);
        assert!(active.history[1].accepted);
        let listed = KnownPlayers::from((vec![id("ana"), id("bo")], None));
        assert_eq!(listed.players, [id("ana"), id("bo")]);
        assert_eq!(listed.problem, None);
    }
}
