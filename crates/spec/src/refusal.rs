//! Why a request is refused: one type, [`Refusal`], made by every validator in this crate and
//! by the server's own checks (a POST form's policy), with its code one of the S3 error codes
//! leadshop refuses with ([`ErrorCode`]). The server turns it into an S3 error in one place
//! (`s3::error::refused`) and renders the shell's with the same code and status.

/// An S3 error code a refusal carries, with the HTTP status AWS answers it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 403.
    AccessDenied,
    /// 400.
    InvalidArgument,
    /// 400: a POST form's policy is not one.
    InvalidPolicyDocument,
    /// 400.
    InvalidRequest,
    /// 400: a logging target that cannot take the logs.
    InvalidTargetBucketForLogging,
    /// 400: an ACL that is not one.
    MalformedACLError,
    /// 400: a document that does not parse, or breaks the schema.
    MalformedXML,
    /// 400: an e-mail grantee.
    UnresolvableGrantByEmailAddress,
}

impl ErrorCode {
    /// The code as S3 spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::InvalidArgument => "InvalidArgument",
            ErrorCode::InvalidPolicyDocument => "InvalidPolicyDocument",
            ErrorCode::InvalidRequest => "InvalidRequest",
            ErrorCode::InvalidTargetBucketForLogging => "InvalidTargetBucketForLogging",
            ErrorCode::MalformedACLError => "MalformedACLError",
            ErrorCode::MalformedXML => "MalformedXML",
            ErrorCode::UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
        }
    }

    /// The HTTP status AWS answers it with.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::AccessDenied => 403,
            ErrorCode::InvalidArgument
            | ErrorCode::InvalidPolicyDocument
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidTargetBucketForLogging
            | ErrorCode::MalformedACLError
            | ErrorCode::MalformedXML
            | ErrorCode::UnresolvableGrantByEmailAddress => 400,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the code as S3 spells it (`code == "MalformedXML"`).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// AWS's message for a document that does not parse or breaks the schema.
pub const MALFORMED_XML: &str =
    "The XML you provided was not well-formed or did not validate against our published schema";

/// Why a request is refused: S3's error code and AWS's wording where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The S3 error code (and so the status).
    pub code: ErrorCode,
    /// The message.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `MalformedXML`, in AWS's words.
    #[must_use]
    pub fn malformed_xml() -> Self {
        Self::new(ErrorCode::MalformedXML, MALFORMED_XML)
    }

    /// `InvalidArgument`.
    #[must_use]
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// `InvalidRequest`.
    #[must_use]
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
}
