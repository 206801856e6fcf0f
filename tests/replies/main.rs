//! What the VA's and the owner's replies do: `#done` / `#تم` close a task and the owner hears
//! of it; a stranger's commands are refused and recorded; a From address grants rights only
//! when our MX's Authentication-Results vouch for it.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod daemon;
mod spoofing;
mod waiting;
