//! Access control: every S3 request passes [`AccessHook::check`], deny by default.
//!
//! s3s authenticates the signature against the [`KeyStore`](leadshop_keys::KeyStore) first;
//! then the hook evaluates, as AWS does within one account:
//! - the caller's identity policy (none for anonymous callers),
//! - the bucket policy, which Public Access Block can neutralise (RestrictPublicBuckets: its
//!   public grants do nothing for anonymous callers),
//!
//! with the condition context of [`conditions`]. An explicit Deny in either wins; else an
//! Allow in either; else the request is refused. Plain HTTP is evaluated with
//! `aws:SecureTransport = false` and, unless `plain_http_api` is set, refused even where no
//! policy denies it.
//!
//! s3s runs the hook only when auth is configured, and its per-operation hooks default to
//! allow; so all decisions go through [`S3Access::check`], and operations whose `check` sees
//! too little get typed checks: CopyObject and UploadPartCopy need read access to the source
//! (checked here from `x-amz-copy-source`), DeleteObjects is authorised per key by its handler
//! with the [`Authz`] this hook leaves in the request extensions (an anonymous caller no
//! policy could let delete anything there is refused before the body is read), and POST
//! uploads are authorised in [`S3Access::post_object`] on the form's key and fields, exactly
//! as the PutObject they are.

mod acl;
mod authenticator;
pub mod conditions;
mod form;
pub mod log_delivery;
mod signature;
pub mod write_headers;

pub use authenticator::Authenticator;
pub use form::post_form_tags;

use std::sync::Arc;

use leadshop_spec::Operation;
use leadshop_spec::actions::{self, Scope};
use leadshop_spec::policy::{Cidr, Context, Decision, Request, evaluate};
use leadshop_store::Store;
use percent_encoding::percent_decode_str;
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::PostObjectInput;
use s3s::path::S3Path;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result, s3_error};

use crate::bucket_config::{BucketConfig, BucketConfigs};
use crate::context::RequestContext;
use crate::shell::post_form::PostForm;
use leadshop_keys::Identity;
use leadshop_keys::KeyStore;

/// Left in the request extensions by [`S3Access::post_object`] once a POST upload is
/// authorised; the PutObject handler refuses a POST without it.
#[derive(Debug, Clone, Copy)]
pub struct PostAuthorized;

/// Who is asking and the condition context of their request: made once by the hook and left
/// in the request extensions for handlers that authorise more than one thing.
#[derive(Debug, Clone)]
pub struct Authz {
    /// The caller; `None` when anonymous.
    pub identity: Option<Arc<Identity>>,
    /// `arn:aws:iam::<account>:user/<name>`.
    pub arn: Option<String>,
    /// The condition context.
    pub context: Context,
    /// Whether the request came over TLS (after trusted-proxy headers).
    pub secure: bool,
}

/// Policy evaluation for the whole server: keys, bucket policies, Public Access Block.
#[derive(Debug)]
pub struct AccessControl {
    /// The access keys.
    pub keys: Arc<KeyStore>,
    store: Arc<Store>,
    account_id: String,
    trusted_proxies: Vec<Cidr>,
    plain_http_api: bool,
    presigned_max_expires_secs: u32,
    configs: Arc<BucketConfigs>,
}

impl AccessControl {
    /// Access control over these keys and this store.
    #[must_use]
    pub fn new(
        keys: Arc<KeyStore>,
        store: Arc<Store>,
        configs: Arc<BucketConfigs>,
        config: &crate::config::Config,
    ) -> Self {
        Self {
            keys,
            store,
            account_id: config.account_id.clone(),
            trusted_proxies: config
                .trusted_proxies
                .iter()
                .filter_map(|p| Cidr::parse(p))
                .collect(),
            plain_http_api: config.plain_http_api,
            presigned_max_expires_secs: config.presigned_max_expires_secs,
            configs,
        }
    }

    /// The account id.
    #[must_use]
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The peers whose `X-Forwarded-*` headers are believed (parsed once, at start).
    #[must_use]
    pub fn trusted_proxies(&self) -> &[Cidr] {
        &self.trusted_proxies
    }

