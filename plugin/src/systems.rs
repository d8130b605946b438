//! The plugin's systems: thin adapters between the engine's channels and Bevy's messages and
//! resources. All the work happens on the engine's threads; conversions are in `convert.rs`.

use bevy::diagnostic::Diagnostics;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use voice_emotion::audio::capture::SourceStatus;
use voice_emotion::engine::{Command, EngineEvent};

use crate::engine::VoiceEngine;
use crate::input::VoiceSource;
use crate::messages::{
    ConfirmEmotion, ConfirmationRejected, EmotionDetected, EmotionProvisional, EvaluateHeldOut,
    EvaluatePlayer, ForgetPlayer, HeldOutEvaluated, MicrophoneStatusChanged, PlayerChanged,
    PlayerEvaluated, PlayerForgotten, PlayerModelUpdated, ProfileProblem, ResetPlayer, SpeechEnded,
    SpeechStarted, SwitchPlayer,
};
use crate::resources::{
    ActivePlayer, EmotionState, KnownPlayers, MicrophoneStatus, VoiceEmotionDiagnostics,
    VoiceEmotionSettings,
};

/// The plugin's outgoing messages.
#[derive(SystemParam)]
pub(crate) struct Outgoing<'w> {
    started: MessageWriter<'w, SpeechStarted>,
    ended: MessageWriter<'w, SpeechEnded>,
    detected: MessageWriter<'w, EmotionDetected>,
    provisional: MessageWriter<'w, EmotionProvisional>,
    updated: MessageWriter<'w, PlayerModelUpdated>,
    rejected: MessageWriter<'w, ConfirmationRejected>,
    microphone: MessageWriter<'w, MicrophoneStatusChanged>,
    player: MessageWriter<'w, PlayerChanged>,
    evaluated: MessageWriter<'w, PlayerEvaluated>,
    held_out: MessageWriter<'w, HeldOutEvaluated>,
    forgotten: MessageWriter<'w, PlayerForgotten>,
    problem: MessageWriter<'w, ProfileProblem>,
}

/// The resources the plugin keeps up to date.
#[derive(SystemParam)]
pub(crate) struct State<'w> {
    settings: Res<'w, VoiceEmotionSettings>,
    emotion: ResMut<'w, EmotionState>,
    player: ResMut<'w, ActivePlayer>,
    known: ResMut<'w, KnownPlayers>,
    microphone: ResMut<'w, MicrophoneStatus>,
    diagnostics: ResMut<'w, VoiceEmotionDiagnostics>,
}

/// Engine events to messages and resources (`PreUpdate`, [`crate::VoiceEmotionSystems::Events`];
/// runs while there is a [`VoiceEngine`]).
pub(crate) fn receive_events(
    engine: Res<VoiceEngine>,
    mut events: Local<Vec<EngineEvent>>,
    mut out: Outgoing,
    mut state: State,
    mut diagnostics: Diagnostics,
) {
    if state.settings.is_changed() {
        let sure = state.settings.sure_confidence;
        state.emotion.set_sure_confidence(sure);
    }
    events.clear();
    engine.engine.drain_events(&mut events);
    for event in events.drain(..) {
        handle(event, &mut out, &mut state, &mut diagnostics);
    }
    // Levels and counters: written only when they change, so change detection stays useful.
    let buffer = engine.engine.monitor().stats();
    let mic = state.microphone.bypass_change_detection();
    if mic.rms != buffer.rms || mic.peak != buffer.peak {
        mic.rms = buffer.rms;
        mic.peak = buffer.peak;
        state.microphone.set_changed();
    }
    let stats = engine.engine.stats();
    let d = &mut state.diagnostics;
    if d.dropped_blocks != buffer.dropped_blocks
        || d.buffer_high_water != buffer.high_water
        || d.events_dropped != stats.events_dropped
    {
        d.dropped_blocks = buffer.dropped_blocks;
        d.buffer_high_water = buffer.high_water;
        d.events_dropped = stats.events_dropped;
    }
    diagnostics.add_measurement(&VoiceEmotionDiagnostics::DROPPED_BLOCKS, || {
        buffer.dropped_blocks as f64
    });
    let utterances = d.utterances;
    diagnostics.add_measurement(&VoiceEmotionDiagnostics::UTTERANCES, || utterances as f64);
}

