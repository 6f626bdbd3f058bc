//! `Classifier` as a user configures it: status numbers match as whole numbers only, the
//! fallback is what it was set to, and a failed run is judged by its output's last 8 KiB.

use std::time::Duration;

use synod_core::ErrorClass;
use synod_exec::Classifier;

const LIMITED: ErrorClass = ErrorClass::RateLimited { retry_after: None };

#[test]
fn a_status_number_matches_only_where_no_digit_touches_it() {
    let c = Classifier::default();
    for text in ["HTTP 429", "429 Too Many Requests", "status=429;", "(429)"] {
        assert_eq!(c.classify(text), LIMITED, "{text}");
    }
    // Digits on either side make another number: no match, so the fallback.
    for text in ["request 14290 failed", "id 1429 failed", "id 4290 failed"] {
        assert_eq!(c.classify(text), ErrorClass::Transient, "{text}");
    }
    // A pattern made of a number and words guards only its digit end.
    let c = Classifier::empty(ErrorClass::Transient)
        .rule("error 5", ErrorClass::Permanent)
        .rule("7 left", ErrorClass::Permanent);
    assert_eq!(c.classify("fatal error 5"), ErrorClass::Permanent);
    assert_eq!(c.classify("fatal error 57"), ErrorClass::Transient);
    assert_eq!(c.classify("only 7 left"), ErrorClass::Permanent);
    assert_eq!(c.classify("only 17 left"), ErrorClass::Transient);
    // A pattern without digits matches anywhere, even inside a longer word.
    let c = Classifier::empty(ErrorClass::Transient).rule("limit", LIMITED);
    assert_eq!(c.classify("ratelimited"), LIMITED);
}

#[test]
fn the_fallback_is_the_one_set_and_the_rules_stay() {
    let c = Classifier::empty(ErrorClass::Transient)
        .rule("usage:", ErrorClass::Permanent)
        .fallback(ErrorClass::Permanent);
    assert_eq!(c.get_fallback(), ErrorClass::Permanent);
    assert_eq!(c.classify("something odd"), ErrorClass::Permanent);
    assert_eq!(c.rules().len(), 1);
    assert_eq!(c.rules()[0].pattern(), "usage:");
    assert_eq!(c.classify("429 and usage: x"), ErrorClass::Permanent);
    // The default classifier with another fallback keeps every default rule.
    let c = Classifier::default().fallback(ErrorClass::Permanent);
    assert_eq!(c.rules(), Classifier::default().rules());
    assert_eq!(
        c.classify("Retry after 3s"),
        ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_failed_run_is_judged_by_the_last_8_kib_of_its_output() {
    use synod_core::Classify;
    use synod_exec::{AgentCommand, CLASSIFY_TAIL_BYTES, run};

    assert_eq!(CLASSIFY_TAIL_BYTES, 8 * 1024);
    // "429" then `filler` bytes of other text on stderr, exit 1.
    let failed = |filler: usize| {
        AgentCommand::new("sh").args([
            "-c",
            &format!("echo '429 Too Many Requests' >&2; head -c {filler} /dev/zero | tr '\\0' x >&2; exit 1"),
        ])
    };
    let within = run(&failed(CLASSIFY_TAIL_BYTES - 100)).await.unwrap_err();
    assert_eq!(within.class(), LIMITED, "{within}");
    let beyond = run(&failed(CLASSIFY_TAIL_BYTES + 100)).await.unwrap_err();
    assert_eq!(beyond.class(), ErrorClass::Transient, "{beyond}");
}
