//! `extmetadata` of imageinfo: what a reader of a file is shown about it (its description,
//! author, source, licence, categories), in the keys and sources Wikimedia Commons gives
//! them, so that the clients written for Commons (media viewers, InstantCommons wikis,
//! attribution generators) find them where they look.
//!
//! Two sources, as on Commons: the file description page (its `{{Information}}` fields,
//! licence templates and categories: [`mwstore_domain::describe`]), and, where the page leaves
//! a field out, the file's own metadata (EXIF `ImageDescription`, `Artist`, `Copyright`,
//! `DateTimeOriginal`). A page without any of those templates is a plain MediaWiki page: its
//! file gets what MediaWiki itself gives (`DateTime` and `ObjectName` only), so that answers
//! stay the same as MediaWiki's wherever nothing Commons-style was written.

use serde_json::{json, Map, Value};

use mwstore_domain::describe::Description;

/// How `extmetadata` is asked for: `iiextmetadatalanguage`, `iiextmetadatamultilang`,
/// `iiextmetadatafilter`.
#[derive(Debug, Clone)]
pub struct ExtOptions {
    pub language: String,
    pub multilang: bool,
    pub filter: Option<Vec<String>>,
}

impl Default for ExtOptions {
    fn default() -> Self {
        ExtOptions {
            language: "en".to_owned(),
            multilang: false,
            filter: None,
        }
    }
}

/// What an `extmetadata` object is made of.
pub struct ExtSource<'a> {
    /// The version's upload time, ISO 8601.
    pub timestamp: &'a str,
    /// The file name without its extension, with spaces.
    pub object_name: &'a str,
    /// The file's `commonmetadata` list (`[{name, value}]`).
    pub common: &'a Value,
    /// The facts of its description page, when it has one.
    pub page: Option<&'a Description>,
}

/// One field: `{"value", "source"[, "hidden": ""]}`.
fn field(value: impl Into<Value>, source: &str, hidden: bool) -> Value {
    let mut f = json!({"value": value.into(), "source": source});
    if hidden {
        f["hidden"] = "".into();
    }
    f
}

