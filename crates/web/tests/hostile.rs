//! Issue #29: hostile participants against the real HTTP API, on SQLite and PostgreSQL. Each test
//! plays what a cheating participant, a bot or a broken client would do, and checks that the
//! study's data and payments hold:
//! * bots that read the items (keys, order, the practice answer) or always say yes are excluded
//!   by gold at the configured accuracy, for every seed; an honest participant never is;
//! * MTurk takeovers, id variants, shared assignments and code peeking are refused;
//! * concurrent completions return one code; squatters are never paid and cannot hold the study;
//! * participant-facing errors are HTML pages MTurk can frame;
//! * a half-sent request does not delay shutdown past its deadline;
//! * the rater page runs only its own script; an old admin cookie dies with its token.

mod common;

use common::server::*;
use common::{class, image, relevance_items};
use rectify_study::{Answer, Design, Item, Question};
use rectify_web::enrollment::{Enrollment, Platform};
use rectify_web::{simulate_participants, AppState, Flow, StudyDb};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A participant's browser as a bot drives it: join, consent, then `/next` and `/answer` through
/// `decide`, then `/complete`. Returns (rater page token, the JSON of every `/next` item,
/// the `/complete` status and body).
fn bot(base: &str, join: &str, mut decide: impl FnMut(&Value, usize) -> Answer) -> (String, Vec<Value>, (u16, Value)) {
    let (status, location, body, _) = get(&format!("{base}{join}"));
    assert_eq!(status, 303, "{join}: {body}");
    let token = location.unwrap().strip_prefix("/r/").unwrap().to_string();
    let api = format!("{base}/api/r/{token}");
    assert_eq!(post(&format!("{api}/consent"), &json!({})).0, 200);
    let mut seen = Vec::new();
    for place in 0..100 {
        let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
        if next["item"].is_null() {
            break;
        }
        let answer = decide(&next["item"], place);
        let (s, b) = post(&format!("{api}/answer"), &json!({"item": next["item"]["id"], "answer": answer}));
        assert_eq!(s, 200, "{b}");
        seen.push(next["item"].clone());
    }
    let done = post(&format!("{api}/complete"), &json!({}));
    (token, seen, done)
}

/// A study of `data` relevance items and `gold` gold items (alternately yes and no, each with its
/// own image), written under `dir`.
fn study_items(dir: &std::path::Path, data: usize, gold: usize) -> Vec<Item> {
    let mut items = relevance_items(dir, data);
    for g in 0..gold {
        let mut item = relevance_items(dir, 1).remove(0);
        item.question = Question::Relevance { image: image(dir, &format!("gold{g}.png")), class: class(g as i64) };
        item.key = format!("gold/relevance-top1/gold{g}.png/{g}");
        item.design = Design::RelevanceTop1;
        item.variant = Some("gold".into());
        item.gold = Some(if g % 2 == 0 { Answer::Yes } else { Answer::No });
        items.push(item);
    }
    items
}

