//! [`Outcome`]: what a mechanic acts on, an emotion the engine is sure of or none.

/// What a mechanic should act on: an emotion (or [`EmotionFamily`]) the engine is sure of, or
/// [`Uncertain`](Self::Uncertain) when none is clear. "Sure" means the (calibrated)
/// probability reaches [`VoiceEmotionSettings::sure_confidence`]; a game that acts only on
/// sure outcomes is right more often and says "not sure" the rest of the time, instead of
/// acting on a coin toss.
///
/// [`EmotionDetected::outcome`] and [`EmotionDetected::family_outcome`] give it for one
/// utterance; [`EmotionState::outcome`] and [`EmotionState::family_outcome`] for the smoothed
/// state.
///
/// ```
/// use bevy_voice_emotion::prelude::*;
///
/// fn gate_opens(heard: Outcome<EmotionFamily>) -> bool {
///     heard == Outcome::Sure(EmotionFamily::Happy)
/// }
/// assert!(gate_opens(Outcome::Sure(EmotionFamily::Happy)));
/// assert!(!gate_opens(Outcome::Uncertain));
/// ```
///
/// [`EmotionFamily`]: voice_emotion::labels::EmotionFamily
/// [`VoiceEmotionSettings::sure_confidence`]: crate::VoiceEmotionSettings::sure_confidence
/// [`EmotionDetected::outcome`]: crate::EmotionDetected::outcome
/// [`EmotionDetected::family_outcome`]: crate::EmotionDetected::family_outcome
/// [`EmotionState::outcome`]: crate::EmotionState::outcome
/// [`EmotionState::family_outcome`]: crate::EmotionState::family_outcome
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome<T> {
    /// The engine is sure of this.
    Sure(T),
    /// No emotion is clear (or nothing was heard yet).
    Uncertain,
}

impl<T> Outcome<T> {
    /// `Sure(value)` when `sure`, otherwise `Uncertain`.
    #[must_use]
    pub fn new(value: T, sure: bool) -> Self {
        if sure {
            Self::Sure(value)
        } else {
            Self::Uncertain
        }
    }

    /// The value when sure.
    #[must_use]
    pub fn sure(self) -> Option<T> {
        match self {
            Self::Sure(value) => Some(value),
            Self::Uncertain => None,
        }
    }

    /// Whether the engine is sure.
    #[must_use]
    pub fn is_sure(&self) -> bool {
        matches!(self, Self::Sure(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_is_sure_only_when_asked() {
        assert_eq!(Outcome::new(3, true), Outcome::Sure(3));
        assert_eq!(Outcome::new(3, false), Outcome::Uncertain);
        assert_eq!(Outcome::Sure(3).sure(), Some(3));
        assert_eq!(Outcome::<i32>::Uncertain.sure(), None);
        assert!(Outcome::Sure(()).is_sure() && !Outcome::<()>::Uncertain.is_sure());
    }
}
