//! Importers of real human votes on "is label L in image I?" into [`PairVote`]s:
//!
//! * ReaL's raw rater votes (Beyer et al. 2020, `real_raters.npz`): `tensor` float64
//!   `[raters, pairs, 3]`, one-hot (no, maybe, yes), all zero where the rater did not see the
//!   pair; `info` `[pairs, 2]` unicode (file, label); `ids` `[raters]`. The 377 MB tensor is
//!   streamed out of the zip, never held.
//! * cleanlab's label-error MTurk study (Northcutt et al. 2021): 5 workers per image chose the
//!   given label, the model's guess, both, or neither. A vote for "given" or "both" is a yes for
//!   the given label, and so on; the workers are anonymous, so each image gets raters
//!   `cleanlab/<id>/0..4`.
//! * CSV (`file,label,rater,answer[,seconds]`) and JSONL ([`crate::Vote`] per line) for
//!   round trips with other tools.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use rectify_data::npy::read_header;
use serde::Deserialize;

use crate::model::Answer;
use crate::StudyError;

/// One rater's answer about one (image, label) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairVote {
    /// The image's file name (`ILSVRC2012_val_00000001.JPEG`).
    pub file: String,
    /// The label asked about.
    pub label: i64,
    /// The rater.
    pub rater: String,
    /// yes / maybe / no.
    pub answer: Answer,
    /// Time on task, when known.
    pub seconds: Option<f64>,
}

fn err(path: &Path, message: impl std::fmt::Display) -> StudyError {
    StudyError::Import { path: path.to_path_buf(), message: message.to_string() }
}

/// One member of an `.npz`: its header, a reader at its first data byte, and how many data bytes it holds (its
/// declared size less the header, itself checked against the archive's real length).
type Member<'a, R> = (rectify_data::npy::NpyHeader, BufReader<zip::read::ZipFile<'a, R>>, u64);

/// Opens one member of an `.npz` and reads its header. The member's declared sizes are checked against the
/// archive's length first: nothing is allocated from a size the file cannot back.
fn member<'a, R: Read + Seek>(
    zip: &'a mut zip::ZipArchive<R>,
    name: &str,
    path: &Path,
    archive_len: u64,
) -> Result<Member<'a, R>, StudyError> {
    let file = zip.by_name(name).map_err(|e| err(path, format!("{name}: {e}")))?;
    let (size, compressed) = (file.size(), file.compressed_size());
    // Deflate expands at most ~1032:1; a stored member is as long as its data.
    let most = match file.compression() {
        zip::CompressionMethod::Stored => compressed,
        _ => compressed.saturating_mul(1032).saturating_add(1024),
    };
    if compressed > archive_len || size > most {
        return Err(err(
            path,
            format!("{name}: declares {size} bytes ({compressed} compressed) in a file of {archive_len} bytes"),
        ));
    }
    let mut r = BufReader::with_capacity(1 << 20, file);
    let header = read_header(&mut r).map_err(|e| err(path, format!("{name}: {e}")))?;
    if header.fortran_order {
        return Err(err(path, format!("{name}: Fortran order is not supported")));
    }
    let data = size.saturating_sub(header.header_len as u64);
    Ok((header, r, data))
}

/// The number of elements `h` declares, checked to fit (at `elem` bytes each) in the `size` data bytes of its
/// member.
fn declared(
    h: &rectify_data::npy::NpyHeader,
    elem: usize,
    size: u64,
    name: &str,
    path: &Path,
) -> Result<usize, StudyError> {
    let count = h.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    match count.filter(|&n| n.checked_mul(elem).is_some_and(|b| b as u64 <= size)) {
        Some(n) => Ok(n),
        None => Err(err(
            path,
            format!("{name}: shape {:?} of {elem}-byte elements does not fit in its {size} bytes", h.shape),
        )),
    }
}

/// Reads ReaL's `real_raters.npz`: every vote of every rater (pairs a rater did not see are
/// skipped).
pub fn real_raters(path: &Path) -> Result<Vec<PairVote>, StudyError> {
    let file = rectify_data::files::open_regular(path).map_err(|e| err(path, e))?;
    real_raters_from(file, path)
}

