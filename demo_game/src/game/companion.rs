//! The companion: a round creature beside the road whose colour follows the player's mood,
//! and whose posture (bob, tremble, size, stretch) and face follow the smoothed arousal and
//! valence continuously ([`posture`], `face`):
//! eyes wide open when the voice is energetic and sleepy when it is calm, a smile that grows
//! with pleasant valence and turns into a frown with unpleasant. While the player speaks it
//! already reacts to what it has heard of the sentence (the plugin's `EmotionProvisional`).

use bevy::color::Mix;
use bevy::prelude::*;
use bevy_voice_emotion::prelude::*;

use super::world::{WorldMood, WorldSystems, ease, unit};
use crate::screens::Screen;
use crate::theme::palette::emotion_color;

/// Where the companion stands.
const HOME: Vec2 = Vec2::new(-180.0, -80.0);

#[derive(Component)]
struct Companion;

#[derive(Component)]
struct CompanionBody(Handle<ColorMaterial>);

/// An eye (white or pupil): opens with arousal.
#[derive(Component)]
struct Eye;

/// The mouth: a circular segment whose height follows |valence|, a smile (arc down) when
/// valence is positive and a frown (arc up) when negative.
#[derive(Component)]
struct Mouth;

/// The mouth's circle: radius and half-angle.
const MOUTH: (f32, f32) = (40.0, 1.0);

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
                    Eye,
                    Mesh2d(meshes.add(Circle::new(20.0))),
                    MeshMaterial2d(white.clone()),
                    Transform::from_xyz(x, 25.0, 1.0),
                ));
                c.spawn((
                    Eye,
                    Mesh2d(meshes.add(Circle::new(9.0))),
                    MeshMaterial2d(dark.clone()),
                    Transform::from_xyz(x + 4.0, 22.0, 2.0),
                ));
            }
            // The segment lies between its chord and its arc, above the circle's centre:
            // moved down by its middle so that it scales and turns about itself.
            let segment = CircularSegment::new(MOUTH.0, MOUTH.1);
            let middle = (segment.apothem() + MOUTH.0) / 2.0;
            c.spawn((
                Mouth,
                Transform::from_xyz(0.0, -35.0, 1.0).with_scale(Vec3::new(1.0, 0.2, 1.0)),
                Visibility::default(),
            ))
            .with_child((
                Mesh2d(meshes.add(segment)),
                MeshMaterial2d(dark),
                Transform::from_xyz(0.0, -middle, 0.0),
            ));
        });
}

/// The face for a smoothed `(arousal, valence)`: the eyes' vertical scale, and the mouth's
/// vertical scale and turn (radians).
fn face(arousal: f32, valence: f32) -> (f32, f32, f32) {
    let eyes = 0.8 + 0.35 * arousal.clamp(-1.0, 1.0);
    let mouth = 0.15 + 0.85 * valence.abs().min(1.0);
    let turn = if valence >= 0.0 {
        std::f32::consts::PI
    } else {
        0.0
    };
    (eyes, mouth, turn)
}

/// What the companion has heard of the sentence the player is speaking: the latest
/// provisional arousal and valence, until the utterance's detection.
#[derive(Resource, Default)]
struct Overheard {
    utterance: Option<u64>,
    arousal_valence: (f32, f32),
}

impl Overheard {
    /// The face's target: mid-sentence, half-way from the smoothed state towards what was
    /// heard so far; otherwise the smoothed state.
    fn target(&self, smoothed: (f32, f32)) -> (f32, f32) {
        match self.utterance {
            Some(_) => (
                0.5 * (smoothed.0 + self.arousal_valence.0),
                0.5 * (smoothed.1 + self.arousal_valence.1),
            ),
            None => smoothed,
        }
    }
}

/// Follows provisional results while the player speaks; forgets them at the detection.
fn overhear(
    mut overheard: ResMut<Overheard>,
    mut provisional: MessageReader<EmotionProvisional>,
    mut detected: MessageReader<EmotionDetected>,
) {
    for p in provisional.read() {
        overheard.utterance = Some(p.utterance);
        overheard.arousal_valence = (p.arousal, p.valence);
    }
    for d in detected.read() {
        if overheard.utterance == Some(d.utterance) {
            overheard.utterance = None;
        }
    }
}

/// Eases the face towards the smoothed arousal and valence (or, mid-sentence, towards what
/// was heard so far).
fn animate_face(
    time: Res<Time>,
    state: Res<EmotionState>,
    overheard: Res<Overheard>,
    mut eyes: Query<&mut Transform, (With<Eye>, Without<Mouth>)>,
    mut mouths: Query<&mut Transform, (With<Mouth>, Without<Eye>)>,
) {
    let (arousal, valence) = overheard.target(state.arousal_valence());
    let (eye_y, mouth_y, turn) = face(arousal, valence);
    let ease = ease(&time);
    for mut tf in &mut eyes {
        tf.scale.y += (eye_y - tf.scale.y) * ease;
    }
    for mut tf in &mut mouths {
        tf.scale.y += (mouth_y - tf.scale.y) * ease;
        tf.rotation = Quat::from_rotation_z(turn);
    }
}