/// §1: the key-reading bot (it looks for a key, a kind, an order or the practice answer in what
/// it receives, and says yes otherwise) and the always-yes bot are excluded by gold, for every
/// seed of the gold schedule; an honest participant is not. Nothing a participant receives names
/// an item or its kind. Mutation: the old `/next` (key in the answer, the first item gold, the
/// practice item a gold item) lets the key-reading bot keep gold accuracy 1.0.
#[test]
fn bots_reading_items_or_saying_yes_are_excluded_by_gold_for_every_seed() {
    let dir = tempfile::tempdir().unwrap();
    let items = study_items(dir.path(), 40, 8);
    let gold_answer = |k: &str| items.iter().find(|i| i.key == k).and_then(|i| i.gold.clone());
    for (b, url) in backends(dir.path()).into_iter().enumerate() {
        let seeds = if b == 0 { 0..12u64 } else { 0..4u64 };
        for seed in seeds {
            let study = unique(&format!("gold-seed{seed}"));
            let mut e = Enrollment::new(vec![Platform::Prolific], 5);
            e.completion_code = Some("G0LD".into());
            e.gold_rate = 0.4;
            e.min_gold_accuracy = Some(0.75);
            e.min_gold_answers = 2;
            e.seed = seed;
            // The practice item shows a data image (never a gold one; put_enrollment refuses that).
            e.practice = Some(rectify_web::Practice {
                question: items[0].question.clone(),
                answer: Answer::Yes,
                explanation: "yes".into(),
            });
            let (server, _) = Server::start(&url, dir.path(), &study, &items, 3, &e, 1);
            let base = server.base.clone();
            let join =
                |n: u64| format!("/prolific?PROLIFIC_PID={}&STUDY_ID={S}&SESSION_ID={}", hex24(n), hex24(n + 1000));

            // The key-reading bot.
            let (token, seen, _) = bot(&base, &join(1), |item, place| {
                let text = item.to_string();
                for word in ["gold", "attention", "key", "design", "variant", ".png", ".JPEG"] {
                    assert!(!text.contains(word), "{word} reaches the browser: {text}");
                }
                match item["key"].as_str().and_then(gold_answer) {
                    Some(a) => a,
                    // The old server's first item was gold, and the practice item's answer (yes).
                    None if place == 0 => Answer::Yes,
                    None => Answer::Yes,
                }
            });
            let session: Value = serde_json::from_str(&get(&format!("{base}/api/r/{token}/session")).2).unwrap();
            let practice_image = session["practice"]["question"]["image"].as_str().unwrap_or("").to_string();
            assert!(!practice_image.is_empty());
            assert!(seen.iter().all(|i| i["question"]["image"] != practice_image.as_str()));
            // The always-yes bot.
            bot(&base, &join(2), |_, _| Answer::Yes);
            // An honest participant, who knows the gold answers and says yes to data items.
            let knows = |item: &Item| item.gold.clone().unwrap_or(Answer::Yes);
            let honest = simulate_participants(
                std::slice::from_ref(&base),
                &Flow::Prolific,
                &format!("honest{seed}"),
                1,
                &items,
                dir.path(),
                knows,
                0.0,
                seed,
            )
            .unwrap();
            assert_eq!(honest.codes[0].as_deref(), Some("G0LD"));

            let people = server.rt.block_on(server.db.participants(&study)).unwrap();
            let by_id = |id: &str| people.iter().find(|p| p.external_id == id).unwrap();
            for id in [hex24(1), hex24(2)] {
                let p = by_id(&id);
                let reason = p.excluded_reason.as_deref().unwrap_or("");
                assert!(
                    reason.starts_with("gold accuracy 0.50 < 0.75"),
                    "seed {seed} {url}: bot {id} not excluded: {p:?}"
                );
            }
            assert!(by_id(&honest.ids[0]).excluded_at.is_none(), "seed {seed}: the honest participant was excluded");
            // The bots' answers are stored and do not count.
            let counted = server.rt.block_on(server.db.counted_votes(&study)).unwrap();
            let bots: Vec<&str> = [hex24(1), hex24(2)].iter().map(|i| by_id(i).rater.as_str()).collect::<Vec<_>>();
            assert!(counted.iter().all(|v| !bots.contains(&v.rater.as_str())), "seed {seed}");
        }
    }
}

/// §1: the gold schedule is the participant's own: different participants get their gold items
/// at different places and in different orders, and a constant answer is right at most half the
/// time on any prefix.
#[test]
fn gold_schedules_differ_between_participants_and_alternate_answers() {
    let gold: Vec<(String, String)> =
        (0..8).map(|g| (format!("gold/{g}"), if g % 2 == 0 { "\"yes\"" } else { "\"no\"" }.to_string())).collect();
    let mut places = std::collections::HashSet::new();
    let mut orders = std::collections::HashSet::new();
    for r in 0..50 {
        let s = rectify_web::quality::gold_schedule(7, &format!("prolific-{r:012x}"), 10, 0.2, &gold);
        assert_eq!(s.per_batch, 2);
        let at: Vec<usize> = (0..24).filter(|&p| s.is_gold(p)).collect();
        assert_eq!(at.len(), 4, "two gold places in each batch of 12: {at:?}");
        places.insert(at);
        for n in 1..=s.order.len() {
            let yes = s.order[..n].iter().filter(|k| k.trim_start_matches("gold/").parse::<u32>().unwrap() % 2 == 0);
            assert!(yes.count().abs_diff(n / 2) <= 1, "{:?}", s.order);
        }
        orders.insert(s.order);
    }
    assert!(places.len() > 25 && orders.len() > 25, "{} place sets, {} orders", places.len(), orders.len());
}

