//! The game's goal: a road of gates, each opened by speaking with the emotion painted on
//! it. Score, streaks and feedback; every detection can be confirmed or corrected, which
//! trains the player's model.

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use crate::screens::Screen;

/// What the last detection did.
#[derive(Debug, Clone, PartialEq)]
pub enum Feedback {
    /// The gate opened.
    Opened {
        /// The emotion heard.
        emotion: Emotion,
        /// Points won.
        points: u32,
    },
    /// Not the gate's emotion.
    Missed {
        /// What the gate wanted.
        wanted: Emotion,
        /// What was heard.
        heard: Emotion,
    },
    /// No emotion family was sure (`EmotionDetected::family_outcome`): the gate does nothing.
    NotSure {
        /// The most likely emotion.
        heard: Emotion,
    },
}

/// The run through the gates.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct GateRun {
    /// The gates' emotions, in order (the road repeats).
    pub gates: Vec<Emotion>,
    /// The gate in front of the player.
    pub current: usize,
    /// Gates opened.
    pub opened: u32,
    /// Points.
    pub score: u32,
    /// Gates opened in a row.
    pub streak: u32,
    /// Detections heard while playing.
    pub heard: u32,
    /// The latest outcome.
    pub feedback: Option<Feedback>,
}

impl Default for GateRun {
    fn default() -> Self {
        Self::new(7)
    }
}

impl GateRun {
    /// A road of 24 gates: every emotion three times, shuffled by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut gates: Vec<Emotion> = (0..24).map(|i| Emotion::ALL[i % Emotion::COUNT]).collect();
        // A small deterministic shuffle (no RNG crate needed for this).
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for i in (1..gates.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            gates.swap(i, (state % (i as u64 + 1)) as usize);
        }
        Self {
            gates,
            current: 0,
            opened: 0,
            score: 0,
            streak: 0,
            heard: 0,
            feedback: None,
        }
    }

    /// The emotion the current gate wants.
    #[must_use]
    pub fn wanted(&self) -> Emotion {
        self.gates[self.current % self.gates.len()]
    }

    /// Takes a detection the engine was not sure of: nothing opens, the streak stands.
    pub fn not_sure(&mut self, heard: Emotion) -> Feedback {
        self.heard += 1;
        let feedback = Feedback::NotSure { heard };
        self.feedback = Some(feedback.clone());
        feedback
    }

    /// Takes a detection of a sure family, `emotion` its most likely member: opens the gate
    /// when it is of the gate's emotion family (angry opens a disgust gate, calm a neutral
    /// one: the families the model tells apart reliably).
    pub fn hear(&mut self, emotion: Emotion, confidence: f32) -> Feedback {
        self.heard += 1;
        let wanted = self.wanted();
        let feedback = if emotion.family() == wanted.family() {
            self.streak += 1;
            self.opened += 1;
            let points = 10 + 5 * (self.streak - 1) + (confidence * 10.0).round() as u32;
            self.score += points;
            self.current += 1;
            Feedback::Opened { emotion, points }
        } else {
            self.streak = 0;
            Feedback::Missed {
                wanted,
                heard: emotion,
            }
        };
        self.feedback = Some(feedback.clone());
        feedback
    }

    /// Skips the current gate (no points).
    pub fn skip(&mut self) {
        self.streak = 0;
        self.current += 1;
    }
}

/// A detection waiting for "was that right?".
#[derive(Resource, Debug, Clone, PartialEq, Default)]
pub struct PendingConfirmation(pub Option<(u64, Emotion)>);

/// Whether the play screen is listening (the gates only react while playing).
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Playing(pub bool);

/// The player's answer to "was that right?".
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Yes, that was it.
    Right,
    /// No: it was this one.
    Actually(Emotion),
    /// No answer (dismiss).
    Dismiss,
}

/// Detections drive the gates while playing; "was that right?" is asked only when the
/// plugin's [`ConfirmationPolicy`] says a confirmation is worth the player's time.
pub fn hear_detections(
    playing: Res<Playing>,
    time: Res<Time>,
    mut policy: ResMut<ConfirmationPolicy>,
    mut detected: MessageReader<EmotionDetected>,
    mut run: ResMut<GateRun>,
    mut pending: ResMut<PendingConfirmation>,
) {
    for d in detected.read() {
        if playing.0 {
            match d.family_outcome() {
                Outcome::Sure(family) => run.hear(
                    likeliest_member(family, &d.probabilities),
                    d.family_confidence,
                ),
                Outcome::Uncertain => run.not_sure(d.emotion),
            };
            if policy.should_ask(d, time.elapsed_secs_f64()) {
                pending.0 = Some((d.utterance, d.emotion));
            }
        }
    }
}

