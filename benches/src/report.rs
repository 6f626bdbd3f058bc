//! Reads criterion's saved estimates and writes the performance report: per layer, a table of
//! synod against the plain library it wraps (median, ratio, target), one SVG plot per layer and
//! one per scaling group.
//!
//! ```
//! use synod_benches::report::{Measurement, ratio_rows};
//!
//! let m = |function: &str, median_ns: f64| Measurement {
//!     group: "exec/spawn_wait".into(),
//!     function: function.into(),
//!     value: None,
//!     median_ns,
//!     throughput: None,
//! };
//! let rows = ratio_rows(&[m("synod", 110.0), m("raw", 100.0)]);
//! assert_eq!(rows.len(), 1);
//! assert!((rows[0].ratio - 1.1).abs() < 1e-9);
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What can go wrong while writing the report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A criterion or targets file did not parse.
    #[error("{path}: cannot parse: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// No criterion results were found.
    #[error("no criterion results under {0}; run `cargo bench -p synod-benches` first")]
    NoResults(PathBuf),
    /// The output file lacks the markers that delimit the generated block.
    #[error(
        "{0} has no `<!-- generated:begin -->` / `<!-- generated:end -->` markers; add them where the tables belong"
    )]
    NoMarkers(PathBuf),
}

/// Result alias for this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where to read and write.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// criterion's output folder.
    pub criterion_dir: PathBuf,
    /// The Markdown report to update.
    pub out: PathBuf,
    /// The targets file (TOML).
    pub targets: PathBuf,
    /// Where the SVG plots go.
    pub plots_dir: PathBuf,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            criterion_dir: PathBuf::from("target/criterion"),
            out: PathBuf::from("docs/PERFORMANCE.md"),
            targets: PathBuf::from("benches/targets.toml"),
            plots_dir: PathBuf::from("docs/perf"),
        }
    }
}

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// criterion group id, `layer/operation`.
    pub group: String,
    /// Function id inside the group: `synod`, `raw`, or another contender.
    pub function: String,
    /// Parameter (size, concurrency), when the benchmark has one.
    pub value: Option<String>,
    /// Median time per iteration, nanoseconds.
    pub median_ns: f64,
    /// Elements or bytes per iteration, when declared.
    pub throughput: Option<Throughput>,
}

impl Measurement {
    /// The layer: the group id up to its first `/`.
    pub fn layer(&self) -> &str {
        self.group.split('/').next().unwrap_or(&self.group)
    }
}

/// criterion's throughput declaration.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum Throughput {
    /// Bytes per iteration.
    Bytes(u64),
    /// Bytes per iteration (decimal units).
    BytesDecimal(u64),
    /// Elements per iteration.
    Elements(u64),
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<Throughput>,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesJson {
    median: Estimate,
}

/// A performance target from `benches/targets.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    /// criterion group id.
    pub group: String,
    /// Parameter value, when the group has several.
    #[serde(default)]
    pub value: Option<String>,
    /// The contender measured (default `synod`).
    #[serde(default = "default_synod")]
    pub synod: String,
    /// What it is compared with (default `raw`).
    #[serde(default = "default_raw")]
    pub raw: String,
    /// Upper bound on median(synod) / median(raw).
    #[serde(default)]
    pub max_ratio: Option<f64>,
    /// Upper bound on median(synod), nanoseconds.
    #[serde(default)]
    pub max_ns: Option<f64>,
    /// The target as the issue words it.
    pub text: String,
}

fn default_synod() -> String {
    "synod".to_owned()
}
fn default_raw() -> String {
    "raw".to_owned()
}

#[derive(Deserialize)]
struct TargetsFile {
    #[serde(default)]
    target: Vec<Target>,
}

/// synod against its baseline for one group and parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioRow {
    /// criterion group id.
    pub group: String,
    /// Parameter, if any.
    pub value: Option<String>,
    /// median(synod), ns.
    pub synod_ns: f64,
    /// median(raw), ns.
    pub raw_ns: f64,
    /// synod / raw: below 1 synod is faster.
    pub ratio: f64,
}

