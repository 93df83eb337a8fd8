//! The verdict of a failed content check: [`VerificationError`], an i18n message key with
//! its parameters, and the English texts the API shows for it.

use std::sync::OnceLock;

use crate::xml::decode_char_references;

/// A failed content check: an i18n message key and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.info())]
pub struct VerificationError {
    /// The message key, e.g. `filetype-mime-mismatch`.
    pub key: String,
    /// The message parameters, e.g. `["jpg", "image/png"]`.
    pub params: Vec<String>,
}

/// English texts of the detail messages (`$1`... are the parameters).
const MESSAGES: &[(&str, &str)] = &[
    ("filetype-mime-mismatch", "File extension \".$1\" does not match the detected MIME type of the file ($2)."),
    ("filetype-badmime", "Files of the MIME type \"$1\" are not allowed to be uploaded."),
    (
        "filetype-bad-ie-mime",
        "Cannot upload this file because Internet Explorer would detect it as \"$1\", which is a disallowed and potentially dangerous file type.",
    ),
    ("uploadscripted", "This file contains HTML or script code that may be erroneously interpreted by a web browser."),
    ("uploadinvalidxml", "The XML in the uploaded file could not be parsed."),
    ("uploadvirus", "The file contains a virus! Details: $1"),
    ("uploadscriptednamespace", "This SVG file contains an illegal namespace \"$1\"."),
    ("uploaded-script-svg", "Found scriptable element \"$1\" in the uploaded SVG file."),
    ("uploaded-hostile-svg", "Found unsafe CSS in the style element of uploaded SVG file."),
    ("uploaded-event-handler-on-svg", "Setting event-handler attributes <code>$1=\"$2\"</code> is not allowed in SVG files."),
    (
        "uploaded-href-attribute-svg",
        "&lt;a&gt; elements can only link (href) to data: (embedded file), http:// or https://, or fragment (#, same-document) targets. For other elements, only data: and fragment are allowed. Try embedding images when exporting your SVG. Found <code>&lt;$1 $2=\"$3\"&gt;</code>.",
    ),
    ("uploaded-href-unsafe-target-svg", "Found href to unsafe data: URI target <code>&lt;$1 $2=\"$3\"&gt;</code> in the uploaded SVG file."),
    (
        "uploaded-animate-svg",
        "Found \"animate\" tag that might be changing href, using the \"from\" attribute <code>&lt;$1 $2=\"$3\"&gt;</code> in the uploaded SVG file.",
    ),
    (
        "uploaded-setting-event-handler-svg",
        "Setting event-handler attributes is blocked, found <code>&lt;$1 $2=\"$3\"&gt;</code> in the uploaded SVG file.",
    ),
    ("uploaded-setting-href-svg", "Using the \"set\" tag to add \"href\" attribute to parent element is blocked."),
    (
        "uploaded-wrong-setting-svg",
        "Using the \"set\" tag to add a remote/data/script target to any attribute is blocked. Found <code>&lt;set to=\"$1\"&gt;</code> in the uploaded SVG file.",
    ),
    (
        "uploaded-setting-handler-svg",
        "SVG that sets the \"handler\" attribute with remote/data/script is blocked. Found <code>$1=\"$2\"</code> in the uploaded SVG file.",
    ),
    (
        "uploaded-remote-url-svg",
        "SVG that sets any style attribute with remote URL is blocked. Found <code>$1=\"$2\"</code> in the uploaded SVG file.",
    ),
    ("uploaded-image-filter-svg", "Found image filter with URL: <code>&lt;$1 $2=\"$3\"&gt;</code> in the uploaded SVG file."),
    ("uploaded-malformed-image", "This file is not a valid $1 image: $2."),
    (
        "uploaded-markup-in-image",
        "This $1 file contains HTML or script code in $2, which a web browser may act on.",
    ),
    (
        "uploaded-data-after-image",
        "This $1 file has $2 appended after the end of the image.",
    ),
    ("uploaded-malformed-file", "This file is not a valid $1 file: $2."),
    (
        "uploaded-data-after-file",
        "This $1 file has $2 appended after its end.",
    ),
    (
        "uploaded-metadata-flood",
        "This $1 file has more than $2 text chunks.",
    ),
    (
        "uploaded-decompression-bomb",
        "This $1 file's image data expands $2-fold, to $3 bytes, when decoded; it is refused as a decompression bomb.",
    ),
    (
        "uploaded-script-polyglot",
        "This $1 file is built to run as a script as well: its header opens a JavaScript comment.",
    ),
    (
        "uploaded-metadata-too-large",
        "This $1 file has a compressed text chunk that expands to more than $2 bytes.",
    ),
    (
        "uploaded-image-too-costly",
        "Decoding this $1 image would need more than $2 bytes of memory.",
    ),
    (
        "uploaded-verification-timeout",
        "Checking this $1 file took longer than $2 seconds, so it was refused.",
    ),
    (
        "uploaded-image-area-too-large",
        "The image declares $1 × $2 pixels, more than the $3 pixels an image may have here. Such a canvas is refused before anything tries to decode it.",
    ),
    (
        "uploaded-xml-base-svg",
        "Setting a base URL (<code>xml:base</code>) is not allowed in SVG files: it changes where every reference points. Found <code>&lt;$1 xml:base=\"$2\"&gt;</code>.",
    ),
    ("upload-scripted-pi-callback", "Cannot upload a file that contains XML-stylesheet processing instruction."),
    ("upload-scripted-dtd", "Cannot upload SVG files that contain a non-standard DTD declaration."),
];