/// The most likely emotion of `family` (the detection's top emotion may be of another family
/// when the family is sure and none of its members is).
fn likeliest_member(family: EmotionFamily, probabilities: &[f32; Emotion::COUNT]) -> Emotion {
    family
        .members()
        .into_iter()
        .max_by(|a, b| probabilities[a.index()].total_cmp(&probabilities[b.index()]))
        .unwrap_or(Emotion::Neutral)
}

/// Answers become confirmations (training samples).
pub fn answer(
    mut answers: MessageReader<Answer>,
    mut pending: ResMut<PendingConfirmation>,
    mut confirm: MessageWriter<ConfirmEmotion>,
) {
    for a in answers.read() {
        let Some((utterance, heard)) = pending.0.take() else {
            continue;
        };
        let emotion = match *a {
            Answer::Right => heard,
            Answer::Actually(e) => e,
            Answer::Dismiss => continue,
        };
        confirm.write(ConfirmEmotion {
            utterance,
            emotion,
            intensity: None,
        });
    }
}

/// Keys: `Y`/`Enter` right, `1`-`8` the emotion it was, `N`/`Backspace` dismiss.
pub fn answer_keys(keys: Res<ButtonInput<KeyCode>>, mut answers: MessageWriter<Answer>) {
    const DIGITS: [KeyCode; 8] = [
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
        KeyCode::Digit6,
        KeyCode::Digit7,
        KeyCode::Digit8,
    ];
    if keys.any_just_pressed([KeyCode::KeyY, KeyCode::Enter]) {
        answers.write(Answer::Right);
    }
    for (i, key) in DIGITS.iter().enumerate() {
        if keys.just_pressed(*key)
            && let Some(e) = Emotion::from_index(i)
        {
            answers.write(Answer::Actually(e));
        }
    }
    if keys.any_just_pressed([KeyCode::KeyN, KeyCode::Backspace]) {
        answers.write(Answer::Dismiss);
    }
}

fn start(mut playing: ResMut<Playing>) {
    playing.0 = true;
}

fn stop(mut playing: ResMut<Playing>, mut pending: ResMut<PendingConfirmation>) {
    playing.0 = false;
    pending.0 = None;
}

/// The gate logic (no drawing).
pub(super) fn plugin(app: &mut App) {
    app.add_systems(OnEnter(Screen::Play), start)
        .add_systems(OnExit(Screen::Play), stop)
        .add_message::<Answer>()
        .init_resource::<GateRun>()
        .init_resource::<PendingConfirmation>()
        .init_resource::<Playing>()
        // A demo session lasts minutes: ask at most every 20 s, when the model is unsure.
        .insert_resource(ConfirmationPolicy::new(20.0, 0.5))
        .add_systems(
            PreUpdate,
            hear_detections.after(VoiceEmotionSystems::Events),
        )
        .add_systems(Update, answer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_road_holds_every_emotion_three_times() {
        let run = GateRun::new(3);
        for e in Emotion::ALL {
            assert_eq!(run.gates.iter().filter(|&&g| g == e).count(), 3);
        }
        assert_ne!(GateRun::new(3).gates, GateRun::new(4).gates);
    }

    #[test]
    fn a_matching_emotion_opens_the_gate_and_streaks_pay_more() {
        let mut run = GateRun::new(1);
        let first = run.wanted();
        let wrong = Emotion::ALL
            .into_iter()
            .find(|&e| e.family() != first.family())
            .unwrap_or(Emotion::Neutral);
        assert_eq!(
            run.hear(wrong, 0.9),
            Feedback::Missed {
                wanted: first,
                heard: wrong
            }
        );
        assert_eq!(run.current, 0);
        assert_eq!(
            run.hear(first, 0.5),
            Feedback::Opened {
                emotion: first,
                points: 15
            }
        );
        assert_eq!(run.not_sure(wrong), Feedback::NotSure { heard: wrong });
        let second = run.wanted();
        // Any emotion of the gate's family opens it.
        let kin = second.family().members()[second.family().members().len() - 1];
        run.hear(kin, 0.0);
        assert_eq!(
            (run.opened, run.score, run.streak, run.heard),
            (2, 30, 2, 4)
        );
    }

    #[test]
    fn a_sure_family_speaks_through_its_likeliest_member() {
        let mut p = [0.0; Emotion::COUNT];
        p[Emotion::Happy.index()] = 0.36;
        p[Emotion::Angry.index()] = 0.30;
        p[Emotion::Disgust.index()] = 0.34;
        assert_eq!(likeliest_member(EmotionFamily::Tense, &p), Emotion::Disgust);
        assert_eq!(likeliest_member(EmotionFamily::Happy, &p), Emotion::Happy);
    }
}
