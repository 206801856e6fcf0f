//! The VA command grammar, English and Arabic. (Skeleton.)

use crate::model::{Priority, TaskStatus};
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status(TaskStatus),
    Priority(Priority),
    Due(NaiveDate),
    Assign(String),
    /// Minutes worked, from `#time 1h30m`, `90m`, `1:30`.
    Time(u32),
    /// A `#word` that is no command, or a command whose argument is wrong.
    Unknown {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    pub command: Command,
    /// The line as written.
    pub line: String,
}

/// Every command line in a reply's new text, in order.
pub fn parse(text: &str) -> Vec<ParsedCommand> {
    let _ = text;
    unimplemented!("skeleton")
}