    /// The caller's [`Authz`]: its ARN, and whether the context says the transport is secure.
    fn authz(&self, identity: Option<Arc<Identity>>, context: Context) -> Authz {
        let secure = context
            .get("aws:SecureTransport")
            .is_some_and(|v| v.first().is_some_and(|v| v == "true"));
        Authz {
            arn: identity.as_ref().map(|i| i.arn(&self.account_id)),
            identity,
            context,
            secure,
        }
    }

    /// What governs a bucket (a bucket that does not exist has nothing: no policy grants).
    pub async fn bucket_access(&self, bucket: &str) -> Arc<BucketConfig> {
        self.configs.load(bucket).await.unwrap_or_default()
    }

    /// Decides one action on one resource for the caller of `authz`.
    ///
    /// # Errors
    /// 403 AccessDenied with a message in AWS's words naming the action, resource and reason.
    pub async fn authorize(
        &self,
        authz: &Authz,
        action: &str,
        bucket: &str,
        resource: &str,
    ) -> S3Result<()> {
        let bucket_access = if bucket.is_empty() {
            None
        } else {
            Some(self.bucket_access(bucket).await)
        };
        let anonymous = authz.identity.is_none();
        // Only replacing or deleting the damaged policy stays possible (for whom the identity
        // policy allows it).
        if bucket_access.as_deref().is_some_and(|b| b.damaged)
            && !matches!(action, "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy")
        {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied: the bucket's stored policy cannot be read; restore it with PutBucketPolicy"
            ));
        }
        let mut context_with_tags = None;
        let bucket_policy = bucket_access
            .as_deref()
            .and_then(|b| b.policy_for(anonymous));
        if authz.identity.as_ref().is_some_and(|i| i.reads_object_tags)
            || bucket_access
                .as_deref()
                .is_some_and(|b| b.reads_object_tags)
        {
            context_with_tags = Some(
                self.with_existing_tags(&authz.context, bucket, resource)
                    .await,
            );
        }
        let req = Request {
            principal: authz.arn.as_deref(),
            account: authz.identity.as_ref().map(|_| self.account_id.as_str()),
            action,
            resource,
            context: context_with_tags.as_ref().unwrap_or(&authz.context),
        };
        let identity = authz
            .identity
            .as_ref()
            .map_or(Decision::ImplicitDeny, |i| evaluate(&[&i.policy], &req));
        let resource_based = bucket_policy.map_or(Decision::ImplicitDeny, |p| evaluate(&[p], &req));
        let who = authz.arn.as_deref().unwrap_or("anonymous");
        let deny = |why: &str| {
            let msg = format!(
                "User: {who} is not authorized to perform: {action} on resource: \"{resource}\" {why}"
            );
            tracing::debug!(target: "leadshop::access", %msg);
            Err(S3Error::with_message(S3ErrorCode::AccessDenied, msg))
        };
        if resource_based == Decision::ExplicitDeny {
            return deny("with an explicit deny in a resource-based policy");
        }
        if identity == Decision::ExplicitDeny {
            return deny("with an explicit deny in an identity-based policy");
        }
        // Where the bucket's Object Ownership enables ACLs, a group grant (AllUsers,
        // AuthenticatedUsers) may allow what no policy does, unless IgnorePublicAcls.
        let by_acl = identity != Decision::Allow
            && resource_based != Decision::Allow
            && match bucket_access.as_deref() {
                Some(b) if b.acls_enabled() && !b.public_access_block.ignore_public_acls => {
                    self.acl_allows(b, authz, action, bucket, resource).await
                }
                _ => false,
            };
        if identity != Decision::Allow && resource_based != Decision::Allow && !by_acl {
            return deny(if anonymous {
                "because no resource-based policy allows anonymous access"
            } else {
                "because no identity-based policy allows the action"
            });
        }
        if !authz.secure && !self.plain_http_api {
            return deny("because requests must use HTTPS (aws:SecureTransport is false)");
        }
        Ok(())
    }

    /// Whether `identity` may perform a bucket-level `operation` on `bucket` in a request
    /// with this context and no special headers (what the console shows or hides).
    pub async fn may(
        &self,
        identity: Arc<Identity>,
        request: &RequestContext,
        operation: Operation,
        bucket: &str,
    ) -> bool {
        let uri: http::Uri = format!("/{bucket}")
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
        let context = conditions::build(&conditions::Inputs {
            request: Some(request),
            headers: &http::HeaderMap::new(),
            uri: &uri,
            identity: Some(&identity),
            account_id: &self.account_id,
            trusted_proxies: &self.trusted_proxies,
            operation: Some(operation),
            now_ms: self.store.clock().now_ms(),
        });
        let authz = self.authz(Some(identity), context);
        let action = operation.action(false);
        let resource = actions::resource_arn(action.scope, bucket, None);
        self.authorize(&authz, action.name, bucket, &resource)
            .await
            .is_ok()
    }

    /// Whether any policy could allow the caller to delete something in `bucket` (conditions
    /// assumed to hold). DeleteObjects names its keys in its body: a caller no policy could
    /// allow is refused before the body is read.
    #[must_use]
    pub async fn may_delete_in(&self, authz: &Authz, bucket: &str) -> bool {
        const DELETES: [&str; 2] = ["s3:DeleteObject", "s3:DeleteObjectVersion"];
        let prefix = format!("arn:aws:s3:::{bucket}/");
        let principal = authz.arn.as_deref();
        let account = authz.identity.as_ref().map(|_| self.account_id.as_str());
        let access = self.bucket_access(bucket).await;
        authz
            .identity
            .as_ref()
            .is_some_and(|i| i.policy.may_allow(principal, account, &DELETES, &prefix))
            || access
                .policy_for(authz.identity.is_none())
                .is_some_and(|p| p.may_allow(principal, account, &DELETES, &prefix))
    }

    /// The context plus `s3:ExistingObjectTag/<k>` of the object a resource ARN names (read
    /// on the blocking pool).
    async fn with_existing_tags(&self, context: &Context, bucket: &str, resource: &str) -> Context {
        let mut cx = context.clone();
        let prefix = format!("arn:aws:s3:::{bucket}/");
        if let Some(key) = resource.strip_prefix(&prefix) {
            let version = context.get("s3:VersionId").and_then(|v| v.first()).cloned();
            let (store, bucket, key) = (self.store.clone(), bucket.to_string(), key.to_string());
            let tags = tokio::task::spawn_blocking(move || {
                store
                    .get_version(&bucket, &key, version.as_deref())
                    .map(|rec| rec.tags)
            })
            .await;
            // No object (or no readable record): no tags, so tag conditions do not match.
            if let Ok(Ok(tags)) = tags {
                for (k, v) in tags {
                    cx.set(&format!("s3:ExistingObjectTag/{k}"), v);
                }
            }
        }
        cx
    }
}

