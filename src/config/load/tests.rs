use super::*;

const FULL: &str = r#"
[daemon]
state_dir = "/var/lib/musaid"          # SQLite database and summaries live here
rules_dir = "/etc/musaid/rules"
address   = "Tasks@VA.example"

[imap]
host = "imap.va.example"
port = 993
tls  = "implicit"
user = "tasks@va.example"
password_file = "/etc/musaid/imap.pass"
mailbox = "INBOX"
after = "move:Processed"
idle = true
poll_interval = "60s"
first_sync = "2026-11-01"

[smtp]
host = "smtp.va.example"
port = 465
tls  = "implicit"
user = "tasks@va.example"
password_credential = "smtp"
from = "Sara's desk <tasks@va.example>"

[contracts.acme]
owners   = ["Boss@Acme.example", "*@acme.example"]
vas      = ["sara@va.example"]
timezone = "Asia/Riyadh"
windows  = ["Sun-Thu 08:00-10:00", "Sun-Thu 16:00-17:00", { cron = "0 0 8 * * Sat", for = "2h" }]
holidays = ["2026-12-02", 2026-12-03]
language = "ar"
summary  = { cron = "0 0 17 * * Thu", to = ["boss@acme.example"] }
rate     = { per_hour = 12.5, currency = "usd" }

[contracts.beta]
owners = ["*"]
vas = ["ali@va.example", "sara@va.example"]
timezone = "Europe/London"
windows = ["Mon-Fri 22:00-02:00"]

[policy]
unknown_senders = "quarantine"
max_message_size = "1GiB"
acks_per_sender_per_day = 5
ack_max_age = "1h30m"
trusted_authserv_id = "mx.va.example"
attach_max = "5MiB"
attachments_keep = "90d"
"#;

fn errors(text: &str) -> Vec<String> {
    match load_str(text, Path::new("/etc/musaid/musaid.toml")) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors,
    }
}

/// The error list contains one that starts with `file:line:` and contains every hint.
#[track_caller]
fn assert_error(errors: &[String], line: usize, hints: &[&str]) {
    let loc = format!("/etc/musaid/musaid.toml:{line}: ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&loc) && hints.iter().all(|h| e.contains(h))),
        "no error at line {line} with {hints:?} in:\n{}",
        errors.join("\n")
    );
}

const MINIMAL: &str =
    "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"imap.va.example\"\n\
    [contracts.acme]\nowners = [\"*@acme.example\"]\nvas = [\"sara@va.example\"]\n\
    timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-10:00\"]\n";

/// The specification's example configuration, verbatim.
const SPEC_EXAMPLE: &str = r#"[daemon]
state_dir = "/var/lib/musaid"          # SQLite database and summaries live here
rules_dir = "/etc/musaid/rules"        # *.toml, read in file-name order
address   = "tasks@va.example"         # the inbox address; our own mail is never a request

[imap]
host = "imap.va.example"
port = 993
tls  = "implicit"                      # implicit | starttls | none (none only for 127.0.0.1 / ::1)
user = "tasks@va.example"
password_file = "/etc/musaid/imap.pass"
mailbox = "INBOX"
after = "keep"                         # keep | seen | move:Processed — what is done on the server once recorded
idle = true                            # IMAP IDLE when offered, else polling
poll_interval = "60s"
first_sync = "new"                     # at the very first start: new (only mail arriving from now on),
                                       # all, or a date "2026-11-01" — a full inbox floods nobody

[smtp]
host = "smtp.va.example"
port = 465
tls  = "implicit"                      # implicit | starttls | none (loopback only)
user = "tasks@va.example"
password_file = "/etc/musaid/smtp.pass"
from = "Sara's desk <tasks@va.example>"

[contracts.acme]
owners   = ["boss@acme.example", "*@acme.example"]   # who may create tasks
vas      = ["sara@va.example"]                        # who may update them
timezone = "Asia/Riyadh"                              # IANA name; DST handled
windows  = ["Sun-Thu 08:00-10:00", "Sun-Thu 16:00-17:00"]   # contracted response windows
# windows may also be cron starts with a length: { cron = "0 0 8 * * Sun-Thu", for = "2h" }
holidays = ["2026-12-02", "2026-12-03"]
language = "ar"                                       # ar | en: acknowledgements and summaries
summary  = { cron = "0 0 17 * * Thu", to = ["boss@acme.example"] }
rate     = { per_hour = 12.5, currency = "USD" }      # optional: the summary shows what the week's hours cost