fn player_changed(state: &mut State, out: &mut Outgoing, changed: PlayerChanged) {
    *state.player = ActivePlayer::from(&changed);
    state.emotion.clear();
    out.player.write(changed);
}

fn handle(event: EngineEvent, out: &mut Outgoing, state: &mut State, diag: &mut Diagnostics) {
    match event {
        EngineEvent::Ready {
            player,
            adapted,
            samples,
            notice,
        }
        | EngineEvent::PlayerSwitched {
            player,
            adapted,
            samples,
            notice,
        } => {
            let changed = PlayerChanged {
                player,
                adapted,
                samples,
                notice,
            };
            player_changed(state, out, changed);
        }
        EngineEvent::Failed { error } => {
            error!("voice emotion is off: {error}");
            state.microphone.status = SourceStatus::Failed {
                reason: error.to_string(),
            };
        }
        EngineEvent::SpeechStarted { utterance, .. } => {
            state.microphone.speaking = true;
            out.started.write(SpeechStarted { utterance });
        }
        EngineEvent::SpeechDiscarded { .. } => state.microphone.speaking = false,
        EngineEvent::SpeechEnded {
            utterance,
            duration_seconds,
            ..
        } => {
            state.microphone.speaking = false;
            state.diagnostics.utterances += 1;
            out.ended.write(SpeechEnded {
                utterance,
                duration_seconds,
            });
        }
        EngineEvent::Detected(d) => {
            let inference_ms = d.processing.as_secs_f64() * 1000.0;
            let message = EmotionDetected::new(d, state.settings.sure_confidence);
            let latency_ms = message.latency_ms;
            let smoothing = state.settings.smoothing;
            state.emotion.add(&message, smoothing);
            state.diagnostics.count_detection(inference_ms, latency_ms);
            diag.add_measurement(&VoiceEmotionDiagnostics::INFERENCE_MS, || inference_ms);
            diag.add_measurement(&VoiceEmotionDiagnostics::LATENCY_MS, || latency_ms);
            out.detected.write(message);
        }
        EngineEvent::Provisional {
            utterance,
            player,
            prediction,
            heard_seconds,
        } => {
            let sure = state.settings.sure_confidence;
            out.provisional.write(EmotionProvisional::new(
                utterance,
                player,
                &prediction,
                heard_seconds,
                sure,
            ));
        }
        EngineEvent::DetectionFailed { utterance, error } => {
            warn!("utterance {utterance} could not be classified: {error}");
        }
        EngineEvent::Confirmed { .. } => state.player.samples += 1,
        EngineEvent::ConfirmRejected {
            utterance,
            rejection,
        } => {
            out.rejected.write(ConfirmationRejected {
                utterance,
                rejection,
            });
        }
        EngineEvent::ModelUpdated {
            player,
            record,
            confirm_next,
        } => {
            let update = PlayerModelUpdated::from((player, record, confirm_next));
            let update_ms = update.seconds * 1000.0;
            state.diagnostics.count_update(update_ms);
            diag.add_measurement(&VoiceEmotionDiagnostics::UPDATE_MS, || update_ms);
            state.player.count_update(&update);
            out.updated.write(update);
        }
        EngineEvent::PlayerForgotten { player } => {
            let active = state.player.is(&player);
            out.forgotten.write(PlayerForgotten {
                player: player.clone(),
            });
            if active {
                let changed = PlayerChanged {
                    player,
                    adapted: false,
                    samples: 0,
                    notice: None,
                };
                player_changed(state, out, changed);
            }
        }
        EngineEvent::PlayerReset { player, samples } => {
            let changed = PlayerChanged {
                player,
                adapted: false,
                samples,
                notice: None,
            };
            player_changed(state, out, changed);
        }
        EngineEvent::ProfileSaved { .. } => {}
        EngineEvent::ProfileProblem { player, problem } => {
            warn!("player {player}: {problem}");
            if let Some(changed) = state.player.profile_problem(&player, &problem) {
                out.player.write(changed);
            }
            out.problem.write(ProfileProblem { player, problem });
        }
        EngineEvent::PlayersListed { players, problem } => {
            *state.known = KnownPlayers::from((players, problem));
        }
        EngineEvent::PlayerHistory {
            player,
            samples_per_emotion,
            history,
        } => state
            .player
            .set_history(&player, samples_per_emotion, history),
        EngineEvent::HeldOutEvaluated {
            player,
            score,
            missing,
        } => {
            out.held_out.write(HeldOutEvaluated {
                player,
                base_correct: score.base_correct,
                player_correct: score.player_correct,
                total: score.total,
                missing,
            });
        }
        EngineEvent::Evaluated {
            player,
            correct,
            total,
        } => {
            out.evaluated.write(PlayerEvaluated {
                player,
                correct,
                total,
            });
        }
        EngineEvent::Source(status) => {
            state.microphone.status = status.clone();
            out.microphone.write(MicrophoneStatusChanged { status });
        }
    }
}

