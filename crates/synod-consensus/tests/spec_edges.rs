//! Quorum thresholds at their edges (see docs/TESTING.md).

use synod_consensus::Quorum;

#[test]
fn majority_is_more_than_half_of_the_expected_agents() {
    for (expected, needed) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (10, 6)] {
        assert_eq!(Quorum::Majority.threshold(expected), needed, "{expected}");
    }
    assert_eq!(Quorum::default(), Quorum::Majority);
    assert_eq!(Quorum::All.threshold(4), 4);
    assert_eq!(Quorum::AtLeast(2).threshold(5), 2);
}
