//! The README's Slurm driver on a real Slurm cluster (issue #28 §2): `examples/slurm/audit.sh`,
//! the script the README shows (checked verbatim), submitted to the one-node cluster that
//! `scripts/slurm-cluster.sh start` runs on this machine (Debian's slurm-wlm and munge; `.ci/run`
//! starts it). Each stage is an array job of 3 shards (`sbatch --wait`), merged after it; the
//! result must equal the same stages run unsharded, file for file: every JSON, CSV and NPY file by
//! `scripts/compare-runs.py` (timings aside), every PNG byte for byte. The jobs' own output files
//! show that Slurm ran every array task.
//!
//! Skipped with a message when no cluster answers, unless `RECTIFY_REQUIRE_SLURM=1` (CI).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// Whether a Slurm cluster answers with an idle node; fails instead of skipping under
/// `RECTIFY_REQUIRE_SLURM=1`.
fn cluster() -> bool {
    let state = Command::new("sinfo").args(["-h", "-N", "-o", "%t"]).output();
    let up = state.as_ref().is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).lines().any(|l| matches!(l.trim(), "idle" | "mix"))
    });
    if !up {
        let why = match &state {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            std::env::var("RECTIFY_REQUIRE_SLURM").as_deref() != Ok("1"),
            "RECTIFY_REQUIRE_SLURM=1 but no Slurm node is idle ({why}); start one with `eval \"$(sudo scripts/slurm-cluster.sh start)\"`"
        );
        eprintln!("skipped: no Slurm cluster ({why}); `eval \"$(sudo scripts/slurm-cluster.sh start)\"` runs one here");
    }
    up
}

#[test]
fn the_readmes_slurm_script_equals_the_unsharded_audit() {
    let root = rectify_testkit::workspace_root();
    let script = root.join("examples/slurm/audit.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&format!("```sh\n{text}```")), "the README shows examples/slurm/audit.sh verbatim");
    if !cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // The same name for both runs (the report names runs after their folders).
    let (whole, sharded) = (t.join("whole/run"), t.join("sharded/run"));
    let (images, labels) = (assets().join("sample-images"), assets().join("sample-labels.csv"));
    // Five groups of ten images for MMD-critic (the sample has one image per class).
    eval_sample_with(&whole, &["--save-features"]);
    let groups = t.join("groups.csv");
    let rows: Vec<String> =
        predictions(&whole).iter().enumerate().map(|(i, r)| format!("{},g{}", r[0], i % 5)).collect();
    std::fs::write(&groups, format!("file,group\n{}\n", rows.join("\n"))).unwrap();
    let explain = "--misclassified --samples 100 --name e";
    let criticize = format!("--method mmd --per {} --prototypes 3 --criticisms 2", s(&groups));

    // The script, as a user runs it on a CPU partition, with the rectify being tested on PATH.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rectify"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let jobs = t.join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::create_dir_all(sharded.parent().unwrap()).unwrap();
    let start = std::time::Instant::now();
    // At most 20 minutes (it takes about 2 here): a job that never ends fails the test, named.
    let out = Command::new("timeout")
        .args(["1200", "bash"])
        .arg(&script)
        .current_dir(&jobs)
        .env("PATH", path)
        .env("RUN", &sharded)
        .env("N", "3")
        .env("IMAGES", &images)
        .env("LABELS", &labels)
        .env("MODEL", "")
        .env("DEVICE", "cpu")
        .env("GPU", "")
        .env("EXPLAIN", explain)
        .env("CRITICIZE", &criticize)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("audit.sh on Slurm in {:.0} s:\n{stdout}{stderr}", start.elapsed().as_secs_f64());
    assert!(out.status.success(), "audit.sh failed ({:?}; 124: over 20 min):\n{stdout}\n{stderr}", out.status.code());
    // Slurm ran every array task of every stage: 4 stages × 3 tasks, each with its output file.
    let submitted: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Submitted batch job")).collect();
    assert_eq!(submitted.len(), 4, "{stdout}");
    let logs: Vec<PathBuf> = std::fs::read_dir(&jobs).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(logs.iter().filter(|p| p.to_string_lossy().contains("slurm-")).count(), 12, "{logs:?}");

    // The same stages unsharded.
    let w = s(&whole).to_string();
    rectify_ok(&["attack", "--run", &w, "--save-images", "--device", "cpu"]);
    let mut args = vec!["explain", "--run", &w, "--device", "cpu"];
    args.extend(explain.split(' '));
    rectify_ok(&args);
    let mut args = vec!["criticize", "--run", &w];
    args.extend(criticize.split(' '));
    rectify_ok(&args);
    rectify_ok(&["report", "--run", &w]);

    let compare = Command::new("python3")
        .arg(root.join("scripts/compare-runs.py"))
        .args([s(&whole), s(&sharded)])
        .output()
        .expect("python3 runs scripts/compare-runs.py");
    let said = String::from_utf8_lossy(&compare.stdout);
    assert!(compare.status.success(), "the audit on Slurm differs from the unsharded run:\n{said}");
    println!("compare-runs: {said}");
    let pngs = files(&whole, "png");
    assert_eq!(pngs, files(&sharded, "png"), "the same pictures");
    for stage in ["attack", "explain", "criticize"] {
        assert!(pngs.iter().any(|p| p.starts_with(stage)), "{stage} pictures: {pngs:?}");
    }
    for p in &pngs {
        assert!(std::fs::read(whole.join(p)).unwrap() == std::fs::read(sharded.join(p)).unwrap(), "{}", p.display());
    }
    assert!(sharded.join("report/report.html").is_file());
}