/// §2: on MTurk, a victim's worker id with another assignment cannot take over their batch; id
/// variants are the same worker (or refused); an assignment belongs to one worker; the code is
/// shown only to the visit that finished. Mutation: without the bindings, the attacker's
/// assignment resumes the victim's batch (303) and the victim's page gets 404.
#[test]
fn mturk_takeovers_id_variants_shared_assignments_and_code_peeking_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 12);
    let (origin, _forms) = rectify_web::mturk_submit_server().unwrap();
    for url in backends(dir.path()) {
        let study = unique("identity");
        let mut e = Enrollment::new(vec![Platform::Mturk, Platform::Prolific, Platform::Pid], 2);
        e.completion_code = Some("PAID".into());
        e.mturk_origins.push(origin.clone());
        let (server, _) = Server::start(&url, dir.path(), &study, &items, 5, &e, 1);
        let base = server.base.clone();
        let enc = rectify_web::enrollment::percent_encode;
        let mturk = |worker: &str, assignment: &str| {
            format!("{base}/mturk?assignmentId={assignment}&hitId=HIT1&workerId={worker}&turkSubmitTo={}", enc(&origin))
        };
        let (status, location, _, _) = get(&mturk("AVICTIM1", "ASGVICTIM"));
        assert_eq!(status, 303);
        let victim = location.unwrap();
        let api = format!("{base}/api{victim}");
        post(&format!("{api}/consent"), &json!({}));
        let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
        assert_eq!(
            post(&format!("{api}/answer"), &json!({"item": next["item"]["id"], "answer": {"kind": "yes"}})).0,
            200
        );

        // Takeover with another assignment, and with case variants of the worker id.
        for worker in ["AVICTIM1", "avictim1", "aVictim1"] {
            let (status, location, body, _) = get(&mturk(worker, "ASGATTACK"));
            assert_eq!((status, location), (403, None), "{worker}: {body}");
            assert!(body.contains("another session"), "{body}");
        }
        for worker in ["AVICTIM1.", "AVICTIM1@x", "AVICTIM1%20", "VICTIM1", "AVICTIM1-"] {
            assert_eq!(get(&mturk(worker, "ASGATTACK2")).0, 400, "{worker} is not a worker id");
        }
        assert_eq!(get(&format!("{api}/session")).0, 200, "the victim's page still works");
        // The victim's assignment with another worker.
        let (status, _, body, _) = get(&mturk("AOTHER2", "ASGVICTIM"));
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("another participant"), "{body}");
        // The victim finishes; the payments export names their assignment only.
        let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
        post(&format!("{api}/answer"), &json!({"item": next["item"]["id"], "answer": {"kind": "no"}}));
        let (status, done) = post(&format!("{api}/complete"), &json!({}));
        assert_eq!((status, done["code"].as_str()), (200, Some("PAID")), "{done}");
        let people = server.rt.block_on(server.db.participants(&study)).unwrap();
        assert_eq!(people.len(), 1, "one worker: {people:?}");
        assert_eq!(people[0].assignment_id.as_deref(), Some("ASGVICTIM"));
        let (_, _, body, _) = get(&mturk("AVICTIM1", "ASGLATER"));
        assert!(body.contains("already completed") && !body.contains("PAID"), "{body}");

        // Prolific: the PID's other case is the same participant; only the finishing session sees the code.
        let pid = "5f00000000000000000000aa";
        let prolific =
            |id: &str, session: &str| format!("{base}/prolific?PROLIFIC_PID={id}&STUDY_ID={S}&SESSION_ID={session}");
        let (_, location, _, _) = get(&prolific(pid, &hex24(0x51)));
        let api = format!("{base}/api{}", location.unwrap());
        post(&format!("{api}/consent"), &json!({}));
        let (status, _, body, _) = get(&prolific(&pid.to_uppercase(), &hex24(0x52)));
        assert_eq!(status, 403, "an upper-case PID is the same participant, in another session: {body}");
        assert_eq!(get(&prolific("5f00000000000000000000aa.", &hex24(0x53))).0, 400);
        for _ in 0..2 {
            let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
            post(&format!("{api}/answer"), &json!({"item": next["item"]["id"], "answer": {"kind": "no"}}));
        }
        assert_eq!(post(&format!("{api}/complete"), &json!({})).1["code"], "PAID");
        let (_, _, body, _) = get(&prolific(pid, &hex24(0x51)));
        assert!(body.contains("PAID"), "the finishing session sees its code again: {body}");
        let (_, _, body, _) = get(&prolific(pid, &hex24(0x54)));
        assert!(!body.contains("PAID"), "another session does not: {body}");

        // A panel: `/join?pid=` of someone else from another browser shows no code and cannot resume.
        let (status, _, _, headers) = get(&format!("{base}/join?pid=Lab-7"));
        assert_eq!(status, 303);
        let cookie = header(&headers, "set-cookie").unwrap().split(';').next().unwrap().to_string();
        assert!(header(&headers, "set-cookie").unwrap().contains("HttpOnly"));
        let (status, _, body, _) = get(&format!("{base}/join?pid=lab-7"));
        assert_eq!(status, 403, "another browser, same (case-folded) pid: {body}");
        let resumed = agent().get(&format!("{base}/join?pid=lab-7")).header("Cookie", &cookie).call().unwrap();
        assert_eq!(resumed.status().as_u16(), 303, "the browser that started resumes");
        let api = format!("{base}/api{}", resumed.headers()["location"].to_str().unwrap());
        post(&format!("{api}/consent"), &json!({}));
        for _ in 0..2 {
            let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
            post(&format!("{api}/answer"), &json!({"item": next["item"]["id"], "answer": {"kind": "no"}}));
        }
        assert_eq!(post(&format!("{api}/complete"), &json!({})).1["code"], "PAID");
        let (_, _, peek, _) = get(&format!("{base}/join?pid=lab-7"));
        assert!(peek.contains("already completed") && !peek.contains("PAID"), "{peek}");
        let mut own = agent().get(&format!("{base}/join?pid=lab-7")).header("Cookie", &cookie).call().unwrap();
        assert!(own.body_mut().read_to_string().unwrap().contains("PAID"));
    }
}