/// The baseline of a group and parameter: the contender named `raw`, else the first whose name
/// starts with `raw` (e.g. `raw_backon`).
pub fn baseline<'a>(
    measurements: &'a [Measurement],
    group: &str,
    value: Option<&String>,
) -> Option<&'a Measurement> {
    let same = |m: &&Measurement| m.group == group && m.value.as_ref() == value;
    measurements
        .iter()
        .filter(same)
        .find(|m| m.function == "raw")
        .or_else(|| {
            measurements
                .iter()
                .filter(same)
                .find(|m| m.function.starts_with("raw"))
        })
}

/// Pairs every `synod` measurement with the baseline of the same group and parameter.
pub fn ratio_rows(measurements: &[Measurement]) -> Vec<RatioRow> {
    let mut rows = Vec::new();
    for synod in measurements.iter().filter(|m| m.function == "synod") {
        let raw = baseline(measurements, &synod.group, synod.value.as_ref());
        if let Some(raw) = raw {
            rows.push(RatioRow {
                group: synod.group.clone(),
                value: synod.value.clone(),
                synod_ns: synod.median_ns,
                raw_ns: raw.median_ns,
                ratio: synod.median_ns / raw.median_ns,
            });
        }
    }
    rows
}

/// Every `new/benchmark.json` + `new/estimates.json` pair under `dir`.
pub fn read_measurements(dir: &Path) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    collect(dir, &mut found)?;
    found.sort_by(|a, b| {
        (
            a.group.as_str(),
            sort_key(a.value.as_deref()),
            a.function.as_str(),
        )
            .partial_cmp(&(
                b.group.as_str(),
                sort_key(b.value.as_deref()),
                b.function.as_str(),
            ))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(found)
}

fn sort_key(value: Option<&str>) -> (f64, String) {
    let value = value.unwrap_or("");
    (value.parse::<f64>().unwrap_or(f64::MAX), value.to_owned())
}

fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    serde_json::from_str(&read_to_string(path)?).map_err(|err| Error::Parse {
        path: path.to_owned(),
        message: err.to_string(),
    })
}

fn collect(dir: &Path, found: &mut Vec<Measurement>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir()
            || path
                .file_name()
                .is_some_and(|n| n == "report" || n == "base")
        {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let bench = path.join("benchmark.json");
            let estimates = path.join("estimates.json");
            if bench.is_file() && estimates.is_file() {
                let bench: BenchmarkJson = parse_json(&bench)?;
                let estimates: EstimatesJson = parse_json(&estimates)?;
                found.push(Measurement {
                    group: bench.group_id,
                    function: bench.function_id.unwrap_or_else(|| "synod".to_owned()),
                    value: bench.value_str,
                    median_ns: estimates.median.point_estimate,
                    throughput: bench.throughput,
                });
            }
        } else {
            collect(&path, found)?;
        }
    }
    Ok(())
}

/// Reads the targets file; a missing file means no targets.
pub fn read_targets(path: &Path) -> Result<Vec<Target>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = read_to_string(path)?;
    let parsed: TargetsFile = toml::from_str(&text).map_err(|err| Error::Parse {
        path: path.to_owned(),
        message: err.to_string(),
    })?;
    Ok(parsed.target)
}

/// A target checked against this run.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Within the bound; carries the measured figure.
    Met(String),
    /// Outside it; carries the figure and by how much.
    Missed(String),
    /// The benchmark did not run.
    NotMeasured,
}

