//! `synod run --spec ID --stage NAME`: run a stage of agents, print the verdict, keep the
//! evidence.

use std::process::ExitCode;
use std::sync::Arc;

use synod::orchestrator::{Orchestrator, StageStatus};
use tokio_util::sync::CancellationToken;

use crate::common::{
    ConfigArgs, Failure, Location, PromptArgs, errln, finish, one_reader_of_stdin, open_any,
    open_store, outln, print_json, shell_word, verdict_text,
};
use crate::signals::StopSignals;
use crate::{progress, watchdog};
use synod::store::{AnyStore, SharedHolds};

/// Arguments of `synod run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Spec the agents work on (e.g. DEMO-1); passed to them as `{spec_id}`.
    #[arg(long, value_name = "ID")]
    spec: String,
    /// Stage to run (a `[[stages]]` name from the config).
    #[arg(long, value_name = "NAME")]
    stage: String,
    #[command(flatten)]
    prompt: PromptArgs,
    /// Print the whole report as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    json: bool,
    /// No progress output on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

pub(crate) async fn run(args: RunArgs, verbose: bool) -> ExitCode {
    finish(run_inner(args).await, verbose)
}

async fn run_inner(args: RunArgs) -> Result<ExitCode, Failure> {
    one_reader_of_stdin(&args.config, &args.prompt)?;
    let loaded = args.config.load()?;
    let plan = loaded
        .plan()
        .map_err(|e| Failure::new("invalid config", e))?;
    // Fail on a wrong spec id or stage before creating anything.
    synod::orchestrator::check_spec_id(&args.spec).map_err(|e| Failure::new("cannot run", e))?;
    loaded
        .config
        .require_stage(&args.stage)
        .map_err(|e| Failure::new(format!("cannot run {}", args.spec), e))?;
    let prompt = args.prompt.read()?;
    synod::orchestrator::check_prompt(&args.stage, prompt.as_deref())
        .map_err(|e| Failure::new(format!("cannot run {}", args.spec), e))?;
    let location = Location::of(&loaded);
    // A server store is opened (and migrated) through the async API; a file store as before.
    let store = match &location {
        Location::Server(_) => open_any(&loaded).await?,
        Location::File(_) => AnyStore::Sqlite(open_store(&loaded)?.into_async()),
    };

    // Orphans of the agents (double-forking daemons, `setsid` helpers) are reparented to this
    // process instead of init, so synod-exec stops and reaps them with their agent.
    if let Err(err) = synod::exec::become_subreaper() {
        tracing::warn!(error = %err, "orphaned agent descendants may outlive their agent");
    }
    // A helper process that kills this run's agents should `synod run` itself be killed
    // (SIGKILL cannot be caught, so nothing in this process could clean up).
    let guard = watchdog::Guard::start();
    // Rate limits and open breakers are shared with every other process on this store.
    let holds: Arc<dyn SharedHolds> = Arc::new(store.clone());
    let mut orchestrator = Orchestrator::with_plan(plan, store).shared_holds(holds);
    let events = orchestrator.subscribe();
    if let Some(guard) = &guard {
        orchestrator = orchestrator.agent_env(watchdog::MARKER_VAR, guard.marker());
    }

    let ui = progress::spawn(events, args.quiet);
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    // Registered now, before any agent starts, so an early Ctrl-C is never lost to the
    // default action (which would kill synod without cleanup).
    let stop = StopSignals::register();
    let signals = tokio::spawn(async move {
        stop.recv().await;
        errln!("synod: interrupted, stopping the agents...");
        on_signal.cancel();
    });

    let result = orchestrator
        .run_stage_with(&args.spec, &args.stage, prompt.as_deref(), &cancel)
        .await;
    signals.abort();
    drop(orchestrator); // closes the event channel so the UI task ends
    let _ = ui.await;
    if let Some(guard) = guard {
        guard.stop().await;
    }
    let report = result.map_err(|e| {
        let context = match &e {
            synod::orchestrator::Error::NotRecorded { path, .. } => format!(
                "stage {:?} of {} ran but could not be stored; its outputs and verdict are kept in {}",
                args.stage,
                args.spec,
                path.display()
            ),
            _ => format!("cannot run stage {:?} of {}", args.stage, args.spec),
        };
        Failure::new(context, e)
    })?;

    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "{}",
            verdict_text(&report.verdict.to_markdown(), report.status.as_str())
        );
        let store_path = report
            .store_path
            .as_ref()
            .map_or_else(|| location.shown(), |p| p.display().to_string());
        match (report.status, report.run_id) {
            (StageStatus::Cancelled, Some(id)) => {
                outln!("Run {id} was cancelled; what finished is stored in {store_path}.");
            }
            (status, Some(id)) => {
                let options = args.config.follow_up();
                outln!(
                    "Verdict: {status}. Evidence: run {id} in {store_path} (see `synod show {id}{options}`, `synod history {}{options}`).",
                    shell_word(&report.spec_id)
                );
            }
            (status, None) => outln!("Verdict: {status} (nothing was stored)."),
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}
