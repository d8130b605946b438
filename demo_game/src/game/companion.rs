//! The companion: a round creature beside the road whose colour, bob, shake and size follow
//! the player's mood.

use bevy::color::Mix;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use super::mood::mood;
use super::world::{WorldMood, WorldSystems, ease, unit};
use crate::screens::Screen;
use crate::theme::palette::emotion_color;

/// Where the companion stands.
const HOME: Vec2 = Vec2::new(-180.0, -80.0);

#[derive(Component)]
struct Companion;

#[derive(Component)]
struct CompanionBody(Handle<ColorMaterial>);

fn spawn_companion(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let body = materials.add(ColorMaterial::from_color(emotion_color(Emotion::Neutral)));
    let white = materials.add(ColorMaterial::from_color(Color::WHITE));
    let dark = materials.add(ColorMaterial::from_color(Color::srgb(0.1, 0.1, 0.12)));
    commands
        .spawn((
            DespawnOnExit(Screen::Play),
            Companion,
            Transform::from_xyz(HOME.x, HOME.y, 1.0),
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

/// Eases the body's colour and size towards the mood; bobs and shakes.
fn animate(
    time: Res<Time>,
    mut world: ResMut<WorldMood>,
    mut companion: Query<&mut Transform, With<Companion>>,
    bodies: Query<&CompanionBody>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let emotion = world.emotion;
    let m = mood(emotion);
    let ease = ease(&time);
    let t = time.elapsed_secs();
    for body in &bodies {
        if let Some(mut mat) = materials.get_mut(&body.0) {
            mat.color = mat.color.mix(&emotion_color(emotion), ease);
        }
    }
    let seed = world.next_seed();
    for mut tf in &mut companion {
        let bob = (t * m.bob.0 * std::f32::consts::TAU).sin() * m.bob.1;
        tf.translation.x = HOME.x + unit(seed) * 2.0 * m.shake;
        tf.translation.y = HOME.y + bob + unit(seed.rotate_left(7)) * 2.0 * m.shake;
        let s = tf.scale.x + (m.scale - tf.scale.x) * ease;
        tf.scale = Vec3::splat(s);
    }
}

/// The companion of the play screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(OnEnter(Screen::Play), spawn_companion)
        .add_systems(Update, animate.in_set(WorldSystems::Companion));
}
