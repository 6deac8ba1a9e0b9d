//! `rectify bias` (issue #7): attribute prevalence in a group, its prototypes and criticisms,
//! with attributes from the `attribute` study design (votes decided by majority) and from a CSV
//! — both give the counts computed here by hand from the selection.

mod common;

use common::*;

#[test]
fn prevalence_from_study_votes_and_from_a_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "12");
    rectify_ok(&[
        "criticize",
        "--run",
        s(&run),
        "--method",
        "random",
        "--per",
        "all",
        "--prototypes",
        "4",
        "--criticisms",
        "4",
        "--seed",
        "1",
        "--no-galleries",
    ]);
    rectify_ok(&[
        "study",
        "design",
        "--run",
        s(&run),
        "--design",
        "attribute",
        "--attribute",
        "glasses",
        "--answers",
        "3",
    ]);
    // Even rows show glasses: 2 of 3 raters say so; odd rows: 1 of 3.
    let files: Vec<String> = predictions(&run).iter().map(|r| r[0].clone()).collect();
    let has = |f: &str| files.iter().position(|x| x == f).unwrap() % 2 == 0;
    let mut jsonl = String::new();
    let mut csv = String::from("file,attribute,value\n");
    for f in &files {
        for r in 0..3 {
            let yes = if has(f) { r < 2 } else { r < 1 };
            jsonl.push_str(&format!(
                "{{\"item\":\"attribute/glasses/{f}\",\"rater\":\"r{r}\",\"answer\":{{\"kind\":\"{}\"}},\"seconds\":null,\"source\":\"jsonl\"}}\n",
                if yes { "yes" } else { "no" }
            ));
        }
        csv.push_str(&format!("{f},glasses,{}\n", u8::from(has(f))));
    }
    let votes = tmp.path().join("votes.jsonl");
    std::fs::write(&votes, jsonl).unwrap();
    rectify_ok(&["study", "import", "--run", s(&run), "--format", "jsonl", s(&votes)]);

    let sel: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("criticize/random-all/selection.json")).unwrap())
            .unwrap();
    let count =
        |k: &str| sel["groups"][0][k].as_array().unwrap().iter().filter(|f| has(f.as_str().unwrap())).count() as u64;
    let (pk, ck) = (count("prototype_files"), count("criticism_files"));

    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("bias/all--glasses.json")).unwrap()).unwrap()
    };
    rectify_ok(&["bias", "--run", s(&run), "--group", "all", "--attribute", "glasses", "--from-study"]);
    let from_study = read();
    let row = &from_study["rows"][0];
    assert_eq!(row["selector"], "random-all");
    assert_eq!((row["group"]["k"].as_u64(), row["group"]["n"].as_u64()), (Some(6), Some(12)));
    assert_eq!((row["prototypes"]["k"].as_u64(), row["prototypes"]["n"].as_u64()), (Some(pk), Some(4)));
    assert_eq!((row["criticisms"]["k"].as_u64(), row["criticisms"]["n"].as_u64()), (Some(ck), Some(4)));
    let p = row["fisher_p"].as_f64().unwrap();
    let want = fisher_two_sided(pk, 4 - pk, ck, 4 - ck);
    assert!((p - want).abs() < 1e-12, "Fisher p {p}, by hand {want} ({pk}/4 vs {ck}/4)");

    let attrs = tmp.path().join("attrs.csv");
    std::fs::write(&attrs, csv).unwrap();
    rectify_ok(&["bias", "--run", s(&run), "--group", "all", "--attribute", "glasses", "--attributes", s(&attrs)]);
    assert_eq!(read()["rows"], from_study["rows"], "a CSV with the same attributes gives the same table");

    let out = rectify(&[
        "bias",
        "--run",
        s(&run),
        "--group",
        "no-such-class",
        "--attribute",
        "glasses",
        "--attributes",
        s(&attrs),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither `all`, a class index nor a class name"));
}

/// Two-sided Fisher exact test of the 2×2 table [[a, b], [c, d]], written out here as scipy's
/// `fisher_exact(alternative="two-sided")` defines it: the sum of the hypergeometric
/// probabilities of every table with the same margins that is no more likely than the observed
/// one (with scipy's relative tolerance of 1e-7 for ties).
fn fisher_two_sided(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let choose = |n: u64, k: u64| -> f64 { (0..k).map(|i| (n - i) as f64 / (i + 1) as f64).product() };
    let (row1, col1, n) = (a + b, a + c, a + b + c + d);
    let prob = |x: u64| choose(col1, x) * choose(n - col1, row1 - x) / choose(n, row1);
    let lo = row1.saturating_sub(n - col1);
    let hi = row1.min(col1);
    let observed = prob(a);
    (lo..=hi).map(prob).filter(|&p| p <= observed * (1.0 + 1e-7)).sum::<f64>().min(1.0)
}
