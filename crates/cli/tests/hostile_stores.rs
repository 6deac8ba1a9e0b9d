//! Hostile stores and shards (issue #28 §4), handed to the release binary as a user would.
//!
//! A shard or a run directory is untrusted bytes: its `rectify.db` can name any path. Before the
//! fix, `rectify merge` joined `attack_results.image` (and `explanations.json`, and stage run
//! names) to both directories unchecked: `../evil/pwned.sh` created a file outside the run, and an
//! absolute path that was both source and destination truncated the victim to 0 bytes. Each case
//! here tampers a copy of a real shard, merges it (after an untampered shard, in the same call),
//! and checks: exit status 2, the message names the shard and the field, nothing outside was
//! created or changed, and the run is byte for byte what it was (nothing of either shard merged).
//! Mutation: `paths::plain` accepting `..` / roots, or `plan_copies` skipping `inside`, fails the
//! respective cases.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Every file under `dir` (relative path → bytes), links read as their targets' names.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let meta = p.symlink_metadata().unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                out.insert(rel, std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes());
            } else if meta.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    // The database's WAL side files come and go with each open; the database itself must not change.
    out.retain(|p, _| !p.to_string_lossy().ends_with("-shm"));
    out
}

fn sql(dir: &Path, statement: &str) {
    let db = rusqlite::Connection::open(dir.join("rectify.db")).unwrap();
    let changed = db.execute(statement, []).unwrap();
    assert!(changed > 0, "{statement} changed nothing");
}

fn first_png(dir: &Path) -> PathBuf {
    let images = dir.join("attack/adv/images");
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    pngs.sort();
    pngs.remove(0)
}

#[test]
fn merge_refuses_paths_that_leave_the_run_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let run = t.join("run");
    eval_sample(&run, "6");
    let (attack, explain) = (t.join("pristine-attack"), t.join("pristine-explain"));
    let run_s = s(&run).to_string();
    rectify_ok(&[
        "attack",
        "--run",
        &run_s,
        "--name",
        "adv",
        "--save-images",
        "--steps",
        "2",
        "--limit",
        "4",
        "--shard",
        "0/1",
        "--out",
        s(&attack),
    ]);
    rectify_ok(&[
        "explain",
        "--run",
        &run_s,
        "--name",
        "e",
        "--samples",
        "40",
        "--limit",
        "2",
        "--shard",
        "0/1",
        "--out",
        s(&explain),
    ]);
    let victim = t.join("victim.txt");
    std::fs::write(&victim, "the victim's data").unwrap();
    let secret = t.join("secret.png");
    std::fs::write(&secret, b"\x89PNG\r\n\x1a\nsecret bytes").unwrap();

    // (name, pristine shard, tamper, words the message must hold)
    type Tamper = Box<dyn Fn(&Path)>;
    let victim_s = victim.display().to_string();
    let cases: Vec<(&str, &Path, Tamper, &str)> = vec![
        (
            "image with ..",
            &attack,
            Box::new(|d: &Path| {
                // The file the old code copied from, one folder above the shard.
                std::fs::create_dir_all(d.parent().unwrap().join("evil")).unwrap();
                std::fs::write(d.parent().unwrap().join("evil/pwned.sh"), "#!/bin/sh\necho pwned\n").unwrap();
                sql(d, "UPDATE attack_results SET image = '../evil/pwned.sh' WHERE image_id = (SELECT MIN(image_id) FROM attack_results)");
            }),
            "attack_results.image of image",
        ),
        (
            "absolute image",
            &attack,
            Box::new(move |d: &Path| {
                sql(d, &format!("UPDATE attack_results SET image = '{victim_s}' WHERE image_id = (SELECT MIN(image_id) FROM attack_results)"));
            }),
            "an absolute path",
        ),
        (
            "explanation with ..",
            &explain,
            Box::new(|d: &Path| sql(d, "UPDATE explanations SET json = '../../outside.json'")),
            "explanations.json of image",
        ),
        (
            "stage name with ..",
            &attack,
            Box::new(|d: &Path| sql(d, "UPDATE runs SET name = '../../adv' WHERE kind = 'attack'")),
            "the name of the attack run",
        ),
        (
            "link out of the shard",
            &attack,
            Box::new({
                let secret = secret.clone();
                move |d: &Path| {
                    let png = first_png(d);
                    std::fs::remove_file(&png).unwrap();
                    std::os::unix::fs::symlink(&secret, &png).unwrap();
                }
            }),
            "a link out of the run",
        ),
    ];
    let before = snapshot(&run);
    for (i, (name, pristine, tamper, words)) in cases.iter().enumerate() {
        let cases_dir = t.join(format!("case{i}"));
        let (good, bad) = (cases_dir.join("good"), cases_dir.join("bad"));
        copy_dir(pristine, &good);
        copy_dir(pristine, &bad);
        tamper(&bad);
        let out = rectify(&["merge", "--into", &run_s, s(&good), s(&bad)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("rectify: error:") && !err.contains("panicked"), "{name}: {err}");
        assert!(err.contains(s(&bad)), "{name}: the shard is named: {err}");
        assert!(err.contains(words), "{name}: {words:?} in {err}");
        assert_eq!(snapshot(&run), before, "{name}: the run changed");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the victim's data", "{name}");
        assert!(!t.join("evil").exists() && !t.join("outside.json").exists(), "{name}: wrote outside");
        // The untampered shard alone merges.
        if i == 0 {
            let scratch = t.join("scratch");
            copy_dir(&run, &scratch);
            rectify_ok(&["merge", "--into", s(&scratch), s(&good)]);
        }
    }
}