/// How the companion holds itself and moves for an `(arousal, valence)`, each in `-1..=1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posture {
    /// Bobs a second: slow when calm, quick when excited.
    pub bob_hz: f32,
    /// Bob height in pixels: a bounce when pleased and lively, barely a breath when low.
    pub bob_px: f32,
    /// Random tremble in pixels: excited and unpleasant (anger, fear).
    pub shake_px: f32,
    /// Size: grows when pleased and lively, shrinks when sad.
    pub scale: f32,
    /// Height over width: stretches up when excited, slumps when low.
    pub stretch: f32,
}

/// The companion's posture, continuous in arousal and valence.
#[must_use]
pub fn posture(arousal: f32, valence: f32) -> Posture {
    let a = arousal.clamp(-1.0, 1.0);
    let v = valence.clamp(-1.0, 1.0);
    let (a01, v01) = (0.5 * (a + 1.0), 0.5 * (v + 1.0));
    Posture {
        bob_hz: 0.25 * 12f32.powf(a01),
        bob_px: 3.0 + 30.0 * a01 * v01,
        shake_px: 9.0 * a.max(0.0) * (-v).max(0.0).sqrt(),
        scale: 1.0 + 0.12 * v + 0.06 * a,
        stretch: 1.0 + 0.12 * a,
    }
}

/// Eases the body's colour towards the emotion's and its posture towards the arousal and
/// valence (mid-sentence, what was heard so far); bobs and trembles.
fn animate(
    time: Res<Time>,
    state: Res<EmotionState>,
    overheard: Res<Overheard>,
    mut world: ResMut<WorldMood>,
    mut eased: Local<Option<(f32, f32)>>,
    mut phase: Local<f32>,
    mut companion: Query<&mut Transform, With<Companion>>,
    bodies: Query<&CompanionBody>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let emotion = world.emotion;
    let ease = ease(&time);
    for body in &bodies {
        if let Some(mut mat) = materials.get_mut(&body.0) {
            mat.color = mat.color.mix(&emotion_color(emotion), ease);
        }
    }
    let target = overheard.target(state.arousal_valence());
    let (a, v) = eased.get_or_insert(target);
    *a += (target.0 - *a) * ease;
    *v += (target.1 - *v) * ease;
    let p = posture(*a, *v);
    // The bob's phase advances at the current rate, so a change of rate never jumps.
    *phase = (*phase + p.bob_hz * time.delta_secs()).fract();
    let seed = world.next_seed();
    for mut tf in &mut companion {
        let bob = (*phase * std::f32::consts::TAU).sin().abs() * p.bob_px;
        tf.translation.x = HOME.x + unit(seed) * 2.0 * p.shake_px;
        tf.translation.y = HOME.y + bob + unit(seed.rotate_left(7)) * 2.0 * p.shake_px;
        tf.scale = Vec3::new(p.scale / p.stretch.sqrt(), p.scale * p.stretch.sqrt(), 1.0);
    }
}

/// The companion of the play screen.
pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Overheard>()
        .add_systems(OnEnter(Screen::Play), spawn_companion)
        .add_systems(
            Update,
            (overhear, animate, animate_face)
                .chain()
                .in_set(WorldSystems::Companion),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_face_smiles_with_pleasant_valence_and_wakes_with_arousal() {
        let (calm_eyes, _, _) = face(-0.8, 0.0);
        let (excited_eyes, _, _) = face(0.9, 0.0);
        assert!(excited_eyes > calm_eyes);
        let (_, smile, smile_turn) = face(0.0, 0.7);
        let (_, frown, frown_turn) = face(0.0, -0.7);
        assert_eq!(
            (smile, smile_turn),
            (frown, frown_turn + std::f32::consts::PI)
        );
        let (_, flat, _) = face(0.0, 0.0);
        assert!(flat < smile);
    }

    #[test]
    fn posture_follows_arousal_and_valence_as_the_moods_expect() {
        use Emotion::*;
        let of = |e: Emotion| {
            let (a, v) = e.arousal_valence();
            posture(a, v)
        };
        assert!(of(Angry).shake_px > 3.0 && of(Fearful).shake_px > 3.0);
        for still in [Happy, Sad, Calm, Neutral] {
            assert_eq!(of(still).shake_px, 0.0, "{still} trembles");
        }
        assert!(of(Happy).bob_px > 2.0 * of(Sad).bob_px);
        assert!(of(Surprised).bob_hz > 3.0 * of(Calm).bob_hz);
        assert!(of(Sad).scale < 0.95 && of(Happy).scale > 1.05);
        assert!(of(Surprised).stretch > 1.0 && of(Sad).stretch < 1.0);
        // Continuous: a small change of mood is a small change of posture.
        let (p, q) = (posture(0.2, 0.1), posture(0.21, 0.11));
        assert!((p.bob_hz - q.bob_hz).abs() < 0.05 && (p.bob_px - q.bob_px).abs() < 0.5);
        assert_eq!(posture(4.0, -4.0), posture(1.0, -1.0));
    }

    #[test]
    fn mid_sentence_the_face_leans_towards_what_it_heard() {
        let mut heard = Overheard::default();
        assert_eq!(heard.target((0.2, -0.4)), (0.2, -0.4));
        heard.utterance = Some(3);
        heard.arousal_valence = (0.8, 0.6);
        let (a, v) = heard.target((0.2, -0.4));
        assert!((a - 0.5).abs() < 1e-6 && (v - 0.1).abs() < 1e-6, "{a} {v}");
    }
}
