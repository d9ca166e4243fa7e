//! `verify_topics DIR`: the per-topic log's verify through the library (ids,
//! provenance chain recomputed for every event, consumers), for
//! `benches/topics_chain.sh`. Prints records and defects; exit 1 on a defect.

use journal::source::family::FamilyVerifyOptions;
use journal::source::reader::Source;
use journal::source::topics::TopicLog;

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .expect("usage: verify_topics DIR");
    let log = TopicLog::jsonl(dir.as_ref(), Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let v = log
        .verify(&FamilyVerifyOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{} records, {} defects", v.records, v.defects.len());
    for d in &v.defects {
        println!("{}: {}", d.place(), d.detail);
    }
    std::process::exit(i32::from(!v.defects.is_empty()));
}