impl VerificationError {
    /// A new error with the given key and parameters.
    pub fn new(key: &str, params: &[&str]) -> Self {
        VerificationError {
            key: key.to_owned(),
            params: params.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    /// The API `details` array: the key followed by the parameters.
    pub fn details(&self) -> Vec<String> {
        std::iter::once(self.key.clone())
            .chain(self.params.iter().cloned())
            .collect()
    }

    /// The English message text as the API shows it in `info` (markup turned to plain
    /// text the way MediaWiki's API does it).
    pub fn info(&self) -> String {
        let Some((_, template)) = MESSAGES.iter().find(|(k, _)| *k == self.key) else {
            return format!("\u{29FC}{}\u{29FD}", self.key);
        };
        strip_markup(&substitute(template, &self.params))
    }
}

/// Replace `$1`, `$2`... with the parameters.
fn substitute(template: &str, params: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(p) = rest.find('$') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<usize>().ok().filter(|n| *n >= 1) {
            Some(n) => {
                match params.get(n - 1) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('$');
                        out.push_str(&digits);
                    }
                }
                rest = &after[digits.len()..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Semantic quoting tags become quotes, other tags are removed, entities are decoded.
fn strip_markup(text: &str) -> String {
    static QUOTE_TAGS: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let quoted = match QUOTE_TAGS
        .get_or_init(|| regex::Regex::new(r"</?(var|kbd|samp|code)>").ok())
        .as_ref()
    {
        Some(re) => re.replace_all(text, "\"").into_owned(),
        None => text.to_owned(),
    };
    // Remove tags: '<' followed by a non-space character starts one, up to the next '>'.
    let mut stripped = String::with_capacity(quoted.len());
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' && chars.peek().is_some_and(|n| !n.is_whitespace()) {
            for d in chars.by_ref() {
                if d == '>' {
                    break;
                }
            }
            continue;
        }
        stripped.push(c);
    }
    decode_char_references(&stripped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_messages_render() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("uploadinvalidxml", &[], "The XML in the uploaded file could not be parsed."),
            ("uploadscriptednamespace", &["http://www.w3.org/1999/xhtml"], "This SVG file contains an illegal namespace \"http://www.w3.org/1999/xhtml\"."),
            ("uploaded-script-svg", &["script"], "Found scriptable element \"script\" in the uploaded SVG file."),
            ("uploaded-hostile-svg", &[], "Found unsafe CSS in the style element of uploaded SVG file."),
            (
                "uploaded-href-unsafe-target-svg",
                &["image", "href", "data:text/html,x"],
                "Found href to unsafe data: URI target \"<image href=\"data:text/html,x\">\" in the uploaded SVG file.",
            ),
            (
                "uploaded-remote-url-svg",
                &["style", "fill:url(http://x)"],
                "SVG that sets any style attribute with remote URL is blocked. Found \"style=\"fill:url(http://x)\"\" in the uploaded SVG file.",
            ),
            ("upload-scripted-pi-callback", &[], "Cannot upload a file that contains XML-stylesheet processing instruction."),
            ("upload-scripted-dtd", &[], "Cannot upload SVG files that contain a non-standard DTD declaration."),
            ("uploadvirus", &["Eicar-Test-Signature"], "The file contains a virus! Details: Eicar-Test-Signature"),
            ("uploaded-malformed-file", &["PDF", "it has no %%EOF marker"], "This file is not a valid PDF file: it has no %%EOF marker."),
            ("uploaded-data-after-file", &["WAV", "a ZIP archive"], "This WAV file has a ZIP archive appended after its end."),
        ];
        for (key, params, info) in cases {
            assert_eq!(VerificationError::new(key, params).info(), *info);
        }
        let href = VerificationError::new(
            "uploaded-href-attribute-svg",
            &["image", "href", "http://x/"],
        )
        .info();
        assert!(href.starts_with("<a> elements can only link"), "{href}");
        assert!(
            href.ends_with("Found \"<image href=\"http://x/\">\"."),
            "{href}"
        );
        assert_eq!(
            VerificationError::new("no-such-key", &[]).info(),
            "\u{29FC}no-such-key\u{29FD}"
        );
    }
}
