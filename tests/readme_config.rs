//! The README's configuration block shows the real defaults: every key in it is a setting,
//! and every value it shows is the default the server starts with.

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use mwstore_domain::config::Config;

#[test]
fn readme_shows_the_real_defaults() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block");
    let keys: Vec<&str> = block
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| !k.starts_with('#') && !k.is_empty())
        .collect();
    assert!(keys.len() > 25, "the block lists the settings: {keys:?}");
    let shown: Config = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(block))
        .extract()
        .expect("the block holds only settings");
    let shown = serde_json::to_value(&shown).expect("json");
    let real = serde_json::to_value(Config::default()).expect("json");
    for key in keys {
        assert_eq!(
            shown[key], real[key],
            "README shows {key} = {}, the default is {}",
            shown[key], real[key]
        );
    }
}
