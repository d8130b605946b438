//! The play screen's world: a companion, the sky and the weather follow the player's voice
//! emotion; the gate ahead shows the emotion it wants and slides open when it hears it.

use bevy::color::Mix;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use crate::gates::GateRun;
use crate::screens::Screen;

/// The colour of an emotion (gates, bars, companion).
#[must_use]
pub fn emotion_color(e: Emotion) -> Color {
    match e {
        Emotion::Neutral => Color::srgb(0.62, 0.62, 0.66),
        Emotion::Calm => Color::srgb(0.30, 0.75, 0.70),
        Emotion::Happy => Color::srgb(1.00, 0.82, 0.20),
        Emotion::Sad => Color::srgb(0.25, 0.42, 0.85),
        Emotion::Angry => Color::srgb(0.90, 0.20, 0.15),
        Emotion::Fearful => Color::srgb(0.55, 0.30, 0.75),
        Emotion::Disgust => Color::srgb(0.45, 0.65, 0.20),
        Emotion::Surprised => Color::srgb(1.00, 0.55, 0.15),
    }
}

/// How the world looks and moves for an emotion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mood {
    /// Sky colour.
    pub sky: Color,
    /// Companion bob: cycles per second and height in pixels.
    pub bob: (f32, f32),
    /// Random shake in pixels (anger, fear).
    pub shake: f32,
    /// Companion size (sadness shrinks it).
    pub scale: f32,
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
            bob: (0.5, 6.0),
            shake: 0.0,
            scale: 1.0,
            weather: (0.0, c, Vec2::ZERO),
        },
        Emotion::Calm => Mood {
            sky: Color::srgb(0.10, 0.28, 0.32),
            bob: (0.25, 10.0),
            shake: 0.0,
            scale: 1.0,
            weather: (4.0, c, Vec2::new(20.0, 10.0)),
        },
        Emotion::Happy => Mood {
            sky: Color::srgb(0.45, 0.55, 0.85),
            bob: (2.0, 24.0),
            shake: 0.0,
            scale: 1.1,
            weather: (30.0, c, Vec2::new(0.0, 120.0)),
        },
        Emotion::Sad => Mood {
            sky: Color::srgb(0.10, 0.12, 0.22),
            bob: (0.2, 3.0),
            shake: 0.0,
            scale: 0.8,
            weather: (80.0, Color::srgb(0.5, 0.6, 0.9), Vec2::new(-40.0, -500.0)),
        },
        Emotion::Angry => Mood {
            sky: Color::srgb(0.35, 0.06, 0.04),
            bob: (4.0, 4.0),
            shake: 6.0,
            scale: 1.15,
            weather: (40.0, Color::srgb(1.0, 0.45, 0.1), Vec2::new(0.0, 200.0)),
        },
        Emotion::Fearful => Mood {
            sky: Color::srgb(0.08, 0.04, 0.12),
            bob: (6.0, 2.0),
            shake: 3.0,
            scale: 0.85,
            weather: (10.0, c, Vec2::new(-150.0, 0.0)),
        },
        Emotion::Disgust => Mood {
            sky: Color::srgb(0.16, 0.22, 0.08),
            bob: (0.6, 5.0),
            shake: 0.0,
            scale: 0.95,
            weather: (20.0, c, Vec2::new(0.0, 40.0)),
        },
        Emotion::Surprised => Mood {
            sky: Color::srgb(0.40, 0.25, 0.45),
            bob: (1.2, 40.0),
            shake: 0.0,
            scale: 1.2,
            weather: (25.0, c, Vec2::new(0.0, 300.0)),
        },
    }
}

#[derive(Component)]
struct Companion;

#[derive(Component)]
struct CompanionBody(Handle<ColorMaterial>);

#[derive(Component)]
struct Gate {
    index: usize,
}

#[derive(Component)]
struct Particle {
    velocity: Vec2,
    life: f32,
}