/// §3: 8 and 2 simultaneous `/complete` calls all return the one stored code (per-participant
/// random codes, the case where each call used to draw its own). Mutation: reading the
/// participant before the lock (as before) gives several codes.
#[test]
fn simultaneous_completions_return_one_code() {
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 30);
    for url in backends(dir.path()) {
        let study = unique("race");
        let e = Enrollment::new(vec![Platform::Pid], 1);
        let (server, _) = Server::start(&url, dir.path(), &study, &items, 5, &e, 1);
        let base = server.base.clone();
        for (round, racers) in [8usize, 2, 8, 2, 8].into_iter().enumerate() {
            let (status, location, _, _) = get(&format!("{base}/join?pid=racer{round}"));
            assert_eq!(status, 303);
            let api = format!("{base}/api{}", location.unwrap());
            post(&format!("{api}/consent"), &json!({}));
            let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
            post(&format!("{api}/answer"), &json!({"item": next["item"]["id"], "answer": {"kind": "yes"}}));
            let barrier = std::sync::Barrier::new(racers);
            let codes: Vec<(u16, Value)> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..racers)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            post(&format!("{api}/complete"), &json!({}))
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let distinct: std::collections::HashSet<String> =
                codes.iter().map(|(s, b)| format!("{s} {}", b["code"])).collect();
            assert_eq!(distinct.len(), 1, "{racers} racers: {codes:?}");
            let stored = server.rt.block_on(server.db.participants(&study)).unwrap();
            let p = stored.iter().find(|p| p.external_id == format!("racer{round}")).unwrap();
            assert_eq!(Some(codes[0].1["code"].as_str().unwrap()), p.completion_code.as_deref());
        }
    }
}

