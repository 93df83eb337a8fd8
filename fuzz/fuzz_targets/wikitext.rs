//! The wikitext renderer on arbitrary text: it must not panic, and what it writes must keep
//! its promise (only whitelisted tags and harmless attributes, safe links), since other wikis
//! embed it raw.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwstore_domain::{describe, wikitext};

const INDEX: &str = "http://wiki.test/w/index.php";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let page = wikitext::render(&text, INDEX);
    if let Err(e) = wikitext::check_output(&page.html, INDEX) {
        panic!("unsafe output {e} for {text:?}:\n{}", page.html);
    }
    let facts = describe::describe(&text, INDEX);
    for html in [
        facts.image_description.as_deref(),
        facts.artist.as_deref(),
        facts.credit.as_deref(),
        facts.permission.as_deref(),
        facts.attribution.as_deref(),
        facts.date_time_original.as_deref(),
    ]
    .into_iter()
    .flatten()
    .chain(facts.image_description_langs.iter().map(|(_, h)| h.as_str()))
    {
        if let Err(e) = wikitext::check_output(html, INDEX) {
            panic!("unsafe field {e} for {text:?}:\n{html}");
        }
    }
});
