//! What a valid configuration takes on trust: settings that let a forged `From:` steer tasks
//! or make musaid mail strangers. Printed by `musaid check` and logged when the daemon starts
//! or reloads (see docs/security.md).

use super::{Config, OwnerPattern, UnknownSenders};

/// The risks in `cfg`, one sentence each: what can go wrong and what to change.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if cfg.policy.trusted_authserv_id.is_none() {
        out.push(
            "[policy] trusted_authserv_id is not set: From: is taken on trust, so anyone who \
             writes an owner's or a VA's address in From: can create, close, cancel or reassign \
             tasks; set trusted_authserv_id to your MX's authserv-id (see docs/security.md)"
                .to_string(),
        );
    }
    if cfg.policy.unknown_senders == UnknownSenders::Task {
        out.push(
            "[policy] unknown_senders = \"task\": mail from any address creates a task, and every \
             forged sender gets an acknowledgement (up to acks_per_sender_per_day and \
             mails_per_recipient_per_hour each); use \"quarantine\" or \"ignore\" unless you \
             mean it (see docs/security.md)"
                .to_string(),
        );
    }
    for c in cfg.contracts.values() {
        if c.owners.iter().any(|o| matches!(o, OwnerPattern::Any)) {
            out.push(format!(
                "[contracts.{}] owners = \"*\": anyone can create tasks in this contract, and \
                 every forged sender gets an acknowledgement (up to acks_per_sender_per_day and \
                 mails_per_recipient_per_hour each); list the owners' addresses or domains \
                 (see docs/security.md)",
                c.name
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desk(policy: &str, owners: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"
[daemon]
address = "tasks@va.example"
state_dir = "{state}"
[imap]
host = "127.0.0.1"
tls = "none"
[policy]
{policy}
[contracts.acme]
owners = [{owners}]
vas = ["sara@va.example"]
timezone = "UTC"
windows = ["Mon-Fri 09:00-17:00"]
"#,
            state = dir.path().join("state").display()
        );
        super::super::load_str(&text, &dir.path().join("musaid.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn without_a_trusted_authserv_id_from_is_taken_on_trust() {
        let w = warnings(&desk("", "\"boss@acme.example\""));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("trusted_authserv_id"), "{}", w[0]);
        assert!(w[0].contains("cancel"), "{}", w[0]);
        assert!(w[0].contains("docs/security.md"), "{}", w[0]);
    }

    #[test]
    fn a_trusted_authserv_id_and_listed_owners_warn_of_nothing() {
        let w = warnings(&desk(
            "trusted_authserv_id = \"mx.va.example\"",
            "\"boss@acme.example\", \"*@acme.example\"",
        ));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn unknown_senders_task_and_an_owner_star_each_warn() {
        let w = warnings(&desk(
            "trusted_authserv_id = \"mx.va.example\"\nunknown_senders = \"task\"",
            "\"*\"",
        ));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("unknown_senders = \"task\""), "{}", w[0]);
        assert!(w[1].contains("[contracts.acme] owners = \"*\""), "{}", w[1]);
        assert!(w.iter().all(|w| w.contains("acknowledgement")), "{w:?}");
    }
}
