//! `musaid hours` for the invoice: the month's CSV sums to what the summary reports.

use crate::desk::{until, Desk};
use crate::support::config::Raw;
use chrono::Utc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn musaid_hours_csv_for_the_month_sums_to_the_minutes_the_summary_reports() {
    let desk = Desk::new("hours", |c| {
        c.contract("acme", |a| {
            a.set("rate", Raw("{ per_hour = 12.5, currency = \"USD\" }"))
        })
    });
    let d = desk.start().await;
    desk.request("فاتورة نوفمبر, عاجل", "ادفعها", 1).await;
    desk.request("=HYPERLINK(\"http://evil.example\")", "x", 2)
        .await;
    desk.va(1, "#time 1h30m").await;
    desk.va(2, "#time 45m\n#time -15m").await;
    desk.va(1, "#time 20m").await;
    until(
        &desk.state,
        "SELECT count(*) FROM events WHERE kind = 'time'",
        4,
    )
    .await;
    let month = Utc::now().format("%Y-%m").to_string();
    let csv = desk.musaid(&["hours", "--month", &month, "--csv"]).stdout;
    let summary = desk.json(&["summary"]);
    let time = desk.json(&["tasks", "time", "2"]);
    d.stop().await;

    let csv = String::from_utf8(csv).expect("UTF-8");
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a byte order mark first");
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "date,contract,task,subject,va,minutes,category,rate,amount,currency"
    );
    assert_eq!(lines.len(), 5, "a header and one row per entry: {csv}");
    assert!(csv.contains(",1,\"فاتورة نوفمبر, عاجل\","), "{csv}");
    assert!(
        csv.contains(",2,\"'=HYPERLINK(\"\"http://evil.example\"\")\","),
        "defused: {csv}"
    );
    // The minutes are the fifth field from the end: no field after the subject holds a comma.
    let minutes: i64 = lines[1..]
        .iter()
        .map(|l| {
            let fields: Vec<&str> = l.rsplitn(6, ',').collect();
            fields[4].parse::<i64>().expect("minutes")
        })
        .sum();
    assert_eq!(Some(minutes), summary[0]["minutes_worked"].as_i64());
    assert_eq!(minutes, 90 + 45 - 15 + 20);
    let entries: Vec<i64> = time
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|e| e["minutes"].as_i64())
        .collect();
    assert_eq!(entries, [45, -15]);
}