/// The plugin's incoming messages.
#[derive(SystemParam)]
pub(crate) struct Incoming<'w, 's> {
    confirm: MessageReader<'w, 's, ConfirmEmotion>,
    switch: MessageReader<'w, 's, SwitchPlayer>,
    forget: MessageReader<'w, 's, ForgetPlayer>,
    reset: MessageReader<'w, 's, ResetPlayer>,
    evaluate: MessageReader<'w, 's, EvaluatePlayer>,
    evaluate_held_out: MessageReader<'w, 's, EvaluateHeldOut>,
}

/// Messages in to engine commands (`PostUpdate`, [`crate::VoiceEmotionSystems::Commands`];
/// runs while there is a [`VoiceEngine`]).
pub(crate) fn send_commands(
    engine: Res<VoiceEngine>,
    settings: Res<VoiceEmotionSettings>,
    mut last: Local<Option<VoiceEmotionSettings>>,
    mut incoming: Incoming,
) {
    let engine = &engine.engine;
    if let Some(last) = last.as_ref() {
        if last.sensitivity != settings.sensitivity {
            engine.send(Command::SetSensitivity(settings.sensitivity));
        }
        if last.keep_confirmed_audio != settings.keep_confirmed_audio {
            engine.send(Command::SetKeepAudio(settings.keep_confirmed_audio));
        }
    }
    if last.as_ref() != Some(&*settings) {
        *last = Some(settings.clone());
    }
    for c in incoming.confirm.read() {
        engine.send(Command::Confirm {
            utterance: c.utterance,
            emotion: c.emotion,
            intensity: c.intensity,
        });
    }
    for s in incoming.switch.read() {
        engine.send(Command::SwitchPlayer(s.player.clone()));
    }
    for f in incoming.forget.read() {
        engine.send(Command::ForgetPlayer(f.player.clone()));
    }
    for r in incoming.reset.read() {
        engine.send(Command::ResetPlayer {
            keep_samples: r.keep_samples,
        });
    }
    for _ in incoming.evaluate.read() {
        engine.send(Command::Evaluate);
    }
    for e in incoming.evaluate_held_out.read() {
        engine.send(Command::EvaluateHeldOut(e.takes.clone()));
    }
}

/// On [`AppExit`], stops the input and the engine, which saves the active player (`Last`).
pub(crate) fn shutdown_on_exit(mut exits: MessageReader<AppExit>, mut commands: Commands) {
    if exits.read().next().is_some() {
        commands.remove_resource::<VoiceSource>();
        commands.remove_resource::<VoiceEngine>();
    }
}
