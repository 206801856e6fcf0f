//! A task's due clock through one reply's commands: `#due` placed in the contract's zone, and
//! the due time moved later by the business time spent in `waiting` when the task leaves it
//! (docs/commands.md#the-waiting-clock). Pure.

use super::TaskRef;
use crate::commands::Command;
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
