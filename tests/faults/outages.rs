//! The mail servers going away: Dovecot killed -9 or restarted, Postfix stopped; the daemon
//! reconnects and takes everything once, and acks wait in the outbox and go out once.

use super::world::*;
use crate::support::daemon::{
    self, acks_to, config, count, eventually, is_ack, mail_within, pipeline, request, tasks,
    Daemon, People,
};
use crate::support::servers::{self, send_smtp_relay, send_smtp_via, PrivateMailServer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

// --- Dovecot killed -------------------------------------------------------------------

/// Every live process of the Dovecot instance in `dir`: its master (from the pid file) and
/// the master's descendants.
fn dovecot_processes(dir: &Path) -> Vec<u32> {
    let Some(master) = std::fs::read_to_string(dir.join("run/master.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let mut parent_of = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let mut f = rest.split_whitespace();
        let (Some(state), Some(ppid)) = (f.next(), f.next().and_then(|p| p.parse::<u32>().ok()))
        else {
            continue;
        };
        if state != "Z" && state != "X" {
            parent_of.insert(pid, ppid);
        }
    }
    if !parent_of.contains_key(&master) {
        return Vec::new();
    }
    let mut family = vec![master];
    let mut i = 0;
    while let Some(&p) = family.get(i) {
        family.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| **pp == p)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    family
}

/// Running (not gone, not a zombie waiting for a parent that never reaps it).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .unwrap_or("X");
        state != "Z" && state != "X"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_killed_9_the_daemon_reconnects_and_takes_everything_once() {
    let during: usize = scale(20, 200);
    let outage = Duration::from_secs(scale(5, 60));
    let world = World::new("dovekill");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut d = world.start_synced(ack_limit);

    let mut ids = BTreeSet::new();
    for i in 0..5 {
        ids.insert(world.request(&format!("Before {i}"), "x"));
    }
    assert!(wait_for(Duration::from_secs(20), || scalar(state, TASKS) == 5));
    // Their acks delivered first: mail in Postfix's hands when Dovecot dies may be delivered
    // twice (LMTP saved it, the answer was lost), which is the mail server's doing, not ours.
    let before = settled(server, &people.owner, "ack", 5, Duration::from_secs(30)).await;
    assert_eq!(before.total, 5);
    let _ = settled(server, &people.va, "notify", 5, Duration::from_secs(30)).await;

    // kill -9 the master and every child at once: no BYE, no clean shutdown. The master is
    // stopped first so that it starts no new process while the family is listed.
    let master = dovecot_processes(&server.dir);
    let master = *master.first().expect("no Dovecot master found");
    let _ = Command::new("kill")
        .args(["-STOP", &master.to_string()])
        .status();
    let pids = dovecot_processes(&server.dir);
    assert!(pids.len() > 1, "no Dovecot processes found: {pids:?}");
    // A child may end on its own meanwhile, so kill's status says little; `alive` decides.
    let _ = Command::new("kill")
        .arg("-9")
        .args(pids.iter().map(u32::to_string))
        .status();
    assert!(
        wait_for(Duration::from_secs(5), || !pids.iter().any(|p| alive(*p))),
        "Dovecot survived kill -9"
    );
    let down = Instant::now();
    // Mail keeps arriving through the relay port; Postfix queues it.
    for i in 0..during {
        let (id, raw) = request(&people.owner, &people.inbox, &format!("During {i}"), "y");
        send_smtp_relay(server, &people.owner, &people.inbox, &raw).expect("relay");
        ids.insert(id);
    }
    if let Some(rest) = outage.checked_sub(down.elapsed()) {
        std::thread::sleep(rest);
    }
    assert_eq!(
        scalar(state, TASKS),
        5,
        "nothing can arrive while IMAP is down"
    );
    world.private.run("start-dovecot").expect("start dovecot");
    let up = Instant::now();
    for i in 0..5 {
        ids.insert(world.request(&format!("After {i}"), "z"));
    }
    let total = ids.len();
    // The daemon's reconnect backoff is at most about as long as the outage was.
    let ok = wait_for(outage * 2 + Duration::from_secs(60), || {
        all_done(state, total)
    });
    let took = up.elapsed();
    let alive = d.exited().is_none();
    let status = d.term();
    assert!(
        ok,
        "{} of {total} tasks, {} unsent\n{}",
        scalar(state, TASKS),
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(alive, "the daemon must survive the outage");
    assert!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let tasks = strings(state, "SELECT message_id FROM tasks");
    assert_eq!(tasks.len(), total, "no duplicate task");
    assert_eq!(tasks.into_iter().collect::<BTreeSet<_>>(), ids);
    let log = d.log_text();
    assert!(
        log.contains("IMAP connection restored"),
        "the same daemon reconnected"
    );
    let acks = settled(server, &people.owner, "ack", total, Duration::from_secs(60)).await;
    eprintln!(
        "FAULTS dovecot kill -9: {} processes killed, {during} requests during a {:.0?} \
         outage, all {total} tasks {:.1?} after Dovecot returned; acks {} distinct, {} resends",
        pids.len(),
        outage,
        took,
        acks.distinct(),
        acks.resends()
    );
    let pflog = std::fs::read_to_string(server.dir.join("postfix.log")).unwrap_or_default();
    for (id, copies) in acks.by_task.values().flatten() {
        if *copies > 1 {
            let lines: Vec<&str> = pflog.lines().filter(|l| l.contains(id.as_str())).collect();
            eprintln!("{id} arrived {copies} times; Postfix: {lines:#?}");
        }
    }
    assert_eq!(acks.by_task.len(), total);
    assert_eq!(acks.duplicated_tasks(), vec![]);
    assert_eq!(acks.resends(), 0, "no crash here, so no resend");
    assert_eq!(problems(&db_file(state)), Vec::<String>::new());
}

// --- Postfix stopped ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_stopped_acks_wait_in_the_outbox_and_go_out_once_when_it_returns() {
    let n: usize = scale(10, 50);
    let outage = Duration::from_secs(scale(20, 180));
    let world = World::new("pfstop");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut d = world.start_synced(ack_limit);

    world.private.run("stop-postfix").expect("stop postfix");
    let down = Instant::now();
    // The requests reach the mailbox another way (Dovecot is up).
    let mut s = musaid::imap::connect(&servers::imap_config_for(server, &people.inbox))
        .await
        .expect("imap");
    for i in 0..n {
        let (_, raw) = request(&people.owner, &people.inbox, &format!("Request {i}"), "x");
        s.append("INBOX", &raw, &[]).await.expect("append");
    }
    let _ = s.logout().await;
    assert!(wait_for(Duration::from_secs(20), || scalar(state, TASKS) == n as i64));
    // Each mail was tried, failed, and waits for its retry.
    let waiting = "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0";
    assert!(
        wait_for(Duration::from_secs(20), || scalar(state, waiting)
            == 2 * n as i64),
        "{} of {} mails tried and pending\n{}",
        scalar(state, waiting),
        2 * n,
        d.tail()
    );
    if let Some(rest) = outage.checked_sub(down.elapsed()) {
        std::thread::sleep(rest);
    }
    let attempts = scalar(state, "SELECT max(attempts) FROM outbox");
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM outbox WHERE status <> 'pending'"
        ),
        0
    );
    assert_eq!(scalar(state, waiting), 2 * n as i64);
    world.private.run("start-postfix").expect("start postfix");
    let up = Instant::now();
    // Retries back off (5 s doubling, up to an hour), but while the server is down the sender
    // tries to connect every 30 s, and once it answers every waiting mail is due at once.
    let ok = wait_for(Duration::from_secs(75), || scalar(state, UNSENT) == 0);
    let took = up.elapsed();
    let status = d.term();
    assert!(
        ok,
        "{} mails still unsent\n{}",
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let acks = settled(server, &people.owner, "ack", n, Duration::from_secs(60)).await;
    let notes = settled(server, &people.va, "notify", n, Duration::from_secs(60)).await;
    eprintln!(
        "FAULTS postfix stopped: {n} requests, outage {:.0?}, up to {attempts} tries per mail \
         during it, all {} mails sent {:.1?} after Postfix returned; acks {} ({} copies), \
         notifications {} ({} copies)",
        outage,
        2 * n,
        took,
        acks.distinct(),
        acks.total,
        notes.distinct(),
        notes.total
    );
    assert_eq!((acks.by_task.len(), acks.total), (n, n), "each ack once");
    assert_eq!(
        (notes.by_task.len(), notes.total),
        (n, n),
        "each notification once"
    );
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM tasks WHERE acked_at IS NOT NULL"
        ),
        n as i64
    );
}

