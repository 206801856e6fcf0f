//! What one sync fetches at a time: the sizes of a span of new messages, then their bodies in
//! runs of a few megabytes (a message over `max_message_size` is never loaded), each run one
//! batch for the recorder.

use crate::imap::{self, ImapSession};
use crate::recorder::Fetched;
use anyhow::Result;
use std::collections::HashMap;

/// The `RFC822.SIZE` of `uid` among sizes ascending by UID; `None` when it is not there.
pub(super) fn size_of(sizes: &[(u32, u32)], uid: u32) -> Option<u32> {
    sizes
        .binary_search_by_key(&uid, |(u, _)| *u)
        .ok()
        .and_then(|i| sizes.get(i))
        .map(|(_, size)| *size)
}

/// What is known of a span's sizes before its bodies are loaded: the exact `RFC822.SIZE`
/// of each message larger than `bound` and of each one given up on; every other one is at
/// most `bound` bytes. A backlog of ordinary requests needs one `UID SEARCH … LARGER` that
/// names none of them, not a `UID FETCH … RFC822.SIZE` answered line by line for each.
#[derive(Debug, Clone, Default)]
pub(super) struct SpanSizes {
    /// Exact sizes, ascending by UID.
    exact: Vec<(u32, u32)>,
    /// The UIDs the server said are larger than `bound`, ascending.
    larger: Vec<u32>,
    bound: u32,
}

impl SpanSizes {
    /// How many bytes `uid` may take: its exact size, or `bound`; `None` when it is larger
    /// than `bound` and its size did not come (gone meanwhile).
    fn at_most(&self, uid: u32) -> Option<u32> {
        size_of(&self.exact, uid).or_else(|| {
            self.larger
                .binary_search(&uid)
                .is_err()
                .then_some(self.bound)
        })
    }
}

/// A span's sizes: one `UID SEARCH UID … LARGER b`, then `RFC822.SIZE` for what it names
/// and for the UIDs given up on (recorded with their size). `b` is `max_size`, or the body
/// budget of one fetch shared by a whole batch when smaller, so that batching by
/// [`by_bytes`] still bounds memory with only `b` known of the small ones.
pub(super) async fn span_sizes(
    s: &mut ImapSession,
    span: &[u32],
    max_size: u64,
    gave_up: &HashMap<u32, String>,
) -> Result<SpanSizes> {
    let share = imap::FETCH_BYTES / imap::FETCH_BATCH as u64;
    let bound = u32::try_from(max_size.min(share)).unwrap_or(u32::MAX);
    let larger = s.uid_larger(span, bound).await?;
    let mut wanted: Vec<u32> = span
        .iter()
        .copied()
        .filter(|u| gave_up.contains_key(u))
        .chain(larger.iter().copied())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let exact = if wanted.is_empty() {
        Vec::new()
    } else {
        s.fetch_sizes(&wanted).await?
    };
    Ok(SpanSizes {
        exact,
        larger,
        bound,
    })
}

/// A chunk's UIDs (ascending) in consecutive runs whose bodies to load (those not over
/// `max_size`) come to at most `budget` bytes, a larger one in a run of its own; an oversized
/// or vanished UID joins the run it falls in. A backlog of small requests keeps whole chunks;
/// one of scanned invoices is not held in memory a chunk at a time, several times over.
pub(super) fn by_bytes<'u>(
    uids: &'u [u32],
    sizes: &SpanSizes,
    max_size: u64,
    budget: u64,
) -> Vec<&'u [u32]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, &uid) in uids.iter().enumerate() {
        let load = sizes
            .at_most(uid)
            .map(u64::from)
            .filter(|s| *s <= max_size)
            .unwrap_or(0);
        if bytes > 0 && bytes.saturating_add(load) > budget {
            runs.extend(uids.get(start..i));
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(load);
    }
    runs.extend(uids.get(start..).filter(|r| !r.is_empty()));
    runs
}