[policy]
unknown_senders = "ignore"             # ignore | quarantine | task
max_message_size = "25MB"              # larger mail is recorded (reason oversized), never loaded
acks_per_sender_per_day = 20
ack_max_age = "3d"                     # a request older than this when ingested gets no ack and no
                                       # VA notification (a backlog or a long outage), only its task
trusted_authserv_id = "mx.va.example"  # optional: trust a From address for permissions only when
                                       # this server's Authentication-Results says DMARC passed
"#;

#[test]
fn spec_example_verbatim_parses() {
    let c = load_str(SPEC_EXAMPLE, Path::new("/etc/musaid/musaid.toml")).unwrap();
    assert_eq!(c.daemon.rules_dir, Path::new("/etc/musaid/rules"));
    assert_eq!(c.imap.after, After::Keep);
    assert_eq!(c.imap.first_sync, FirstSync::New);
    let acme = &c.contracts["acme"];
    assert_eq!(acme.calendar.windows.len(), 2);
    assert_eq!(acme.calendar.holidays.len(), 2);
    assert_eq!(acme.summary.as_ref().unwrap().cron_source, "0 0 17 * * Thu");
    assert_eq!(c.policy.max_message_size, 25_000_000);
    assert_eq!(c.policy.ack_max_age, Duration::from_secs(3 * 86400));
    let text = SPEC_EXAMPLE.replace("first_sync = \"new\"", "first_sync = 2026-11-01");
    let c = load_str(&text, Path::new("/etc/musaid/musaid.toml")).unwrap();
    assert_eq!(
        c.imap.first_sync,
        FirstSync::Since(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
    );
}

#[test]
fn spec_example_parses() {
    let c = load_str(FULL, Path::new("/etc/musaid/musaid.toml")).unwrap();
    assert_eq!(c.daemon.address, "tasks@va.example");
    assert_eq!(c.daemon.state_dir, Path::new("/var/lib/musaid"));
    assert_eq!(c.imap.port, 993);
    assert_eq!(c.imap.tls, TlsMode::Implicit);
    assert_eq!(c.imap.after, After::Move("Processed".into()));
    assert_eq!(
        c.imap.first_sync,
        FirstSync::Since(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
    );
    assert_eq!(c.imap.poll_interval, Duration::from_secs(60));
    assert_eq!(
        c.imap.login.password,
        SecretSource::File("/etc/musaid/imap.pass".into())
    );
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!(smtp.login.password, SecretSource::Credential("smtp".into()));
    assert_eq!(smtp.from, "Sara's desk <tasks@va.example>");
    let acme = &c.contracts["acme"];
    assert_eq!(
        acme.owners,
        vec![
            OwnerPattern::Exact("boss@acme.example".into()),
            OwnerPattern::Domain("acme.example".into())
        ]
    );
    assert_eq!(acme.owner_match("boss@acme.example"), Some(2));
    assert_eq!(acme.owner_match("x@acme.example"), Some(1));
    assert_eq!(acme.calendar.timezone, chrono_tz::Asia::Riyadh);
    assert_eq!(acme.calendar.windows.len(), 3);
    assert_eq!(acme.calendar.holidays.len(), 2);
    assert_eq!(acme.language, Language::Ar);
    assert_eq!(acme.summary.as_ref().unwrap().to, vec!["boss@acme.example"]);
    assert_eq!(
        acme.rate,
        Some(Rate {
            per_hour: 12.5,
            currency: "USD".into()
        })
    );
    assert_eq!(c.contracts["beta"].owners, vec![OwnerPattern::Any]);
    assert_eq!(c.policy.unknown_senders, UnknownSenders::Quarantine);
    assert_eq!(c.policy.max_message_size, 1 << 30);
    assert_eq!(c.policy.acks_per_sender_per_day, 5);
    assert_eq!(c.policy.ack_max_age, Duration::from_secs(5400));
    assert_eq!(c.policy.attach_max, 5 << 20);
    assert_eq!(c.policy.attachments_keep, Duration::from_secs(90 * 86400));
    assert_eq!(
        c.policy.trusted_authserv_id.as_deref(),
        Some("mx.va.example")
    );
}

#[test]
fn minimal_config_gets_defaults_and_relative_paths() {
    let text = format!("{MINIMAL}[daemon.x]\n").replace("[daemon.x]\n", "");
    let text = text.replace(
        "address = \"tasks@va.example\"\n",
        "address = \"tasks@va.example\"\nstate_dir = \"state\"\ntemplates_dir = \"tpl\"\n",
    );
    let c = load_str(&text, Path::new("/srv/musaid/musaid.toml")).unwrap();
    assert_eq!(c.daemon.state_dir, Path::new("/srv/musaid/state"));
    assert_eq!(c.daemon.rules_dir, Path::new("/srv/musaid/rules"));
    assert_eq!(
        c.daemon.templates_dir.as_deref(),
        Some(Path::new("/srv/musaid/tpl"))
    );
    assert_eq!(c.imap.port, 993);
    assert_eq!(c.imap.mailbox, "INBOX");
    assert_eq!(c.imap.after, After::Keep);
    assert!(c.imap.idle);
    assert_eq!(c.imap.first_sync, FirstSync::New);
    assert_eq!(c.imap.login.user, None);
    assert_eq!(c.imap.login.password, SecretSource::None);
    assert!(c.smtp.is_none());
    assert_eq!(c.contracts["acme"].language, Language::En);
    assert_eq!(
        c.policy.max_message_size,
        Policy::default().max_message_size
    );
    assert_eq!(c.policy.attach_max, 10_000_000);
    assert_eq!(c.policy.attachments_keep, Duration::from_secs(365 * 86400));
}

#[test]
fn unknown_keys_name_the_line_and_suggest() {
    let text = MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\npol_interval = \"60s\"\nidel = true\n",
    );
    let errs = errors(&text);
    assert_error(
        &errs,
        5,
        &[
            "unknown key `pol_interval` in [imap]",
            "did you mean `poll_interval`?",
        ],
    );
    assert_error(&errs, 6, &["unknown key `idel`", "did you mean `idle`?"]);
    let errs = errors(&format!("{MINIMAL}[polcy]\nx = 1\n"));
    assert_error(
        &errs,
        10,
        &["unknown section `polcy`", "did you mean [policy]?"],
    );
    let errs = errors(&MINIMAL.replace("windows =", "colour = 1\nwindows ="));
    assert_error(
        &errs,
        9,
        &[
            "unknown key `colour` in [contracts.acme]",
            "the keys here are",
        ],
    );
}

#[test]
fn tls_errors() {
    let errs = errors(&MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\ntls = \"ssl\"\n",
    ));
    assert_error(&errs, 5, &["tls = \"ssl\": use implicit, starttls or none"]);
    let errs = errors(&MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\ntls = \"none\"\n",
    ));
    assert_error(
        &errs,
        5,
        &["plain text", "loopback", "use implicit or starttls"],
    );
    for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
        let text = MINIMAL.replace(
            "host = \"imap.va.example\"\n",
            &format!("host = \"{host}\"\ntls = \"none\"\n"),
        );
        let c = load_str(&text, Path::new("/etc/musaid/musaid.toml")).unwrap();
        assert_eq!(c.imap.tls, TlsMode::None);
        assert_eq!(c.imap.port, 143, "{host}");
    }
}

