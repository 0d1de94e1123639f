//! What access control costs per request: building the condition context from a request
//! (connection, headers, query, caller) and evaluating the app key's identity policy with the
//! `leadshop-assets` baseline bucket policy, as the access hook does for a 4 KiB PUT.
//!
//! `cargo bench --ignore-rust-version -p leadshop-server --bench access`; results in
//! docs/BENCHMARKS.md (target: < 5 µs median).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Uri};
use leadshop_keys::KeyStore;
use leadshop_server::access::{AccessControl, Authz, conditions};
use leadshop_server::context::{ConnInfo, RequestContext, TlsInfo};
use leadshop_spec::{BucketSpec, TemplateVars};
use leadshop_store::{BucketRecord, MasterKey, MasterKeys, Store, VersioningState, crypto::Key};

fn setup(dir: &std::path::Path) -> (Arc<AccessControl>, Arc<KeyStore>) {
    let master = MasterKeys::new(MasterKey {
        id: "mk-bench".into(),
        key: Key::generate().expect("random"),
    });
    let store = Arc::new(Store::open(dir, Some(master.clone())).expect("store"));
    let config = leadshop_server::Config::default();
    let spec = BucketSpec::builtin(&TemplateVars::new(&config.account_id))
        .expect("specs")
        .into_iter()
        .find(|s| s.name == "leadshop-assets")
        .expect("assets spec");
    let mut documents = std::collections::BTreeMap::new();
    documents.insert(
        leadshop_server::bucket_config::POLICY_DOC.to_string(),
        serde_json::Value::String(spec.policy.expect("baseline policy")),
    );
    documents.insert(
        leadshop_server::bucket_config::PUBLIC_ACCESS_BLOCK_DOC.to_string(),
        serde_json::to_value(spec.public_access_block.expect("pab")).expect("json"),
    );
    store
        .create_bucket(&BucketRecord {
            name: spec.name,
            created_ms: 0,
            region: "us-east-1".into(),
            versioning: VersioningState::Enabled,
            documents,
        })
        .expect("bucket");
    let keys = Arc::new(KeyStore::open(dir, master).expect("keys"));
    let configs = leadshop_server::bucket_config::BucketConfigs::new(store.clone());
    let ac = Arc::new(AccessControl::new(keys.clone(), store, configs, &config));
    (ac, keys)
}

fn request_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "127.0.0.1:9443"),
        ("user-agent", "aws-sdk-rust/1.0 os/linux lang/rust"),
        ("x-amz-date", "20261127T210000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("x-amz-server-side-encryption", "AES256"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("content-length", "4096"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261127/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
        ),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ac, keys) = setup(dir.path());
    let app = keys.by_name("app").expect("app key");
    let conn = Arc::new(ConnInfo {
        remote: "127.0.0.1:50000".parse().expect("addr"),
        local: "127.0.0.1:9443".parse().expect("addr"),
        tls: Some(TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            sni: Some("localhost".into()),
        }),
        loopback_console: false,
        client: leadshop_server::clients::Client::unlimited(),
    });
    let rc = RequestContext::new(conn);
    let headers = request_headers();
    let uri: Uri = "/leadshop-assets/screenshots/a.png".parse().expect("uri");
    let resource = "arn:aws:s3:::leadshop-assets/screenshots/a.png";
    let account = ac.account_id().to_string();
    let make_authz = || {
        let context = conditions::build(&conditions::Inputs {
            request: Some(&rc),
            headers: &headers,
            uri: &uri,
            identity: Some(&app),
            account_id: &account,
            trusted_proxies: &[],
            operation: Some(leadshop_spec::Operation::PutObject),
            now_ms: leadshop_store::Clock::now_ms(&leadshop_store::SystemClock),
        });
        Authz {
            identity: Some(app.clone()),
            arn: Some(format!("arn:aws:iam::{account}:user/app")),
            context,
            secure: true,
        }
    };
    // `authorize` is async (a configuration missing from the cache is read on the blocking
    // pool); after this first call the bucket's configuration is cached and it never waits.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let authz = make_authz();
    rt.block_on(ac.authorize(&authz, "s3:PutObject", "leadshop-assets", resource))
        .expect("the app may put");

    let mut g = c.benchmark_group("access");
    g.bench_function("context_build", |b| b.iter(|| black_box(make_authz())));
    g.bench_function("evaluate_identity_and_baseline", |b| {
        b.iter(|| {
            black_box(rt.block_on(ac.authorize(
                black_box(&authz),
                "s3:PutObject",
                "leadshop-assets",
                resource,
            )))
        });
    });
    g.bench_function("per_request_total", |b| {
        b.iter(|| {
            let authz = make_authz();
            black_box(rt.block_on(ac.authorize(
                &authz,
                "s3:PutObject",
                "leadshop-assets",
                resource,
            )))
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
