//! Any bytes as a vote file: cleanlab's MTurk JSON, `file,label,rater,answer[,seconds]` CSV, and
//! JSONL votes (the first byte picks the format).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rectify_study::import;

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let path = rectify_fuzz::scratch("votes", rest);
    match kind % 3 {
        0 => drop(import::cleanlab_mturk(&path)),
        1 => drop(import::pair_csv(&path)),
        _ => drop(import::votes_jsonl(&path)),
    }
});
