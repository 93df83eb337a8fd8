//! The table of every error code the API answers with: one row per code, giving its variant,
//! MediaWiki's code string and, where it is not 200, its HTTP status.
//!
//! Rows are in alphabetical order of the code string. The `codes!` macro turns the table into
//! [`Code`], [`Code::as_str`], [`Code::status`] and [`Code::ALL`], so a code is declared once
//! and cannot be missing from any of them.
//!
//! Not in the table: codes that come from a closed set defined elsewhere and reach the API
//! through [`ApiError::from_wire`](super::ApiError::from_wire) — a name error's code
//! (`mwstore_domain::title::NameError::code`), the key of a failed content check on a first
//! chunk (`mwstore_domain::verdict`), and `internal_api_error_<class>`.

use axum::http::StatusCode;

/// Builds [`Code`] and its functions from the table below.
///
/// A row is `/// doc` lines, then `Variant = "code",` or, for a status other than 200,
/// `Variant = "code" => STATUS_CONSTANT,` (an associated constant of [`StatusCode`]).
macro_rules! codes {
    ($(
        $(#[$meta:meta])+
        $variant:ident = $code:literal $(=> $status:ident)?,
    )+) => {
        /// An error code the API answers with (see the [module](self) for the table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$meta])+ $variant,)+
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &[Code] = &[$(Code::$variant,)+];

            /// The code as MediaWiki spells it, e.g. `uploadstash-file-not-found`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)+
                }
            }

            /// The HTTP status of a response with this error: 200 (as MediaWiki answers
            /// every API error) unless the table says otherwise.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => codes!(@status $($status)?),)+
                }
            }
        }
    };
    (@status) => { StatusCode::OK };
    (@status $status:ident) => { StatusCode::$status };
}

