//! The weather: particles whose rate, colour and direction follow the player's mood (sun
//! motes, rain, embers, drifting leaves).

use bevy::prelude::*;

use super::mood::mood;
use super::world::{WorldMood, WorldSystems, unit};
use crate::screens::Screen;

#[derive(Component)]
struct Particle {
    velocity: Vec2,
    life: f32,
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
