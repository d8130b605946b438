//! The road's gates as the player sees them: two stone posts, a lintel with the emotion's
//! name, and a door painted with the emotion the gate wants, glowing gently while it waits.
//! A gate slides in from the right along the road; its door rolls up when it hears its
//! emotion, with a burst of sparks, and the gate moves on to the left; it shakes when it hears another emotion and
//! wobbles when nothing was sure. The motion is a pure function of the gate's state
//! ([`pose`]), tested without a window.

use bevy::color::Luminance;
use bevy::prelude::*;
use bevy::sprite::Anchor;

use super::gates::{Feedback, GateRun};
use crate::screens::Screen;
use crate::theme::palette::emotion_color;

/// Where a gate stands when it waits for the player.
const HOME_X: f32 = 260.0;
/// The road's height, where the posts stand.
const GROUND_Y: f32 = -180.0;
/// The door's size.
const DOOR: Vec2 = Vec2::new(90.0, 280.0);
/// Seconds to slide in, to open and to move on.
const ARRIVE_SECONDS: f32 = 0.8;
const OPEN_SECONDS: f32 = 0.6;
const LEAVE_SECONDS: f32 = 1.2;
/// How far a gate slides in from and moves on to (pixels).
const TRAVEL: f32 = 760.0;

/// What a gate is doing, in seconds since each motion began (`None`: not begun).
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct GateMotion {
    /// Seconds since the gate appeared.
    pub age: f32,
    /// Seconds since its door began to open.
    pub opened: Option<f32>,
    /// Seconds since it last heard the wrong emotion.
    pub shaken: Option<f32>,
    /// Seconds since it last heard nothing sure.
    pub wobbled: Option<f32>,
}

impl GateMotion {
    /// Advances every clock by `dt` seconds.
    pub fn advance(&mut self, dt: f32) {
        self.age += dt;
        for clock in [&mut self.opened, &mut self.shaken, &mut self.wobbled]
            .into_iter()
            .flatten()
        {
            *clock += dt;
        }
    }

    /// Whether the gate has moved on out of sight.
    #[must_use]
    pub fn gone(&self) -> bool {
        self.opened
            .is_some_and(|t| t >= OPEN_SECONDS + LEAVE_SECONDS)
    }
}

/// Where a gate and its door are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatePose {
    /// The gate's centre on the road.
    pub x: f32,
    /// The door's horizontal offset (a shake) and turn (a wobble, radians).
    pub door_x: f32,
    /// The door's turn in radians.
    pub door_turn: f32,
    /// How much of the door is still down, `0..=1` (it rolls up into the lintel).
    pub door_down: f32,
    /// The door's brightness, around 1 (it glows while the gate waits).
    pub glow: f32,
}

