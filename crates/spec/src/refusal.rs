//! Why a request is refused: one type, [`Refusal`], made by every validator in this crate and
//! by the server's own checks (a POST form's policy, the CloudWatch endpoint), with its code one
//! of the S3 and CloudWatch error codes leadshop refuses with ([`ErrorCode`]). The server turns
//! it into an S3 error in one place (`s3::error::refused`), renders the shell's with the same
//! code and status, and the CloudWatch endpoint in each of its protocols' shapes.

/// An error code a refusal carries (S3's, and CloudWatch's for its endpoint), with the HTTP
/// status AWS answers it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 403.
    AccessDenied,
    /// 400 (CloudWatch): an Authorization header that is not SigV4.
    IncompleteSignature,
    /// 400 (CloudWatch): an action the endpoint does not answer.
    InvalidAction,
    /// 403 (CloudWatch): an unknown access key or a session token.
    InvalidClientTokenId,
    /// 400.
    InvalidArgument,
    /// 400 (CloudWatch).
    InvalidParameterCombination,
    /// 400 (CloudWatch).
    InvalidParameterValue,
    /// 400: a POST form's policy is not one.
    InvalidPolicyDocument,
    /// 400.
    InvalidRequest,
    /// 400: a logging target that cannot take the logs.
    InvalidTargetBucketForLogging,
    /// 500 (CloudWatch): a failure of the server's.
    InternalServiceError,
    /// 400: an ACL that is not one.
    MalformedACLError,
    /// 400 (CloudWatch): a query-protocol body that does not decode.
    MalformedQueryString,
    /// 400: a document that does not parse, or breaks the schema.
    MalformedXML,
    /// 400 (CloudWatch).
    MissingAction,
    /// 403 (CloudWatch): no Authorization header.
    MissingAuthenticationToken,
    /// 400 (CloudWatch).
    MissingParameter,
    /// 400 (CloudWatch): a body too large, or not sent in time.
    RequestEntityTooLarge,
    /// 400 (CloudWatch): a JSON or CBOR body that does not decode.
    SerializationException,
    /// 403.
    SignatureDoesNotMatch,
    /// 400: an e-mail grantee.
    UnresolvableGrantByEmailAddress,
}

impl ErrorCode {
    /// The code as S3 spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        use ErrorCode as E;
        match self {
            E::AccessDenied => "AccessDenied",
            E::IncompleteSignature => "IncompleteSignature",
            E::InvalidAction => "InvalidAction",
            E::InvalidClientTokenId => "InvalidClientTokenId",
            E::InvalidArgument => "InvalidArgument",
            E::InvalidParameterCombination => "InvalidParameterCombination",
            E::InvalidParameterValue => "InvalidParameterValue",
            E::InvalidPolicyDocument => "InvalidPolicyDocument",
            E::InvalidRequest => "InvalidRequest",
            E::InvalidTargetBucketForLogging => "InvalidTargetBucketForLogging",
            E::InternalServiceError => "InternalServiceError",
            E::MalformedACLError => "MalformedACLError",
            E::MalformedQueryString => "MalformedQueryString",
            E::MalformedXML => "MalformedXML",
            E::MissingAction => "MissingAction",
            E::MissingAuthenticationToken => "MissingAuthenticationToken",
            E::MissingParameter => "MissingParameter",
            E::RequestEntityTooLarge => "RequestEntityTooLarge",
            E::SerializationException => "SerializationException",
            E::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            E::UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
        }
    }

    /// The HTTP status AWS answers it with.
    #[must_use]
    pub const fn status(self) -> u16 {
        use ErrorCode as E;
        match self {
            E::AccessDenied
            | E::InvalidClientTokenId
            | E::MissingAuthenticationToken
            | E::SignatureDoesNotMatch => 403,
            E::InternalServiceError => 500,
            E::IncompleteSignature
            | E::InvalidAction
            | E::InvalidArgument
            | E::InvalidParameterCombination
            | E::InvalidParameterValue
            | E::InvalidPolicyDocument
            | E::InvalidRequest
            | E::InvalidTargetBucketForLogging
            | E::MalformedACLError
            | E::MalformedQueryString
            | E::MalformedXML
            | E::MissingAction
            | E::MissingParameter
            | E::RequestEntityTooLarge
            | E::SerializationException
            | E::UnresolvableGrantByEmailAddress => 400,
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
