//! fio on the bench image, for comparison: the same workloads with io_uring and `O_DIRECT`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::Workload;

/// fio's side of the comparison: each workload once, on the first image it is given.
#[derive(Debug)]
pub(super) struct FioSide {
    /// fio's version while it works; why it is skipped otherwise.
    state: Result<String, String>,
    image: Option<PathBuf>,
    /// Per workload: its name, IOPS and GB/s.
    results: Vec<(&'static str, f64, f64)>,
}

impl FioSide {
    /// Finds fio (`fio --version`) unless `enabled` is false.
    pub(super) fn new(enabled: bool) -> FioSide {
        let state = if enabled {
            run(Command::new("fio").arg("--version"))
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
                .map_err(|e| format!("{e:#}"))
        } else {
            Err("--no-fio".to_owned())
        };
        FioSide { state, image: None, results: Vec::new() }
    }

    /// Runs `workload` with fio on `image` for `seconds`, unless fio is unavailable, already
    /// ran it, or works on another image. A failure turns fio off, with the reason.
    pub(super) fn measure(&mut self, image: &Path, workload: Workload, seconds: f64) {
        let other_image = self.image.as_deref().is_some_and(|mine| mine != image);
        if self.state.is_err() || other_image || self.results.iter().any(|r| r.0 == workload.name) {
            return;
        }
        self.image = Some(image.to_owned());
        match run_workload(image, workload, seconds) {
            Ok((iops, bytes_per_s)) => self.results.push((workload.name, iops, bytes_per_s / 1e9)),
            Err(e) => {
                tracing::warn!("fio skipped: {e:#}");
                self.state = Err(format!("{e:#}"));
                self.results.clear();
            }
        }
    }

    /// What fio measured for `workload` on `image`: IOPS and GB/s.
    pub(super) fn result(&self, image: Option<&Path>, workload: &str) -> Option<(f64, f64)> {
        if image.is_none() || image != self.image.as_deref() {
            return None;
        }
        self.results.iter().find(|r| r.0 == workload).map(|r| (r.1, r.2))
    }

    /// One line saying what fio ran on, or why it did not.
    pub(super) fn note(&self) -> String {
        match (&self.state, &self.image) {
            (Ok(version), Some(image)) => {
                format!("{version} (ioengine=io_uring, direct=1) on {}", image.display())
            }
            (Ok(_), None) => "skipped (the stack's disk is not a file(...))".to_owned(),
            (Err(why), _) => format!("skipped ({why})"),
        }
    }
}

/// Runs one workload with fio on `image`; returns its IOPS and bytes per second.
fn run_workload(image: &Path, w: Workload, seconds: f64) -> anyhow::Result<(f64, f64)> {
    // fio splits --filename at `:`; a backslash escapes it.
    let filename = image.to_str().context("the image path is not UTF-8")?.replace(':', "\\:");
    let runtime_ms = ((seconds * 1000.0).round() as u64).max(1);
    let output = run(Command::new("fio").args([
        "--name=rw".to_owned(),
        format!("--filename={filename}"),
        format!("--rw={}", if w.random { "randwrite" } else { "write" }),
        format!("--bs={}k", w.block / 1024),
        format!("--iodepth={}", w.depth),
        "--direct=1".to_owned(),
        "--ioengine=io_uring".to_owned(),
        format!("--runtime={runtime_ms}ms"),
        "--time_based".to_owned(),
        "--output-format=json".to_owned(),
    ]))
    .with_context(|| format!("fio {}", w.name))?;
    parse(&String::from_utf8_lossy(&output.stdout)).with_context(|| format!("fio {}", w.name))
}

/// Runs `command`; fails unless it exits with 0.
fn run(command: &mut Command) -> anyhow::Result<Output> {
    let output = match command.output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!("fio is not installed (not found in PATH)"),
        Err(e) => return Err(e).context("cannot run fio"),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        bail!("fio failed ({}): {}", output.status, last.trim());
    }
    Ok(output)
}

/// IOPS and bytes per second of the first job's writes in fio's JSON output (which may
/// follow warning lines).
fn parse(stdout: &str) -> anyhow::Result<(f64, f64)> {
    let start = stdout.find('{').ok_or_else(|| anyhow!("no JSON in fio's output"))?;
    let json: Value = serde_json::from_str(&stdout[start..]).context("cannot parse fio's JSON output")?;
    let job = &json["jobs"][0];
    if let Some(error) = job["error"].as_i64().filter(|&e| e != 0) {
        bail!("fio's job failed with error {error}");
    }
    let write = &job["write"];
    let iops = write["iops"].as_f64().ok_or_else(|| anyhow!("fio's JSON has no jobs[0].write.iops"))?;
    let bw = write["bw_bytes"].as_f64().ok_or_else(|| anyhow!("fio's JSON has no jobs[0].write.bw_bytes"))?;
    Ok((iops, bw))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_fio_json_after_warnings() {
        let out = "fio: some warning\n{\"jobs\": [{\"error\": 0, \"write\": {\"iops\": 1234.5, \"bw_bytes\": 5056512}}]}";
        assert_eq!(parse(out).unwrap(), (1234.5, 5056512.0));
        assert!(parse("no json").is_err());
        assert!(parse("{\"jobs\": [{\"error\": 5, \"write\": {}}]}").is_err());
    }
}