/// [`real_raters`] from any seekable source (bytes in memory: `std::io::Cursor`); `name` names it in
/// errors.
pub fn real_raters_from(mut source: impl Read + Seek, name: &Path) -> Result<Vec<PairVote>, StudyError> {
    let path = name;
    let archive_len = source.seek(SeekFrom::End(0)).map_err(|e| err(path, e))?;
    source.seek(SeekFrom::Start(0)).map_err(|e| err(path, e))?;
    let mut zip = zip::ZipArchive::new(source).map_err(|e| err(path, e))?;

    let (h, mut r, size) = member(&mut zip, "ids.npy", path, archive_len)?;
    if h.descr != "<i8" || h.shape.len() != 1 {
        return Err(err(path, format!("ids.npy: expected int64 [raters], found {} {:?}", h.descr, h.shape)));
    }
    let mut ids = Vec::with_capacity(declared(&h, 8, size, "ids.npy", path)?);
    let mut b = [0u8; 8];
    for _ in 0..h.shape[0] {
        r.read_exact(&mut b).map_err(|e| err(path, format!("ids.npy: {e}")))?;
        ids.push(i64::from_le_bytes(b));
    }
    drop(r);

    let (info, pairs) = {
        let (h, mut r, size) = member(&mut zip, "info.npy", path, archive_len)?;
        let width: usize = h
            .descr
            .strip_prefix("<U")
            .and_then(|w| w.parse().ok())
            .filter(|&w: &usize| h.shape.len() == 2 && h.shape[1] == 2 && (1..=4096).contains(&w))
            .ok_or_else(|| {
                err(path, format!("info.npy: expected unicode [pairs, 2], found {} {:?}", h.descr, h.shape))
            })?;
        declared(&h, width * 4, size, "info.npy", path)?;
        let pairs = h.shape[0];
        let mut info = Vec::with_capacity(pairs);
        let mut cell = vec![0u8; width * 4];
        let mut text = || -> Result<String, StudyError> {
            r.read_exact(&mut cell).map_err(|e| err(path, format!("info.npy: {e}")))?;
            let s: String = cell
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .take_while(|&c| c != 0)
                .map(|c| char::from_u32(c).unwrap_or('\u{fffd}'))
                .collect();
            Ok(s)
        };
        for i in 0..pairs {
            let file = text()?;
            let label = text()?;
            let label: i64 =
                label.trim().parse().map_err(|_| err(path, format!("info.npy row {i}: label {label:?}")))?;
            info.push((file, label));
        }
        (info, pairs)
    };
    let (h, mut r, size) = member(&mut zip, "tensor.npy", path, archive_len)?;
    if h.descr != "<f8" || h.shape != [ids.len(), pairs, 3] {
        return Err(err(
            path,
            format!("tensor.npy: expected float64 [{}, {pairs}, 3], found {} {:?}", ids.len(), h.descr, h.shape),
        ));
    }
    declared(&h, 8, size, "tensor.npy", path)?;
    let mut votes = Vec::new();
    let mut row = [0u8; 24];
    for id in &ids {
        let rater = format!("real/{id}");
        for (i, (file, label)) in info.iter().enumerate() {
            r.read_exact(&mut row).map_err(|e| err(path, format!("tensor.npy: {e}")))?;
            let v = |k: usize| f64::from_le_bytes(row[k * 8..k * 8 + 8].try_into().expect("8 bytes"));
            let (no, maybe, yes) = (v(0), v(1), v(2));
            let answer = match (no > 0.5, maybe > 0.5, yes > 0.5) {
                (false, false, false) => continue,
                (true, false, false) => Answer::No,
                (false, true, false) => Answer::Maybe,
                (false, false, true) => Answer::Yes,
                _ => {
                    return Err(err(
                        path,
                        format!("tensor.npy: rater {id}, pair {i}: not one-hot ({no}, {maybe}, {yes})"),
                    ))
                }
            };
            votes.push(PairVote { file: file.clone(), label: *label, rater: rater.clone(), answer, seconds: None });
        }
    }
    Ok(votes)
}

#[derive(Deserialize)]
struct CleanlabRow {
    id: u64,
    given_original_label: i64,
    our_guessed_label: i64,
    mturk: CleanlabVotes,
}

#[derive(Deserialize)]
struct CleanlabVotes {
    given: u32,
    guessed: u32,
    neither: u32,
    both: u32,
}

/// The most votes one image may carry in cleanlab's file (its study asked 5 workers per image): a bound on what a
/// few bytes of JSON can make the importer allocate.
const MAX_WORKERS_PER_IMAGE: u64 = 1000;

