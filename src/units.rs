//! Durations (`"1h30m"`) and sizes (`"25MB"`) as written in the config and rule files.

use std::time::Duration;

/// `"60s"`, `"5m"`, `"2h"`, `"3d"`, `"1h30m"`, `"1h 30m"`: numbers each followed by a unit
/// (s, m, h, d, w).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let hint = "write a number with a unit: s, m, h or d (e.g. \"60s\", \"5m\", \"1h30m\", \"3d\")";
    if text.is_empty() {
        return Err(format!("an empty duration; {hint}"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut saw_unit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => return Err(format!("`{text}` is not a duration; {hint}")),
        };
        if digits.is_empty() {
            return Err(format!("`{text}` is not a duration; {hint}"));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}` is too large"))?;
        digits.clear();
        saw_unit = true;
    }
    if !digits.is_empty() {
        return Err(if saw_unit {
            format!("`{text}` ends in a number without a unit; {hint}")
        } else {
            format!("`{text}` has no unit; {hint}")
        });
    }
    Ok(Duration::from_secs(total))
}

/// The shortest form `parse_duration` reads back: `"1h30m"`, `"3d"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

/// `"25MB"`, `"512KB"`, `"1GiB"`, `"1000"`, `"1000B"`: decimal (KB, MB, GB) or binary
/// (KiB, MiB, GiB) units, any case.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let hint = "write bytes or a number with KB, MB, GB, KiB, MiB or GiB (e.g. \"25MB\")";
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    if num.is_empty() {
        return Err(format!("`{text}` is not a size; {hint}"));
    }
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "mb" | "m" => 1000 * 1000,
        "gb" | "g" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("`{text}` has an unknown unit; {hint}")),
    };
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .ok_or_else(|| format!("`{text}` is too large"));
    }
    match num.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 && mult > 1 => {
            let v = f * mult as f64;
            if v > u64::MAX as f64 {
                Err(format!("`{text}` is too large"))
            } else {
                Ok(v.round() as u64)
            }
        }
        _ => Err(format!("`{text}` is not a size; {hint}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("60s", 60),
            ("5m", 300),
            ("2h", 7200),
            ("3d", 259_200),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("1w", 604_800),
            ("0s", 0),
            (" 90M ", 5400),
        ];
        for (input, secs) in ok {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_secs(secs)),
                "{input}"
            );
        }
        for (input, want) in [
            ("60", "has no unit"),
            ("1h30", "ends in a number without a unit"),
            ("5 minutes", "is not a duration"),
            ("h", "is not a duration"),
            ("", "empty"),
            ("99999999999999999999s", "too large"),
        ] {
            let err = parse_duration(input).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
        for secs in [0, 59, 60, 5400, 86400, 90061] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn sizes() {
        let ok = [
            ("25MB", 25_000_000),
            ("512KB", 512_000),
            ("1GiB", 1 << 30),
            ("1000", 1000),
            ("1000B", 1000),
            ("2 mib", 2 << 20),
            ("1.5MB", 1_500_000),
        ];
        for (input, bytes) in ok {
            assert_eq!(parse_size(input), Ok(bytes), "{input}");
        }
        for (input, want) in [
            ("25 megabytes", "unknown unit"),
            ("MB", "not a size"),
            ("1.5", "not a size"),
            ("99999999999GiB", "too large"),
        ] {
            let err = parse_size(input).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
