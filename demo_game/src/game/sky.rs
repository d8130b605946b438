//! The sky's light: a glow that rises from the horizon in bands, and a sun (or a pale moon)
//! with a halo, behind the hills. Both follow the smoothed arousal and valence continuously:
//! a pleasant voice raises the light and warms it, an unpleasant one lowers and cools it, an
//! excited one widens the glow and the halo. The light is a pure function of the mood
//! ([`sky_light`]), tested without a window.

use bevy::color::Mix;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use super::world::ease;
use crate::screens::Screen;

/// Bands of the horizon glow, from the horizon up.
const BANDS: usize = 48;
/// Where the hills meet the sky, and how high the glow can reach.
const HORIZON_Y: f32 = -180.0;
const SKY_TOP_Y: f32 = 300.0;
/// The light's place across the sky (left of the companion) and its radius.
const LIGHT_X: f32 = -430.0;
const LIGHT_RADIUS: f32 = 38.0;
/// Halo rings around the light.
const HALOS: usize = 10;

/// How the sky is lit for a mood.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkyLight {
    /// The horizon glow's colour (its alpha fades upwards).
    pub glow: Color,
    /// How far up the glow reaches, `0..=1` of the sky.
    pub glow_reach: f32,
    /// The glow's opacity at the horizon.
    pub glow_strength: f32,
    /// The light's height (its centre, in world pixels).
    pub light_y: f32,
    /// The light's colour: a warm sun when pleasant, a pale moon when not.
    pub light: Color,
    /// The halo's outer radius, in world pixels.
    pub halo: f32,
}

/// The sky's light for a smoothed `(arousal, valence)`, each in `-1..=1`.
#[must_use]
pub fn sky_light(arousal: f32, valence: f32) -> SkyLight {
    let a = 0.5 * (arousal.clamp(-1.0, 1.0) + 1.0);
    let v = 0.5 * (valence.clamp(-1.0, 1.0) + 1.0);
    let warm = Color::srgb(1.0, 0.62, 0.30);
    let cold = Color::srgb(0.36, 0.42, 0.78);
    let sun = Color::srgb(1.0, 0.90, 0.55);
    let moon = Color::srgb(0.82, 0.86, 0.95);
    SkyLight {
        glow: cold.mix(&warm, v),
        glow_reach: 0.3 + 0.5 * a,
        glow_strength: 0.25 + 0.35 * a,
        // Low, half behind the hills, when unpleasant; high when pleasant.
        light_y: HORIZON_Y + 40.0 + 380.0 * v,
        light: moon.mix(&sun, v),
        halo: LIGHT_RADIUS * (1.6 + 2.4 * a),
    }
}

/// A band of the horizon glow, by its index from the horizon.
#[derive(Component)]
struct Band(usize);

/// The light's disc, or a ring of its halo (by its index outwards).
#[derive(Component, Clone, Copy)]
enum Disc {
    Light,
    Halo(usize),
}

/// The mood the sky shows now, easing towards the smoothed state.
#[derive(Resource, Debug, Clone, Copy, Default)]
struct SkyMood {
    arousal: f32,
    valence: f32,
}

fn spawn_sky(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let band_height = (SKY_TOP_Y - HORIZON_Y) / BANDS as f32;
    for i in 0..BANDS {
        commands.spawn((
            DespawnOnExit(Screen::Play),
            Band(i),
            Sprite::from_color(Color::NONE, Vec2::new(4000.0, band_height)),
            Transform::from_xyz(0.0, HORIZON_Y + band_height * (i as f32 + 0.5), -3.0),
        ));
    }
    for k in 0..HALOS {
        commands.spawn((
            DespawnOnExit(Screen::Play),
            Disc::Halo(k),
            Mesh2d(meshes.add(Circle::new(1.0))),
            MeshMaterial2d(materials.add(ColorMaterial::from_color(Color::NONE))),
            Transform::from_xyz(LIGHT_X, 0.0, -2.6 + 0.01 * k as f32),
        ));
    }
    commands.spawn((
        DespawnOnExit(Screen::Play),
        Disc::Light,
        Mesh2d(meshes.add(Circle::new(LIGHT_RADIUS))),
        MeshMaterial2d(materials.add(ColorMaterial::from_color(Color::WHITE))),
        Transform::from_xyz(LIGHT_X, 0.0, -2.5),
    ));
}

/// Eases the sky's mood and lights it.
fn light_sky(
    time: Res<Time>,
    state: Res<EmotionState>,
    mut mood: ResMut<SkyMood>,
    mut bands: Query<(&Band, &mut Sprite)>,
    mut discs: Query<(&Disc, &MeshMaterial2d<ColorMaterial>, &mut Transform)>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let (arousal, valence) = if state.emotion().is_some() {
        state.arousal_valence()
    } else {
        (0.0, 0.0)
    };
    let k = ease(&time) * 0.5;
    mood.arousal += (arousal - mood.arousal) * k;
    mood.valence += (valence - mood.valence) * k;
    let sky = sky_light(mood.arousal, mood.valence);
    for (band, mut sprite) in &mut bands {
        let up = (band.0 as f32 + 0.5) / BANDS as f32;
        let fade = (1.0 - up / sky.glow_reach).clamp(0.0, 1.0);
        sprite.color = sky.glow.with_alpha(sky.glow_strength * fade * fade);
    }
    for (disc, material, mut tf) in &mut discs {
        tf.translation.y = sky.light_y;
        let color = match *disc {
            Disc::Light => sky.light,
            Disc::Halo(k) => {
                let out = (k as f32 + 1.0) / HALOS as f32;
                let radius = LIGHT_RADIUS + (sky.halo - LIGHT_RADIUS) * out;
                tf.scale = Vec3::new(radius, radius, 1.0);
                sky.light.with_alpha(0.07 * (1.0 - 0.5 * out))
            }
        };
        if let Some(mut m) = materials.get_mut(&material.0) {
            m.color = color;
        }
    }
}

/// The sky's light on the play screen.
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<SkyMood>()
        .add_systems(OnEnter(Screen::Play), spawn_sky)
        .add_systems(Update, light_sky.run_if(in_state(Screen::Play)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::color::Luminance;

    #[test]
    fn a_pleasant_voice_raises_and_warms_the_light_an_excited_one_widens_it() {
        let glad = sky_light(0.0, 1.0);
        let sad = sky_light(0.0, -1.0);
        assert!(glad.light_y > sad.light_y + 300.0, "{glad:?} {sad:?}");
        // The moon sits low, partly behind the hills, but never below the horizon.
        assert!(sad.light_y > HORIZON_Y && sad.light_y < HORIZON_Y + LIGHT_RADIUS * 2.0);
        let (g, s) = (glad.glow.to_srgba(), sad.glow.to_srgba());
        assert!(g.red > g.blue && s.blue > s.red, "warm {g:?}, cold {s:?}");

        let excited = sky_light(1.0, 0.0);
        let calm = sky_light(-1.0, 0.0);
        assert!(excited.halo > 2.0 * calm.halo);
        assert!(excited.glow_reach > calm.glow_reach && excited.glow_strength > calm.glow_strength);
        // Continuous: a small change of mood is a small change of light.
        let a = sky_light(0.30, 0.20);
        let b = sky_light(0.31, 0.21);
        assert!((a.light_y - b.light_y).abs() < 5.0 && (a.halo - b.halo).abs() < 2.0);
        assert!((a.light.luminance() - b.light.luminance()).abs() < 0.02);
        // Out-of-range moods are held to the range.
        assert_eq!(sky_light(5.0, -9.0), sky_light(1.0, -1.0));
    }
}
