//! `synod history ID`, `synod show RUN` and `synod stats`: read the evidence back, with the
//! tokens and cost the agents' CLIs reported.

use std::collections::HashMap;
use std::process::ExitCode;

use serde_json::{Value, json};
use synod::core::Usage;
use synod::orchestrator::AttemptUsage;
use synod::store::{AgentStats, Run, RunId, RunUsage, StoredOutput};

use crate::common::{ConfigArgs, Failure, finish, outln, print_json, verdict_text};

/// Arguments of `synod history`.
#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Spec id, e.g. DEMO-1.
    spec: String,
    /// Most runs to list (at least 1).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `synod show`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// Run id (from `synod run` or `synod history`).
    #[arg(value_parser = run_id)]
    run: i64,
    /// Also print every attempt's raw output.
    #[arg(long)]
    raw: bool,
    /// Print JSON (run, verdict and outputs).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `synod stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

pub(crate) async fn history(args: HistoryArgs, verbose: bool) -> ExitCode {
    finish(history_inner(&args).await, verbose)
}

pub(crate) async fn show(args: ShowArgs, verbose: bool) -> ExitCode {
    finish(show_inner(&args).await, verbose)
}

pub(crate) async fn stats(args: StatsArgs, verbose: bool) -> ExitCode {
    finish(stats_inner(&args).await, verbose)
}

/// `"usage": {"input_tokens", "output_tokens", "cached_tokens", "cost_usd"}` as in
/// `synod run --json` (null when the CLI reported neither tokens nor cost).
fn usage_json(tokens: Option<Usage>, cost_usd: Option<f64>) -> Value {
    AttemptUsage::new(tokens, cost_usd).map_or(Value::Null, |u| json!(u))
}

/// `1.2k in / 85 out` (and ` (1.0k cached)`), or `-` when nothing was reported.
fn tokens_text(tokens: Option<Usage>) -> String {
    let Some(u) = tokens else {
        return "-".to_owned();
    };
    let mut text = format!(
        "{} in / {} out",
        count(u.input_tokens),
        count(u.output_tokens)
    );
    if u.cached_tokens > 0 {
        text.push_str(&format!(" ({} cached)", count(u.cached_tokens)));
    }
    text
}

/// A token count, short: `950`, `12.3k`, `4.5M`. The unit is chosen after rounding, so
/// 999 950 reads `1.0M`, not `1000.0k`.
fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..999_950 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `$0.0042`, or `-` when no cost was reported.
fn cost_text(cost_usd: Option<f64>) -> String {
    cost_usd.map_or_else(|| "-".to_owned(), |c| format!("${c:.4}"))
}

async fn history_inner(args: &HistoryArgs) -> Result<ExitCode, Failure> {
    let (_, store) = args.config.open_any_read_only().await?;
    let page = synod::store::Page::first(args.limit);
    let read_failed = |e| Failure::new(format!("cannot read the history of {}", args.spec), e);
    let runs: Vec<Run> = store.history(&args.spec, page).await.map_err(read_failed)?;
    let usage: HashMap<RunId, RunUsage> = store
        .history_usage(&args.spec, page)
        .await
        .map_err(read_failed)?
        .into_iter()
        .map(|u| (u.run_id, u))
        .collect();
    let of = |run: &Run| {
        let u = usage.get(&run.id);
        (u.and_then(|u| u.usage), u.and_then(|u| u.cost_usd))
    };
    if args.json {
        let runs: Vec<Value> = runs
            .iter()
            .map(|run| {
                let mut value = json!(run);
                let (tokens, cost) = of(run);
                value["usage"] = usage_json(tokens, cost);
                value
            })
            .collect();
        print_json(&runs)?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        outln!("no runs of {} in {}", args.spec, store.describe());
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>6}  {:<12} {:<10} {:>9}  {:<20}  {:<26} {:>9}",
        "run",
        "stage",
        "status",
        "took",
        "agreements/conflicts",
        "tokens",
        "cost"
    );
    for run in &runs {
        let count = |field: &str| {
            run.verdict
                .get(field)
                .and_then(|v| v.as_array())
                .map_or(0, Vec::len)
        };
        let (tokens, cost) = of(run);
        outln!(
            "{:>6}  {:<12} {:<10} {:>9}  {:<20}  {:<26} {:>9}",
            run.id.0,
            run.stage,
            run.status,
            took(run.started_at, run.finished_at),
            format!("{}/{}", count("agreements"), count("conflicts")),
            tokens_text(tokens),
            cost_text(cost),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A run id as typed: a whole number from 1 up.
fn run_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(id) if id >= 1 => Ok(id),
        _ => Err(format!(
            "a run id is a whole number from 1 up, as `synod run` prints it and \
             `synod history SPEC` lists it (not a spec id such as {text:?})"
        )),
    }
}

/// A run's duration as `19ms`, `4.8s` or `5m12s` (a clock stepped back reads as `0s`).
fn took(started_at: i64, finished_at: i64) -> String {
    let millis = u64::try_from(finished_at.saturating_sub(started_at)).unwrap_or(0);
    synod::core::duration::format_duration_rounded(std::time::Duration::from_millis(millis))
}

