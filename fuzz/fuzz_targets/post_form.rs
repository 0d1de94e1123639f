//! Browser POST forms: the shell's reader of the fields before the file (s3s-multipart, as
//! s3s reads them), the POST policy document, and the form's `tagging` field. Properties:
//! never a panic; the bytes the reader consumed are a prefix of the body (handed back to s3s
//! unchanged); a form it accepts has at most 20 KB of fields.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use leadshop_server::shell::post_form::{self, MAX_PRE_DATA};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let mut body = http_body_util::Full::new(Bytes::copy_from_slice(rest));
            let result = futures::executor::block_on(post_form::read(&mut body, "XyZ"));
            if let Ok((form, read)) = result {
                let consumed: Vec<u8> = read.concat();
                assert!(rest.starts_with(&consumed), "the reader hands back what it read");
                let size: usize = form.fields.iter().map(|(n, v)| n.len() + v.len()).sum();
                assert!(size <= MAX_PRE_DATA + 64 * 1024, "{size}");
                assert!(form.fields.iter().all(|(n, _)| n == &n.to_ascii_lowercase()));
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = s3s::post_policy::PostPolicy::from_json(text);
                let _ = s3s::post_policy::PostPolicy::from_base64(text);
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = leadshop_server::access::post_form_tags(text);
            }
        }
    }
});
