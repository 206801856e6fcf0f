//! Questions by mail: an owner's `#status` or `#hours` outside any task's thread.

use crate::commands::{self, Command, ParsedCommand, Query};
use crate::config::Contract;
use crate::mail::Message;

/// An owner's question outside any task's thread (`#status`, `#hours`): answered by mail at
/// once, and never a task (docs/design.md#questions-by-mail).
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub contract: String,
    pub asker: String,
    /// What was asked, each once, in the order of [`Query`].
    pub asked: Vec<Query>,
    /// Every command found, as written (for `rules test --json`).
    pub commands: Vec<ParsedCommand>,
}

/// A mail whose commands (in its new text and its subject) are all questions, `#status` or
/// `#hours`, asks; anything else from an owner is a request.
pub(super) fn question(msg: &Message, from: &str, contract: &Contract) -> Option<Question> {
    let mut commands = commands::parse(&msg.subject);
    commands.extend(commands::parse(&msg.new_text));
    let mut asked: Vec<Query> = Vec::new();
    for c in &commands {
        match c.command {
            Command::Ask(q) => asked.push(q),
            _ => return None,
        }
    }
    asked.sort_unstable();
    asked.dedup();
    (!asked.is_empty()).then(|| Question {
        contract: contract.name.clone(),
        asker: from.to_string(),
        asked,
        commands,
    })
}
