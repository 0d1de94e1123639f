//! The XML bodies S3 requests carry, through s3s's deserializer: never a panic, and whatever
//! parses serializes and parses again (what the server echoes back is readable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3s::dto;
use s3s::xml::{Deserialize, Deserializer, Serialize, Serializer};

fn round_trip<T>(data: &[u8])
where
    T: for<'x> Deserialize<'x> + Serialize,
{
    let Ok(value) = T::deserialize(&mut Deserializer::new(data)) else {
        return;
    };
    let mut out = Vec::new();
    let mut ser = Serializer::new(&mut out);
    if value.serialize(&mut ser).is_ok() {
        assert!(
            T::deserialize(&mut Deserializer::new(&out)).is_ok(),
            "serialized output does not parse again: {}",
            String::from_utf8_lossy(&out)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => round_trip::<dto::Delete>(body),
        1 => round_trip::<dto::CompletedMultipartUpload>(body),
        2 => round_trip::<dto::Tagging>(body),
        3 => round_trip::<dto::VersioningConfiguration>(body),
        4 => round_trip::<dto::ServerSideEncryptionConfiguration>(body),
        5 => round_trip::<dto::PublicAccessBlockConfiguration>(body),
        6 => round_trip::<dto::CreateBucketConfiguration>(body),
        _ => {
            // The POST form's `tagging` field goes through the access hook's reader.
            if let Ok(text) = std::str::from_utf8(body) {
                let _ = leadshop_server::access::post_form_tags(text);
            }
        }
    }
});