#[test]
fn value_errors_each_with_line_and_hint() {
    let text = r#"[daemon]
address = "not an address"
[imap]
host = "imap.va.example"
port = 70000
after = "delete"
poll_interval = "60"
first_sync = "yesterday"
auth = "kerberos"
[smtp]
host = "smtp.va.example"
from = "nobody"
password_file = "/x"
password_command = "pass show smtp"
user = "u"
[contracts.acme]
owners = ["@acme.example"]
vas = ["Sara <sara@va.example>"]
timezone = "Riyadh"
windows = ["Sun-Thu 08:00", { cron = "0 8 * * Sun-Thu", for = "2h" }]
holidays = ["2026-13-01"]
language = "fr"
summary = { cron = "0 0 17 * * Thu" }
rate = { per_hour = -1, currency = "dollars" }
[policy]
unknown_senders = "drop"
max_message_size = "25 megabytes"
acks_per_sender_per_day = -1
ack_max_age = "3 days"
trusted_authserv_id = ""
attach_max = "ten megabytes"
attachments_keep = "0d"
"#;
    let errs = errors(text);
    assert_error(&errs, 2, &["not a mail address", "sara@va.example"]);
    assert_error(&errs, 5, &["port = 70000", "1 to 65535"]);
    assert_error(
        &errs,
        6,
        &["after = \"delete\"", "keep, seen or move:FOLDER"],
    );
    assert_error(&errs, 7, &["poll_interval", "has no unit", "60s"]);
    assert_error(
        &errs,
        8,
        &["first_sync = \"yesterday\"", "new, all or a date"],
    );
    assert_error(&errs, 9, &["auth = \"kerberos\"", "password or xoauth2"]);
    assert_error(&errs, 12, &["from = \"nobody\"", "<tasks@va.example>"]);
    assert_error(
        &errs,
        13,
        &["password_file and password_command", "only one"],
    );
    assert_error(&errs, 17, &["\"@acme.example\"", "\"*@acme.example\""]);
    assert_error(
        &errs,
        18,
        &[
            "not a mail address",
            "write only the address, e.g. \"sara@va.example\"",
        ],
    );
    assert_error(
        &errs,
        19,
        &["timezone = \"Riyadh\"", "did you mean \"Asia/Riyadh\"?"],
    );
    assert_error(&errs, 20, &["Sun-Thu 08:00", "08:00-10:00"]);
    assert_error(&errs, 20, &["5 fields", "\"0 0 8 * * Sun-Thu\""]);
    assert_error(&errs, 21, &["\"2026-13-01\" is not a date", "YYYY-MM-DD"]);
    assert_error(&errs, 22, &["language = \"fr\"", "ar or en"]);
    assert_error(&errs, 23, &["summary needs to"]);
    assert_error(&errs, 24, &["per_hour = -1", "positive"]);
    assert_error(&errs, 24, &["currency = \"dollars\"", "USD"]);
    assert_error(
        &errs,
        26,
        &["unknown_senders = \"drop\"", "ignore, quarantine or task"],
    );
    assert_error(&errs, 27, &["max_message_size", "25MB"]);
    assert_error(&errs, 28, &["acks_per_sender_per_day = -1"]);
    assert_error(&errs, 29, &["ack_max_age = \"3 days\"", "3d"]);
    assert_error(&errs, 30, &["trusted_authserv_id"]);
    assert_error(&errs, 31, &["attach_max", "25MB"]);
    assert_error(&errs, 32, &["attachments_keep", "more than 0", "365d"]);
    assert!(errs.len() >= 25, "{}", errs.join("\n"));
}