/// Reads cleanlab's `cleanlab_imagenet_mturk.json`: per image, votes on the given label and on
/// the model-guessed label.
pub fn cleanlab_mturk(path: &Path) -> Result<Vec<PairVote>, StudyError> {
    let text = rectify_data::files::read_text(path, rectify_data::files::MAX_TABLE_FILE, "cleanlab's votes")
        .map_err(|e| err(path, e))?;
    let rows: Vec<CleanlabRow> = serde_json::from_str(&text).map_err(|e| err(path, e))?;
    let mut votes = Vec::new();
    for row in rows {
        let file = format!("ILSVRC2012_val_{:08}.JPEG", row.id);
        let m = &row.mturk;
        let workers = [m.given, m.guessed, m.both, m.neither].iter().map(|&c| u64::from(c)).sum::<u64>();
        if workers > MAX_WORKERS_PER_IMAGE {
            return Err(err(
                path,
                format!(
                    "image {}: {workers} workers' votes (cleanlab's study asked 5; at most {MAX_WORKERS_PER_IMAGE})",
                    row.id
                ),
            ));
        }
        // Worker k's choice, in a fixed order: given, guessed, both, neither.
        let choices = std::iter::repeat_n(0u8, m.given as usize)
            .chain(std::iter::repeat_n(1, m.guessed as usize))
            .chain(std::iter::repeat_n(2, m.both as usize))
            .chain(std::iter::repeat_n(3, m.neither as usize));
        for (k, c) in choices.enumerate() {
            let rater = format!("cleanlab/{}/{k}", row.id);
            let yes_given = c == 0 || c == 2;
            let yes_guessed = c == 1 || c == 2;
            let mut push = |label, yes: bool| {
                votes.push(PairVote {
                    file: file.clone(),
                    label,
                    rater: rater.clone(),
                    answer: if yes { Answer::Yes } else { Answer::No },
                    seconds: None,
                })
            };
            push(row.given_original_label, yes_given);
            if row.our_guessed_label != row.given_original_label {
                push(row.our_guessed_label, yes_guessed);
            }
        }
    }
    Ok(votes)
}

/// Parses `yes` / `no` / `maybe` (also `1` / `0` / `true` / `false`).
pub fn parse_yes_no(s: &str) -> Option<Answer> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "1" | "true" => Some(Answer::Yes),
        "no" | "n" | "0" | "false" => Some(Answer::No),
        "maybe" | "m" => Some(Answer::Maybe),
        _ => None,
    }
}

/// Reads `file,label,rater,answer[,seconds]` rows (a header line is skipped).
pub fn pair_csv(path: &Path) -> Result<Vec<PairVote>, StudyError> {
    let f = rectify_data::files::open_regular(path).map_err(|e| err(path, e))?;
    let mut votes = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| err(path, e))?;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if line.trim().is_empty() || (i == 0 && fields.first() == Some(&"file")) {
            continue;
        }
        if fields.len() < 4 {
            return Err(err(path, format!("line {}: expected file,label,rater,answer[,seconds]", i + 1)));
        }
        let label = fields[1].parse().map_err(|_| err(path, format!("line {}: label {:?}", i + 1, fields[1])))?;
        let answer =
            parse_yes_no(fields[3]).ok_or_else(|| err(path, format!("line {}: answer {:?}", i + 1, fields[3])))?;
        let seconds = match fields.get(4).filter(|s| !s.is_empty()) {
            Some(s) => Some(s.parse().map_err(|_| err(path, format!("line {}: seconds {s:?}", i + 1)))?),
            None => None,
        };
        votes.push(PairVote { file: fields[0].to_string(), label, rater: fields[2].to_string(), answer, seconds });
    }
    Ok(votes)
}

/// Reads one [`crate::Vote`] per line.
pub fn votes_jsonl(path: &Path) -> Result<Vec<crate::Vote>, StudyError> {
    let f = rectify_data::files::open_regular(path).map_err(|e| err(path, e))?;
    let mut votes = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| err(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        votes.push(serde_json::from_str(&line).map_err(|e| err(path, format!("line {}: {e}", i + 1)))?);
    }
    Ok(votes)
}

/// Votes grouped by (file name, label), in input order.
pub fn by_pair(votes: &[PairVote]) -> HashMap<(&str, i64), Vec<&PairVote>> {
    let mut map: HashMap<(&str, i64), Vec<&PairVote>> = HashMap::new();
    for v in votes {
        map.entry((v.file.as_str(), v.label)).or_default().push(v);
    }
    map
}