/// §4: squatters (joins that never answer) hold at most their batch, only until their leases
/// expire (asking again does not renew them), and get no completion code; a full study says so
/// before consent and creates nobody. Mutation: the old `complete` gives each squatter a code.
#[test]
fn squatters_get_no_code_and_cannot_hold_the_study() {
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 2);
    for url in backends(dir.path()) {
        let study = unique("squat");
        let e = Enrollment::new(vec![Platform::Pid], 1);
        let lease = Duration::from_millis(1500);
        let (server, _) = Server::start_with(&url, dir.path(), &study, &items, 1, &e, 1, lease);
        let base = server.base.clone();
        let mut squatters = Vec::new();
        for s in 0..2 {
            let (status, location, _, _) = get(&format!("{base}/join?pid=squat{s}"));
            assert_eq!(status, 303);
            let api = format!("{base}/api{}", location.unwrap());
            post(&format!("{api}/consent"), &json!({}));
            let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
            assert!(next["item"].is_object(), "{next}");
            let (status, body) = post(&format!("{api}/complete"), &json!({}));
            assert_eq!(status, 409, "a squatter holding a lease: {body}");
            squatters.push(api);
        }
        // Every slot is leased: the next participant learns it before consenting, nothing is stored.
        let (status, _, body, _) = get(&format!("{base}/join?pid=late"));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("This study is full") && body.contains("Nothing was recorded"), "{body}");
        let people = server.rt.block_on(server.db.participants(&study)).unwrap();
        assert_eq!(people.len(), 2, "nobody created for a full study");
        // The leases expire; asking again does not renew them (and a batch of 1 is spent), and
        // completing with no answer gives no code.
        std::thread::sleep(lease + Duration::from_millis(300));
        for api in &squatters {
            let next: Value = serde_json::from_str(&get(&format!("{api}/next")).2).unwrap();
            assert!(next["item"].is_null(), "{next}");
            let (status, body) = post(&format!("{api}/complete"), &json!({}));
            assert_eq!(status, 409, "{body}");
            assert!(body["error"].as_str().unwrap().contains("return the task"), "{body}");
        }
        let people = server.rt.block_on(server.db.participants(&study)).unwrap();
        assert!(people.iter().all(|p| p.completion_code.is_none() && p.completed_at.is_none()), "{people:?}");
        let csv = rectify_pipeline_free_payments(&people);
        assert!(!csv.contains("approve"), "{csv}");
        // Real participants get the items.
        let report = simulate_participants(
            std::slice::from_ref(&base),
            &Flow::Pid,
            "real",
            2,
            &items,
            dir.path(),
            |_| Answer::Yes,
            0.0,
            1,
        )
        .unwrap();
        assert_eq!(report.answers.per_rater, vec![1, 1]);
        assert!(report.codes.iter().all(|c| c.is_some()));
    }
}

/// What a payments export could suggest for `people`: only those with a completion are paid.
fn rectify_pipeline_free_payments(people: &[rectify_web::Participant]) -> String {
    people.iter().filter(|p| p.completed_at.is_some()).map(|p| format!("{},approve\n", p.external_id)).collect()
}

/// §5: every participant-facing error is an HTML page (never raw JSON) that MTurk's origins may
/// frame; API errors stay JSON; other pages are framed by nobody.
#[test]
fn participant_errors_are_html_pages_mturk_can_frame() {
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 3);
    let url = backends(dir.path()).remove(0);
    let study = unique("errors");
    let mut e = Enrollment::new(vec![Platform::Mturk, Platform::Pid], 1);
    e.exclude_studies = vec![];
    let (server, _) = Server::start(&url, dir.path(), &study, &items, 1, &e, 1);
    let base = server.base.clone();
    let framable = |path: &str, want: u16| {
        let (status, _, body, headers) = get(&format!("{base}{path}"));
        assert_eq!(status, want, "{path}: {body}");
        let ctype = header(&headers, "content-type").unwrap_or("");
        assert!(ctype.starts_with("text/html"), "{path}: {ctype} {body}");
        assert!(body.starts_with("<!doctype html>") && body.contains("<h1>"), "{path}: {body}");
        let csp = header(&headers, "content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors https://www.mturk.com https://worker.mturk.com"), "{path}: {csp}");
        assert!(header(&headers, "x-frame-options").is_none(), "{path}");
    };
    framable("/r/0123456789abcdef", 404);
    framable("/mturk?assignmentId=A1&workerId=AW1.&turkSubmitTo=https%3A%2F%2Fwww.mturk.com", 400);
    framable("/mturk?assignmentId=A1&workerId=AW1", 400);
    let (status, _, body, headers) = get(&format!("{base}/api/r/0123456789abcdef/next"));
    assert_eq!(status, 404);
    assert!(header(&headers, "content-type").unwrap().starts_with("application/json"), "{body}");
    for path in ["/join?pid=bad%20id", "/nowhere", "/admin"] {
        let (status, _, body, headers) = get(&format!("{base}{path}"));
        assert!((400..500).contains(&status), "{path}");
        assert!(header(&headers, "content-type").unwrap().starts_with("text/html"), "{path}: {body}");
        assert!(!body.starts_with('{'), "{path}: {body}");
        assert_eq!(header(&headers, "x-frame-options"), Some("DENY"), "{path}");
    }
}