/// The value of `name` in a `commonmetadata` list, as text.
fn from_file(common: &Value, name: &str) -> Option<String> {
    common.as_array()?.iter().find_map(|e| {
        (e["name"] == name).then(|| match &e["value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })
}

/// An EXIF date (`2020:01:02 03:04:05`) as `2020-01-02 03:04:05`.
fn exif_date(s: &str) -> String {
    match s.split_once(' ') {
        Some((d, t)) if d.len() == 10 => format!("{} {t}", d.replace(':', "-")),
        _ => s.to_owned(),
    }
}

/// Whether a page describes its file the Commons way: an `{{Information}}` field, a licence
/// or a restriction template.
fn commons_style(d: &Description) -> bool {
    d.image_description.is_some()
        || !d.image_description_langs.is_empty()
        || d.date_time_original.is_some()
        || d.credit.is_some()
        || d.artist.is_some()
        || d.permission.is_some()
        || d.attribution.is_some()
        || !d.licenses.is_empty()
        || !d.restrictions.is_empty()
}

/// The `extmetadata` object.
pub fn extmetadata(src: &ExtSource<'_>, o: &ExtOptions) -> Value {
    let esc = crate::http::html::escape;
    let mut m = Map::new();
    m.insert(
        "DateTime".into(),
        field(src.timestamp, "mediawiki-metadata", true),
    );
    m.insert(
        "ObjectName".into(),
        field(src.object_name, "mediawiki-metadata", true),
    );
    let Some(d) = src.page.filter(|d| commons_style(d)) else {
        return filtered(m, o);
    };
    let page = Some(d);
    {
        let mut categories = d.categories.clone();
        categories.sort();
        categories.dedup();
        m.insert(
            "Categories".into(),
            field(categories.join("|"), "commons-categories", true),
        );
        m.insert("Assessments".into(), field("", "commons-categories", true));
    }
    // The description: the page's, in every language it has or in the one asked for, else
    // the file's own.
    let description = page.and_then(|d| {
        let langs = &d.image_description_langs;
        if langs.is_empty() {
            return d.image_description.clone().map(Value::from);
        }
        if o.multilang {
            let mut l: Map<String, Value> = langs
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect();
            l.insert("_type".into(), "lang".into());
            return Some(Value::Object(l));
        }
        let pick = langs
            .iter()
            .find(|(k, _)| *k == o.language)
            .or_else(|| langs.iter().find(|(k, _)| k == "en"))
            .or_else(|| langs.iter().next());
        pick.map(|(_, v)| Value::from(v.clone()))
    });
    page_or_file(
        &mut m,
        "ImageDescription",
        description,
        from_file(src.common, "ImageDescription"),
    );
    page_or_file(
        &mut m,
        "DateTimeOriginal",
        page.and_then(|d| d.date_time_original.clone())
            .map(Value::from),
        from_file(src.common, "DateTimeOriginal").map(|v| exif_date(&v)),
    );
    if let Some(v) = page.and_then(|d| d.credit.clone()) {
        m.insert("Credit".into(), field(v, "commons-desc-page", true));
    }
    page_or_file(
        &mut m,
        "Artist",
        page.and_then(|d| d.artist.clone()).map(Value::from),
        from_file(src.common, "Artist"),
    );
    if let Some(v) = page.and_then(|d| d.permission.clone()) {
        m.insert("Permission".into(), field(v, "commons-desc-page", true));
    }
    match page.and_then(|d| d.licenses.first()) {
        Some(l) => {
            let src = "commons-desc-page";
            m.insert(
                "LicenseShortName".into(),
                field(l.short_name.clone(), src, true),
            );
            m.insert("UsageTerms".into(), field(l.usage_terms.clone(), src, true));
            m.insert(
                "AttributionRequired".into(),
                field(l.attribution_required.to_string(), src, true),
            );
            if let Some(a) = page.and_then(|d| d.attribution.clone()) {
                m.insert("Attribution".into(), field(a, src, true));
            }
            if let Some(u) = &l.url {
                m.insert("LicenseUrl".into(), field(u.clone(), src, true));
            }
            m.insert(
                "Copyrighted".into(),
                field(if l.copyrighted { "True" } else { "False" }, src, true),
            );
        }
        None => {
            if let Some(v) = from_file(src.common, "Copyright") {
                m.insert("Copyright".into(), field(esc(&v), "file-metadata", false));
            }
        }
    }
    if let Some(d) = page {
        m.insert(
            "Restrictions".into(),
            field(d.restrictions.join("|"), "commons-desc-page", true),
        );
        if let Some(l) = d.licenses.first() {
            m.insert(
                "License".into(),
                field(l.template.clone(), "commons-templates", true),
            );
        }
    }
    filtered(m, o)
}

/// Sets `key` to the page's value (HTML) if it has one, else to the file's own (text,
/// escaped).
fn page_or_file(m: &mut Map<String, Value>, key: &str, page: Option<Value>, file: Option<String>) {
    let value = match (page, file) {
        (Some(v), _) => field(v, "commons-desc-page", false),
        (None, Some(v)) => field(crate::http::html::escape(&v), "file-metadata", false),
        (None, None) => return,
    };
    m.insert(key.into(), value);
}

/// `m` with only the keys `iiextmetadatafilter` names, if it names any.
fn filtered(mut m: Map<String, Value>, o: &ExtOptions) -> Value {
    if let Some(keep) = &o.filter {
        m.retain(|k, _| keep.iter().any(|f| f == k));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common() -> Value {
        json!([
            {"name": "ImageDescription", "value": "A <b>card</b>"},
            {"name": "Artist", "value": "Jane Doe"},
            {"name": "Copyright", "value": "CC BY 4.0 Jane Doe"},
            {"name": "DateTimeOriginal", "value": "2020:01:02 03:04:05"},
        ])
    }

    /// The source of the file "Card" with `common` metadata and the page facts `page`.
    fn card<'a>(common: &'a Value, page: Option<&'a Description>) -> ExtSource<'a> {
        ExtSource {
            timestamp: "2026-01-01T00:00:00Z",
            object_name: "Card",
            common,
            page,
        }
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_plain_page_gets_what_mediawiki_gives() {
        let c = common();
        let plain = mwstore_domain::describe::describe(
            "An '''upload'''.\n[[Category:Cards]]",
            "http://x/w/index.php",
        );
        for page in [None, Some(&plain)] {
            let src = card(&c, page);
            let v = extmetadata(&src, &ExtOptions::default());
            assert_eq!(keys(&v), ["DateTime", "ObjectName"]);
            assert_eq!(v["ObjectName"]["value"], "Card");
        }
    }

    #[test]
    fn the_files_own_metadata_fills_what_the_page_leaves_out() {
        let c = common();
        let d = mwstore_domain::describe::describe("{{cc-zero}}", "http://x/w/index.php");
        let src = card(&c, Some(&d));
        let v = extmetadata(&src, &ExtOptions::default());
        assert_eq!(v["ImageDescription"]["value"], "A &lt;b&gt;card&lt;/b&gt;");
        assert_eq!(v["ImageDescription"]["source"], "file-metadata");
        assert_eq!(v["Artist"]["value"], "Jane Doe");
        assert_eq!(v["DateTimeOriginal"]["value"], "2020-01-02 03:04:05");
        assert_eq!(v["Copyrighted"]["value"], "False");
        assert!(v.get("Copyright").is_none(), "the licence says it: {v}");
    }

    #[test]
    fn the_page_first_in_the_language_asked() {
        let text = "{{Information|description={{en|1=A '''card'''}}{{de|1=Eine Karte}}|author=[[User:A|A]]|source={{own}}|date=2024}}\n{{self|cc-by-sa-4.0}}\n[[Category:Zeta]][[Category:Alpha]]";
        let d = mwstore_domain::describe::describe(text, "http://x/w/index.php");
        let c = common();
        let src = card(&c, Some(&d));
        let v = extmetadata(&src, &ExtOptions::default());
        assert!(v["ImageDescription"]["value"]
            .as_str()
            .is_some_and(|s| s.contains("<b>card</b>")));
        assert_eq!(v["ImageDescription"]["source"], "commons-desc-page");
        assert_eq!(v["Categories"]["value"], "Alpha|Zeta");
        assert_eq!(v["LicenseShortName"]["value"], "CC BY-SA 4.0");
        assert_eq!(v["License"]["value"], "cc-by-sa-4.0");
        assert_eq!(v["Copyrighted"]["value"], "True");
        assert_eq!(v["AttributionRequired"]["value"], "true");
        assert!(v.get("Copyright").is_none());
        let de = ExtOptions {
            language: "de".into(),
            ..ExtOptions::default()
        };
        assert!(extmetadata(&src, &de)["ImageDescription"]["value"]
            .as_str()
            .is_some_and(|s| s.contains("Eine Karte")));
        let all = ExtOptions {
            multilang: true,
            ..ExtOptions::default()
        };
        let v = extmetadata(&src, &all);
        assert_eq!(v["ImageDescription"]["value"]["_type"], "lang");
        assert!(v["ImageDescription"]["value"]["de"]
            .as_str()
            .is_some_and(|s| s.contains("Eine Karte")));
        let only = ExtOptions {
            filter: Some(vec!["Artist".into(), "License".into()]),
            ..ExtOptions::default()
        };
        let v = extmetadata(&src, &only);
        assert_eq!(keys(&v), ["Artist", "License"]);
    }
}