#[test]
fn type_errors_are_located_and_the_rest_still_checked() {
    let text = MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\nport = \"993\"\nidle = \"yes\"\n",
    );
    let errs = errors(&text);
    assert_error(
        &errs,
        5,
        &["[imap] port: invalid type", "expected a whole number"],
    );
    assert_error(
        &errs,
        6,
        &["[imap] idle: invalid type", "expected true or false"],
    );
}

#[test]
fn missing_pieces_are_reported() {
    let errs = errors("[imap]\nhost = \"imap.va.example\"\n");
    assert_error(&errs, 1, &["[daemon] is missing", "address"]);
    assert_error(&errs, 1, &["no contract"]);
    let errs = errors(&MINIMAL.replace("windows = [\"Sun-Thu 08:00-10:00\"]\n", ""));
    assert_error(
        &errs,
        5,
        &["has no windows", "acknowledgements could never be sent"],
    );
    let errs = errors(&MINIMAL.replace("[\"Sun-Thu 08:00-10:00\"]", "[]"));
    assert_error(&errs, 9, &["windows is empty", "could never be sent"]);
    let errs = errors(&MINIMAL.replace("host = \"imap.va.example\"\n", ""));
    assert_error(&errs, 3, &["[imap]: `host` is missing"]);
    let errs = errors(&MINIMAL.replace("timezone = \"Asia/Riyadh\"\n", ""));
    assert_error(&errs, 5, &["`timezone` is missing", "Asia/Riyadh"]);
}

