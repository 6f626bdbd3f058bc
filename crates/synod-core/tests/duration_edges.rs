//! The edges of the duration grammar and of the 3650-day bound, as config files, CLI flags and
//! serde fields meet them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use synod_core::HumanDuration;
use synod_core::duration::{MAX, parse_duration};

const MAX_MILLIS: u64 = 3650 * 86_400 * 1000;

fn parse_err(text: &str) -> String {
    parse_duration(text).expect_err(text).to_string()
}

#[test]
fn a_lone_point_is_not_a_number() {
    for bad in [".", ".s", "1m .s", " . "] {
        let err = parse_err(bad);
        assert!(err.contains("the number is not valid"), "{bad}: {err}");
    }
    // A point with digits on either side is a number.
    assert_eq!(parse_duration("5."), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration(".5"), Ok(Duration::from_millis(500)));
}

#[test]
fn fractions_count_down_to_the_nanosecond_and_drop_what_is_finer() {
    assert_eq!(parse_duration("1.001us"), Ok(Duration::from_nanos(1_001)));
    assert_eq!(parse_duration("0.000000001s"), Ok(Duration::from_nanos(1)));
    assert_eq!(
        parse_duration("1.123456789s"),
        Ok(Duration::new(1, 123_456_789))
    );
    // A tenth of a nanosecond and finer are dropped, not rounded.
    assert_eq!(parse_duration("1.0019us"), Ok(Duration::from_nanos(1_001)));
    assert_eq!(parse_duration("2.9ns"), Ok(Duration::from_nanos(2)));
}

#[test]
fn a_number_may_have_thirty_digits_but_not_thirty_one() {
    let thirty = format!("{}1s", "0".repeat(29));
    assert_eq!(thirty.len(), 31);
    assert_eq!(parse_duration(&thirty), Ok(Duration::from_secs(1)));
    let thirty_one = format!("{}1s", "0".repeat(30));
    let err = parse_err(&thirty_one);
    assert!(err.contains("the number is not valid"), "{err}");
}

#[test]
fn every_part_is_added_up() {
    assert_eq!(
        parse_duration("1d 2h 3m 4s 5ms"),
        Ok(Duration::new(93_784, 5_000_000))
    );
    assert_eq!(parse_duration("1h1h"), Ok(Duration::from_secs(7200)));
    let err = parse_err("3649d 2d");
    assert!(err.contains("maximum of 3650d"), "{err}");
}

#[test]
fn from_secs_caps_at_the_bound() {
    assert_eq!(HumanDuration::from_secs(MAX.as_secs()), HumanDuration::MAX);
    assert_eq!(
        HumanDuration::from_secs(MAX.as_secs() + 1),
        HumanDuration::MAX
    );
    assert_eq!(
        HumanDuration::from_secs(MAX.as_secs() - 1).get(),
        MAX - Duration::from_secs(1)
    );
}

#[test]
fn from_millis_caps_at_the_bound_to_the_millisecond() {
    assert_eq!(HumanDuration::from_millis(MAX_MILLIS), HumanDuration::MAX);
    // Up to a second past the bound used to slip through (whole seconds were compared).
    assert_eq!(
        HumanDuration::from_millis(MAX_MILLIS + 1),
        HumanDuration::MAX
    );
    assert_eq!(
        HumanDuration::from_millis(MAX_MILLIS + 999),
        HumanDuration::MAX
    );
    assert_eq!(
        HumanDuration::from_millis(MAX_MILLIS - 1).get(),
        MAX - Duration::from_millis(1)
    );
    assert_eq!(
        HumanDuration::from_millis(1500).get(),
        Duration::from_millis(1500)
    );
}

