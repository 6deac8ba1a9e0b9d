//! Issue #12: vote files that declare more than they hold are refused with a message, before
//! anything is allocated from the declared sizes — never an abort or a panic. Before the fix, an
//! `.npz` whose `ids.npy` declared 10^12 raters, or whose header declared 4 GiB, aborted the
//! importer ("memory allocation of … failed" / "capacity overflow").

use rectify_study::import::{cleanlab_mturk, real_raters, real_raters_from};
use rectify_testkit::craft::npy;

fn npz(dir: &std::path::Path, members: &[(&str, Vec<u8>)]) -> std::path::PathBuf {
    let path = dir.join("votes.npz");
    rectify_testkit::craft::npz(&path, members);
    path
}

fn ids(n: &str) -> Vec<u8> {
    npy(&format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({n},), }}"), &7i64.to_le_bytes(), None)
}

#[test]
fn npz_members_declaring_more_than_they_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cell = |c: char| [u32::from(c), 0, 0, 0].iter().flat_map(|u| u.to_le_bytes()).collect::<Vec<u8>>();
    let info_ok =
        npy("{'descr': '<U4', 'fortran_order': False, 'shape': (1, 2), }", &[cell('a'), cell('1')].concat(), None);
    type Members = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, Members, &str)> = vec![
        ("10^12 raters", vec![("ids.npy", ids("1000000000000"))], "does not fit"),
        ("2^63 raters", vec![("ids.npy", ids("9223372036854775807"))], "does not fit"),
        ("overflowing shape", vec![("ids.npy", ids("4294967296, 4294967296, 4294967296"))], "ids.npy"),
        ("a 4 GiB header", vec![("ids.npy", npy("{", b"", Some(u32::MAX)))], "more than the 10000"),
        (
            "10^12 pairs",
            vec![
                ("ids.npy", ids("1")),
                (
                    "info.npy",
                    npy("{'descr': '<U28', 'fortran_order': False, 'shape': (1000000000000, 2), }", b"", None),
                ),
            ],
            "does not fit",
        ),
        (
            "a 2^40-character string",
            vec![
                ("ids.npy", ids("1")),
                ("info.npy", npy("{'descr': '<U1099511627776', 'fortran_order': False, 'shape': (1, 2), }", b"", None)),
            ],
            "expected unicode",
        ),
        (
            "a tensor larger than its data",
            vec![
                ("ids.npy", ids("1")),
                ("info.npy", info_ok.clone()),
                ("tensor.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 3), }", b"", None)),
            ],
            "does not fit",
        ),
        ("not an npy", vec![("ids.npy", b"PK\x03\x04 not numpy".to_vec())], "magic"),
    ];
    for (what, members, want) in cases {
        let path = npz(dir.path(), &members);
        let start = std::time::Instant::now();
        let err = real_raters(&path).expect_err(what).to_string();
        assert!(err.contains(want), "{what}: {err}");
        // The same bytes in memory (what the fuzz target feeds) are refused with the same message.
        let bytes = std::io::Cursor::new(std::fs::read(&path).unwrap());
        assert_eq!(real_raters_from(bytes, &path).expect_err(what).to_string(), err, "{what}");
        assert!(start.elapsed().as_secs_f64() < 1.0, "{what}: {:?}", start.elapsed());
    }
}

#[test]
fn cleanlab_rows_with_absurd_vote_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cleanlab.json");
    let row = |given: u64| {
        format!(
            "[{{\"id\": 1, \"given_original_label\": 3, \"our_guessed_label\": 4, \
             \"mturk\": {{\"given\": {given}, \"guessed\": 0, \"neither\": 0, \"both\": 0}}}}]"
        )
    };
    std::fs::write(&path, row(4_000_000_000)).unwrap();
    let err = cleanlab_mturk(&path).unwrap_err().to_string();
    assert!(err.contains("4000000000 workers' votes"), "{err}");
    std::fs::write(&path, row(5)).unwrap();
    assert_eq!(cleanlab_mturk(&path).unwrap().len(), 10, "5 workers, two labels each");
}
