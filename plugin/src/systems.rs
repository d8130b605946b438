//! The plugin's systems: thin adapters between the engine's channels and Bevy's messages and
//! resources. All the work happens on the engine's threads.

use bevy::diagnostic::Diagnostics;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use voice_emotion::engine::{Command, EngineEvent};
use voice_emotion::profile::PlayerId;

use crate::messages::{
    ChangeVoiceInput, ConfirmEmotion, ConfirmationRejected, EmotionDetected, EvaluatePlayer,
    ForgetPlayer, MicrophoneStatusChanged, PlayerChanged, PlayerEvaluated, PlayerForgotten,
    PlayerModelUpdated, ProfileProblem, ResetPlayer, SpeechEnded, SpeechStarted, SwitchPlayer,
    UpdateOutcome,
};
use crate::resources::{
    ActivePlayer, EmotionState, MicrophoneStatus, VoiceEmotionDiagnostics, VoiceEmotionSettings,
};
use crate::{VoiceEngine, VoiceSink, VoiceSource, start_source};

/// The plugin's outgoing messages.
#[derive(SystemParam)]
pub(crate) struct Outgoing<'w> {
    started: MessageWriter<'w, SpeechStarted>,
    ended: MessageWriter<'w, SpeechEnded>,
    detected: MessageWriter<'w, EmotionDetected>,
    updated: MessageWriter<'w, PlayerModelUpdated>,
    rejected: MessageWriter<'w, ConfirmationRejected>,
    microphone: MessageWriter<'w, MicrophoneStatusChanged>,
    player: MessageWriter<'w, PlayerChanged>,
    evaluated: MessageWriter<'w, PlayerEvaluated>,
    forgotten: MessageWriter<'w, PlayerForgotten>,
    problem: MessageWriter<'w, ProfileProblem>,
}

/// The resources the plugin keeps up to date.
#[derive(SystemParam)]
pub(crate) struct State<'w> {
    settings: Res<'w, VoiceEmotionSettings>,
    emotion: ResMut<'w, EmotionState>,
    player: ResMut<'w, ActivePlayer>,
    microphone: ResMut<'w, MicrophoneStatus>,
    diagnostics: ResMut<'w, VoiceEmotionDiagnostics>,
}

