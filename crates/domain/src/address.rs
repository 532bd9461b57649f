//! Network addresses as the server judges them.
//!
//! Where the server may connect on a tenant's word: webhook receivers and OpenID providers
//! are URLs an organisation's Admin gives, so they must not reach into the server's own
//! network (SSRF). One rule for both, applied to the address actually connected to (after
//! name resolution). And who a client is, for its share of connections and sign-in
//! attempts: an IPv4 address, or an IPv6 /64 (one subscriber's usual allocation).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 blocks that are not globally reachable unicast: the IANA IPv4 Special-Purpose
/// Address Registry (as of 2026-12; 192.0.0.9/32 and 192.0.0.10/32, global anycast, are
/// refused with the rest of 192.0.0.0/24), plus multicast and the reserved 240.0.0.0/4.
const SPECIAL_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared (carrier-grade NAT)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local (cloud metadata)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 31, 196, 0), 24), // AS112-v4
    (Ipv4Addr::new(192, 52, 193, 0), 24), // AMT
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(192, 175, 48, 0), 24), // direct delegation AS112
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and the limited broadcast
];

/// IPv6 blocks that are not globally reachable unicast: the IANA IPv6 Special-Purpose
/// Address Registry (as of 2026-12), the IETF-reserved ::/8, the deprecated site-local
/// block, and multicast. IPv4-mapped and NAT64 addresses are judged by the IPv4 address
/// they carry ([`embedded_v4`]) before this list is consulted.
const SPECIAL_V6: &[(Ipv6Addr, u8)] = &[
    // Reserved by the IETF (IPv6 Address Space registry): unspecified, loopback,
    // IPv4-compatible (::a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d); IPv4-mapped
    // addresses lie here too but are judged by the address they carry, as NAT64 ones are.
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 8),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use IPv4/IPv6 translation
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),     // discard-only
    (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64),     // dummy prefix
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),    // IETF protocol assignments, Teredo
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),    // 6to4
    (Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48), // direct delegation AS112
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20),    // documentation
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16),    // segment routing SIDs
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),     // unique-local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),    // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),    // site-local (deprecated)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),     // multicast
];

/// Whether `ip` is anything but a globally reachable unicast address: every block of the
/// IANA special-purpose registries, in every IPv6 notation that carries an IPv4 address
/// (mapped and NAT64 judged by that address; compatible, translated, 6to4 and Teredo
/// refused whole).
pub fn is_special_purpose(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => in_blocks_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => in_blocks_v4(v4),
            None => SPECIAL_V6
                .iter()
                .any(|&(net, len)| prefix_v6(v6, len) == prefix_v6(net, len)),
        },
    }
}

/// The IPv4 address an IPv4-mapped (`::ffff:a.b.c.d`) or well-known-prefix NAT64
/// (`64:ff9b::a.b.c.d`) address stands for.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let mapped = s[..6] == [0, 0, 0, 0, 0, 0xffff];
    (nat64 || mapped).then(|| {
        let o = v6.octets();
        Ipv4Addr::new(o[12], o[13], o[14], o[15])
    })
}

fn in_blocks_v4(v4: Ipv4Addr) -> bool {
    SPECIAL_V4
        .iter()
        .any(|&(net, len)| prefix_v4(v4, len) == prefix_v4(net, len))
}

fn prefix_v4(ip: Ipv4Addr, len: u8) -> u32 {
    u32::from(ip).checked_shr(32 - u32::from(len)).unwrap_or(0)
}

fn prefix_v6(ip: Ipv6Addr, len: u8) -> u128 {
    u128::from(ip)
        .checked_shr(128 - u32::from(len))
        .unwrap_or(0)
}

/// The source a client is counted as, for connection slots and sign-in throttles: an IPv4
/// address (IPv4-mapped IPv6 included), or an IPv6 address's /64, since one subscriber
/// usually holds a whole /64 and could otherwise rotate through it.
pub fn source_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_purpose_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.9",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:0:7f00:1",
            "::ffff:0:808:808",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::7f00:1",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "5f00::1",
        ] {
            assert!(is_special_purpose(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "192.0.3.1",
            "223.255.255.255",
            "2606:2800:220:1:248:1893:25c8:1946",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2a00:1450:4001::1",
            "2001:200::1",
        ] {
            assert!(!is_special_purpose(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_client_is_counted_by_its_address_or_its_64() {
        let group = |s: &str| source_group(s.parse().unwrap()).to_string();
        assert_eq!(group("192.0.2.7"), "192.0.2.7");
        assert_eq!(group("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(group("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
        assert_eq!(group("2001:db8:1:2:ffff::1"), "2001:db8:1:2::");
        assert_ne!(group("2001:db8:1:3::1"), group("2001:db8:1:2::1"));
    }
}