/// The UIDs of a run whose bodies to load: not over `max_size`, not vanished, not given up on.
pub(super) fn to_load(
    run: &[u32],
    sizes: &SpanSizes,
    max_size: u64,
    gave_up: &HashMap<u32, String>,
) -> Vec<u32> {
    run.iter()
        .copied()
        .filter(|u| !gave_up.contains_key(u))
        .filter(|&u| {
            sizes
                .at_most(u)
                .is_some_and(|size| u64::from(size) <= max_size)
        })
        .collect()
}

/// The bodies of a run's UIDs not over `max_message_size`, as one batch for the recorder;
/// those in `gave_up` are not asked for again.
pub(super) async fn fetch_run(
    s: &mut ImapSession,
    run: &[u32],
    sizes: &SpanSizes,
    max_size: u64,
    gave_up: &HashMap<u32, String>,
) -> Result<Fetched> {
    let small = to_load(run, sizes, max_size, gave_up);
    let mut bodies = if small.is_empty() {
        Vec::new()
    } else {
        s.fetch_mail(&small).await?
    };
    bodies.sort_by_key(|m| m.uid);
    let mut sizes: Vec<(u32, u32)> = run
        .iter()
        .filter_map(|&u| size_of(&sizes.exact, u).map(|size| (u, size)))
        .collect();
    // A server whose SEARCH LARGER missed a message over max_message_size: its bytes came
    // all the same, and it is recorded as oversized, never parsed.
    bodies.retain(|m| {
        let len = u32::try_from(m.raw.len()).unwrap_or(u32::MAX);
        let over = u64::from(len) > max_size;
        if over {
            match sizes.binary_search_by_key(&m.uid, |(u, _)| *u) {
                Ok(at) => sizes.get_mut(at).into_iter().for_each(|s| s.1 = len),
                Err(at) => sizes.insert(at, (m.uid, len)),
            }
        }
        !over
    });
    let unfetchable: Vec<(u32, String)> = run
        .iter()
        .filter_map(|u| gave_up.get(u).map(|e| (*u, e.clone())))
        .collect();
    let unread: Vec<u32> = sizes
        .iter()
        .filter(|(_, size)| u64::from(*size) > max_size)
        .map(|(u, _)| *u)
        .chain(unfetchable.iter().map(|(u, _)| *u))
        .collect();
    let headers = unread_headers(s, unread).await;
    Ok(Fetched {
        uids: run.to_vec(),
        sizes,
        bodies,
        unfetchable,
        headers,
    })
}

