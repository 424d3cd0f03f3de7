//! The parts of the [`KeyStore`](kms_core::KeyStore) contract that both SQL stores decide in
//! Rust, written once: what the change feed says after a position, which changes enter it,
//! and how much of an encryption lease is granted. Each store brings its own SQL.

use kms_core::{KeyChanges, KeyId, KeyRecord};

/// What the change feed holds after a position: its oldest entry, and the keys of the
/// entries after the position.
pub(crate) struct FeedAfter {
    /// The oldest entry the feed still holds (`None` when it holds none).
    pub(crate) oldest: Option<u64>,
    /// The keys of the entries in `(after, head]`, in any order, repeats allowed.
    pub(crate) changed: Vec<KeyId>,
}

/// The change feed after `after`, from one snapshot of the database: `head` is the feed's
/// position, and `read_after(after, head)` reads the rest (only when there is a position).
///
/// # Errors
/// The store's error from `read_after`.
pub(crate) fn key_changes<E>(
    after: Option<u64>,
    head: u64,
    read_after: impl FnOnce(u64, u64) -> Result<FeedAfter, E>,
) -> Result<KeyChanges, E> {
    let Some(after) = after else {
        return Ok(KeyChanges {
            position: head,
            changed: None,
        });
    };
    let FeedAfter {
        oldest,
        changed: mut keys,
    } = read_after(after, head)?;
    let reaches_back = oldest.is_none_or(|oldest| oldest <= after.saturating_add(1));
    keys.sort_unstable();
    keys.dedup();
    Ok(KeyChanges {
        position: head,
        changed: reaches_back.then_some(keys),
    })
}

/// The outcome of a compare-and-swap `UPDATE` of one key: whether it swapped (`rows`, the
/// rows it changed, is 1); if it did, `enter_change` has entered the change into the feed,
/// inside the same transaction.
///
/// # Errors
/// The store's error from `enter_change`.
pub(crate) fn swapped<E>(
    rows: u64,
    enter_change: impl FnOnce() -> Result<(), E>,
) -> Result<bool, E> {
    let swapped = rows == 1;
    if swapped {
        enter_change()?;
    }
    Ok(swapped)
}

/// The IDs of `records`, for their feed entries.
pub(crate) fn key_ids(records: &[KeyRecord]) -> Vec<KeyId> {
    records.iter().map(|record| record.key_id).collect()
}

/// How many encryptions a lease grants when `leased` were granted before: what is asked
/// for, up to what is left of the limit.
pub(crate) fn lease_granted(leased: u64, wanted: u64, limit: u64) -> u64 {
    wanted.min(limit.saturating_sub(leased))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Reads = Result<KeyChanges, ()>;

    fn read(after: Option<u64>, head: u64, oldest: Option<u64>, keys: &[u8]) -> Reads {
        let keys: Vec<KeyId> = keys.iter().map(|&n| KeyId::from_random([n; 16])).collect();
        key_changes(after, head, |_, _| {
            Ok(FeedAfter {
                oldest,
                changed: keys,
            })
        })
    }

    #[test]
    fn no_position_gives_the_head_and_no_keys() {
        assert_eq!(
            read(None, 7, Some(1), &[1]),
            Ok(KeyChanges {
                position: 7,
                changed: None
            })
        );
    }

    #[test]
    fn a_feed_that_no_longer_reaches_back_says_nothing() {
        assert_eq!(read(Some(3), 9, Some(5), &[1]).map(|c| c.changed), Ok(None));
        let mut both = vec![KeyId::from_random([1; 16]), KeyId::from_random([2; 16])];
        both.sort_unstable();
        assert_eq!(
            read(Some(3), 9, Some(4), &[2, 1, 2]).map(|c| c.changed),
            Ok(Some(both))
        );
        assert_eq!(
            read(Some(0), 0, None, &[]).map(|c| c.changed),
            Ok(Some(vec![]))
        );
    }

    #[test]
    fn a_lease_never_passes_the_limit() {
        assert_eq!(lease_granted(0, 10, 25), 10);
        assert_eq!(lease_granted(20, 10, 25), 5);
        assert_eq!(lease_granted(25, 10, 25), 0);
        assert_eq!(lease_granted(30, 10, 25), 0);
    }
}
