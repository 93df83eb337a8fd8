//! The facts of a file description page, for `prop=imageinfo&iiprop=extmetadata`.
//!
//! Wikimedia Commons' CommonsMetadata extension reads `ImageDescription`, `DateTimeOriginal`,
//! `Credit`, `Artist`, `Permission`, `Attribution`, the licence fields, `Categories` and
//! `Restrictions` from the templates of a file page. [`describe`] does the same from the page
//! wikitext: `{{Information}}` gives the description, date, source, author and permission;
//! licence templates anywhere (also inside `{{self|…}}`) give the licences; `[[Category:…]]`
//! the categories; `{{Trademarked}}` and `{{Personality rights}}` the restrictions.
//!
//! Every text field is HTML rendered by [`crate::wikitext`] (inline: no wrapper, no `<p>`),
//! so it is escaped and safe to embed like the page itself.

use crate::wikitext::{self, language_code, license, restriction, License, Node, Template};

/// What a file description page says about the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    /// `{{Information|description=…}}` as HTML; `None` without an Information template or
    /// with an empty description.
    pub image_description: Option<String>,
    /// The description per language when it is made of language templates
    /// (`{{en|1=…}}{{de|1=…}}`): code and HTML, in page order, each code once (the first).
    pub image_description_langs: Vec<(String, String)>,
    /// `date=` of Information.
    pub date_time_original: Option<String>,
    /// `source=` of Information.
    pub credit: Option<String>,
    /// `author=` of Information.
    pub artist: Option<String>,
    /// `permission=` of Information.
    pub permission: Option<String>,
    /// `attribution=` of Information, else of `{{self}}` (or its `author=`), else of a
    /// licence template.
    pub attribution: Option<String>,
    /// The licences of the licence templates, in page order, each once.
    pub licenses: Vec<License>,
    /// Category names (spaces, no sort key), in page order, each once.
    pub categories: Vec<String>,
    /// Commons restriction ids (`trademarked`, `personality`, `insignia`), each once; the API
    /// joins them with `|`.
    pub restrictions: Vec<String>,
}

/// The facts of page text; `index` is the wiki's `index.php` URL for links in the HTML.
pub fn describe(text: &str, index: &str) -> Description {
    let nodes = wikitext::parse(text);
    let mut templates = Vec::new();
    collect(&nodes, &mut templates);
    let keyed: Vec<(String, &Template)> = templates
        .into_iter()
        .filter_map(|t| t.key().map(|k| (k, t)))
        .collect();
    let render = |nodes: &[Node]| {
        let html = wikitext::render_nodes_inline(nodes, index);
        (!html.trim().is_empty()).then_some(html)
    };
    let info = keyed
        .iter()
        .find(|(k, _)| k == "information")
        .map(|(_, t)| *t);
    let field = |name: &str| info.and_then(|t| t.arg(name)).and_then(render);

    let mut d = Description {
        image_description: field("description"),
        date_time_original: field("date"),
        credit: field("source"),
        artist: field("author"),
        permission: field("permission"),
        categories: wikitext::parsed_categories(&nodes),
        ..Description::default()
    };
    if d.image_description.is_some() {
        if let Some(value) = info.and_then(|t| t.arg("description")) {
            d.image_description_langs = languages(value, index);
        }
    }

    let mut license_attribution = None;
    for (key, t) in &keyed {
        if let Some(l) = license(key) {
            push_license(&mut d.licenses, l);
            if license_attribution.is_none() {
                license_attribution = t.arg("attribution").and_then(render);
            }
        } else if key == "self" {
            for value in t.positional() {
                let name = wikitext::source(value);
                if let Some(l) = license(name.trim()) {
                    push_license(&mut d.licenses, l);
                }
            }
            if license_attribution.is_none() {
                license_attribution = t
                    .arg("attribution")
                    .or_else(|| t.arg("author"))
                    .and_then(render);
            }
        } else if let Some(id) = restriction(key) {
            if !d.restrictions.iter().any(|r| r == id) {
                d.restrictions.push(id.to_owned());
            }
        }
    }
    d.attribution = field("attribution").or(license_attribution);
    d
}

fn push_license(list: &mut Vec<License>, l: License) {
    if !list.iter().any(|have| have.template == l.template) {
        list.push(l);
    }
}

/// Every template, outer before inner, in page order (the tree's depth is bounded by the
/// parser).
fn collect<'n>(nodes: &'n [Node], out: &mut Vec<&'n Template>) {
    for node in nodes {
        if let Node::Template(t) = node {
            out.push(t);
            collect(&t.name, out);
            for a in &t.args {
                if let Some(name) = &a.name {
                    collect(name, out);
                }
                collect(&a.value, out);
            }
        }
    }
}