/// §6: a client that sends half a request (headers without their end, or half a body) and waits
/// does not hold the server: shutdown completes within its deadline. Mutation: `axum::serve`'s
/// graceful shutdown (as before) waits for that connection forever.
#[test]
fn a_half_sent_request_does_not_delay_shutdown_past_its_deadline() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (addr, stop, done) = rt.block_on(async {
        let db =
            StudyDb::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display())).await.unwrap();
        db.put_study("s", 1, &items).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(rectify_web::serve::serve_with(
            AppState::new(db, dir.path(), "s"),
            listener,
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(2),
        ));
        (addr, stop, done)
    });
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /api/r/x/next HTTP/1.1\r\nHost: a\r\n").unwrap();
    let mut body = std::net::TcpStream::connect(addr).unwrap();
    body.write_all(b"POST /api/r/x/answer HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"it")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let _ = stop.send(());
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), done).await })
        .expect("shutdown waited on the half-sent requests")
        .unwrap()
        .unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_millis(3500), "shutdown took {took:?} (deadline 2 s)");
    drop((half, body));
}

/// §7 and §9: the rater page runs only its own script (by hash, no `unsafe-inline`), so a
/// `javascript:` link that slipped into the instructions could not run; an admin session ends when
/// the admin token is replaced (every `study serve` replaces it), and its cookie is `Secure` when
/// the public URL is https. Mutation: the old policy (`script-src 'unsafe-inline'`), and sessions
/// not bound to the token (the old cookie still gets 200).
#[tokio::test]
async fn scripts_run_by_hash_and_old_admin_cookies_die_with_their_token() {
    let f = common::Fixture::new(1, |d| relevance_items(d, 1)).await;
    let token = f.invites(1).await.remove(0);
    let (status, headers, body) = f.request("GET", &format!("/r/{token}"), None, &[]).await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("unsafe-inline'; connect") && !csp.contains("script-src 'unsafe-inline'"), "{csp}");
    let body = String::from_utf8(body).unwrap();
    let script = body.split("<script>").nth(1).unwrap().split("</script>").next().unwrap();
    use sha2::Digest;
    let digest = sha2::Sha256::digest(script.as_bytes());
    let b64 = std::process::Command::new("base64")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(c.stdin.as_mut().unwrap(), &digest)?;
            c.wait_with_output()
        })
        .unwrap();
    let b64 = String::from_utf8(b64.stdout).unwrap().trim().to_string();
    assert!(csp.contains(&format!("script-src 'sha256-{b64}'")), "{csp} vs {b64}");

    let code = f.db().create_admin_login(common::STUDY).await.unwrap();
    let (status, headers, _) = f.request("GET", &format!("/admin/login/{code}"), None, &[]).await;
    assert_eq!(status, 303);
    let cookie = headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let progress = |c: String| {
        let f = &f;
        async move { f.request("GET", "/api/admin/progress", None, &[("cookie", &c)]).await.0 }
    };
    assert_eq!(progress(cookie.clone()).await, 200);
    f.db().rotate_admin_token(common::STUDY).await.unwrap();
    assert_eq!(progress(cookie).await, 401, "a session of the old token");

    let https = f.state.clone().with_public_url("https://study.example.org");
    let code = f.db().create_admin_login(common::STUDY).await.unwrap();
    let req =
        axum::http::Request::builder().uri(format!("/admin/login/{code}")).body(axum::body::Body::empty()).unwrap();
    let res = tower::ServiceExt::oneshot(rectify_web::app(https), req).await.unwrap();
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
}