/// The headers of the messages not loaded, to tell an owner theirs was not read
/// (docs/mail.md#mail-that-is-not-read). Best effort: a server that will not send them
/// either leaves the message quarantined all the same, and nobody is told. Should the
/// connection die on it, the batch is recorded first and the next command reconnects, so no
/// message is asked for twice.
async fn unread_headers(s: &mut ImapSession, mut uids: Vec<u32>) -> Vec<imap::FetchedMail> {
    if uids.is_empty() {
        return Vec::new();
    }
    uids.sort_unstable();
    uids.dedup();
    match s.fetch_headers(&uids).await {
        Ok(headers) => headers,
        Err(e) => {
            tracing::warn!(
                error = %format!("{e:#}"),
                "cannot fetch the header of a message that is not loaded; its sender is not told"
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u32 = 1 << 20;

    /// Sizes as a server that knows them all would give them: every one exact.
    fn exact(sizes: &[(u32, u32)]) -> SpanSizes {
        SpanSizes {
            exact: sizes.to_vec(),
            larger: sizes.iter().map(|(u, _)| *u).collect(),
            bound: 0,
        }
    }

    fn runs(sizes: &[(u32, u32)], uids: &[u32]) -> Vec<Vec<u32>> {
        let runs = by_bytes(uids, &exact(sizes), 25 * u64::from(MB), 4 * u64::from(MB));
        // Every UID once, in order, whatever the split.
        assert_eq!(runs.concat(), uids);
        runs.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn a_chunk_of_small_requests_is_fetched_whole() {
        let uids: Vec<u32> = (1..=200).collect();
        let sizes: Vec<(u32, u32)> = uids.iter().map(|&u| (u, 6000)).collect();
        assert_eq!(runs(&sizes, &uids), vec![uids.clone()]);
        assert!(runs(&[], &[]).is_empty());
    }

    #[test]
    fn large_mail_is_fetched_a_few_megabytes_at_a_time() {
        let sizes = [
            (1, 3 * MB),
            (2, 3 * MB),
            (3, MB / 2),
            (4, MB / 2),
            (5, 3 * MB),
        ];
        assert_eq!(
            runs(&sizes, &[1, 2, 3, 4, 5]),
            vec![vec![1], vec![2, 3, 4], vec![5]]
        );
        // A message over the budget (but under max_message_size) comes alone.
        let sizes = [(1, MB), (2, 10 * MB), (3, MB)];
        assert_eq!(runs(&sizes, &[1, 2, 3]), vec![vec![1], vec![2], vec![3]]);
    }

    #[test]
    fn oversized_and_vanished_uids_load_nothing_and_ride_along() {
        // 7 is over max_message_size (never loaded), 8 was expunged before its size came.
        let sizes = [(6, MB), (7, 30 * MB), (9, 2 * MB)];
        assert_eq!(runs(&sizes, &[6, 7, 8, 9]), vec![vec![6, 7, 8, 9]]);
        assert_eq!(size_of(&sizes, 8), None);
        assert_eq!(size_of(&sizes, 9), Some(2 * MB));
        // The server named all four as larger than the bound; 8's size did not come.
        let span = SpanSizes {
            exact: sizes.to_vec(),
            larger: vec![6, 7, 8, 9],
            bound: 0,
        };
        let loaded = to_load(&[6, 7, 8, 9], &span, 25 * u64::from(MB), &HashMap::new());
        assert_eq!(loaded, [6, 9]);
    }

    #[test]
    fn small_mail_is_batched_by_the_bound_that_search_larger_gives() {
        let max = 25 * u64::from(MB);
        let budget = imap::FETCH_BYTES;
        // Of 1..=400 the server named 7 (3 MB), 9 (30 MB) and 11 (gone before its size came)
        // as larger than the bound; the others are at most the bound each.
        let bound = u32::try_from(budget / imap::FETCH_BATCH as u64).unwrap_or(u32::MAX);
        let sizes = SpanSizes {
            exact: vec![(7, 3 * MB), (9, 30 * MB)],
            larger: vec![7, 9, 11],
            bound,
        };
        assert_eq!(sizes.at_most(1), Some(bound));
        assert_eq!(sizes.at_most(7), Some(3 * MB));
        assert_eq!(sizes.at_most(11), None);
        let uids: Vec<u32> = (1..=400).collect();
        let loaded = to_load(&uids, &sizes, max, &HashMap::new());
        assert!(!loaded.contains(&9) && !loaded.contains(&11) && loaded.contains(&7));
        assert_eq!(loaded.len(), 398);
        // A whole batch of small ones fits one fetch's budget.
        let small: Vec<u32> = (12..12 + imap::FETCH_BATCH as u32).collect();
        assert_eq!(by_bytes(&small, &sizes, max, budget), vec![&small[..]]);
        // The 3 MB one and the small ones after it share a run only up to the budget.
        let runs = by_bytes(&uids[..imap::FETCH_BATCH], &sizes, max, budget);
        assert_eq!(runs.concat(), &uids[..imap::FETCH_BATCH]);
        for run in &runs {
            let bytes: u64 = run
                .iter()
                .filter_map(|&u| sizes.at_most(u))
                .map(u64::from)
                .filter(|&b| b <= max)
                .sum();
            assert!(bytes <= budget || run.len() == 1, "{run:?}: {bytes}");
        }
        assert!(
            runs.len() >= 2,
            "the 3 MB message does not share with 199 small ones"
        );
    }
}
