//! The order in which a calibration screen asks for its prompts.

use std::collections::BTreeMap;

use crate::labels::{Emotion, Intensity};

/// Orders calibration prompts (or clips) the way a calibration screen should ask for them:
/// each emotion in turn, so that the first eight confirmations cover the eight emotions and a
/// player who stops early has taught the voice head every emotion once. Within an emotion,
/// normal intensity comes before strong; items with the same emotion and intensity keep their
/// input order.
///
/// The demo game's calibration screen, `trainer adapt-eval` and the adaptation test all use
/// this order, so the learning curves measured are the ones a player sees.
#[must_use]
pub fn calibration_order<T>(
    mut items: Vec<T>,
    label: impl Fn(&T) -> (Emotion, Intensity),
) -> Vec<T> {
    items.sort_by_key(|item| label(item));
    let mut rank: BTreeMap<Emotion, usize> = BTreeMap::new();
    let mut keyed: Vec<(usize, Emotion, T)> = items
        .into_iter()
        .map(|item| {
            let emotion = label(&item).0;
            let r = rank.entry(emotion).or_default();
            *r += 1;
            (*r, emotion, item)
        })
        .collect();
    keyed.sort_by_key(|(r, emotion, _)| (*r, *emotion));
    keyed.into_iter().map(|(_, _, item)| item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_turn_covers_every_emotion_normal_before_strong() {
        let mut items = Vec::new();
        for emotion in Emotion::ALL.into_iter().rev() {
            for intensity in Intensity::ALL.into_iter().rev() {
                if emotion == Emotion::Neutral && intensity == Intensity::Strong {
                    continue;
                }
                items.push((emotion, intensity));
            }
        }
        let ordered = calibration_order(items, |&(e, i)| (e, i));
        assert_eq!(ordered.len(), 15);
        let first: Vec<Emotion> = ordered[..8].iter().map(|(e, _)| *e).collect();
        assert_eq!(first, Emotion::ALL.to_vec());
        assert!(ordered[..8].iter().all(|(_, i)| *i == Intensity::Normal));
        assert!(ordered[8..].iter().all(|(_, i)| *i == Intensity::Strong));
        assert!(ordered[8..].iter().all(|(e, _)| *e != Emotion::Neutral));
    }

    #[test]
    fn equal_labels_keep_their_input_order() {
        let items = vec![
            (Emotion::Sad, Intensity::Normal, "b"),
            (Emotion::Happy, Intensity::Normal, "x"),
            (Emotion::Sad, Intensity::Normal, "a"),
        ];
        let ordered = calibration_order(items, |&(e, i, _)| (e, i));
        let names: Vec<&str> = ordered.iter().map(|(_, _, n)| *n).collect();
        assert_eq!(names, ["x", "b", "a"]);
    }

    #[test]
    fn empty_stays_empty() {
        assert!(calibration_order(Vec::<Emotion>::new(), |&e| (e, Intensity::Normal)).is_empty());
    }
}