#[test]
fn secrets_and_oauth() {
    let errs = errors(&MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.gmail.com\"\nauth = \"xoauth2\"\n",
    ));
    assert_error(&errs, 5, &["needs oauth2_token_command"]);
    assert_error(&errs, 5, &["needs `user`"]);
    let ok = MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.gmail.com\"\nauth = \"xoauth2\"\nuser = \"me@gmail.com\"\noauth2_token_command = \"oauth2 token\"\n",
    );
    let c = load_str(&ok, Path::new("/etc/musaid/musaid.toml")).unwrap();
    assert_eq!(c.imap.login.auth, AuthMethod::XOAuth2);
    assert_eq!(
        c.imap.login.oauth2_token_command.as_deref(),
        Some("oauth2 token")
    );
    let errs = errors(&MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\npassword_file = \"pass\"\n",
    ));
    assert_error(&errs, 5, &["no `user`"]);
    let rel = MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\nuser = \"u\"\npassword_file = \"imap.pass\"\nca_file = \"ca.pem\"\n",
    );
    let c = load_str(&rel, Path::new("/etc/musaid/musaid.toml")).unwrap();
    assert_eq!(
        c.imap.login.password,
        SecretSource::File("/etc/musaid/imap.pass".into())
    );
    assert_eq!(
        c.imap.ca_file.as_deref(),
        Some(Path::new("/etc/musaid/ca.pem"))
    );
    let errs = errors(&MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\nuser = \"u\"\npassword_credential = \"/run/creds/x\"\n",
    ));
    assert_error(&errs, 6, &["credential's name", "password_file"]);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let text = MINIMAL.replace(
        "host = \"imap.va.example\"\n",
        "host = \"imap.va.example\"\nuser = \"u\"\npassword_command = \"echo hunter2\"\n",
    );
    let text = format!(
        "{text}[smtp]\nhost = \"smtp.gmail.com\"\nauth = \"xoauth2\"\nuser = \"me@gmail.com\"\n\
         oauth2_token_command = \"get-token --client-secret s3cr3t\"\nfrom = \"me@gmail.com\"\n"
    );
    let c = load_str(&text, Path::new("/etc/musaid/musaid.toml")).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("me@gmail.com"), "{debug}");
}

/// Every other error path: (what to replace in MINIMAL, with what, line, hints).
#[test]
fn more_error_paths() {
    let imap = "host = \"imap.va.example\"\n";
    let contract_tail = "windows = [\"Sun-Thu 08:00-10:00\"]\n";
    let cases: Vec<(&str, String, usize, Vec<&str>)> = vec![
        (imap, format!("{imap}mailbox = \" \"\n"), 5, vec!["mailbox is empty", "INBOX"]),
        (imap, format!("{imap}poll_interval = \"0s\"\n"), 5, vec!["at least 1s"]),
        (imap, format!("{imap}user = \"\"\n"), 5, vec!["user is empty"]),
        (imap, format!("{imap}user = \"u\"\npassword_file = \"\"\n"), 6, vec!["password_file is empty"]),
        (imap, format!("{imap}oauth2_token_command = \"x\"\n"), 5, vec!["needs auth = \"xoauth2\""]),
        (
            imap,
            format!("{imap}auth = \"xoauth2\"\nuser = \"u@x.example\"\noauth2_token_command = \"t\"\npassword_file = \"p\"\n"),
            8,
            vec!["password_file is not used with auth = \"xoauth2\""],
        ),
        (imap, "host = \"imaps://imap.va.example\"\n".to_string(), 4, vec!["write a host name"]),
        (imap, format!("{imap}ca_file = \"\"\n"), 5, vec!["`ca_file` is empty"]),
        (imap, format!("{imap}first_sync = 2026-02-30\n"), 5, vec!["TOML syntax"]),
        (
            "address = \"tasks@va.example\"\n",
            "address = \"tasks@va.example\"\nstate_dir = \"\"\n".to_string(),
            3,
            vec!["`state_dir` is empty"],
        ),
        (contract_tail, "windows = \"Sun-Thu 08:00-10:00\"\n".to_string(), 9, vec!["windows", "expected a list"]),
        (contract_tail, "windows = [{ cron = \"0 0 8 * * Sun\" }]\n".to_string(), 9, vec!["needs both keys"]),
        (contract_tail, "windows = [{ cron = \"0 0 8 * * Sun\", for = \"2h\", to = \"x\" }]\n".to_string(), 9, vec!["unknown key `to`"]),
        (contract_tail, format!("{contract_tail}summary = {{ to = [\"a@x.example\"] }}\n"), 10, vec!["summary needs cron"]),
        (contract_tail, format!("{contract_tail}rate = {{ currency = \"USD\" }}\n"), 10, vec!["rate needs per_hour"]),
        (contract_tail, format!("{contract_tail}rate = {{ per_hour = 10 }}\n"), 10, vec!["rate needs currency"]),
        (contract_tail, format!("{contract_tail}holidays = [\"2026-1-5\"]\n"), 10, vec!["YYYY-MM-DD"]),
        ("vas = [\"sara@va.example\"]\n", "vas = []\n".to_string(), 7, vec!["vas is empty"]),
        ("owners = [\"*@acme.example\"]\n", "owners = []\n".to_string(), 6, vec!["owners is empty"]),
        ("[contracts.acme]\n", "[contracts.acme]\nvas2 = 1\n".to_string(), 6, vec!["unknown key `vas2`", "did you mean `vas`?"]),
    ];
    for (from, to, line, hints) in cases {
        assert!(MINIMAL.contains(from), "{from}");
        let errs = errors(&MINIMAL.replacen(from, &to, 1));
        assert_error(&errs, line, &hints);
    }
    let smtp = "[smtp]\nhost = \"smtp.va.example\"\n";
    let errs = errors(&format!("{MINIMAL}{smtp}tls = \"tls\"\n"));
    assert_error(&errs, 10, &["[smtp]: `from` is missing"]);
    assert_error(
        &errs,
        12,
        &[
            "tls = \"tls\": use implicit, starttls or none",
            "\"ssl\"/\"tls\" is implicit",
        ],
    );
    let errs = errors(&format!(
        "{MINIMAL}[policy]\nmax_message_size = 0\nack_max_age = \"0s\"\n"
    ));
    assert_error(&errs, 11, &["max_message_size must be more than 0"]);
    assert_error(&errs, 12, &["ack_max_age must be more than 0"]);
    let errs = errors(&format!("{MINIMAL}[frobnicate]\n"));
    assert_error(
        &errs,
        10,
        &["unknown section `frobnicate`", "the sections are [daemon]"],
    );
    let errs = errors(
        "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"h.example\"\n[contracts]\n",
    );
    assert_error(&errs, 5, &["[contracts] is empty"]);
    let errs = errors("daemon = 1\ncontracts = 2\n[imap]\nhost = \"h.example\"\n");
    assert_error(&errs, 1, &["[daemon] must be a table"]);
    assert_error(
        &errs,
        2,
        &["contracts must be tables like [contracts.acme]"],
    );
    let smtp_ok = load_str(
        &format!("{MINIMAL}{smtp}tls = \"starttls\"\nfrom = \"tasks@va.example\"\n"),
        Path::new("/etc/musaid/musaid.toml"),
    )
    .unwrap();
    assert_eq!(
        smtp_ok.smtp.map(|s| (s.port, s.tls)),
        Some((587, TlsMode::StartTls))
    );
}