/// The language templates at the top of a description value: code and rendered text.
fn languages(value: &[Node], index: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for node in value {
        if let Node::Template(t) = node {
            if let Some(code) = language_code(t) {
                if out.iter().any(|(c, _)| *c == code) {
                    continue;
                }
                let html = t
                    .arg("1")
                    .map(|v| wikitext::render_nodes_inline(v, index))
                    .unwrap_or_default();
                out.push((code, html));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "http://127.0.0.1:8090/w/index.php";

    fn d(text: &str) -> Description {
        describe(text, INDEX)
    }

    const PAGE: &str = "== {{int:filedesc}} ==
{{Information
|description={{en|1=A '''red''' thing}}
{{de|1=Ein rotes Ding}}
|date=2020-01-01 12:00
|source={{own}}
|author=[[User:Alice|Alice]]
|permission=See below
}}

== {{int:license-header}} ==
{{self|cc-by-sa-4.0|GFDL|author=Alice Example}}
{{Personality rights}}

[[Category:Red things|sort]]
[[Category:Photos]]
[[Category:Red_things]]
";

    #[test]
    fn information_fields() {
        let d = d(PAGE);
        let en = "<div class=\"description mw-content-ltr en\" lang=\"en\" dir=\"ltr\"><span class=\"language en\"><b>English:</b></span> A <b>red</b> thing</div>";
        let de = "<div class=\"description mw-content-ltr de\" lang=\"de\" dir=\"ltr\"><span class=\"language de\"><b>German:</b></span> Ein rotes Ding</div>";
        assert_eq!(d.image_description, Some(format!("{en}\n{de}")));
        assert_eq!(
            d.image_description_langs,
            vec![
                ("en".to_owned(), "A <b>red</b> thing".to_owned()),
                ("de".to_owned(), "Ein rotes Ding".to_owned())
            ]
        );
        assert_eq!(d.date_time_original.as_deref(), Some("2020-01-01 12:00"));
        assert_eq!(
            d.credit.as_deref(),
            Some("<span class=\"int-own-work\" lang=\"en\">Own work</span>")
        );
        assert_eq!(
            d.artist.as_deref(),
            Some("<a href=\"http://127.0.0.1:8090/w/index.php?title=User:Alice\" title=\"User:Alice\">Alice</a>")
        );
        assert_eq!(d.permission.as_deref(), Some("See below"));
        assert_eq!(d.attribution.as_deref(), Some("Alice Example"));
        assert_eq!(d.categories, vec!["Red things", "Photos"]);
        assert_eq!(d.restrictions, vec!["personality"]);
        let ids: Vec<&str> = d.licenses.iter().map(|l| l.template.as_str()).collect();
        assert_eq!(ids, vec!["cc-by-sa-4.0", "gfdl"]);
        let l = &d.licenses[0];
        assert_eq!(l.short_name, "CC BY-SA 4.0");
        assert_eq!(
            l.usage_terms,
            "Creative Commons Attribution-Share Alike 4.0"
        );
        assert_eq!(
            l.url.as_deref(),
            Some("https://creativecommons.org/licenses/by-sa/4.0")
        );
        assert!(l.attribution_required && l.copyrighted && !l.non_free);
    }

    #[test]
    fn no_information_template() {
        let d = d("Just text. {{cc-by-4.0}} {{PD-old-70}} {{Unknown licence}} {{Trademarked}}");
        assert_eq!(d.image_description, None);
        assert!(d.image_description_langs.is_empty());
        assert_eq!(d.date_time_original, None);
        assert_eq!(d.artist, None);
        let ids: Vec<&str> = d.licenses.iter().map(|l| l.template.as_str()).collect();
        assert_eq!(ids, vec!["cc-by-4.0", "pd-old-70"]);
        assert!(!d.licenses[1].copyrighted && !d.licenses[1].attribution_required);
        assert_eq!(d.restrictions, vec!["trademarked"]);
        assert_eq!(describe("", INDEX), Description::default());
    }

    #[test]
    fn parameter_names_and_positions() {
        // Case-insensitive names, `_` as space, white space trimmed, last one wins.
        let d = d("{{information | Description = first |DESCRIPTION= Plain text |Other_versions=x|Date=\n2001\n}}");
        assert_eq!(d.image_description.as_deref(), Some("Plain text"));
        assert!(d.image_description_langs.is_empty());
        assert_eq!(d.date_time_original.as_deref(), Some("2001"));
        // Positional language text; `=` inside a nested template's value.
        let d = describe(
            "{{Information|description={{fr|Une chose}} {{en|1=a=b}}}}",
            INDEX,
        );
        assert_eq!(
            d.image_description_langs,
            vec![
                ("fr".to_owned(), "Une chose".to_owned()),
                ("en".to_owned(), "a=b".to_owned())
            ]
        );
        // Positional arguments of Information are not its fields.
        assert_eq!(d_desc("{{Information|A description}}"), None);
    }

    fn d_desc(text: &str) -> Option<String> {
        describe(text, INDEX).image_description
    }

    #[test]
    fn pipes_inside_links_and_nested_templates() {
        let d = d("{{Information|author=[[User:A|A]] and [[User:B|B]]|source=[https://x.org/a?b=1|c site]|permission={{cc-by-4.0}}|description={{en|1=[[Main Page|home]] {{own}}}}}}");
        let artist = d.artist.unwrap_or_default();
        assert!(
            artist.contains(">A</a> and <a") && artist.contains(">B</a>"),
            "{artist}"
        );
        // A single bracket does not protect a pipe (as in MediaWiki): `c site]` is a
        // positional argument, the source a bare URL after a `[`.
        assert_eq!(
            d.credit.as_deref(),
            Some("[<a rel=\"nofollow\" class=\"external free\" href=\"https://x.org/a?b=1\">https://x.org/a?b=1</a>")
        );
        assert!(d.permission.unwrap_or_default().contains("CC BY 4.0"));
        assert_eq!(d.licenses.len(), 1);
        let en = &d.image_description_langs[0].1;
        assert!(
            en.contains("title=Main_Page") && en.contains("Own work"),
            "{en}"
        );
    }

    #[test]
    fn self_wrapper_and_attribution() {
        let d = d("{{self|Cc-by-sa-3.0,2.5,2.0,1.0|GFDL-self|cc-by-sa-3.0|attribution=''Alice''}}");
        let ids: Vec<&str> = d.licenses.iter().map(|l| l.template.as_str()).collect();
        assert_eq!(ids, vec!["cc-by-sa-3.0", "gfdl-self"]);
        assert_eq!(d.attribution.as_deref(), Some("<i>Alice</i>"));
        // Information's attribution comes first; a licence template's own attribution last.
        let d = describe(
            "{{Information|attribution=Info}}{{self|cc0|author=Self}}",
            INDEX,
        );
        assert_eq!(d.attribution.as_deref(), Some("Info"));
        assert_eq!(d.licenses[0].template, "cc0");
        let d = describe("{{cc-by-4.0|attribution=Lic}}", INDEX);
        assert_eq!(d.attribution.as_deref(), Some("Lic"));
        // `{{self}}` arguments that are no licences are ignored.
        assert!(describe("{{self|Own|nonsense}}", INDEX).licenses.is_empty());
    }

    #[test]
    fn licence_families() {
        let page = "{{cc-zero}}{{PD-self}}{{PD-US}}{{PD-author|X}}{{PD-user|Y}}{{PD-ineligible}}{{PD-textlogo}}{{PD-old}}{{FAL}}{{GPL}}{{LGPL}}{{cc-by-2.5}}{{CC-BY-SA-1.0}}";
        let ids: Vec<String> = d(page).licenses.into_iter().map(|l| l.template).collect();
        assert_eq!(
            ids,
            vec![
                "cc0",
                "pd-self",
                "pd-us",
                "pd-author",
                "pd-user",
                "pd-ineligible",
                "pd-textlogo",
                "pd-old",
                "fal",
                "gpl",
                "lgpl",
                "cc-by-2.5",
                "cc-by-sa-1.0"
            ]
        );
    }

    #[test]
    fn hostile_values_come_out_escaped() {
        let d = d("{{Information|description=<script>alert(1)</script>{{en|1=<img src=x onerror=alert(1)>}}|author=<a href=\"javascript:x\">me</a>|date=\"><b onmouseover=x>d</b>|source=[javascript:alert(1) click]}}[[Category:<script>]]");
        let desc = d.image_description.unwrap_or_default();
        assert!(
            desc.starts_with("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{desc}"
        );
        assert!(
            desc.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{desc}"
        );
        assert_eq!(
            d.image_description_langs[0].1,
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            d.artist.as_deref(),
            Some("&lt;a href=\"javascript:x\"&gt;me&lt;/a&gt;")
        );
        assert_eq!(d.date_time_original.as_deref(), Some("\"&gt;<b>d</b>"));
        assert_eq!(d.credit.as_deref(), Some("[javascript:alert(1) click]"));
        assert!(d.categories.is_empty());
    }

    #[test]
    fn restrictions_once_each() {
        let d = d("{{Personality rights}}{{trademarked}}{{Personality_rights}}{{Insignia}}");
        assert_eq!(
            d.restrictions,
            vec!["personality", "trademarked", "insignia"]
        );
    }
}
