//! The CloudWatch query protocol with deep and wide parameter names, as issue 26's probe sent
//! them (one name of 20,000 segments overflowed the stack; 50,000 `aN.member.1000` names took
//! 1.6 GB). The fuzzer's bytes choose a name segment, how many times it repeats and how many
//! parameters carry it; the body is at most the endpoint's 1 MiB. Decoding runs on a thread
//! with a 256 KiB stack (an eighth of a tokio worker's), so recursion on attacker data
//! crashes here. Properties: never a panic or an overflow; what decodes is at most
//! `MAX_DEPTH` deep and holds at most `MAX_VALUES` values.
#![no_main]

use leadshop_server::monitoring::bounds::{MAX_DEPTH, MAX_VALUES};
use leadshop_server::monitoring::{MAX_BODY, protocol};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Depth and number of values of a decoded input, without recursion.
fn shape(v: &Value) -> (usize, usize) {
    let (mut deepest, mut count) = (0, 0);
    let mut todo = vec![(v, 1usize)];
    while let Some((v, d)) = todo.pop() {
        count += 1;
        deepest = deepest.max(d);
        match v {
            Value::Array(a) => todo.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(m) => todo.extend(m.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    (deepest, count)
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let repeat = usize::from(u16::from_le_bytes([head[0], head[1]]));
    let width = usize::from(u16::from_le_bytes([head[2], head[3]])) % 60_000;
    let (segment, tail) = rest.split_at(rest.len().min(8));
    let segment: String = String::from_utf8_lossy(segment)
        .chars()
        .filter(|c| !matches!(c, '&' | '=' | '.'))
        .collect();
    let segment = if segment.is_empty() { "a".to_string() } else { segment };
    let mut body = b"Action=ListMetrics&Version=2010-08-01&".to_vec();
    body.extend_from_slice(tail);
    let mut deep = segment.clone();
    for i in 0..repeat {
        deep.push('.');
        // Every other segment a list index, as `member.N` names them.
        if i % 2 == 1 {
            deep.push_str(&(i % 1500).to_string());
        } else {
            deep.push_str(if i % 4 == 0 { "member" } else { &segment });
        }
        if deep.len() > MAX_BODY {
            break;
        }
    }
    for i in 0..width.max(1) {
        if body.len() > MAX_BODY {
            break;
        }
        body.extend_from_slice(format!("&{segment}{i}{}=x", &deep[segment.len()..]).as_bytes());
    }
    body.truncate(MAX_BODY);
    let decoded = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || protocol::decode(protocol::Protocol::Query, &body).ok().map(|v| shape(&v)))
        .expect("thread")
        .join()
        .expect("decoding never panics");
    if let Some((depth, values)) = decoded {
        // The root object is one level above the deepest name's segments.
        assert!(depth <= MAX_DEPTH + 1, "depth {depth}");
        assert!(values <= MAX_VALUES + 1, "values {values}");
    }
});
