//! Policy for uploads by URL: which URLs may be fetched at all, which hosts
//! (`copy_uploads_domains`, matched label by label as MediaWiki does) and which addresses.
//!
//! MediaWiki fetches any address, loopback and cloud metadata included. Here only public
//! unicast addresses are fetched unless a range is listed in `copy_uploads_allow_private`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address range in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A malformed CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR range {0:?} (expected e.g. 127.0.0.1/32 or fd00::/8)")]
pub struct CidrError(pub String);

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a single-address range).
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let err = || CidrError(s.to_owned());
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| err())?,
            None => max,
        };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` lies in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Why an address is not fetched, or None for a public unicast address.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private (RFC 1918) address"),
        (
            [100, 64, 0, 0],
            10,
            "a shared (RFC 6598, carrier-grade NAT) address",
        ),
        ([127, 0, 0, 0], 8, "a loopback address"),
        (
            [169, 254, 0, 0],
            16,
            "a link-local address (cloud metadata services live here)",
        ),
        ([172, 16, 0, 0], 12, "a private (RFC 1918) address"),
        ([192, 0, 0, 0], 24, "an IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address"),
        ([192, 168, 0, 0], 16, "a private (RFC 1918) address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    RANGES
        .iter()
        .find(|(net, p, _)| in_v4(ip, *net, *p))
        .map(|(_, _, why)| *why)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let v = u128::from(ip);
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4
    // address that is what really gets reached.
    if v >> 32 == 0 {
        return Some("an IPv4-compatible IPv6 address");
    }
    if v >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        let v4 = Ipv4Addr::from((v & 0xffff_ffff) as u32);
        return v4_reason(v4).or(Some("a NAT64 address"));
    }
    // The local-use NAT64 prefix (RFC 8215) puts the IPv4 address wherever the operator
    // chose, and an IPv4-translated address (::ffff:0:a.b.c.d, RFC 2765) reaches the IPv4
    // address through a translator: neither can be told public from here.
    if seg[0] == 0x0064 && seg[1] == 0xff9b && seg[2] == 0x0001 {
        return Some("a local-use NAT64 address");
    }
    if v >> 32 == 0x0000_0000_0000_0000_ffff_0000 {
        let v4 = Ipv4Addr::from((v & 0xffff_ffff) as u32);
        return v4_reason(v4).or(Some("an IPv4-translated address"));
    }
    if seg[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        return v4_reason(v4).or(Some("a 6to4 address"));
    }
    if seg[0] & 0xfe00 == 0xfc00 {
        return Some("a unique-local address");
    }
    if seg[0] & 0xffc0 == 0xfe80 {
        return Some("a link-local address");
    }
    if seg[0] & 0xffc0 == 0xfec0 {
        return Some("a site-local address");
    }
    if seg[0] & 0xff00 == 0xff00 {
        return Some("a multicast address");
    }
    if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        return Some("a documentation address");
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        return Some("a Teredo address");
    }
    if seg[0] == 0x2001 && seg[1] == 0x0002 && seg[2] == 0 {
        return Some("a benchmarking address");
    }
    if seg[0] == 0x2001 && (seg[1] & 0xffe0 == 0x0020 || seg[1] & 0xfff0 == 0x0010) {
        return Some("an ORCHID address");
    }
    if seg[0] == 0x3fff && seg[1] & 0xf000 == 0 {
        return Some("a documentation address");
    }
    if seg[0] == 0x5f00 {
        return Some("a segment-routing address");
    }
    if seg[0] == 0x0100 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0 {
        return Some("a discard-only address");
    }
    None
}

/// Whether `ip` may be fetched: public, or inside one of the configured ranges.
pub fn address_allowed(ip: IpAddr, allow_private: &[Cidr]) -> Result<(), &'static str> {
    match non_public_reason(ip) {
        None => Ok(()),
        Some(_) if allow_private.iter().any(|c| c.contains(ip)) => Ok(()),
        Some(why) => Err(why),
    }
}

/// MediaWiki's URL shape check: `^https?://[^/\s]\S*$`.
pub fn url_shape_ok(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) => {
            let first = r.chars().next();
            first.is_some_and(|c| c != '/' && !c.is_whitespace())
                && !r.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Whether `host` matches the `copy_uploads_domains` list (empty list: any host). Entries
/// are compared label by label and must have as many labels; `*` matches exactly one.
pub fn domain_allowed(host: &str, domains: &[String]) -> bool {
    if domains.is_empty() {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    domains.iter().any(|d| {
        let want: Vec<&str> = d.split('.').collect();
        want.len() == labels.len() && want.iter().zip(&labels).all(|(w, l)| *w == "*" || w == l)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refused_ranges() {
        for a in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::8.8.8.8",
            "::ffff:0:7f00:1",
            "::ffff:0:808:808",
            "2001:2::1",
            "2001:20::1",
            "3fff::1",
        ] {
            assert!(non_public_reason(ip(a)).is_some(), "{a} must be refused");
        }
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(non_public_reason(ip(a)), None, "{a} is public");
        }
    }

    #[test]
    fn allow_list() {
        let allow = [Cidr::parse("127.0.0.1/32").unwrap()];
        assert!(address_allowed(ip("127.0.0.1"), &allow).is_ok());
        assert!(address_allowed(ip("::ffff:127.0.0.1"), &allow).is_ok());
        assert!(address_allowed(ip("127.0.0.2"), &allow).is_err());
        assert!(address_allowed(ip("10.0.0.1"), &allow).is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense").is_err());
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("10.0.0.1")));
    }

    #[test]
    fn url_shapes() {
        assert!(url_shape_ok("http://example.org/x.png"));
        assert!(url_shape_ok("https://example.org"));
        assert!(!url_shape_ok("ftp://example.org/x"));
        assert!(!url_shape_ok("file:///etc/passwd"));
        assert!(!url_shape_ok("http:///x"));
        assert!(!url_shape_ok("http://a b/"));
        assert!(!url_shape_ok("garbage"));
    }

    #[test]
    fn domains_match_label_by_label() {
        let d = vec![
            "*.example.org".to_owned(),
            "upload.wikimedia.org".to_owned(),
        ];
        assert!(domain_allowed("a.example.org", &d));
        assert!(!domain_allowed("example.org", &d));
        assert!(!domain_allowed("a.b.example.org", &d));
        assert!(domain_allowed("upload.wikimedia.org", &d));
        assert!(!domain_allowed("Upload.wikimedia.org", &d));
        assert!(domain_allowed("anything", &[]));
    }
}
