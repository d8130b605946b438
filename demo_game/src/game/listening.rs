//! Whether the game hears the player, for the first minute and after: a "how to play" card
//! until the first detection, and a line when no speech has been heard for a while or the
//! microphone is missing ("I can't hear you: check the microphone in Settings"), when it
//! clips ("lower its input gain"), or when it picks up a hum.

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use crate::screens::Screen;

/// What the play screen knows about hearing the player.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct Listening {
    /// When speech last started, or play began (seconds on the game's clock).
    pub last_heard_s: f64,
    /// Whether the "how to play" card shows (until the player dismisses it or is first
    /// heard).
    pub how_to_play: bool,
    /// The share of the last utterance's samples the microphone held at full scale
    /// (`EmotionDetected::clipped`).
    pub clipped: f32,
    /// The fundamental of a hum removed from the last utterance (`EmotionDetected::hum_hz`).
    pub hum_hz: Option<f32>,
}

impl Default for Listening {
    fn default() -> Self {
        Self {
            last_heard_s: 0.0,
            how_to_play: true,
            clipped: 0.0,
            hum_hz: None,
        }
    }
}

impl Listening {
    /// Seconds of play without speech before the game says it cannot hear the player.
    pub const QUIET_S: f64 = 15.0;

    /// The share of an utterance's samples held at full scale from which the game asks for
    /// less input gain: a sentence whose peaks a microphone drives 3 dB past full scale
    /// reads about 0.07% (the engine restores them, but the model hears them best unclipped).
    pub const CLIPPED: f32 = 0.0005;

    /// What to tell the player about their voice input at `now_s`, if anything: a missing
    /// or failed input at once, no speech for [`Self::QUIET_S`] (with recorded clips as
    /// the voice: how to play the next one), a microphone that clipped the last utterance
    /// ([`Self::CLIPPED`]), and one that picked up a hum (removed, but worth fixing).
    #[must_use]
    pub fn hint(&self, now_s: f64, mic: &MicrophoneStatus, clips: bool) -> Option<String> {
        match &mic.status {
            SourceStatus::NoDevice { wanted } => Some(format!(
                "No microphone found ({wanted}): plug one in, or choose one in Settings."
            )),
            SourceStatus::Disconnected { device, .. } => Some(format!(
                "The microphone {device} stopped: check it, or choose another in Settings."
            )),
            SourceStatus::Failed { reason } => Some(format!("Voice is off: {reason}")),
            SourceStatus::Active { .. }
                if !mic.speaking && now_s - self.last_heard_s >= Self::QUIET_S =>
            {
                Some(if clips {
                    "Nothing heard for a while: press Space to play the next recorded clip."
                        .to_owned()
                } else {
                    format!(
                        "I can't hear you: check the microphone in Settings (level {:.0} dB), \
                         or raise the sensitivity.",
                        mic.level_dbfs()
                    )
                })
            }
            SourceStatus::Active { .. } if !clips && self.clipped >= Self::CLIPPED => {
                Some(format!(
                    "Your microphone is clipping ({:.1}% of the last sentence at full scale): \
                     lower its input gain in your system's sound settings.",
                    100.0 * self.clipped
                ))
            }
            SourceStatus::Active { .. } if !clips && self.hum_hz.is_some() => Some(format!(
                "Your microphone picks up a hum ({:.0} Hz): move its cable away from power \
                 supplies, or try another port.",
                self.hum_hz.unwrap_or_default()
            )),
            _ => None,
        }
    }
}

/// Play starts: the quiet time counts from now, and the card shows until the player is heard.
fn start(time: Res<Time>, mut listening: ResMut<Listening>) {
    listening.last_heard_s = time.elapsed_secs_f64();
}

/// Speech resets the quiet time; the first detection closes the card.
fn hear(
    time: Res<Time>,
    mut started: MessageReader<SpeechStarted>,
    mut detected: MessageReader<EmotionDetected>,
    mut listening: ResMut<Listening>,
) {
    if started.read().count() > 0 {
        listening.last_heard_s = time.elapsed_secs_f64();
    }
    if let Some(last) = detected.read().last() {
        listening.clipped = last.clipped;
        listening.hum_hz = last.hum_hz;
        listening.how_to_play = false;
    }
}

/// The logic (headless).
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Listening>()
        .add_systems(OnEnter(Screen::Play), start)
        .add_systems(Update, hear.run_if(in_state(Screen::Play)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(status: SourceStatus, speaking: bool) -> MicrophoneStatus {
        MicrophoneStatus {
            status,
            rms: 1e-4,
            peak: 1e-3,
            speaking,
        }
    }

    fn active() -> SourceStatus {
        SourceStatus::Active {
            device: "default".to_owned(),
            sample_rate: 48_000,
        }
    }

    #[test]
    fn quiet_for_a_while_means_check_the_microphone() {
        let l = Listening {
            last_heard_s: 10.0,
            how_to_play: false,
            clipped: 0.0,
            hum_hz: None,
        };
        assert_eq!(
            l.hint(20.0, &mic(active(), false), false),
            None,
            "only 10 s"
        );
        let hint = l.hint(30.0, &mic(active(), false), false).unwrap();
        assert!(
            hint.starts_with("I can't hear you") && hint.contains("-80 dB"),
            "{hint}"
        );
        assert_eq!(
            l.hint(30.0, &mic(active(), true), false),
            None,
            "speaking now"
        );
        assert!(
            l.hint(30.0, &mic(active(), false), true)
                .unwrap()
                .contains("Space")
        );
    }

    #[test]
    fn a_clipping_microphone_is_told_to_turn_down() {
        let mut l = Listening {
            last_heard_s: 10.0,
            how_to_play: false,
            clipped: 0.0001,
            hum_hz: None,
        };
        assert_eq!(l.hint(12.0, &mic(active(), false), false), None, "a trace");
        l.clipped = 0.04;
        let hint = l.hint(12.0, &mic(active(), false), false).unwrap();
        assert!(
            hint.contains("clipping (4.0%") && hint.contains("gain"),
            "{hint}"
        );
        assert_eq!(
            l.hint(12.0, &mic(active(), false), true),
            None,
            "recorded clips are not the player's microphone"
        );
        // A quiet spell says so first.
        assert!(
            l.hint(30.0, &mic(active(), false), false)
                .unwrap()
                .starts_with("I can't hear you")
        );
    }

    #[test]
    fn a_hum_is_pointed_out() {
        let mut l = Listening {
            last_heard_s: 10.0,
            how_to_play: false,
            clipped: 0.0,
            hum_hz: Some(59.998),
        };
        let hint = l.hint(12.0, &mic(active(), false), false).unwrap();
        assert!(hint.contains("hum (60 Hz)"), "{hint}");
        assert_eq!(
            l.hint(12.0, &mic(active(), false), true),
            None,
            "recorded clips are not the player's microphone"
        );
        // Clipping is said first.
        l.clipped = 0.04;
        assert!(
            l.hint(12.0, &mic(active(), false), false)
                .unwrap()
                .contains("clipping")
        );
        l.hum_hz = None;
        l.clipped = 0.0;
        assert_eq!(l.hint(12.0, &mic(active(), false), false), None);
    }

    #[test]
    fn a_missing_microphone_is_said_at_once() {
        let l = Listening::default();
        let none = SourceStatus::NoDevice {
            wanted: "default".to_owned(),
        };
        assert!(
            l.hint(0.0, &mic(none, false), false)
                .unwrap()
                .contains("No microphone")
        );
        assert_eq!(
            l.hint(0.0, &mic(SourceStatus::Starting, false), false),
            None
        );
    }
}