codes! {
    /// `assert=anon` was given but the request is logged in.
    AssertAnonFailed = "assertanonfailed",
    /// `assert=bot` was given but the user lacks the `bot` right.
    AssertBotFailed = "assertbotfailed",
    /// `assertuser` names a user other than the one logged in.
    AssertNamedUserFailed = "assertnameduserfailed",
    /// `assert=user` was given but the request is not logged in.
    AssertUserFailed = "assertuserfailed",
    /// The disk (or quota) is full: nothing was kept.
    BackendFailWritetemp = "backend-fail-writetemp",
    /// An integer parameter does not hold an integer.
    BadInteger = "badinteger",
    /// `tags` names change tags that may not be applied.
    BadTags = "badtags",
    /// A login or CSRF token does not match the session.
    BadToken = "badtoken",
    /// A file parameter is not a file upload, or a multipart body or its file cannot be read.
    BadUpload = "badupload",
    /// A parameter has a value that is not allowed (enum, multi-value, `format`).
    BadValue = "badvalue",
    /// `async` combined with `file` (only stashed files and URLs are processed asynchronously).
    CannotAsyncUploadFile = "cannot-async-upload-file",
    /// Undelete found nothing deleted, or the page or file exists already.
    CannotUndelete = "cannotundelete",
    /// A logged-in user may not create the file's description page.
    CantCreate = "cantcreate",
    /// An anonymous user may not create the file's description page.
    CantCreateAnon = "cantcreate-anon",
    /// A non-final chunk is smaller than the minimum chunk size.
    ChunkTooSmall = "chunk-too-small",
    /// The page text (`text`, or `comment` standing in for it) is larger than
    /// `max_article_size`.
    ContentTooBig = "contenttoobig",
    /// Upload by URL from a domain that is not allowed.
    CopyUploadBadDomain = "copyuploadbaddomain",
    /// Upload by URL from an address that is not public.
    CopyUploadBadUrl = "copyuploadbadurl",
    /// Upload by URL while it is disabled.
    CopyUploadDisabled = "copyuploaddisabled",
    /// The uploaded file has no bytes.
    EmptyFile = "empty-file",
    /// The uploaded file is larger than the maximum upload size.
    FileTooLarge = "file-too-large",
    /// The file exists and the user may not overwrite it.
    FileExistsForbidden = "fileexists-forbidden",
    /// The upload is an exact duplicate of the current version of the file.
    FileExistsNoChange = "fileexists-no-change",
    /// A chunk after the first was sent without `filekey`.
    FilekeyNeeded = "filekeyneeded",
    /// The first chunk (`offset=0`) was sent with a `filekey`.
    FilekeyNotAllowed = "filekeynotallowed",
    /// Upload by URL: the server answered with an error or a redirect without `Location`.
    HttpBadStatus = "http-bad-status",
    /// Upload by URL: the transfer failed.
    HttpCurlError = "http-curl-error",
    /// Upload by URL: the URL cannot be parsed.
    HttpInvalidUrl = "http-invalid-url",
    /// Upload by URL: the transfer took too long.
    HttpTimedOut = "http-timed-out",
    /// A chunked upload's file name is not allowed.
    IllegalFilename = "illegal-filename",
    /// A chunk's offset plus its size exceeds the declared file size.
    InvalidChunk = "invalid-chunk",
    /// `filekey` is not in the form of a stash key.
    InvalidFileKey = "invalid-file-key",
    /// An HTTP method other than GET, HEAD, POST or OPTIONS.
    InvalidMethod = "invalidmethod" => METHOD_NOT_ALLOWED,
    /// Parameters that cannot be used together.
    InvalidParamMix = "invalidparammix",
    /// `aisha1base36` is not a base-36 SHA-1.
    InvalidSha1Base36Hash = "invalidsha1base36hash",
    /// `aisha1` is not a hexadecimal SHA-1.
    InvalidSha1Hash = "invalidsha1hash",
    /// A title cannot be parsed.
    InvalidTitle = "invalidtitle",
    /// `iiurlparam` parses, but a value in it is not valid (`0px`).
    InvalidUrlParam = "invalidurlparam",
    /// `list=allimages` with `aimime` while the server runs in miser mode.
    MimeSearchDisabled = "mimesearchdisabled",
    /// A required parameter (or one of a required set) is missing.
    MissingParam = "missingparam",
    /// `checkstatus` of an asynchronous upload whose status holds no result.
    MissingResult = "missingresult",
    /// The page to delete does not exist.
    MissingTitle = "missingtitle",
    /// An anonymous upload where uploads need a login.
    MustBeLoggedIn = "mustbeloggedin",
    /// A module that needs POST was called with GET.
    MustBePosted = "mustbeposted",
    /// A token parameter was sent in the query string instead of the POST body.
    MustPostParams = "mustpostparams",
    /// An upload without `filename`.
    NoFilename = "nofilename",
    /// `prop=stashimageinfo` without a login.
    NotLoggedIn = "notloggedin",
    /// The user lacks the right the action needs.
    PermissionDenied = "permissiondenied",
    /// `Promise-Non-Write-API-Action` sent to a write module.
    PromisedNonwriteApi = "promised-nonwrite-api",
    /// The file's page is protected against uploads by this user.
    ProtectedPage = "protectedpage",
    /// Publishing a stashed file that is being published already.
    PublishFailed = "publishfailed",
    /// The user exceeded the upload rate limit.
    RateLimited = "ratelimited",
    /// No part of the request body arrived within `request_body_timeout`.
    RequestTimeout = "requesttimeout" => REQUEST_TIMEOUT,
    /// A stashed or chunked upload failed (chunk offset, assembly, asynchronous step).
    StashFailed = "stashfailed",
    /// The upload stash was used without a login.
    StashNotLoggedIn = "stashnotloggedin",
    /// The form fields of a request are larger than allowed.
    TooLarge = "toolarge" => PAYLOAD_TOO_LARGE,
    /// A request has more parameters than `max_input_vars`.
    TooManyParams = "toomanyparams" => PAYLOAD_TOO_LARGE,
    /// A multi-valued parameter has more values than allowed.
    TooManyValues = "toomanyvalues",
    /// Upload by URL: the URL redirects too often.
    UploadTooManyRedirects = "upload-too-many-redirects",
    /// An upload while uploads are disabled.
    UploadDisabled = "uploaddisabled",
    /// A stash key that is not in the form of a stash key.
    UploadstashBadPathBadFormat = "uploadstash-bad-path-bad-format",
    /// A stash key that is not (or no longer) in the stash.
    UploadstashFileNotFound = "uploadstash-file-not-found",
    /// A stashed file whose bytes are missing or not a plain file.
    UploadstashFileNotFoundNotExists = "uploadstash-file-not-found-not-exists",
    /// A stash key that belongs to another user.
    UploadstashWrongOwner = "uploadstash-wrong-owner",
    /// `iiurlwidth`/`iiurlheight`/`iiurlparam` give no usable thumbnail width for a file.
    UrlParamNormal = "urlparamnormal",
    /// The file's content failed a check (details in `details`).
    VerificationError = "verification-error",
    /// The user may not use write modules through the API.
    WriteApiDenied = "writeapidenied",
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
        }
    }

    #[test]
    fn codes_look_like_mediawiki_codes() {
        for c in Code::ALL {
            let s = c.as_str();
            assert!(
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{s} is not of the form ^[a-z0-9-]+$"
            );
        }
    }

    /// `ALL` is generated from the same rows as the enum, so it cannot miss a variant; this
    /// checks that it lists them in declaration order without gaps or repeats (each entry's
    /// discriminant is its index), up to the last row (`writeapidenied`, to be updated when a
    /// code sorts after it).
    #[test]
    fn all_lists_every_variant() {
        for (i, c) in Code::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?} out of place in Code::ALL");
        }
        assert_eq!(Code::ALL.len(), Code::WriteApiDenied as usize + 1);
    }

    #[test]
    fn table_is_alphabetical() {
        for w in Code::ALL.windows(2) {
            assert!(
                w[0].as_str() < w[1].as_str(),
                "{} before {}",
                w[0].as_str(),
                w[1].as_str()
            );
        }
    }

    #[test]
    fn statuses() {
        // MediaWiki answers every error 200 but a wrong method; the front door's own
        // refusals (which MediaWiki leaves to PHP and the web server) say what they are.
        let other = [
            (Code::InvalidMethod, StatusCode::METHOD_NOT_ALLOWED),
            (Code::RequestTimeout, StatusCode::REQUEST_TIMEOUT),
            (Code::TooLarge, StatusCode::PAYLOAD_TOO_LARGE),
            (Code::TooManyParams, StatusCode::PAYLOAD_TOO_LARGE),
        ];
        for c in Code::ALL {
            let expected = other
                .iter()
                .find(|(code, _)| code == c)
                .map_or(StatusCode::OK, |(_, s)| *s);
            assert_eq!(c.status(), expected, "{}", c.as_str());
        }
    }
}