/// Checks one target against the measurements.
pub fn check_target(target: &Target, measurements: &[Measurement]) -> Verdict {
    let find = |function: &str| {
        measurements
            .iter()
            .find(|m| m.group == target.group && m.function == function && m.value == target.value)
    };
    let Some(synod) = find(&target.synod) else {
        return Verdict::NotMeasured;
    };
    let mut met = true;
    let mut parts = Vec::new();
    if let Some(max_ratio) = target.max_ratio {
        let Some(raw) = find(&target.raw) else {
            return Verdict::NotMeasured;
        };
        let ratio = synod.median_ns / raw.median_ns;
        if ratio > max_ratio {
            met = false;
            parts.push(format!(
                "{ratio:.2}× {} (bound {max_ratio:.2}×, over by {:.0}%)",
                target.raw,
                (ratio / max_ratio - 1.0) * 100.0
            ));
        } else {
            parts.push(format!(
                "{ratio:.2}× {} (bound {max_ratio:.2}×)",
                target.raw
            ));
        }
    }
    if let Some(max_ns) = target.max_ns {
        let median = synod.median_ns;
        if median > max_ns {
            met = false;
            parts.push(format!(
                "{} (bound {}, over by {:.0}%)",
                human_time(median),
                human_time(max_ns),
                (median / max_ns - 1.0) * 100.0
            ));
        } else {
            parts.push(format!(
                "{} (bound {})",
                human_time(median),
                human_time(max_ns)
            ));
        }
    }
    let text = parts.join("; ");
    if met {
        Verdict::Met(text)
    } else {
        Verdict::Missed(text)
    }
}

/// `1.23 µs`, `45.6 ms`…
pub fn human_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn human_throughput(throughput: Throughput, ns: f64) -> String {
    let per_second = |n: u64| n as f64 / (ns / 1e9);
    match throughput {
        Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
            format!("{:.0} MB/s", per_second(n) / 1e6)
        }
        Throughput::Elements(n) => {
            let rate = per_second(n);
            if rate >= 1e6 {
                format!("{:.2} M/s", rate / 1e6)
            } else if rate >= 1e3 {
                format!("{:.1} k/s", rate / 1e3)
            } else {
                format!("{rate:.0}/s")
            }
        }
    }
}

/// Groups whose parameter is numeric with at least three sizes: the scaling curves.
pub fn scaling_groups(measurements: &[Measurement]) -> BTreeMap<String, Vec<&Measurement>> {
    let mut groups: BTreeMap<String, Vec<&Measurement>> = BTreeMap::new();
    for m in measurements {
        if m.value
            .as_deref()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some()
        {
            groups.entry(m.group.clone()).or_default().push(m);
        }
    }
    groups.retain(|_, ms| {
        let mut sizes: Vec<&str> = ms.iter().filter_map(|m| m.value.as_deref()).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes.len() >= 3
    });
    groups
}