async fn show_inner(args: &ShowArgs) -> Result<ExitCode, Failure> {
    let (_, store) = args.config.open_any_read_only().await?;
    let id = RunId(args.run);
    let run = store
        .run(id)
        .await
        .map_err(|e| Failure::new(format!("cannot read run {}", args.run), e))?
        .ok_or_else(|| {
            Failure::msg(format!(
                "no run {} in the store; `synod history SPEC` lists runs",
                args.run
            ))
        })?;
    let outputs: Vec<StoredOutput> = store
        .outputs_for_run(id)
        .await
        .map_err(|e| Failure::new(format!("cannot read the outputs of run {}", args.run), e))?;
    if args.json {
        let outputs: Vec<Value> = outputs
            .iter()
            .map(|out| {
                let mut value = json!(out);
                value["usage"] = usage_json(out.usage, out.cost_usd);
                if let Some(fields) = value.as_object_mut() {
                    fields.remove("cost_usd");
                }
                value
            })
            .collect();
        print_json(&json!({ "run": run, "outputs": outputs }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "run {} · {} / {} · {}",
        run.id.0,
        run.spec_id,
        run.stage,
        run.status
    );
    match serde_json::from_value::<synod::consensus::Verdict>(run.verdict.clone()) {
        Ok(verdict) => outln!("\n{}", verdict_text(&verdict.to_markdown(), &run.status)),
        Err(_) => outln!(
            "\n{}",
            serde_json::to_string_pretty(&run.verdict).unwrap_or_default()
        ),
    }
    outln!("attempts:");
    for out in &outputs {
        let code = out
            .exit_code
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        outln!(
            "  {:<12} #{} {:<12} exit {:>3} {:>7} ms{}",
            out.agent,
            out.attempt,
            out.status,
            code,
            out.duration_ms,
            out.error
                .as_deref()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        );
        if out.usage.is_some()
            || out.cost_usd.is_some()
            || out.model.is_some()
            || out.session_id.is_some()
        {
            outln!(
                "      tokens {}  cost {}{}{}",
                tokens_text(out.usage),
                cost_text(out.cost_usd),
                out.model
                    .as_deref()
                    .map(|m| format!("  model {m}"))
                    .unwrap_or_default(),
                out.session_id
                    .as_deref()
                    .map(|s| format!("  session {s}"))
                    .unwrap_or_default()
            );
        }
        if args.raw {
            for line in out.raw_output.lines() {
                outln!("      | {line}");
            }
        }
    }
    let mut total: Option<Usage> = None;
    let mut cost: Option<f64> = None;
    for out in &outputs {
        if let Some(u) = out.usage {
            total.get_or_insert_default().add(u);
        }
        if let Some(c) = out.cost_usd {
            cost = Some(cost.unwrap_or(0.0) + c);
        }
    }
    outln!(
        "total: {} attempts, tokens {}, cost {}",
        outputs.len(),
        tokens_text(total),
        cost_text(cost)
    );
    Ok(ExitCode::SUCCESS)
}

async fn stats_inner(args: &StatsArgs) -> Result<ExitCode, Failure> {
    let (_, store) = args.config.open_any_read_only().await?;
    let stats: Vec<AgentStats> = store
        .agent_stats()
        .await
        .map_err(|e| Failure::new("cannot read the agents' figures", e))?;
    if args.json {
        let agents: Vec<Value> = stats
            .iter()
            .map(|s| {
                json!({
                    "agent": s.agent,
                    "runs": s.runs,
                    "attempts": s.attempts,
                    "successes": s.successes,
                    "success_rate": s.success_rate,
                    "mean_duration_ms": s.mean_duration_ms,
                    "p50_duration_ms": s.p50_duration_ms,
                    "p95_duration_ms": s.p95_duration_ms,
                    "usage": {
                        "input_tokens": s.usage.input_tokens,
                        "output_tokens": s.usage.output_tokens,
                        "cached_tokens": s.usage.cached_tokens,
                        "cost_usd": s.cost_usd,
                    },
                })
            })
            .collect();
        print_json(&json!({ "agents": agents }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if stats.is_empty() {
        outln!("no attempts recorded in {}", store.describe());
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:<14} {:>8} {:>8} {:>9} {:>9}  {:<26} {:>9}",
        "agent",
        "attempts",
        "success",
        "p50 ms",
        "p95 ms",
        "tokens",
        "cost"
    );
    for s in &stats {
        // Zero tokens with a cost (a refused claude run) still counts as reported.
        let reported = s.usage != Usage::default() || s.cost_usd.is_some();
        outln!(
            "{:<14} {:>8} {:>7.1}% {:>9} {:>9}  {:<26} {:>9}",
            s.agent,
            s.attempts,
            s.success_rate * 100.0,
            s.p50_duration_ms,
            s.p95_duration_ms,
            tokens_text(reported.then_some(s.usage)),
            cost_text(s.cost_usd),
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_read_short_with_the_unit_chosen_after_rounding() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1.0k"),
            (12_345, "12.3k"),
            (999_949, "999.9k"),
            (999_950, "1.0M"),
            (1_000_000, "1.0M"),
            (4_500_000, "4.5M"),
        ];
        for (n, text) in cases {
            assert_eq!(count(n), text, "{n}");
        }
    }

    #[test]
    fn token_text_shows_cached_tokens_only_when_there_are_some() {
        let usage = |cached| Usage::new(1_200, 85, cached);
        assert_eq!(tokens_text(None), "-");
        assert_eq!(tokens_text(Some(usage(0))), "1.2k in / 85 out");
        assert_eq!(
            tokens_text(Some(usage(1_000))),
            "1.2k in / 85 out (1.0k cached)"
        );
        assert_eq!(cost_text(None), "-");
        assert_eq!(cost_text(Some(0.00421)), "$0.0042");
    }
}
