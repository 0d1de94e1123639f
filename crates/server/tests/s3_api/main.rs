//! The S3 API as a client sees it: the server on port 0, driven by the official aws-sdk-s3
//! (path-style, custom endpoint, the development CA, default checksum behaviour).

mod common;

mod access;
mod acl;
mod auth;
mod buckets;
mod clock;
mod cors;
mod encryption;
mod events;
mod lifecycle;
mod listing;
mod logging;
mod multipart;
mod object_lock;
mod objects;
mod refusals;
mod subresources;
mod versioning;