// --- the same, under the in-process daemon -----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_restarted_during_idle_the_daemon_reconnects_and_takes_what_arrived() {
    let private = PrivateMailServer::start().expect("private mail servers");
    let server = &private.server;
    let people = People::new("restart");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state);
    let d = Daemon::start(pipeline(&desk, dir.path()));
    daemon::connected(&state).await;
    let (id1, raw) = request(&people.owner, &people.inbox, "Before the restart", "One.");
    send_smtp_via(server, &people.owner, &people.inbox, &raw).expect("smtp");
    assert!(eventually(Duration::from_secs(5), || tasks(&state).len() == 1).await);

    private.run("stop-dovecot").expect("stop dovecot");
    // Mail that arrives while IMAP is down waits in Postfix's queue.
    let (id2, raw) = request(&people.owner, &people.inbox, "During the outage", "Two.");
    servers::send_smtp_relay(server, &people.owner, &people.inbox, &raw).expect("relay");
    tokio::time::sleep(Duration::from_secs(2)).await;
    private.run("start-dovecot").expect("start dovecot");
    // Postfix's AUTH needs Dovecot's auth service back; the relay port does not.
    let (id3, raw) = request(&people.owner, &people.inbox, "After the restart", "Three.");
    servers::send_smtp_relay(server, &people.owner, &people.inbox, &raw).expect("relay");

    let ok = eventually(Duration::from_secs(40), || tasks(&state).len() >= 3).await;
    d.stop().await;
    let ids: BTreeSet<_> = tasks(&state).into_iter().map(|t| t.message_id).collect();
    assert!(ok, "tasks after the restart: {ids:?}");
    assert_eq!(ids, [id1, id2, id3].into_iter().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_due_while_postfix_is_stopped_wait_and_go_out_once() {
    let private = PrivateMailServer::start().expect("private mail servers");
    let world = daemon::World::new(&private.server, "pfdown");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let d = world.start(|c| c).await;
    private.run("stop-postfix").expect("stop postfix");
    // The request reaches the mailbox another way (Dovecot is up).
    let (_, raw) = request(
        &people.owner,
        &people.inbox,
        "Renew the domain",
        "It expires soon.",
    );
    let mut s = musaid::imap::connect(&servers::imap_config_for(server, &people.inbox))
        .await
        .expect("imap");
    s.append("INBOX", &raw, &[]).await.expect("append");
    assert!(eventually(Duration::from_secs(5), || tasks(state).len() == 1).await);
    assert!(
        eventually(Duration::from_secs(5), || count(
            state,
            "SELECT count(*) FROM outbox WHERE attempts > 0 AND status = 'pending'"
        ) >= 1)
        .await,
        "the sender tried and will retry"
    );
    private.run("start-postfix").expect("start postfix");
    let got = mail_within(server, &people.owner, Duration::from_secs(30), is_ack)
        .await
        .len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let finally = acks_to(server, &people.owner).await.len();
    d.stop().await;
    assert_eq!(
        (got, finally),
        (1, 1),
        "the ack went out once Postfix was back, once"
    );
}
