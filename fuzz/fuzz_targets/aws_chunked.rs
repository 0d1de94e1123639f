//! aws-chunked request bodies (signed chunks, and the unsigned-with-trailer framing boto3 and
//! the AWS CLI send by default) through s3s's decoder, split into network reads at fuzzed
//! places. Properties: never a panic or a hang; a body that decodes yields exactly its
//! declared decoded length.
#![no_main]

use bytes::Bytes;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use s3s::stream::aws_chunked_stream::AwsChunkedStream;

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let unsigned = data[0] & 1 == 1;
    let decoded_len = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let split = usize::from(data[3]).max(1);
    let body = &data[4..];
    let pieces: Vec<Result<Bytes, s3s::StdError>> = body
        .chunks(split)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let stream = AwsChunkedStream::new(
        futures::stream::iter(pieces),
        s3s::Sha256Sum::from_hex(SEED).unwrap(),
        s3s::AmzDate::parse("20130524T000000Z").unwrap(),
        "us-east-1".into(),
        "s3".into(),
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        decoded_len,
        unsigned,
        64 * 1024,
    );
    futures::executor::block_on(async move {
        futures::pin_mut!(stream);
        let mut total = 0usize;
        while let Some(item) = stream.next().await {
            match item {
                Ok(b) => total += b.len(),
                Err(_) => return,
            }
        }
        assert_eq!(total, decoded_len, "a body that decodes has its declared length");
    });
});