/// The SVG bar chart of synod/raw ratios for one layer.
pub fn ratio_svg(layer: &str, rows: &[RatioRow]) -> String {
    let bar_h = 22.0;
    let left = 260.0;
    let width = 720.0;
    let plot_w = width - left - 60.0;
    let height = 50.0 + bar_h * rows.len() as f64 + 30.0;
    let max = rows.iter().map(|r| r.ratio).fold(1.5_f64, f64::max) * 1.1;
    let x = |ratio: f64| left + plot_w * ratio / max;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{layer}: median time, synod ÷ plain library (lower is better)</text>"#
    );
    for (i, row) in rows.iter().enumerate() {
        let y = 40.0 + bar_h * i as f64;
        let label = match &row.value {
            Some(v) => format!("{} [{v}]", row.group),
            None => row.group.clone(),
        };
        let colour = if row.ratio <= 1.0 {
            "#4c9a2a"
        } else {
            "#c87f0a"
        };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{left}" y="{}" width="{:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{}">{:.2}×</text>"#,
            left - 6.0,
            y + 15.0,
            xml_escape(&label),
            y + 4.0,
            x(row.ratio) - left,
            bar_h - 6.0,
            x(row.ratio) + 4.0,
            y + 15.0,
            row.ratio
        );
    }
    let bottom = 40.0 + bar_h * rows.len() as f64;
    let _ = writeln!(
        svg,
        r##"<line x1="{0:.1}" y1="32" x2="{0:.1}" y2="{1}" stroke="#333" stroke-dasharray="4 3"/><text x="{0:.1}" y="{2}" text-anchor="middle">1.0× (plain library)</text>"##,
        x(1.0),
        bottom,
        bottom + 18.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// The SVG line chart (log-log) of cost against size for one scaling group.
pub fn scaling_svg(group: &str, points: &[&Measurement]) -> String {
    let (width, height, left, top, right, bottom) = (720.0, 400.0, 80.0, 40.0, 150.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let sizes: Vec<f64> = points
        .iter()
        .filter_map(|m| m.value.as_deref()?.parse().ok())
        .collect();
    let (min_x, max_x) = min_max(sizes.iter().copied());
    let (min_y, max_y) = min_max(points.iter().map(|m| m.median_ns));
    let log_span = |lo: f64, hi: f64| (lo.log10(), (hi.log10() - lo.log10()).max(1e-9));
    let (lx, sx) = log_span(min_x, max_x);
    let (ly, sy) = log_span(min_y, max_y);
    let px = |v: f64| left + plot_w * (v.log10() - lx) / sx;
    let py = |v: f64| top + plot_h - plot_h * (v.log10() - ly) / sy;
    let mut by_function: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for m in points {
        if let Some(size) = m.value.as_deref().and_then(|v| v.parse::<f64>().ok()) {
            by_function
                .entry(&m.function)
                .or_default()
                .push((size, m.median_ns));
        }
    }
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b"];
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{}: median time against size (log-log)</text>"#,
        xml_escape(group)
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##
    );
    for (i, (function, mut series)) in by_function.into_iter().enumerate() {
        series.sort_by(|a, b| a.0.total_cmp(&b.0));
        let colour = colours[i % colours.len()];
        let path: Vec<String> = series
            .iter()
            .map(|(s, t)| format!("{:.1},{:.1}", px(*s), py(*t)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for (size, time) in &series {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{} @ {size}: {}</title></circle>"#,
                px(*size),
                py(*time),
                xml_escape(function),
                human_time(*time)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            width - right + 10.0,
            top + 16.0 * (i as f64 + 1.0),
            xml_escape(function)
        );
    }
    let mut sizes_sorted = sizes;
    sizes_sorted.sort_by(f64::total_cmp);
    sizes_sorted.dedup();
    for size in sizes_sorted {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{size}</text>"#,
            px(size),
            height - bottom + 16.0
        );
    }
    for value in [min_y, (min_y * max_y).sqrt(), max_y] {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            py(value) + 4.0,
            human_time(value)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (1.0, 10.0)
    } else if lo == hi {
        (lo / 2.0, hi * 2.0)
    } else {
        (lo, hi)
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Facts about the machine and the commit, for the report's header.
fn provenance(repo: &Path) -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let commit = git_head(repo).unwrap_or_else(|| "unknown".to_owned());
    let date = today();
    format!("Machine: {cores} cores, {cpu}. Date: {date}. Commit: `{commit}`.")
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock (civil-from-days).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// HEAD's commit id, read from the `.git` folder (no process spawned).
fn git_head(repo: &Path) -> Option<String> {
    let git = repo.join(".git");
    let head = fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let id = match head.strip_prefix("ref: ") {
        Some(reference) => fs::read_to_string(git.join(reference)).ok().or_else(|| {
            fs::read_to_string(git.join("packed-refs"))
                .ok()
                .and_then(|packed| {
                    packed
                        .lines()
                        .find(|l| l.ends_with(reference))
                        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
                })
        })?,
        None => head.to_owned(),
    };
    Some(id.trim().chars().take(12).collect())
}

/// Renders the generated block: provenance, targets, and per-layer tables with plots.
pub fn render(
    measurements: &[Measurement],
    targets: &[Target],
    plots_rel: &str,
    provenance: &str,
) -> (String, Vec<(String, String)>) {
    let mut md = String::new();
    let mut plots = Vec::new();
    let _ = writeln!(md, "{provenance}\n");
    let _ = writeln!(md, "### Targets\n");
    let _ = writeln!(
        md,
        "| benchmark | target | measured | verdict |\n|---|---|---|---|"
    );
    for target in targets {
        let name = match &target.value {
            Some(v) => format!("{} [{v}]", target.group),
            None => target.group.clone(),
        };
        let (measured, verdict) = match check_target(target, measurements) {
            Verdict::Met(text) => (text, "met"),
            Verdict::Missed(text) => (text, "**missed**"),
            Verdict::NotMeasured => ("not measured in this run".to_owned(), "—"),
        };
        let _ = writeln!(
            md,
            "| `{name}` | {} | {measured} | {verdict} |",
            target.text
        );
    }
    let mut layers: BTreeMap<&str, Vec<&Measurement>> = BTreeMap::new();
    for m in measurements {
        layers.entry(m.layer()).or_default().push(m);
    }
    for (layer, ms) in &layers {
        let owned: Vec<Measurement> = ms.iter().map(|m| (*m).clone()).collect();
        let _ = writeln!(md, "\n### {layer}\n");
        let _ = writeln!(
            md,
            "| benchmark | contender | median | throughput | vs baseline |\n|---|---|---|---|---|"
        );
        for m in ms {
            let ratio = match baseline(&owned, &m.group, m.value.as_ref()) {
                Some(raw) if !m.function.starts_with("raw") => {
                    format!("{:.2}× {}", m.median_ns / raw.median_ns, raw.function)
                }
                _ => String::new(),
            };
            let name = match &m.value {
                Some(v) => format!("{} [{v}]", m.group),
                None => m.group.clone(),
            };
            let throughput = m
                .throughput
                .map(|t| human_throughput(t, m.median_ns))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| `{name}` | {} | {} | {throughput} | {ratio} |",
                m.function,
                human_time(m.median_ns)
            );
        }
        let rows = ratio_rows(&owned);
        if !rows.is_empty() {
            let file = format!("{}.svg", file_stem(layer));
            plots.push((file.clone(), ratio_svg(layer, &rows)));
            let _ = writeln!(md, "\n![{layer}: synod ÷ raw]({plots_rel}/{file})");
        }
        for (group, points) in scaling_groups(&owned) {
            let file = format!("{}-scaling.svg", file_stem(&group));
            plots.push((file.clone(), scaling_svg(&group, &points)));
            let _ = writeln!(md, "\n![{group}: cost against size]({plots_rel}/{file})");
        }
    }
    (md, plots)
}

const BEGIN: &str = "<!-- generated:begin -->";
const END: &str = "<!-- generated:end -->";

/// Reads the results, renders, and replaces the generated block of the output file.
pub fn write_report(options: &ReportOptions) -> Result<String> {
    let measurements = read_measurements(&options.criterion_dir)?;
    if measurements.is_empty() {
        return Err(Error::NoResults(options.criterion_dir.clone()));
    }
    let targets = read_targets(&options.targets)?;
    let existing = read_to_string(&options.out)?;
    let (Some(begin), Some(end)) = (existing.find(BEGIN), existing.find(END)) else {
        return Err(Error::NoMarkers(options.out.clone()));
    };
    let out_dir = options.out.parent().unwrap_or(Path::new("."));
    let plots_rel = pathdiff(&options.plots_dir, out_dir);
    let repo = Path::new(".");
    let (block, plots) = render(&measurements, &targets, &plots_rel, &provenance(repo));
    fs::create_dir_all(&options.plots_dir).map_err(|source| Error::Io {
        path: options.plots_dir.clone(),
        source,
    })?;
    for (file, svg) in &plots {
        let path = options.plots_dir.join(file);
        fs::write(&path, svg).map_err(|source| Error::Io { path, source })?;
    }
    let updated = format!(
        "{}{BEGIN}\n{block}\n{}",
        &existing[..begin],
        &existing[end..]
    );
    fs::write(&options.out, updated).map_err(|source| Error::Io {
        path: options.out.clone(),
        source,
    })?;
    let missed = targets
        .iter()
        .filter(|t| matches!(check_target(t, &measurements), Verdict::Missed(_)))
        .count();
    Ok(format!(
        "wrote {} ({} results, {} targets, {missed} missed, {} plots)",
        options.out.display(),
        measurements.len(),
        targets.len(),
        plots.len()
    ))
}

/// `docs/perf` relative to `docs` → `perf`; otherwise the path as given.
fn pathdiff(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(group: &str, function: &str, value: Option<&str>, ns: f64) -> Measurement {
        Measurement {
            group: group.into(),
            function: function.into(),
            value: value.map(Into::into),
            median_ns: ns,
            throughput: None,
        }
    }

    fn target(max_ratio: Option<f64>, max_ns: Option<f64>) -> Target {
        Target {
            group: "exec/spawn_wait".into(),
            value: None,
            synod: "synod".into(),
            raw: "raw".into(),
            max_ratio,
            max_ns,
            text: "≤ 1.15× raw".into(),
        }
    }

    #[test]
    fn ratio_target_met_and_missed() {
        let ms = [
            m("exec/spawn_wait", "synod", None, 110.0),
            m("exec/spawn_wait", "raw", None, 100.0),
        ];
        assert!(matches!(
            check_target(&target(Some(1.15), None), &ms),
            Verdict::Met(_)
        ));
        match check_target(&target(Some(1.05), None), &ms) {
            Verdict::Missed(text) => assert!(text.contains("over by 5%"), "{text}"),
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    #[test]
    fn absolute_target_and_missing_benchmark() {
        let ms = [m("exec/spawn_wait", "synod", None, 2e6)];
        assert!(matches!(
            check_target(&target(None, Some(1e6)), &ms),
            Verdict::Missed(_)
        ));
        assert!(matches!(
            check_target(&target(None, Some(3e6)), &ms),
            Verdict::Met(_)
        ));
        assert_eq!(
            check_target(&target(Some(1.1), None), &ms),
            Verdict::NotMeasured
        );
        assert_eq!(
            check_target(&target(Some(1.1), None), &[]),
            Verdict::NotMeasured
        );
    }

    #[test]
    fn scaling_groups_need_three_numeric_sizes() {
        let ms = [
            m("store/read", "synod", Some("1000"), 1.0),
            m("store/read", "synod", Some("10000"), 2.0),
            m("store/read", "synod", Some("100000"), 3.0),
            m("exec/many", "synod", Some("3"), 1.0),
            m("exec/many", "synod", Some("100"), 2.0),
        ];
        let groups = scaling_groups(&ms);
        assert_eq!(groups.keys().collect::<Vec<_>>(), vec!["store/read"]);
        let svg = scaling_svg("store/read", &groups["store/read"]);
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
    }

    #[test]
    fn render_reads_real_criterion_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (function, ns) in [("synod", 120.0), ("raw", 100.0)] {
            let new = dir
                .path()
                .join("exec_spawn_wait")
                .join(function)
                .join("new");
            fs::create_dir_all(&new).expect("mkdir");
            fs::write(
                new.join("benchmark.json"),
                format!(r#"{{"group_id":"exec/spawn_wait","function_id":"{function}","value_str":null,"throughput":{{"Elements":1}},"full_id":"x","directory_name":"x","title":"x"}}"#),
            )
            .expect("write");
            fs::write(
                new.join("estimates.json"),
                format!(
                    r#"{{"mean":{{"point_estimate":{ns}}},"median":{{"point_estimate":{ns}}}}}"#
                ),
            )
            .expect("write");
        }
        let ms = read_measurements(dir.path()).expect("read");
        assert_eq!(ms.len(), 2);
        let (md, plots) = render(&ms, &[target(Some(1.15), None)], "perf", "Machine: test.");
        assert!(
            md.contains("| `exec/spawn_wait` | synod | 120.0 ns |"),
            "{md}"
        );
        assert!(md.contains("1.20× raw"), "{md}");
        assert!(md.contains("**missed**"), "{md}");
        assert_eq!(plots.len(), 1);
        assert_eq!(plots[0].0, "exec.svg");
    }

    #[test]
    fn missing_markers_and_results_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = ReportOptions {
            criterion_dir: dir.path().to_owned(),
            out: dir.path().join("PERF.md"),
            targets: dir.path().join("targets.toml"),
            plots_dir: dir.path().join("perf"),
        };
        let err = write_report(&options).expect_err("no results");
        assert!(err.to_string().contains("cargo bench"), "{err}");
    }
}