/// The mood the world is easing towards, and where it is now.
#[derive(Resource, Debug, Clone, Copy)]
struct WorldMood {
    emotion: Emotion,
    sky: Color,
    spawn_debt: f32,
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

fn spawn_world(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let body = materials.add(ColorMaterial::from_color(emotion_color(Emotion::Neutral)));
    let white = materials.add(ColorMaterial::from_color(Color::WHITE));
    let dark = materials.add(ColorMaterial::from_color(Color::srgb(0.1, 0.1, 0.12)));
    let ground = materials.add(ColorMaterial::from_color(Color::srgb(0.12, 0.14, 0.12)));
    commands.spawn((
        DespawnOnExit(Screen::Play),
        Mesh2d(meshes.add(Rectangle::new(4000.0, 300.0))),
        MeshMaterial2d(ground),
        Transform::from_xyz(0.0, -330.0, -1.0),
    ));
    commands
        .spawn((
            DespawnOnExit(Screen::Play),
            Companion,
            Transform::from_xyz(-180.0, -80.0, 1.0),
            Visibility::default(),
        ))
        .with_children(|c| {
            c.spawn((
                CompanionBody(body.clone()),
                Mesh2d(meshes.add(Circle::new(90.0))),
                MeshMaterial2d(body),
            ));
            for x in [-32.0, 32.0] {
                c.spawn((
                    Mesh2d(meshes.add(Circle::new(20.0))),
                    MeshMaterial2d(white.clone()),
                    Transform::from_xyz(x, 25.0, 1.0),
                ));
                c.spawn((
                    Mesh2d(meshes.add(Circle::new(9.0))),
                    MeshMaterial2d(dark.clone()),
                    Transform::from_xyz(x + 4.0, 22.0, 2.0),
                ));
            }
        });
}

fn spawn_gate(commands: &mut Commands, run: &GateRun) {
    commands.spawn((
        DespawnOnExit(Screen::Play),
        Gate { index: run.current },
        Sprite::from_color(emotion_color(run.wanted()), Vec2::new(90.0, 300.0)),
        Transform::from_xyz(260.0, -30.0, 0.5),
    ));
}

/// Follows the smoothed emotion: sky, companion colour and motion, weather.
fn animate(
    time: Res<Time>,
    state: Res<EmotionState>,
    mut world: ResMut<WorldMood>,
    mut clear: ResMut<ClearColor>,
    mut companion: Query<&mut Transform, With<Companion>>,
    bodies: Query<&CompanionBody>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    mut commands: Commands,
) {
    let emotion = state.emotion().unwrap_or(Emotion::Neutral);
    world.emotion = emotion;
    let m = mood(emotion);
    let dt = time.delta_secs();
    let t = time.elapsed_secs();
    let ease = (dt * 2.0).min(1.0);
    world.sky = world.sky.mix(&m.sky, ease);
    clear.0 = world.sky;
    for body in &bodies {
        if let Some(mut mat) = materials.get_mut(&body.0) {
            mat.color = mat.color.mix(&emotion_color(emotion), ease);
        }
    }
    world.seed = world
        .seed
        .wrapping_mul(1_664_525)
        .wrapping_add(1_013_904_223);
    let r = |s: u32| (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
    for mut tf in &mut companion {
        let bob = (t * m.bob.0 * std::f32::consts::TAU).sin() * m.bob.1;
        tf.translation.x = -180.0 + r(world.seed) * 2.0 * m.shake;
        tf.translation.y = -80.0 + bob + r(world.seed.rotate_left(7)) * 2.0 * m.shake;
        let s = tf.scale.x + (m.scale - tf.scale.x) * ease;
        tf.scale = Vec3::splat(s);
    }
    world.spawn_debt += m.weather.0 * dt;
    while world.spawn_debt >= 1.0 {
        world.spawn_debt -= 1.0;
        world.seed = world
            .seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let x = r(world.seed) * 1280.0;
        let y = if m.weather.2.y < 0.0 {
            380.0
        } else if m.weather.2.y == 0.0 {
            // Drifting sideways: anywhere in the sky.
            r(world.seed.rotate_left(11)) * 500.0 + 100.0
        } else {
            -200.0
        };
        let size = if m.weather.2.y < -100.0 {
            Vec2::new(2.0, 18.0)
        } else {
            Vec2::splat(6.0)
        };
        commands.spawn((
            DespawnOnExit(Screen::Play),
            Particle {
                velocity: m.weather.2,
                life: 3.0,
            },
            Sprite::from_color(m.weather.1, size),
            Transform::from_xyz(x, y, 0.2),
        ));
    }
}

fn move_particles(
    time: Res<Time>,
    mut commands: Commands,
    mut particles: Query<(Entity, &mut Particle, &mut Transform)>,
) {
    let dt = time.delta_secs();
    for (e, mut p, mut tf) in &mut particles {
        p.life -= dt;
        tf.translation += (p.velocity * dt).extend(0.0);
        if p.life <= 0.0 {
            commands.entity(e).despawn();
        }
    }
}

/// Opened gates slide up and away; the next one appears.
fn gates(
    time: Res<Time>,
    run: Res<GateRun>,
    mut commands: Commands,
    mut gates: Query<(Entity, &Gate, &mut Transform)>,
) {
    let mut newest = None;
    for (e, gate, mut tf) in &mut gates {
        if gate.index < run.current {
            tf.translation.y += 400.0 * time.delta_secs();
            if tf.translation.y > 500.0 {
                commands.entity(e).despawn();
            }
        } else {
            newest = Some(gate.index);
        }
    }
    if newest != Some(run.current) {
        spawn_gate(&mut commands, &run);
    }
}

/// The world of the play screen.
pub fn plugin(app: &mut App) {
    app.init_resource::<WorldMood>()
        .add_systems(OnEnter(Screen::Play), spawn_world)
        .add_systems(
            Update,
            (animate, move_particles, gates).run_if(in_state(Screen::Play)),
        );
}