/// Engine events to messages and resources (`PreUpdate`, [`crate::VoiceEmotionSystems::Events`]).
pub(crate) fn receive_events(
    engine: Option<Res<VoiceEngine>>,
    mut events: Local<Vec<EngineEvent>>,
    mut out: Outgoing,
    mut state: State,
    mut diagnostics: Diagnostics,
) {
    let Some(engine) = engine else { return };
    events.clear();
    engine.engine.drain_events(&mut events);
    for event in events.drain(..) {
        handle(event, &mut out, &mut state, &mut diagnostics);
    }
    // Levels and counters: written only when they change, so change detection stays useful.
    let monitor = engine.engine.monitor();
    let buffer = monitor.stats();
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

fn player_changed(
    state: &mut State,
    out: &mut Outgoing,
    player: &PlayerId,
    adapted: bool,
    samples: usize,
    notice: Option<String>,
) {
    *state.player = ActivePlayer {
        id: Some(player.to_string()),
        adapted,
        samples,
        updates: 0,
        notice: notice.clone(),
    };
    state.emotion.clear();
    out.player.write(PlayerChanged {
        player: player.to_string(),
        adapted,
        samples,
        notice,
    });
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
        } => player_changed(state, out, &player, adapted, samples, notice),
        EngineEvent::Failed { reason } => {
            error!("voice emotion is off: {reason}");
            state.microphone.status = voice_emotion::capture::SourceStatus::Failed { reason };
        }
        EngineEvent::SpeechStarted { utterance, .. } => {
            state.microphone.speaking = true;
            out.started.write(SpeechStarted { utterance });
        }
        EngineEvent::SpeechDiscarded { .. } => state.microphone.speaking = false,
        EngineEvent::SpeechEnded {
            utterance,
            duration_seconds,
        } => {
            state.microphone.speaking = false;
            state.diagnostics.utterances += 1;
            out.ended.write(SpeechEnded {
                utterance,
                duration_seconds,
            });
        }
        EngineEvent::Detected(d) => {
            let latency_ms = d.ended_at.elapsed().as_secs_f64() * 1000.0;
            let inference_ms = d.processing.as_secs_f64() * 1000.0;
            let p = &d.prediction;
            let message = EmotionDetected {
                utterance: d.utterance,
                player: d.player.to_string(),
                emotion: p.emotion,
                confidence: p.confidence,
                probabilities: p.probabilities,
                intensity: p.intensity,
                intensity_confidence: p.intensity_probabilities[p.intensity.index()],
                duration_seconds: d.duration_seconds,
                adapted: d.adapted,
                mfcc: d.mfcc,
                latency_ms,
            };
            let smoothing = state.settings.smoothing;
            state.emotion.add(&message, smoothing);
            let diagnostics = &mut state.diagnostics;
            diagnostics.detections += 1;
            diagnostics.last_inference_ms = inference_ms;
            diagnostics.last_latency_ms = latency_ms;
            diag.add_measurement(&VoiceEmotionDiagnostics::INFERENCE_MS, || inference_ms);
            diag.add_measurement(&VoiceEmotionDiagnostics::LATENCY_MS, || latency_ms);
            out.detected.write(message);
        }
        EngineEvent::DetectionFailed { utterance, reason } => {
            warn!("utterance {utterance} could not be classified: {reason}");
        }
        EngineEvent::Confirmed { .. } => state.player.samples += 1,
        EngineEvent::ConfirmRejected { utterance, reason } => {
            out.rejected
                .write(ConfirmationRejected { utterance, reason });
        }
        EngineEvent::ModelUpdated { player, record } => {
            let update_ms = record.seconds * 1000.0;
            state.diagnostics.updates += 1;
            state.diagnostics.last_update_ms = update_ms;
            diag.add_measurement(&VoiceEmotionDiagnostics::UPDATE_MS, || update_ms);
            let p = &mut state.player;
            if p.id.as_deref() == Some(player.as_str()) {
                p.updates += 1;
                p.adapted |= record.accepted;
            }
            out.updated.write(PlayerModelUpdated {
                player: player.to_string(),
                outcome: if record.accepted {
                    UpdateOutcome::Accepted
                } else {
                    UpdateOutcome::Refused {
                        reason: record.reason,
                    }
                },
                accuracy_before: record.accuracy_before,
                accuracy_after: record.accuracy_after,
                samples_used: record.samples_used,
                seconds: record.seconds,
            });
        }
        EngineEvent::PlayerForgotten { player } => {
            out.forgotten.write(PlayerForgotten {
                player: player.to_string(),
            });
            if state.player.id.as_deref() == Some(player.as_str()) {
                player_changed(state, out, &player, false, 0, None);
            }
        }
        EngineEvent::PlayerReset { player, samples } => {
            player_changed(state, out, &player, false, samples, None);
        }
        EngineEvent::ProfileSaved { .. } => {}
        EngineEvent::ProfileProblem { player, message } => {
            warn!("player {player}: {message}");
            out.problem.write(ProfileProblem {
                player: player.to_string(),
                message: message.clone(),
            });
            // Only the active player's state and notice are about this player.
            if state.player.id.as_deref() == Some(player.as_str()) {
                state.player.notice = Some(message.clone());
                let p = state.player.clone();
                out.player.write(PlayerChanged {
                    player: player.to_string(),
                    adapted: p.adapted,
                    samples: p.samples,
                    notice: Some(message),
                });
            }
        }
        EngineEvent::Evaluated {
            player,
            correct,
            total,
        } => {
            out.evaluated.write(PlayerEvaluated {
                player: player.to_string(),
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
}

fn player_id(id: &str) -> Option<PlayerId> {
    PlayerId::new(id)
        .map_err(|e| warn!("voice emotion: {e}"))
        .ok()
}

/// Messages in to engine commands (`PostUpdate`, [`crate::VoiceEmotionSystems::Commands`]).
pub(crate) fn send_commands(
    engine: Option<Res<VoiceEngine>>,
    settings: Res<VoiceEmotionSettings>,
    mut last: Local<Option<VoiceEmotionSettings>>,
    mut incoming: Incoming,
) {
    let Some(engine) = engine else {
        incoming.confirm.clear();
        incoming.switch.clear();
        incoming.forget.clear();
        incoming.reset.clear();
        incoming.evaluate.clear();
        return;
    };
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
        if let Some(id) = player_id(&s.player) {
            engine.send(Command::SwitchPlayer(id));
        }
    }
    for f in incoming.forget.read() {
        if let Some(id) = player_id(&f.player) {
            engine.send(Command::ForgetPlayer(id));
        }
    }
    for r in incoming.reset.read() {
        engine.send(Command::ResetPlayer {
            keep_samples: r.keep_samples,
        });
    }
    for _ in incoming.evaluate.read() {
        engine.send(Command::Evaluate);
    }
}

/// [`ChangeVoiceInput`]: stops the running source, starts the new one into the same buffer
/// (`PostUpdate`, [`crate::VoiceEmotionSystems::Commands`]).
pub(crate) fn change_input(
    mut changes: MessageReader<ChangeVoiceInput>,
    sink: Option<Res<VoiceSink>>,
    source: Option<ResMut<VoiceSource>>,
    mut commands: Commands,
) {
    let Some(input) = changes
        .read()
        .filter_map(|c| c.0.lock().ok().and_then(|mut i| i.take()))
        .last()
    else {
        return;
    };
    let Some(sink) = sink else { return };
    if let Some(mut running) = source {
        running.stop();
    }
    match start_source(input.into_source(), &sink.0) {
        Some(started) => commands.insert_resource(started),
        None => commands.remove_resource::<VoiceSource>(),
    }
}

/// On [`AppExit`], stops the input and the engine, which saves the active player (`Last`).
pub(crate) fn shutdown_on_exit(mut exits: MessageReader<AppExit>, mut commands: Commands) {
    if exits.read().next().is_some() {
        commands.remove_resource::<VoiceSource>();
        commands.remove_resource::<VoiceEngine>();
    }
}
