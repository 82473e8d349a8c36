//! Which member a key belongs to: rendezvous (highest random weight) hashing. Each key goes to
//! the member whose hash with it is highest, so a member that joins takes only the keys it now
//! wins, and one that leaves gives up only its own; no other key moves.

use std::hash::{Hash, Hasher};

use crate::name::MemberId;

/// The weight of `member` for `key`: a fixed hash, the same on every node and every run.
fn weight(key: &str, member: &MemberId) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    key.hash(&mut hasher);
    member.as_str().hash(&mut hasher);
    // FxHash mixes its last input weakly; a final avalanche spreads it.
    let mut x = hasher.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The member `key` belongs to, among `members`; `None` when there is none.
pub(crate) fn owner<'a>(
    key: &str,
    members: impl IntoIterator<Item = &'a MemberId>,
) -> Option<&'a MemberId> {
    members
        .into_iter()
        .max_by_key(|member| (weight(key, member), member.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> Vec<MemberId> {
        names
            .iter()
            .map(|n| MemberId::new(n).expect("a member id"))
            .collect()
    }

    #[test]
    fn a_join_moves_only_keys_to_the_new_member_and_a_leave_only_its_own() {
        let before = members(&["a", "b", "c"]);
        let after = members(&["a", "b", "c", "d"]);
        let keys: Vec<String> = (0..2_000).map(|i| format!("account-{i}")).collect();
        let mut moved = 0;
        for key in &keys {
            let old = owner(key, &before).expect("an owner");
            let new = owner(key, &after).expect("an owner");
            if old != new {
                assert_eq!(new.as_str(), "d", "{key} moved between old members");
                moved += 1;
            }
            // Leaving is the same move backwards.
            assert_eq!(owner(key, &before), Some(old));
        }
        // About a quarter of the keys go to the fourth member.
        assert!((300..700).contains(&moved), "{moved} of 2000 moved");
    }

    #[test]
    fn keys_spread_over_members() {
        let all = members(&["m1", "m2", "m3", "m4"]);
        let mut counts = std::collections::HashMap::new();
        for i in 0..4_000 {
            *counts
                .entry(owner(&format!("cart-{i}"), &all).expect("an owner").clone())
                .or_insert(0) += 1;
        }
        for (member, count) in counts {
            assert!((700..1300).contains(&count), "{member} has {count}");
        }
        assert_eq!(owner("k", &[]), None);
    }
}