#[test]
fn syntax_errors_are_located() {
    let errs = errors("[daemon]\naddress = \"tasks@va.example\n[imap]\n");
    assert_error(&errs, 2, &["TOML syntax"]);
}

#[test]
fn one_error_per_contract_at_least() {
    let text = format!(
        "{MINIMAL}[contracts.b]\nowners = [\"x\"]\nvas = [\"v@x.example\"]\ntimezone = \"UTC\"\nwindows = [\"Fri 10:00-12:00\"]\n\
         [contracts.c]\nowners = [\"*\"]\nvas = [\"v@x.example\"]\ntimezone = \"Mars/Olympus\"\nwindows = [\"Fri 10:00-12:00\"]\n"
    );
    let errs = errors(&text);
    assert_error(&errs, 11, &["[contracts.b] owners: \"x\""]);
    assert_error(
        &errs,
        18,
        &["[contracts.c] timezone = \"Mars/Olympus\"", "Asia/Riyadh"],
    );
    let errs = errors(&format!("{MINIMAL}[contracts.\"a b\"]\nowners = [\"*\"]\n"));
    assert_error(&errs, 10, &["contract name `a b`"]);
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("musaid.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.path, path);
    assert_eq!(c.daemon.rules_dir, dir.path().join("rules"));
    let err = load(&dir.path().join("none.toml")).unwrap_err().to_string();
    assert!(
        err.contains("none.toml: cannot read the config file"),
        "{err}"
    );
}

#[test]
fn mails_per_recipient_per_hour_defaults_to_30_and_takes_a_positive_number() {
    let path = Path::new("/etc/musaid/musaid.toml");
    let c = load_str(MINIMAL, path).unwrap();
    assert_eq!(c.policy.mails_per_recipient_per_hour, 30);
    let c = load_str(
        &format!("{MINIMAL}[policy]\nmails_per_recipient_per_hour = 5\n"),
        path,
    )
    .unwrap();
    assert_eq!(c.policy.mails_per_recipient_per_hour, 5);
    for bad in ["0", "-3"] {
        let errs = errors(&format!(
            "{MINIMAL}[policy]\nmails_per_recipient_per_hour = {bad}\n"
        ));
        assert_error(
            &errs,
            11,
            &["mails_per_recipient_per_hour", "from 1 up, e.g. 30"],
        );
    }
}
