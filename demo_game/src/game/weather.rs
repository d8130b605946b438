//! The weather: particles whose rate, colour and direction follow the player's mood (sun
//! motes, rain, embers, drifting leaves), fading out at the end of their life; and the burst of
//! sparks a gate gives when it opens ([`burst`]).

use bevy::prelude::*;

use super::mood::mood;
use super::world::{WorldMood, WorldSystems, unit};
use crate::screens::Screen;

/// A particle: it moves, falls under its gravity and fades out over the last second of its
/// life.
#[derive(Component)]
pub(super) struct Particle {
    velocity: Vec2,
    /// Downward acceleration, pixels per second squared.
    gravity: f32,
    life: f32,
    /// Its colour at full strength.
    color: Color,
}

/// Seconds a particle takes to fade out.
const FADE_SECONDS: f32 = 1.0;

/// Sparks bursting from `at` in `color`: a gate that opened. `seed` varies the pattern.
pub(super) fn burst(commands: &mut Commands, at: Vec2, color: Color, seed: u32) {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    for i in 0..32 {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let angle = std::f32::consts::TAU * (i as f32 / 32.0 + 0.1 * unit(s));
        let speed = 180.0 + 160.0 * (unit(s.rotate_left(9)) + 0.5);
        let size = 4.0 + 4.0 * (unit(s.rotate_left(17)) + 0.5);
        commands.spawn((
            DespawnOnExit(Screen::Play),
            Particle {
                velocity: Vec2::from_angle(angle) * speed,
                gravity: 320.0,
                life: 1.2,
                color,
            },
            Sprite::from_color(color, Vec2::splat(size)),
            Transform::from_xyz(at.x, at.y, 0.9),
        ));
    }
}

/// Spawns the mood's particles at its rate.
fn spawn_particles(time: Res<Time>, mut world: ResMut<WorldMood>, mut commands: Commands) {
    let m = mood(world.emotion);
    world.spawn_debt += m.weather.0 * time.delta_secs();
    while world.spawn_debt >= 1.0 {
        world.spawn_debt -= 1.0;
        let seed = world.next_seed();
        let x = unit(seed) * 1280.0;
        let y = if m.weather.2.y < 0.0 {
            380.0
        } else if m.weather.2.y == 0.0 {
            // Drifting sideways: anywhere in the sky.
            unit(seed.rotate_left(11)) * 500.0 + 100.0
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
                gravity: 0.0,
                life: 3.0,
                color: m.weather.1,
            },
            Sprite::from_color(m.weather.1, size),
            Transform::from_xyz(x, y, 0.2),
        ));
    }
}

fn move_particles(
    time: Res<Time>,
    mut commands: Commands,
    mut particles: Query<(Entity, &mut Particle, &mut Transform, &mut Sprite)>,
) {
    let dt = time.delta_secs();
    for (e, mut p, mut tf, mut sprite) in &mut particles {
        p.life -= dt;
        p.velocity.y -= p.gravity * dt;
        tf.translation += (p.velocity * dt).extend(0.0);
        sprite.color = p.color.with_alpha((p.life / FADE_SECONDS).clamp(0.0, 1.0));
        if p.life <= 0.0 {
            commands.entity(e).despawn();
        }
    }
}

/// The weather of the play screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (
            spawn_particles.in_set(WorldSystems::Weather),
            move_particles.run_if(in_state(Screen::Play)),
        ),
    );
}