#[test]
fn from_secs_f64_accepts_zero_up_to_the_bound_and_nothing_else() {
    assert_eq!(HumanDuration::from_secs_f64(0.0), Ok(HumanDuration::ZERO));
    assert_eq!(HumanDuration::from_secs_f64(-0.0), Ok(HumanDuration::ZERO));
    assert_eq!(
        HumanDuration::from_secs_f64(0.25).map(HumanDuration::get),
        Ok(Duration::from_millis(250))
    );
    let max_secs = MAX.as_secs_f64();
    assert_eq!(
        HumanDuration::from_secs_f64(max_secs),
        Ok(HumanDuration::MAX)
    );
    for (bad, why) in [
        (-0.5, "non-negative"),
        (f64::NAN, "finite"),
        (f64::NEG_INFINITY, "finite"),
        (max_secs + 1.0, "maximum of 3650d"),
    ] {
        let err = HumanDuration::from_secs_f64(bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[derive(Debug, PartialEq, Deserialize)]
struct Cfg {
    t: HumanDuration,
}

fn read(toml_text: &str) -> Result<Duration, String> {
    toml::from_str::<Cfg>(toml_text)
        .map(|c| c.t.get())
        .map_err(|e| e.to_string())
}

#[test]
fn a_number_of_seconds_may_be_exactly_the_bound() {
    assert_eq!(read("t = 315360000"), Ok(MAX));
    let err = read("t = 315360001").unwrap_err();
    assert!(err.contains("maximum of 3650d"), "{err}");
    let err = read("t = -3").unwrap_err();
    assert!(err.contains("cannot be negative"), "{err}");
    let err = serde_json::from_str::<HumanDuration>("18446744073709551615").unwrap_err();
    assert!(err.to_string().contains("maximum of 3650d"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_says_what_a_duration_looks_like() {
    let err = read("t = true").unwrap_err();
    assert!(
        err.contains(
            "expected a duration such as \"250ms\", \"90s\", \"1m30s\" or a number of seconds"
        ),
        "{err}"
    );
}

#[test]
fn a_duration_displays_as_it_would_be_written() {
    assert_eq!(HumanDuration::from_secs(90).to_string(), "90s");
    assert_eq!(HumanDuration::from_millis(250).to_string(), "250ms");
    assert_eq!(HumanDuration::MAX.to_string(), "3650d");
    assert_eq!(HumanDuration::ZERO.to_string(), "0s");
    assert_eq!(
        format!(
            "[{:>6}|{:<6}]",
            HumanDuration::from_secs(90),
            HumanDuration::ZERO
        ),
        "[   90s|0s    ]",
        "a duration lines up in a table column"
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Plain {
    #[serde(with = "synod_core::duration")]
    every: Duration,
    #[serde(default, with = "synod_core::duration::option")]
    deadline: Option<Duration>,
}

#[test]
fn plain_duration_fields_read_and_write_the_grammar() {
    let cfg: Plain = serde_json::from_str(r#"{"every": "1m30s", "deadline": "2s"}"#).unwrap();
    assert_eq!(
        cfg,
        Plain {
            every: Duration::from_secs(90),
            deadline: Some(Duration::from_secs(2)),
        }
    );
    assert_eq!(
        serde_json::to_string(&cfg).unwrap(),
        r#"{"every":"90s","deadline":"2s"}"#
    );
    let bare: Plain = serde_json::from_str(r#"{"every": 5}"#).unwrap();
    assert_eq!(bare.every, Duration::from_secs(5));
    assert_eq!(bare.deadline, None);
    let null: Plain = serde_json::from_str(r#"{"every": "0s", "deadline": null}"#).unwrap();
    assert_eq!(null.deadline, None);
    assert_eq!(
        serde_json::to_string(&null).unwrap(),
        r#"{"every":"0s","deadline":null}"#
    );
    let err = serde_json::from_str::<Plain>(r#"{"every": "soon"}"#).unwrap_err();
    assert!(err.to_string().contains("\"soon\""), "{err}");
    let err = serde_json::from_str::<Plain>(r#"{"every": "1s", "deadline": "3651d"}"#).unwrap_err();
    assert!(err.to_string().contains("maximum of 3650d"), "{err}");
}

#[test]
fn rounded_durations_read_as_a_person_would_say_them() {
    use synod_core::duration::format_duration_rounded as rounded;
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(999), "999ns"),
        (Duration::from_nanos(1_499), "1us"),
        (Duration::from_nanos(1_500), "2us"),
        (Duration::from_nanos(999_499), "999us"),
        (Duration::from_nanos(999_500), "1ms"),
        (Duration::from_nanos(5_572_441), "6ms"),
        (Duration::from_micros(250_400), "250ms"),
        (Duration::from_micros(999_499), "999ms"),
        (Duration::from_micros(999_500), "1s"),
        (Duration::from_millis(1_049), "1s"),
        (Duration::from_millis(1_050), "1.1s"),
        (Duration::from_nanos(4_823_458_123), "4.8s"),
        (Duration::from_millis(9_949), "9.9s"),
        (Duration::from_millis(9_950), "10s"),
        (Duration::from_millis(10_499), "10s"),
        (Duration::from_millis(10_500), "11s"),
        (Duration::from_millis(59_499), "59s"),
        (Duration::from_millis(59_600), "1m"),
        (Duration::from_millis(83_456), "1m23s"),
        (Duration::from_millis(3_599_499), "59m59s"),
        (Duration::from_millis(3_599_500), "1h"),
        (Duration::from_secs(3_600 + 29), "1h"),
        (Duration::from_secs(3_600 + 30), "1h1m"),
        (Duration::from_secs(2 * 3_600 + 5 * 60 + 10), "2h5m"),
        (Duration::from_secs(86_400 - 30), "1d"),
        (Duration::from_secs(86_400 - 31), "23h59m"),
        (
            Duration::from_secs(3 * 86_400 + 4 * 3_600 + 29 * 60),
            "3d4h",
        ),
        (
            Duration::from_secs(3 * 86_400 + 4 * 3_600 + 30 * 60),
            "3d5h",
        ),
        (Duration::MAX, "213503982334601d7h"),
    ];
    for (d, want) in cases {
        assert_eq!(rounded(d), want, "{d:?}");
    }
}

#[test]
fn rounded_durations_parse_back_within_their_rounding() {
    use synod_core::duration::{format_duration_rounded, parse_duration};
    // (duration, half the unit it is rounded to)
    let cases: [(u64, u64); 6] = [
        (1_234, 500),
        (7_654_321, 500_000),
        (4_823_458_123, 50_000_000),
        (83_456_000_000, 500_000_000),
        (7_530_000_000_000, 30_000_000_000),
        (300_000_000_000_000, 1_800_000_000_000),
    ];
    for (nanos, half_unit) in cases {
        let d = Duration::from_nanos(nanos);
        let back = parse_duration(&format_duration_rounded(d)).unwrap();
        assert!(
            back.abs_diff(d) <= Duration::from_nanos(half_unit),
            "{d:?} came back as {back:?}"
        );
    }
}