/// The s3s access hook.
#[derive(Debug, Clone)]
pub struct AccessHook(pub Arc<AccessControl>);

#[async_trait::async_trait]
impl S3Access for AccessHook {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let ac = &self.0;
        let request = cx.extensions_mut().get::<RequestContext>().cloned();
        let has_post_form = cx.extensions_mut().get::<Arc<PostForm>>().is_some();
        let op_name = cx.s3_op().name();
        let operation = Operation::from_name(op_name);
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (String::new(), None),
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        // What the request record needs, learnt before anything can refuse the request.
        if let Some(rc) = &request {
            let access_key_id = cx.credentials().map(|c| c.access_key.clone());
            rc.learn(|f| {
                f.operation = operation;
                f.bucket = (!bucket.is_empty()).then(|| bucket.clone());
                f.key.clone_from(&key);
                f.access_key_id = access_key_id;
            });
        }
        // Temporary credentials (STS session tokens) are never issued by this server, so a
        // request carrying one cannot be valid; s3s does not check the token itself.
        if cx.headers().contains_key("x-amz-security-token")
            || cx.uri().query().is_some_and(|q| {
                // Any case: SigV2 presigned URLs name it `x-amz-security-token`.
                q.split('&').any(|p| {
                    p.split('=')
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case("x-amz-security-token"))
                })
            })
        {
            return Err(s3_error!(
                InvalidToken,
                "The provided token is malformed or otherwise invalid."
            ));
        }
        // SigV2 is accepted (when configured) only where botocore uses it by default: presigned
        // URLs and POST forms. An SDK never sends it in a header; refuse that outright.
        if cx
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS "))
        {
            return Err(s3_error!(
                AccessDenied,
                "Signature Version 2 is not accepted in the Authorization header; sign with AWS4-HMAC-SHA256"
            ));
        }
        signature::check_signed_headers(cx.headers(), cx.uri())?;
        signature::check_presigned_time(
            cx.uri(),
            ac.presigned_max_expires_secs,
            ac.store.clock().now_secs(),
        )?;
        let identity = match cx.credentials() {
            Some(c) => Some(ac.keys.by_id(&c.access_key).ok_or_else(|| {
                s3_error!(
                    InvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records."
                )
            })?),
            None => None,
        };
        let context = conditions::build(&conditions::Inputs {
            request: request.as_ref(),
            headers: cx.headers(),
            uri: cx.uri(),
            identity: identity.as_deref(),
            account_id: &ac.account_id,
            trusted_proxies: &ac.trusted_proxies,
            operation,
            now_ms: ac.store.clock().now_ms(),
        });
        let authz = ac.authz(identity, context);
        if let Some(rc) = &request {
            rc.learn(|f| f.principal.clone_from(&authz.arn));
        }

        // Customer keys never travel in the clear (AWS refuses them over HTTP too).
        if !authz.secure
            && cx.headers().keys().any(|k| {
                let k = k.as_str();
                k.starts_with("x-amz-server-side-encryption-customer-")
                    || k.starts_with("x-amz-copy-source-server-side-encryption-customer-")
            })
        {
            return Err(s3_error!(
                InvalidRequest,
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
            ));
        }
        // `x-amz-expected-bucket-owner` (and the copy source's): every bucket here belongs to
        // the configured account, so another account id is a mismatch, refused as AWS does.
        for name in [
            "x-amz-expected-bucket-owner",
            "x-amz-source-expected-bucket-owner",
        ] {
            if let Some(v) = cx.headers().get(name)
                && v.as_bytes() != ac.account_id.as_bytes()
            {
                // A signed caller of this server learns which account owns its buckets (a
                // Terraform provider configured for another account must be told why); an
                // anonymous one learns nothing.
                let expected = String::from_utf8_lossy(v.as_bytes());
                let message = if authz.identity.is_some() {
                    format!(
                        "Access Denied: {name} is {:.32} but the bucket's owner is account {}",
                        expected, ac.account_id
                    )
                } else {
                    "Access Denied".to_string()
                };
                return Err(S3Error::with_message(S3ErrorCode::AccessDenied, message));
            }
        }
        let versioned = authz.context.get("s3:VersionId").is_some();
        let Some(operation) = operation else {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                format!("Access Denied: {op_name} is not covered by access control"),
            ));
        };
        let action = operation.action(versioned);
        match operation {
            // DeleteObjects names its keys in the body: its handler authorises each one, once
            // the body is read, and reports refusals per key as S3 does. An anonymous caller
            // no policy could let delete anything here is refused before the body is read.
            Operation::DeleteObjects => {
                ac.require_transport(&authz)?;
                if authz.identity.is_none() && !ac.may_delete_in(&authz, &bucket).await {
                    let who = authz.arn.as_deref().unwrap_or("anonymous");
                    return Err(S3Error::with_message(
                        S3ErrorCode::AccessDenied,
                        format!(
                            "User: {who} is not authorized to perform: s3:DeleteObject on any object of bucket {bucket}"
                        ),
                    ));
                }
            }
            // A POST upload names its key in the form: `post_object` below authorises it.
            Operation::PostObject => {
                ac.require_transport(&authz)?;
                if !has_post_form {
                    return Err(s3_error!(
                        MalformedPOSTRequest,
                        "The body of your POST request is not well-formed multipart/form-data."
                    ));
                }
            }
            _ => {
                let resource = actions::resource_arn(action.scope, &bucket, key.as_deref());
                ac.authorize(&authz, action.name, &bucket, &resource)
                    .await?;
            }
        }
        if matches!(operation, Operation::CopyObject | Operation::UploadPartCopy) {
            check_copy_source(ac, &authz, cx.headers()).await?;
        }
        // An ACL, tags or a lock on the new object need their own actions (s3:PutObject alone
        // grants none of them).
        if matches!(
            operation,
            Operation::PutObject | Operation::CopyObject | Operation::CreateMultipartUpload
        ) {
            let resource = actions::resource_arn(Scope::Object, &bucket, key.as_deref());
            for extra in write_headers::of_headers(cx.headers()) {
                ac.authorize(&authz, extra, &bucket, &resource).await?;
            }
        }
        // A replica (a leadshop destination's side of replication) asks for the replication
        // actions besides the write itself.
        if let Some(action) = write_headers::replication_action(operation, cx.headers()) {
            let resource = actions::resource_arn(Scope::Object, &bucket, key.as_deref());
            ac.authorize(&authz, action, &bucket, &resource).await?;
        }
        // Once authorised: where ACLs are disabled the handler refuses any ACL but the
        // owner's with AccessControlListNotSupported (as AWS checks that first); where they
        // are enabled, BlockPublicAcls refuses a public one.
        if action.scope == Scope::Object && write_headers::carries_public_acl(cx.headers()) {
            let access = ac.bucket_access(&bucket).await;
            if access.acls_enabled() && access.public_access_block.block_public_acls {
                return Err(s3_error!(
                    AccessDenied,
                    "Access Denied: public ACLs are blocked by the bucket's BlockPublicAcls setting"
                ));
            }
        }
        cx.extensions_mut().insert(Arc::new(authz));
        Ok(())
    }

    /// A POST upload, authorised exactly like the PutObject it is: s3:PutObject on the form's
    /// key, with the form's `acl`, encryption, storage class and `tagging` fields as the
    /// condition keys a PutObject sends as headers, and Public Access Block's
    /// BlockPublicAcls. Runs before a byte of the file is stored.
    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        let ac = &self.0;
        let (Some(authz), Some(form)) = (
            req.extensions.get::<Arc<Authz>>().cloned(),
            req.extensions.get::<Arc<PostForm>>().cloned(),
        ) else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        // The key s3s will store must be the form's key (with `${filename}` filled in), read
        // by the same parser: anything else means the two disagree about the form.
        let form_key = form
            .get("key")
            .map(|k| k.replace("${filename}", form.file_name.as_deref().unwrap_or_default()));
        if form_key.as_deref() != Some(key.as_str()) {
            return Err(s3_error!(
                MalformedPOSTRequest,
                "The body of your POST request is not well-formed multipart/form-data."
            ));
        }
        let mut context = authz.context.clone();
        form::post_form_context(&mut context, &form)?;
        let with_form = Authz {
            context,
            ..(*authz).clone()
        };
        let resource = actions::resource_arn(Scope::Object, &bucket, Some(&key));
        ac.authorize(&with_form, "s3:PutObject", &bucket, &resource)
            .await?;
        let grant = form
            .fields
            .iter()
            .any(|(n, _)| n.starts_with("x-amz-grant-"));
        for extra in write_headers::extra_actions(|name| form.get(name).is_some(), grant) {
            ac.authorize(&with_form, extra, &bucket, &resource).await?;
        }
        let acl = form.get("acl").or_else(|| form.get("x-amz-acl"));
        let access = ac.bucket_access(&bucket).await;
        if acl.is_some_and(|a| write_headers::PUBLIC_CANNED_ACLS.contains(&a.trim()))
            && access.acls_enabled()
            && access.public_access_block.block_public_acls
        {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied: public ACLs are blocked by the bucket's BlockPublicAcls setting"
            ));
        }
        req.extensions.insert(PostAuthorized);
        Ok(())
    }
}

impl AccessControl {
    /// Plain HTTP never reaches data unless `plain_http_api` lets policies decide.
    fn require_transport(&self, authz: &Authz) -> S3Result<()> {
        if !authz.secure && !self.plain_http_api {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied: requests must use HTTPS (aws:SecureTransport is false)"
            ));
        }
        Ok(())
    }
}

/// CopyObject and UploadPartCopy read their source: the caller needs s3:GetObject (or
/// s3:GetObjectVersion) on it too.
async fn check_copy_source(
    ac: &AccessControl,
    authz: &Authz,
    headers: &http::HeaderMap,
) -> S3Result<()> {
    let Some(raw) = headers
        .get("x-amz-copy-source")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(()); // s3s refuses the request as malformed.
    };
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let path = percent_decode_str(path).decode_utf8_lossy();
    let path = path.trim_start_matches('/');
    let Some((bucket, key)) = path.split_once('/') else {
        return Ok(());
    };
    let versioned = query.split('&').any(|p| p.starts_with("versionId="));
    let action = if versioned {
        "s3:GetObjectVersion"
    } else {
        "s3:GetObject"
    };
    let resource = actions::resource_arn(Scope::Object, bucket, Some(key));
    ac.authorize(authz, action, bucket, &resource).await
}
