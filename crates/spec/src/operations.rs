//! One descriptor per S3 operation leadshop serves. The list of operations
//! ([`with_operations!`](crate::with_operations)) and each one's descriptor
//! ([`Operation::describe`], an exhaustive match) are in one file, `operations/table.rs`: the
//! IAM action and resource a policy is evaluated on, the pricing tier, the CloudWatch request
//! metric, the access-log operation name and what its body is. An operation cannot be added
//! without all of them.
//!
//! The server's `S3` implementation is generated from the same list (`s3/mod.rs`), and the
//! access hook, the usage counters, the access log, request records and docs/S3-API.md read
//! the descriptor. Adding an operation is its row and descriptor in `table.rs`, its handler
//! (named after its `S3` trait method) in the server's `s3/` area, and a test.

use crate::actions::{Action, Scope};

mod table;

macro_rules! operation_enum {
    (
        served { $($op:ident $method:ident $input:ident $output:ident),* $(,)? }
        through_put_object { $($via:ident $via_method:ident),* $(,)? }
    ) => {
        /// An S3 operation leadshop serves (s3s's operation names). An operation s3s routes
        /// that is not here answers NotImplemented, and the access hook denies it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $(
                #[doc = concat!("`", stringify!($op), "`.")]
                $op,
            )*
            $(
                #[doc = concat!("`", stringify!($via), "` (routed by s3s to `put_object`).")]
                $via,
            )*
        }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Operation] = &[$(Operation::$op,)* $(Operation::$via,)*];

            /// The S3 name, e.g. `GetObject`.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)*
                    $(Operation::$via => stringify!($via),)*
                }
            }

            /// The s3s `S3` trait method that serves it, e.g. `list_objects_v2`.
            #[must_use]
            pub const fn method(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($method),)*
                    $(Operation::$via => stringify!($via_method),)*
                }
            }

            /// The operation of an S3 name; `None` for one the server does not know.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($op) => Some(Operation::$op),)*
                    $(stringify!($via) => Some(Operation::$via),)*
                    _ => None,
                }
            }
        }
    };
}

crate::with_operations!(operation_enum);

/// AWS's pricing tier of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// PUT, COPY, POST and LIST requests.
    Tier1,
    /// GET, HEAD and the other reads.
    Tier2,
    /// DELETE requests and cancelled uploads.
    Free,
}

impl Tier {
    /// The usage metric it adds to (`Tier1Requests`, `Tier2Requests`); `None` when free.
    #[must_use]
    pub const fn metric(self) -> Option<&'static str> {
        match self {
            Tier::Tier1 => Some("Tier1Requests"),
            Tier::Tier2 => Some("Tier2Requests"),
            Tier::Free => None,
        }
    }
}

/// The CloudWatch request metric a request adds to, besides `AllRequests` and the byte and
/// error metrics every request adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMetric {
    /// `GetRequests`.
    Get,
    /// `PutRequests`.
    Put,
    /// `DeleteRequests`.
    Delete,
    /// `HeadRequests`.
    Head,
    /// `PostRequests`.
    Post,
    /// `ListRequests`.
    List,
}

impl RequestMetric {
    /// Every one.
    pub const ALL: [RequestMetric; 6] = [
        RequestMetric::Get,
        RequestMetric::Put,
        RequestMetric::Delete,
        RequestMetric::Head,
        RequestMetric::Post,
        RequestMetric::List,
    ];

    /// The CloudWatch metric name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            RequestMetric::Get => "GetRequests",
            RequestMetric::Put => "PutRequests",
            RequestMetric::Delete => "DeleteRequests",
            RequestMetric::Head => "HeadRequests",
            RequestMetric::Post => "PostRequests",
            RequestMetric::List => "ListRequests",
        }
    }
}

/// What a request's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// A document (XML, or JSON for a bucket policy), bounded by `max_xml_body_bytes`.
    Document,
    /// Object data, bounded by `max_put_size`.
    Data,
}

/// Everything the server does with an operation besides handling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// The IAM action a policy must allow, and its resource.
    pub action: Action,
    /// The action when the request names a `versionId` (the `…Version` actions, where AWS has
    /// them; else the same as `action`).
    pub versioned_action: Action,
    /// The pricing tier.
    pub tier: Tier,
    /// The request metric, if any.
    pub metric: Option<RequestMetric>,
    /// The resource in its access-log operation name (`REST.<method>.<resource>`).
    pub log_resource: &'static str,
    /// Whether the access log names it `REST.COPY.<resource>` instead of by its method.
    pub logged_as_copy: bool,
    /// What its body is.
    pub body: Body,
}

/// A descriptor with its action on `scope`, no versioned action of its own, no request metric,
/// and no body.
const fn d(
    tier: Tier,
    action: &'static str,
    scope: Scope,
    log_resource: &'static str,
) -> Descriptor {
    let action = Action {
        name: action,
        scope,
    };
    Descriptor {
        action,
        versioned_action: action,
        tier,
        metric: None,
        log_resource,
        logged_as_copy: false,
        body: Body::Empty,
    }
}

impl Descriptor {
    const fn versioned(mut self, action: &'static str) -> Self {
        self.versioned_action = Action {
            name: action,
            scope: self.action.scope,
        };
        self
    }

    const fn metric(mut self, metric: RequestMetric) -> Self {
        self.metric = Some(metric);
        self
    }

    const fn document(mut self) -> Self {
        self.body = Body::Document;
        self
    }

    const fn data(mut self) -> Self {
        self.body = Body::Data;
        self
    }

    const fn copy(mut self) -> Self {
        self.logged_as_copy = true;
        self
    }
}
