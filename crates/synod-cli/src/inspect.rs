//! `synod history ID` and `synod show RUN`: read the evidence back.

use std::process::ExitCode;

use synod::store::{Run, RunId, StoredOutput};

use crate::common::{ConfigArgs, Failure, finish, outln, print_json};

/// Arguments of `synod history`.
#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Spec id, e.g. DEMO-1.
    spec: String,
    /// Most runs to list.
    #[arg(long, default_value_t = 20)]
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

pub(crate) async fn history(args: HistoryArgs, verbose: bool) -> ExitCode {
    finish(history_inner(&args).await, verbose)
}

pub(crate) async fn show(args: ShowArgs, verbose: bool) -> ExitCode {
    finish(show_inner(&args).await, verbose)
}

async fn history_inner(args: &HistoryArgs) -> Result<ExitCode, Failure> {
    let (_, store) = args.config.open_any_read_only().await?;
    let runs: Vec<Run> = store
        .history(&args.spec, synod::store::Page::first(args.limit))
        .await
        .map_err(|e| Failure::new(format!("cannot read the history of {}", args.spec), e))?;
    if args.json {
        print_json(&runs)?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        outln!("no runs of {} in {}", args.spec, store.describe());
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>6}  {:<12} {:<10} {:>9}  agreements/conflicts",
        "run",
        "stage",
        "status",
        "seconds"
    );
    for run in &runs {
        let count = |field: &str| {
            run.verdict
                .get(field)
                .and_then(|v| v.as_array())
                .map_or(0, Vec::len)
        };
        outln!(
            "{:>6}  {:<12} {:<10} {:>9.1}  {}/{}",
            run.id.0,
            run.stage,
            run.status,
            (run.finished_at - run.started_at) as f64 / 1000.0,
            count("agreements"),
            count("conflicts"),
        );
    }
    Ok(ExitCode::SUCCESS)
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
        print_json(&serde_json::json!({ "run": run, "outputs": outputs }))?;
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
        Ok(verdict) => outln!("\n{}", verdict.to_markdown()),
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
        if args.raw {
            for line in out.raw_output.lines() {
                outln!("      | {line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
