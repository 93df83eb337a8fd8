//! What an upload step produced, as a typed value, and its JSON in MediaWiki's shape (the key
//! order of each result follows the transcripts). The same values are stored as the statuses
//! `checkstatus` reports.

use serde_json::{json, Map, Value};

use crate::error::ApiError;

/// The warnings of an upload, in MediaWiki's order and shape.
pub type Warnings = Map<String, Value>;

/// The result of an upload request or of an asynchronous step.
#[derive(Debug, Clone)]
pub enum UploadOutcome {
    /// A version was published.
    Published {
        filename: String,
        warnings: Warnings,
        imageinfo: Map<String, Value>,
    },
    /// The file was stashed (`stash=1`).
    Stashed {
        filekey: String,
        warnings: Warnings,
        imageinfo: Map<String, Value>,
    },
    /// A chunked upload was assembled into a stashed file.
    Assembled {
        filekey: String,
        warnings: Warnings,
        imageinfo: Map<String, Value>,
    },
    /// Warnings stop the upload; the file waits in the stash under `filekey` (or could not
    /// be stashed: `stash_error`).
    Warning {
        warnings: Warnings,
        stashed: Result<String, ApiError>,
    },
    /// A chunk was stored; the upload continues at `offset`.
    Continue {
        offset: u64,
        filekey: String,
        warnings: Warnings,
    },
    /// An asynchronous step was queued.
    Poll {
        filekey: Option<String>,
        filename: Option<String>,
        warnings: Warnings,
    },
}

/// `stasherrors` for a Warning whose file could not be stashed.
pub fn stash_errors(e: &ApiError) -> Value {
    json!([{"message": e.code, "params": [], "code": e.code, "type": "error", "info": e.info}])
}

impl UploadOutcome {
    /// The `upload` object of the answer.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut o = Map::new();
        match self {
            UploadOutcome::Published {
                filename,
                warnings,
                imageinfo,
            } => {
                o.insert("result".into(), "Success".into());
                o.insert("filename".into(), filename.clone().into());
                if !warnings.is_empty() {
                    o.insert("warnings".into(), Value::Object(warnings.clone()));
                }
                o.insert("imageinfo".into(), Value::Object(imageinfo.clone()));
            }
            UploadOutcome::Stashed {
                filekey,
                warnings,
                imageinfo,
            } => {
                o.insert("result".into(), "Success".into());
                o.insert("filekey".into(), filekey.clone().into());
                o.insert("sessionkey".into(), filekey.clone().into());
                if !warnings.is_empty() {
                    o.insert("warnings".into(), Value::Object(warnings.clone()));
                }
                o.insert("imageinfo".into(), Value::Object(imageinfo.clone()));
            }
            UploadOutcome::Assembled {
                filekey,
                warnings,
                imageinfo,
            } => {
                if !warnings.is_empty() {
                    o.insert("warnings".into(), Value::Object(warnings.clone()));
                }
                o.insert("result".into(), "Success".into());
                o.insert("filekey".into(), filekey.clone().into());
                o.insert("imageinfo".into(), Value::Object(imageinfo.clone()));
            }
            UploadOutcome::Warning { warnings, stashed } => {
                o.insert("result".into(), "Warning".into());
                o.insert("warnings".into(), Value::Object(warnings.clone()));
                match stashed {
                    Ok(key) => {
                        o.insert("filekey".into(), key.clone().into());
                        o.insert("sessionkey".into(), key.clone().into());
                    }
                    Err(e) => {
                        o.insert("stasherrors".into(), stash_errors(e));
                    }
                }
            }
            UploadOutcome::Continue {
                offset,
                filekey,
                warnings,
            } => {
                // With ignorewarnings the warnings come first, as MediaWiki places them.
                if !warnings.is_empty() {
                    o.insert("warnings".into(), Value::Object(warnings.clone()));
                }
                o.insert("result".into(), "Continue".into());
                o.insert("offset".into(), (*offset).into());
                o.insert("filekey".into(), filekey.clone().into());
            }
            UploadOutcome::Poll {
                filekey,
                filename,
                warnings,
            } => {
                // An assembly lists its warnings first, a publish last.
                if filekey.is_some() && !warnings.is_empty() {
                    o.insert("warnings".into(), Value::Object(warnings.clone()));
                }
                o.insert("result".into(), "Poll".into());
                o.insert("stage".into(), "queued".into());
                if let Some(k) = filekey {
                    o.insert("filekey".into(), k.clone().into());
                }
                if let Some(f) = filename {
                    o.insert("filename".into(), f.clone().into());
                    if !warnings.is_empty() {
                        o.insert("warnings".into(), Value::Object(warnings.clone()));
                    }
                }
            }
        }
        o
    }

    /// The answer: `{"upload": {...}}`.
    pub fn into_response(self) -> Map<String, Value> {
        wrap(self.to_json())
    }

    /// The status `checkstatus` reports once an asynchronous step ended with this outcome:
    /// `result` and `stage`, then `filekey` or `filename`, `warnings`, and `imageinfo` last.
    pub fn to_status(&self, stage: &str) -> Value {
        let mut o = Map::new();
        let result = match self {
            UploadOutcome::Warning { .. } => "Warning",
            UploadOutcome::Continue { .. } => "Continue",
            UploadOutcome::Poll { .. } => "Poll",
            _ => "Success",
        };
        o.insert("result".into(), result.into());
        o.insert("stage".into(), stage.into());
        let (key, name, warnings, info) = match self {
            UploadOutcome::Published {
                filename,
                imageinfo,
                ..
            } => (None, Some(filename), None, Some(imageinfo)),
            UploadOutcome::Stashed {
                filekey,
                warnings,
                imageinfo,
            }
            | UploadOutcome::Assembled {
                filekey,
                warnings,
                imageinfo,
            } => (Some(filekey), None, Some(warnings), Some(imageinfo)),
            UploadOutcome::Warning { warnings, stashed } => {
                (stashed.as_ref().ok(), None, Some(warnings), None)
            }
            UploadOutcome::Continue {
                offset, filekey, ..
            } => {
                o.insert("offset".into(), (*offset).into());
                (Some(filekey), None, None, None)
            }
            UploadOutcome::Poll {
                filekey, filename, ..
            } => (filekey.as_ref(), filename.as_ref(), None, None),
        };
        if let Some(k) = key {
            o.insert("filekey".into(), k.clone().into());
        }
        if let Some(n) = name {
            o.insert("filename".into(), n.clone().into());
        }
        if let Some(w) = warnings.filter(|w| !w.is_empty()) {
            o.insert("warnings".into(), Value::Object(w.clone()));
        }
        if let Some(i) = info {
            o.insert("imageinfo".into(), Value::Object(i.clone()));
        }
        Value::Object(o)
    }
}

/// The status of a queued step.
pub fn queued_status() -> Value {
    json!({"result": "Poll", "stage": "queued"})
}

/// The status of a step being worked on.
pub fn working_status(stage: &str) -> Value {
    json!({"result": "Poll", "stage": stage})
}

/// The status of a step that failed.
pub fn failure_status(stage: &str, e: &ApiError) -> Value {
    json!({"result": "Failure", "stage": stage, "error": {"code": e.code, "info": e.info, "data": Value::Object(e.data.clone())}})
}

/// `{"upload": inner}`.
pub fn wrap(inner: Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("upload".into(), Value::Object(inner));
    m
}
