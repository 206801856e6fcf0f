//! A task's due clock through one reply's commands: `#due` placed in the contract's zone, and
//! the due time moved later by the business time spent in `waiting` when the task leaves it
//! (docs/commands.md#the-waiting-clock). Pure.

use super::{Refused, Role, TaskRef};
use crate::commands::{Command, ParsedCommand};
use crate::model::TaskStatus;
use crate::windows::{due_after_waiting, resolve_due, Calendar};
use chrono::{DateTime, Utc};

/// A new due time, set after the command at index `after` of [`super::TaskUpdate::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMove {
    pub after: usize,
    pub at: DateTime<Utc>,
    /// For the task's `due` event: `due 2026-12-10 14:00 (thursday)`, `due moved 2h later …`.
    pub note: String,
}

/// The reply's last word on the due clock: an owner's reply reopens a waiting task (SPEC, VA
/// replies), a `#due` that names no instant is refused, and the due moves of what is applied.
pub(super) fn settle(
    task: &TaskRef,
    role: Role,
    apply: &mut Vec<Command>,
    refused: &mut Vec<Refused>,
    parsed: &[ParsedCommand],
    cal: Option<&Calendar>,
    now: DateTime<Utc>,
) -> Vec<DueMove> {
    if role == Role::Owner
        && task.status == TaskStatus::Waiting
        && !apply.contains(&Command::Status(TaskStatus::Cancelled))
    {
        apply.push(Command::Status(TaskStatus::Open));
    }
    let (_, unplaced) = plan(task, apply, cal, now);
    for i in unplaced.into_iter().rev() {
        if i < apply.len() {
            let command = apply.remove(i);
            let line = parsed
                .iter()
                .find(|p| p.command == command)
                .map_or_else(|| command.to_string(), |p| p.line.clone());
            refused.push(Refused {
                command: ParsedCommand { command, line },
                why: format!(
                    "contract {} has no response window to count business time in; \
                     give a date instead, e.g. #due 2026-12-10",
                    task.contract
                ),
            });
        }
    }
    // Indexes of later moves shifted with each removal: plan again on what is left.
    plan(task, apply, cal, now).0
}

