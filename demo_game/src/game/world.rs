//! The play screen's world: hills, the ground and the road, and the sky that eases towards
//! the player's mood. The gates (`gate_view`), the companion (`companion`) and the weather
//! (`weather`) live in it.

use bevy::color::Mix;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use super::mood::mood;
use crate::screens::Screen;

/// The mood the world is easing towards, where the sky is now, and the world's random
/// numbers (shared by the companion's shake and the weather).
#[derive(Resource, Debug, Clone, Copy)]
pub(super) struct WorldMood {
    /// The smoothed emotion this frame.
    pub(super) emotion: Emotion,
    sky: Color,
    /// Weather particles owed (fractions carry over to the next frame).
    pub(super) spawn_debt: f32,
    seed: u32,
}

impl Default for WorldMood {
    fn default() -> Self {
        Self {
            emotion: Emotion::Neutral,
            sky: mood(Emotion::Neutral).sky,
            spawn_debt: 0.0,
            seed: 1,
        }
    }
}

impl WorldMood {
    /// Steps the world's random generator (a linear congruential one) and returns its state.
    pub(super) fn next_seed(&mut self) -> u32 {
        self.seed = self
            .seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        self.seed
    }
}

/// A random state as a number in `-0.5..0.5`.
pub(super) fn unit(seed: u32) -> f32 {
    (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
}

/// How far this frame eases towards the mood (two time constants a second).
pub(super) fn ease(time: &Time) -> f32 {
    (time.delta_secs() * 2.0).min(1.0)
}

/// The world's systems that follow the mood, in this order (the companion and the weather
/// draw from one random sequence).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum WorldSystems {
    /// The emotion and the sky.
    Mood,
    /// The companion.
    Companion,
    /// The weather.
    Weather,
}

/// The land: hills on the horizon, the ground, the road the gates stand on with its dashes,
/// and tufts of grass (placed by a fixed sequence, the same every time).
fn spawn_ground(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let mut shape = |mesh: Mesh, color: Color, at: Vec3| {
        commands.spawn((
            DespawnOnExit(Screen::Play),
            Mesh2d(meshes.add(mesh)),
            MeshMaterial2d(materials.add(ColorMaterial::from_color(color))),
            Transform::from_translation(at),
        ));
    };
    let hill = Color::srgb(0.09, 0.13, 0.11);
    for (x, y, r) in [
        (-520.0, -330.0, 260.0),
        (-60.0, -420.0, 300.0),
        (420.0, -360.0, 240.0),
    ] {
        shape(Circle::new(r).into(), hill, Vec3::new(x, y, -1.5));
    }
    shape(
        Rectangle::new(4000.0, 300.0).into(),
        Color::srgb(0.12, 0.15, 0.12),
        Vec3::new(0.0, -330.0, -1.0),
    );
    shape(
        Rectangle::new(4000.0, 64.0).into(),
        Color::srgb(0.24, 0.21, 0.17),
        Vec3::new(0.0, -214.0, -0.9),
    );
    for i in -12..12 {
        shape(
            Rectangle::new(44.0, 5.0).into(),
            Color::srgb(0.55, 0.5, 0.4),
            Vec3::new(i as f32 * 110.0, -214.0, -0.8),
        );
    }
    let mut seed = 7u32;
    for _ in 0..48 {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let x = unit(seed) * 1400.0;
        let y = -305.0 + unit(seed.rotate_left(11)) * 90.0;
        let h = 10.0 + 8.0 * (unit(seed.rotate_left(5)) + 0.5);
        shape(
            Triangle2d::new(Vec2::new(-4.0, 0.0), Vec2::new(4.0, 0.0), Vec2::new(0.0, h)).into(),
            Color::srgb(0.18, 0.27, 0.16),
            Vec3::new(x, y, -0.8),
        );
    }
}

/// Takes the smoothed emotion and eases the sky towards its mood.
fn follow_emotion(
    time: Res<Time>,
    state: Res<EmotionState>,
    mut world: ResMut<WorldMood>,
    mut clear: ResMut<ClearColor>,
) {
    let emotion = state.emotion().unwrap_or(Emotion::Neutral);
    world.emotion = emotion;
    world.sky = world.sky.mix(&mood(emotion).sky, ease(&time));
    clear.0 = world.sky;
}

/// The ground and the sky of the play screen.
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<WorldMood>()
        .configure_sets(
            Update,
            (
                WorldSystems::Mood,
                WorldSystems::Companion,
                WorldSystems::Weather,
            )
                .chain()
                .run_if(in_state(Screen::Play)),
        )
        .add_systems(OnEnter(Screen::Play), spawn_ground)
        .add_systems(Update, follow_emotion.in_set(WorldSystems::Mood));
}
