//! Range headers: s3s's parser, which ranges the shell ignores (and drops), and how the server
//! resolves a parsed range against an object's size. Properties: never a panic; an honoured
//! range selects `start <= end <= size` and names its last byte in Content-Range; a range that
//! selects nothing is refused, never described with an underflowing end.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap()) % (1 << 40);
    let Ok(header) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    let Ok(value) = http::HeaderValue::from_str(header) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::RANGE, value);
    let ignored = leadshop_server::shell::resign::range_is_ignored(&headers);
    match s3s::dto::Range::parse(header) {
        Err(_) => assert!(ignored, "an unparsable range must be ignored: {header:?}"),
        Ok(range) => {
            assert!(!ignored, "a parsable range must be honoured: {header:?}");
            if let Ok(span) = leadshop_server::s3::resolve_range(&range, size) {
                assert!(span.start <= span.end && span.end <= size, "{header:?} {size}: {span:?}");
                match &span.content_range {
                    None => assert_eq!((span.start, span.end), (0, size)),
                    Some(cr) => {
                        assert!(span.end > span.start);
                        assert_eq!(cr, &format!("bytes {}-{}/{size}", span.start, span.end - 1));
                    }
                }
            }
        }
    }
});
