//! How the game looks, in one place: the colours ([`palette`]) and the egui widgets the
//! screens share ([`widgets`]).

pub mod palette;
pub mod widgets;
