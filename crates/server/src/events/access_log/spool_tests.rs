//! Tests of the access-log spool (`spool.rs`): segments closing by count, age and restart, a
//! started line replaced by its finished one, headers cut or damaged.

use super::*;

fn logging(prefix: &str) -> std::sync::Arc<LoggingEnabled> {
    std::sync::Arc::new(LoggingEnabled {
        target_bucket: "logs".into(),
        target_prefix: prefix.into(),
        target_object_key_format: None,
    })
}

fn records(r: &Ready) -> Contents {
    match r.read().unwrap() {
        Segment::Records(c) => c,
        other => panic!("a segment with records, not {other:?}"),
    }
}

#[test]
fn a_segment_without_a_whole_header_is_empty_and_a_bad_header_is_damaged() {
    let dir = std::env::temp_dir().join(format!("spool-header-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{:016x}~b~1.open", 1)), b"").unwrap();
    std::fs::write(dir.join(format!("{:016x}~b~1.open", 2)), b"{\"TargetBu").unwrap();
    std::fs::write(dir.join(format!("{:016x}~b~1~2.ready", 3)), b"[]\nline\n").unwrap();
    let spool = Spool::open(&dir, 2, 5).unwrap();
    let ready = spool.ready().unwrap();
    assert_eq!(ready.len(), 3);
    assert!(matches!(ready[0].read().unwrap(), Segment::Empty));
    assert!(matches!(ready[1].read().unwrap(), Segment::Empty));
    assert!(matches!(ready[2].read().unwrap(), Segment::Damaged(_)));
    let aside = ready[2].set_aside().unwrap();
    assert!(aside.to_string_lossy().ends_with(".ready.damaged"));
    assert_eq!(spool.ready().unwrap().len(), 2, "out of the queue");
    // A restart leaves it alone too.
    drop(spool);
    assert_eq!(Spool::open(&dir, 2, 6).unwrap().ready().unwrap().len(), 2);
    assert!(aside.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn fin(line: &str) -> Line<'_> {
    Line::Finished { id: line, line }
}

#[test]
fn segments_close_by_count_by_age_and_on_restart() {
    let dir = std::env::temp_dir().join(format!("spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = Spool::open(&dir, 2, 0).unwrap();
    let l = logging("a/");
    spool.append("b", &l, fin("one"), 10, 10);
    spool.append("b", &l, fin("two"), 11, 11);
    spool.append("b", &l, fin("three"), 12, 12);
    let ready = spool.ready().unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].first_ms, ready[0].closed_ms), (10, 11));
    let c = records(&ready[0]);
    assert_eq!((c.body.as_slice(), c.records), (&b"one\ntwo\n"[..], 2));
    assert_eq!(c.logging, *l);
    // Another configuration closes the segment begun under the old one.
    spool.append("b", &logging("z/"), fin("four"), 13, 13);
    assert_eq!(spool.ready().unwrap().len(), 2);
    spool.close_older(12, 20);
    assert_eq!(spool.ready().unwrap().len(), 2, "begun at 13, not due");
    assert_eq!(spool.oldest_pending_ms(), Some(10));
    // A restart closes what was open, and a cut line is not a record.
    {
        let open = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "open"))
            .unwrap();
        let mut f = OpenOptions::new().append(true).open(open).unwrap();
        f.write_all(b"half a li").unwrap();
    }
    drop(spool);
    let spool = Spool::open(&dir, 2, 99).unwrap();
    let ready = spool.ready().unwrap();
    assert_eq!(ready.len(), 3);
    assert_eq!(ready[2].closed_ms, 99);
    let c = records(&ready[2]);
    assert_eq!((c.body.as_slice(), c.records), (&b"four\n"[..], 1));
    spool.append("b", &l, fin("five"), 100, 100);
    spool.close_older(i64::MAX, 101);
    let ready = spool.ready().unwrap();
    assert!(
        ready[3].seq > ready[2].seq,
        "sequence numbers go on after a restart"
    );
    // Even when every segment was delivered and removed, a later run never reuses a number.
    assert!(first_seq(0, 1_000) > first_seq(0, 999) + 1000);
    assert_eq!(first_seq(5_000_000, 1), 5_000_001);
    for r in ready {
        r.remove().unwrap();
    }
    assert!(spool.ready().unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_started_line_stands_until_its_finished_line_replaces_it() {
    let dir = std::env::temp_dir().join(format!("spool-started-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = Spool::open(&dir, 100, 0).unwrap();
    let l = logging("a/");
    let started = |id, line| Line::Started { id, line };
    let finished = |id, line| Line::Finished { id, line };
    spool.append("b", &l, started("r1", "get r1 -"), 1, 1);
    spool.append("b", &l, fin("put r2"), 2, 2);
    spool.append("b", &l, started("r3", "get r3 -"), 3, 3);
    spool.append("b", &l, finished("r1", "get r1 4096"), 1, 4);
    // r3 is cut short by a crash: its started line is all there is.
    drop(spool);
    let spool = Spool::open(&dir, 100, 10).unwrap();
    let c = records(&spool.ready().unwrap()[0]);
    assert_eq!(
        (c.body.as_slice(), c.records),
        (&b"put r2\nget r3 -\nget r1 4096\n"[..], 3)
    );
    // A segment that closes between the two keeps the started line, once.
    spool.append("b", &l, started("r4", "get r4 -"), 11, 11);
    spool.close_older(i64::MAX, 12);
    spool.append("b", &l, finished("r4", "get r4 9"), 11, 13);
    spool.close_older(i64::MAX, 14);
    let ready = spool.ready().unwrap();
    assert_eq!(ready.len(), 2, "nothing was written for r4's finished line");
    let c = records(&ready[1]);
    assert_eq!((c.body.as_slice(), c.records), (&b"get r4 -\n"[..], 1));
    std::fs::remove_dir_all(&dir).unwrap();
}