/// The due moves of `apply`, run in order from the task's state; and the indexes of `#due`
/// commands that name no instant (business time on a calendar with no window).
pub(super) fn plan(
    task: &TaskRef,
    apply: &[Command],
    cal: Option<&Calendar>,
    now: DateTime<Utc>,
) -> (Vec<DueMove>, Vec<usize>) {
    let mut moves = Vec::new();
    let mut unplaced = Vec::new();
    let Some(cal) = cal else {
        return (moves, unplaced);
    };
    let mut status = task.status;
    let mut due = task.due_at;
    let mut since = task.waiting_since;
    for (i, cmd) in apply.iter().enumerate() {
        match cmd {
            Command::Due(when) => match resolve_due(cal, *when, now) {
                Some(at) => {
                    let local = at.with_timezone(&cal.timezone).format("%Y-%m-%d %H:%M %Z");
                    moves.push(DueMove {
                        after: i,
                        at,
                        note: format!("due {local} (#due {when})"),
                    });
                    due = Some(at);
                }
                None => unplaced.push(i),
            },
            Command::Status(to) if *to != status => {
                if status == TaskStatus::Waiting {
                    if let (Some(d), Some(s)) = (due, since) {
                        let moved = due_after_waiting(cal, d, s, now);
                        if moved != d {
                            let waited = crate::windows::business_time(cal, s, now);
                            let local = moved
                                .with_timezone(&cal.timezone)
                                .format("%Y-%m-%d %H:%M %Z");
                            moves.push(DueMove {
                                after: i,
                                at: moved,
                                note: format!(
                                    "due {local}: moved later by {} of business time waiting",
                                    crate::units::format_duration(
                                        waited.to_std().unwrap_or_default()
                                    )
                                ),
                            });
                            due = Some(moved);
                        }
                    }
                    since = None;
                }
                if *to == TaskStatus::Waiting {
                    since = Some(now);
                }
                status = *to;
            }
            _ => {}
        }
    }
    (moves, unplaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::{DueWhen, WindowSpec};
    use chrono::TimeZone;

    fn cal() -> Calendar {
        Calendar {
            timezone: "Asia/Riyadh".parse().unwrap(),
            windows: vec!["Sun-Thu 08:00-16:00".parse::<WindowSpec>().unwrap()],
            holidays: vec![],
        }
    }

    fn utc(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn task(
        status: TaskStatus,
        due: Option<DateTime<Utc>>,
        since: Option<DateTime<Utc>>,
    ) -> TaskRef {
        TaskRef {
            id: 1,
            contract: "acme".into(),
            status,
            requester: "boss@acme.example".into(),
            assignee: None,
            due_at: due,
            waiting_since: since,
        }
    }

    #[test]
    fn an_owners_reply_to_a_waiting_task_reopens_it_and_moves_its_due_time() {
        let t = task(TaskStatus::Waiting, Some(utc(13, 12)), Some(utc(10, 11)));
        let (mut apply, mut refused) = (vec![], vec![]);
        let moves = settle(
            &t,
            Role::Owner,
            &mut apply,
            &mut refused,
            &[],
            Some(&cal()),
            utc(13, 7),
        );
        assert_eq!(apply, [Command::Status(TaskStatus::Open)]);
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].at, utc(14, 8));
        // A cancel stays a cancel; a VA's note leaves the task waiting.
        let mut apply = vec![Command::Status(TaskStatus::Cancelled)];
        settle(
            &t,
            Role::Owner,
            &mut apply,
            &mut refused,
            &[],
            Some(&cal()),
            utc(13, 7),
        );
        assert_eq!(apply, [Command::Status(TaskStatus::Cancelled)]);
        let mut apply = vec![];
        assert!(settle(
            &t,
            Role::Va,
            &mut apply,
            &mut refused,
            &[],
            Some(&cal()),
            utc(13, 7)
        )
        .is_empty());
        assert!(apply.is_empty() && refused.is_empty());
    }

    #[test]
    fn a_due_that_names_no_instant_is_refused() {
        let t = task(TaskStatus::Open, None, None);
        let never = Calendar {
            windows: vec![],
            ..cal()
        };
        let due = Command::Due(DueWhen::In(crate::windows::DueSpec::BusinessDays(2)));
        let (mut apply, mut refused) = (vec![due, Command::Status(TaskStatus::Done)], vec![]);
        let moves = settle(
            &t,
            Role::Va,
            &mut apply,
            &mut refused,
            &[],
            Some(&never),
            utc(6, 10),
        );
        assert!(moves.is_empty());
        assert_eq!(apply, [Command::Status(TaskStatus::Done)]);
        assert!(refused[0].why.contains("no response window"), "{refused:?}");
    }

    #[test]
    fn leaving_waiting_moves_the_due_time_once() {
        // Waited Thursday 14:00 to Sunday 10:00 Riyadh: 4 business hours.
        let t = task(TaskStatus::Waiting, Some(utc(13, 12)), Some(utc(10, 11)));
        let apply = [Command::Status(TaskStatus::Open)];
        let (moves, unplaced) = plan(&t, &apply, Some(&cal()), utc(13, 7));
        assert!(unplaced.is_empty());
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].after, 0);
        assert_eq!(moves[0].at, utc(14, 8));
        assert!(moves[0].note.contains("4h"), "{}", moves[0].note);
    }

    #[test]
    fn entering_waiting_or_staying_open_moves_nothing() {
        let t = task(TaskStatus::Open, Some(utc(13, 12)), None);
        let apply = [
            Command::Status(TaskStatus::Waiting),
            Command::Status(TaskStatus::Open),
        ];
        let (moves, _) = plan(&t, &apply, Some(&cal()), utc(13, 7));
        assert!(
            moves.is_empty(),
            "no business time passed in between: {moves:?}"
        );
        // A task without a due time has nothing to move.
        let t = task(TaskStatus::Waiting, None, Some(utc(10, 11)));
        let (moves, _) = plan(
            &t,
            &[Command::Status(TaskStatus::Done)],
            Some(&cal()),
            utc(13, 7),
        );
        assert!(moves.is_empty());
    }

    #[test]
    fn a_due_command_is_placed_in_the_contracts_zone() {
        let t = task(TaskStatus::Open, None, None);
        let apply = [
            Command::Status(TaskStatus::InProgress),
            Command::Due(DueWhen::Tomorrow),
        ];
        let (moves, _) = plan(&t, &apply, Some(&cal()), utc(6, 10));
        assert_eq!(moves.len(), 1);
        assert_eq!(moves[0].after, 1);
        assert_eq!(
            moves[0].at,
            Utc.with_ymd_and_hms(2026, 12, 7, 20, 59, 59).unwrap()
        );
        assert_eq!(moves[0].note, "due 2026-12-07 23:59 +03 (#due tomorrow)");
        let never = Calendar {
            windows: vec![],
            ..cal()
        };
        let apply = [Command::Due(DueWhen::In(
            crate::windows::DueSpec::BusinessDays(2),
        ))];
        assert_eq!(plan(&t, &apply, Some(&never), utc(6, 10)).1, vec![0]);
    }
}
