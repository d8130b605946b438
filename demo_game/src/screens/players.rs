//! Choose or create a player: each has their own model and profile.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_voice_emotion::prelude::*;
use bevy_voice_emotion::voice_emotion::player::profile::PlayerId;

use super::Screen;
use crate::theme::palette;
use crate::theme::widgets::{back_button, root_ui};

#[derive(Default)]
struct Form {
    name: String,
    error: Option<String>,
}

fn players(
    mut contexts: EguiContexts,
    mut next: ResMut<NextState<Screen>>,
    known: Res<KnownPlayers>,
    active: Res<ActivePlayer>,
    mut form: Local<Form>,
    mut switch: MessageWriter<SwitchPlayer>,
) -> Result {
    let mut root = root_ui(contexts.ctx_mut()?, "screen");
    egui::CentralPanel::default().show(&mut root, |ui| {
        back_button(ui, &mut next);
        ui.heading("Who is playing?");
        ui.label("Each player's model learns their own voice.");
        ui.add_space(10.0);
        let mut chosen = None;
        let mut names = known.players.clone();
        if let Some(id) = &active.id
            && !names.contains(id)
        {
            names.push(id.clone());
        }
        for name in names {
            let current = active.id.as_ref() == Some(&name);
            if ui
                .selectable_label(current, egui::RichText::new(name.as_str()).size(20.0))
                .clicked()
            {
                chosen = Some(name);
            }
        }
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            ui.label("New player:");
            ui.text_edit_singleline(&mut form.name);
            if ui.button("Create").clicked() {
                match PlayerId::new(form.name.trim()) {
                    Ok(id) => {
                        chosen = Some(id);
                        form.name.clear();
                        form.error = None;
                    }
                    Err(e) => form.error = Some(e.to_string()),
                }
            }
        });
        if let Some(e) = &form.error {
            ui.colored_label(palette::ERROR, e);
        }
        if let Some(problem) = &known.problem {
            ui.colored_label(palette::ERROR, problem.to_string());
        }
        if let Some(player) = chosen {
            switch.write(SwitchPlayer { player });
            next.set(Screen::Title);
        }
    });
    Ok(())
}

/// The players screen.
pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        players.run_if(in_state(Screen::Players)),
    );
}
