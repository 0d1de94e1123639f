//! CloudWatch request bodies as the monitoring endpoint decodes them: Smithy RPC v2 CBOR, AWS
//! JSON 1.0 and query-protocol forms. Properties: never a panic, a hang or an allocation the
//! body cannot pay for; a CBOR value that decodes re-encodes to something that decodes to
//! the same value.
#![no_main]

use leadshop_server::monitoring::{cbor, protocol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let proto = match which % 3 {
        0 => protocol::Protocol::Cbor,
        1 => protocol::Protocol::Json,
        _ => protocol::Protocol::Query,
    };
    let _ = protocol::decode(proto, body);
    if proto == protocol::Protocol::Query {
        let _ = leadshop_server::monitoring::bounds::query_action(body);
    }
    if let Ok(v) = cbor::decode(body) {
        let again = cbor::encode(&v, &|_| false);
        assert_eq!(cbor::decode(&again).ok(), Some(v), "a decoded value round-trips");
    }
});