/// Smooth start and stop over `0..=1`.
fn smooth(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// The gate's pose for its motion.
#[must_use]
pub fn pose(m: &GateMotion) -> GatePose {
    let arrive = smooth(m.age / ARRIVE_SECONDS);
    let (door_down, leave) = match m.opened {
        Some(t) => (
            1.0 - smooth(t / OPEN_SECONDS),
            smooth((t - OPEN_SECONDS) / LEAVE_SECONDS),
        ),
        None => (1.0, 0.0),
    };
    let shake = m
        .shaken
        .map_or(0.0, |t| 14.0 * (-6.0 * t).exp() * (t * 55.0).sin());
    let wobble = m
        .wobbled
        .map_or(0.0, |t| 0.06 * (-3.0 * t).exp() * (t * 18.0).sin());
    let glow = if m.opened.is_some() {
        1.2
    } else {
        1.0 + 0.12 * (m.age * std::f32::consts::PI).sin()
    };
    GatePose {
        x: HOME_X + (1.0 - arrive) * TRAVEL - leave * TRAVEL * 1.4,
        door_x: shake,
        door_turn: wobble,
        door_down,
        glow,
    }
}

/// A gate, by its place on the road.
#[derive(Component)]
struct Gate {
    index: usize,
}

/// A gate's door (a child of the gate) and its colour.
#[derive(Component)]
struct Door(Color);

fn spawn_gate(commands: &mut Commands, run: &GateRun) {
    let emotion = run.wanted();
    let color = emotion_color(emotion);
    let stone = Color::srgb(0.42, 0.40, 0.38);
    let height = DOOR.y + 30.0;
    commands
        .spawn((
            DespawnOnExit(Screen::Play),
            Gate { index: run.current },
            GateMotion::default(),
            Transform::from_xyz(HOME_X + TRAVEL, GROUND_Y, 0.5),
            Visibility::default(),
        ))
        .with_children(|g| {
            // The door hangs from the lintel: its anchor is its top edge.
            g.spawn((
                Door(color),
                Sprite::from_color(color, DOOR),
                Anchor::TOP_CENTER,
                Transform::from_xyz(0.0, DOOR.y, 0.0),
            ));
            for side in [-1.0, 1.0] {
                g.spawn((
                    Sprite::from_color(stone, Vec2::new(26.0, height)),
                    Transform::from_xyz(side * (DOOR.x / 2.0 + 13.0), height / 2.0, 0.2),
                ));
            }
            g.spawn((
                Sprite::from_color(stone.darker(0.08), Vec2::new(DOOR.x + 90.0, 34.0)),
                Transform::from_xyz(0.0, height + 10.0, 0.3),
            ));
            g.spawn((
                Text2d::new(emotion.name().to_uppercase()),
                TextFont::from_font_size(20.0),
                TextColor(color.lighter(0.25)),
                Transform::from_xyz(0.0, height + 10.0, 0.4),
            ));
        });
}

/// Gates react to what was heard, move, and give way to the next one.
fn animate_gates(
    time: Res<Time>,
    run: Res<GateRun>,
    mut heard: Local<u32>,
    mut commands: Commands,
    mut gates: Query<(Entity, &Gate, &mut GateMotion, &mut Transform, &Children), Without<Door>>,
    mut doors: Query<(&Door, &mut Sprite, &mut Transform), Without<Gate>>,
) {
    let news = (run.heard != *heard)
        .then_some(run.feedback.as_ref())
        .flatten();
    *heard = run.heard;
    let mut current_shown = false;
    for (entity, gate, mut motion, mut tf, children) in &mut gates {
        if gate.index < run.current && motion.opened.is_none() {
            motion.opened = Some(0.0);
            let color = children
                .iter()
                .find_map(|c| doors.get(c).ok().map(|(door, _, _)| door.0))
                .unwrap_or(Color::WHITE);
            let centre = Vec2::new(tf.translation.x, GROUND_Y + DOOR.y / 2.0);
            super::weather::burst(&mut commands, centre, color, gate.index as u32 + 1);
        }
        if gate.index == run.current {
            current_shown = true;
            match news {
                Some(Feedback::Missed { .. }) => motion.shaken = Some(0.0),
                Some(Feedback::NotSure { .. }) => motion.wobbled = Some(0.0),
                _ => {}
            }
        }
        motion.advance(time.delta_secs());
        if motion.gone() {
            commands.entity(entity).despawn();
            continue;
        }
        let p = pose(&motion);
        tf.translation.x = p.x;
        for child in children {
            if let Ok((door, mut sprite, mut door_tf)) = doors.get_mut(*child) {
                door_tf.translation.x = p.door_x;
                door_tf.rotation = Quat::from_rotation_z(p.door_turn);
                door_tf.scale.y = p.door_down.max(0.001);
                let lit = door.0.to_linear() * p.glow;
                sprite.color = Color::LinearRgba(lit.with_alpha(1.0));
            }
        }
    }
    if !current_shown {
        spawn_gate(&mut commands, &run);
    }
}

/// The gates of the play screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, animate_gates.run_if(in_state(Screen::Play)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mut m: GateMotion, seconds: f32) -> GateMotion {
        // In frames of 1/60 s, as the game advances it.
        for _ in 0..(seconds * 60.0).round() as usize {
            m.advance(1.0 / 60.0);
        }
        m
    }

    #[test]
    fn a_gate_slides_in_waits_opens_and_moves_on() {
        let new = GateMotion::default();
        assert!(
            pose(&new).x > HOME_X + TRAVEL * 0.99,
            "starts off to the right"
        );
        let waiting = at(new, 2.0);
        let p = pose(&waiting);
        assert!((p.x - HOME_X).abs() < 1e-3 && p.door_down == 1.0, "{p:?}");
        assert!((0.85..=1.15).contains(&p.glow));

        let mut opening = waiting;
        opening.opened = Some(0.0);
        let half = pose(&at(opening, OPEN_SECONDS / 2.0));
        assert!(half.door_down > 0.2 && half.door_down < 0.8, "{half:?}");
        let open = pose(&at(opening, OPEN_SECONDS + 0.01));
        assert!(open.door_down < 0.01 && open.x > HOME_X - 10.0, "{open:?}");
        let leaving = at(opening, OPEN_SECONDS + LEAVE_SECONDS - 0.05);
        assert!(pose(&leaving).x < HOME_X - TRAVEL, "{:?}", pose(&leaving));
        assert!(!leaving.gone());
        assert!(at(leaving, 0.1).gone());
    }

    #[test]
    fn a_wrong_emotion_shakes_the_door_and_nothing_sure_wobbles_it_both_fading() {
        let mut m = at(GateMotion::default(), 2.0);
        m.shaken = Some(0.0);
        let swing = |m: GateMotion| {
            (0..30)
                .map(|i| pose(&at(m, i as f32 / 60.0)).door_x.abs())
                .fold(0.0f32, f32::max)
        };
        assert!(swing(m) > 5.0, "{}", swing(m));
        assert!(swing(at(m, 1.5)) < 0.01, "the shake fades");
        assert_eq!(pose(&at(m, 0.2)).door_down, 1.0, "a shake opens nothing");

        let mut w = at(GateMotion::default(), 2.0);
        w.wobbled = Some(0.0);
        let turn = (0..30)
            .map(|i| pose(&at(w, i as f32 / 60.0)).door_turn.abs())
            .fold(0.0f32, f32::max);
        assert!(turn > 0.02 && turn < 0.1, "{turn}");
        assert!(pose(&at(w, 3.0)).door_turn.abs() < 1e-3);
    }
}