#[test]
fn stages_and_the_report_read_no_path_outside_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let run = t.join("run");
    eval_sample(&run, "6");
    let run_s = s(&run).to_string();
    rectify_ok(&["attack", "--run", &run_s, "--name", "adv", "--save-images", "--steps", "2", "--limit", "4"]);
    rectify_ok(&["explain", "--run", &run_s, "--name", "e", "--samples", "40", "--limit", "2"]);
    let secret = t.join("secret.png");
    let marker = "SECRET-MARKER-1234567890";
    // A real PNG whose text chunk holds the marker would embed it; any bytes of it must not appear.
    std::fs::write(&secret, [&b"\x89PNG\r\n\x1a\n"[..], marker.as_bytes()].concat()).unwrap();

    // explain --attack on a store whose adversarial image is an absolute path: refused, named.
    let tampered = t.join("tampered");
    copy_dir(&run, &tampered);
    sql(&tampered, &format!("UPDATE attack_results SET image = '{}'", secret.display()));
    let out = rectify(&["explain", "--run", s(&tampered), "--attack", "adv", "--name", "ea", "--samples", "40"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("attack_results.image of image") && err.contains("an absolute path"), "{err}");

    // Control: the report of the untampered run embeds its explanation pictures (so what follows
    // would see them if links were followed).
    rectify_ok(&["report", "--run", &run_s]);
    let honest = std::fs::read_to_string(run.join("report/report.html")).unwrap();
    let pictures: Vec<PathBuf> = std::fs::read_dir(run.join("explain/e"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    let embedded = pictures.iter().filter(|p| honest.contains(&base64_of(&std::fs::read(p).unwrap()[..30]))).count();
    assert!(embedded > 0, "the honest report embeds none of {pictures:?}");

    // The report of a run whose explanation pictures are links out of the run embeds nothing of it.
    let linked = t.join("linked");
    copy_dir(&run, &linked);
    let attention: Vec<PathBuf> = std::fs::read_dir(linked.join("explain/e"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    assert!(!attention.is_empty());
    for p in &attention {
        std::fs::remove_file(p).unwrap();
        std::os::unix::fs::symlink(&secret, p).unwrap();
    }
    rectify_ok(&["report", "--run", s(&linked)]);
    let html = std::fs::read_to_string(linked.join("report/report.html")).unwrap();
    let b64 = |bytes: &[u8]| {
        // The marker's bytes as they would appear base64-encoded at any of the three alignments.
        (0..3).map(|k| base64_of(&bytes[k..bytes.len() - (bytes.len() - k) % 3])).collect::<Vec<_>>()
    };
    for needle in b64(marker.as_bytes()) {
        assert!(!html.contains(&needle[..12]), "the report embeds the linked file");
    }
}

/// Standard base64 (no padding needed: callers pass multiples of 3 bytes).
fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            (0..4).map(move |k| ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char)
        })
        .collect()
}
