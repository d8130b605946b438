//! How the world looks for each emotion: the sky's colour and the weather (data only: `world`
//! and `weather` draw it; the companion's posture and the sky's light follow arousal and
//! valence instead, in `companion` and `sky`).

use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use crate::theme::palette::emotion_color;

/// How the world looks for an emotion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mood {
    /// Sky colour.
    pub sky: Color,
    /// Weather particles per second, their colour and velocity.
    pub weather: (f32, Color, Vec2),
}

/// The mood of an emotion.
#[must_use]
pub fn mood(e: Emotion) -> Mood {
    let c = emotion_color(e);
    match e {
        Emotion::Neutral => Mood {
            sky: Color::srgb(0.20, 0.22, 0.26),
            weather: (0.0, c, Vec2::ZERO),
        },
        Emotion::Calm => Mood {
            sky: Color::srgb(0.10, 0.28, 0.32),
            weather: (4.0, c, Vec2::new(20.0, 10.0)),
        },
        Emotion::Happy => Mood {
            sky: Color::srgb(0.45, 0.55, 0.85),
            weather: (30.0, c, Vec2::new(0.0, 120.0)),
        },
        Emotion::Sad => Mood {
            sky: Color::srgb(0.10, 0.12, 0.22),
            weather: (80.0, Color::srgb(0.5, 0.6, 0.9), Vec2::new(-40.0, -500.0)),
        },
        Emotion::Angry => Mood {
            sky: Color::srgb(0.35, 0.06, 0.04),
            weather: (40.0, Color::srgb(1.0, 0.45, 0.1), Vec2::new(0.0, 200.0)),
        },
        Emotion::Fearful => Mood {
            sky: Color::srgb(0.08, 0.04, 0.12),
            weather: (10.0, c, Vec2::new(-150.0, 0.0)),
        },
        Emotion::Disgust => Mood {
            sky: Color::srgb(0.16, 0.22, 0.08),
            weather: (20.0, c, Vec2::new(0.0, 40.0)),
        },
        Emotion::Surprised => Mood {
            sky: Color::srgb(0.40, 0.25, 0.45),
            weather: (25.0, c, Vec2::new(0.0, 300.0)),
        },
    }
}
