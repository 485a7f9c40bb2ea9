//! Kubernetes names for generated templates. Service names may hold capitals, `_` and `.` and
//! be of any length (`spec::check::name`); an AnalysisTemplate's name must be a DNS-1123
//! subdomain, and it is kept to a DNS-1123 label (lowercase letters, digits and `-`, at most
//! 63 characters) because Argo copies template names into AnalysisRun names and labels.
//!
//! The mapping is deterministic: lowercase, any other character to `-`. When that changed the
//! name, or the name is too long, a short hash of the service's own name is added, so two
//! services that map to the same text (`Pay_API` and `pay-api`) still get distinct templates.

use sha2::{Digest, Sha256};

/// Longest DNS-1123 label, and longest Kubernetes label value.
pub const MAX_LABEL_LEN: usize = 63;
/// Hex characters of the hash added to a changed or shortened name.
const HASH_LEN: usize = 8;

/// The template name `<service>-<suffix>` as a DNS-1123 label.
pub fn template_name(service: &str, suffix: &str) -> String {
    let plain = format!("{service}-{suffix}");
    if plain.len() <= MAX_LABEL_LEN && is_dns_label(&plain) {
        return plain;
    }
    let mapped: String = service
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    // Room for `-<hash>-<suffix>`.
    let room = MAX_LABEL_LEN - HASH_LEN - suffix.len() - 2;
    let stem: String = mapped.chars().take(room).collect();
    let stem = stem.trim_matches('-');
    let hash = short_hash(service);
    if stem.is_empty() {
        format!("{hash}-{suffix}")
    } else {
        format!("{stem}-{hash}-{suffix}")
    }
}

/// A Kubernetes label value (at most 63 characters of letters, digits, `-`, `_`, `.`, starting
/// and ending alphanumeric): the service name itself when it is one, else its first
/// characters and a hash.
pub fn label_value(service: &str) -> String {
    if service.len() <= MAX_LABEL_LEN {
        return service.to_string();
    }
    let stem: String = service.chars().take(MAX_LABEL_LEN - HASH_LEN - 1).collect();
    let stem = stem.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{stem}-{}", short_hash(service))
}

/// Whether `name` is a DNS-1123 label: 1-63 lowercase alphanumerics or `-`, alphanumeric at
/// both ends.
pub fn is_dns_label(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= MAX_LABEL_LEN
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .take(HASH_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept_and_others_become_distinct_dns_labels() {
        assert_eq!(template_name("financy-api", "canary"), "financy-api-canary");
        let long = "payments-settlement-reconciliation-backend-for-europe-and-asia-v2";
        let cases = [
            "Pay_API",
            "pay-api-",
            "pay.api",
            long,
            "ÄÖ",
            &long.to_uppercase(),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for service in cases {
            for suffix in ["canary", "slo-gate"] {
                let name = template_name(service, suffix);
                assert!(is_dns_label(&name), "{service}: {name}");
                assert!(name.ends_with(suffix), "{name}");
                assert_eq!(name, template_name(service, suffix), "deterministic");
                assert!(seen.insert(name.clone()), "{name} twice");
            }
        }
        assert_ne!(
            template_name("Pay_API", "canary"),
            template_name("pay-api", "canary")
        );
        assert!(template_name("Pay_API", "canary").starts_with("pay-api-"));
    }

    #[test]
    fn label_values_are_cut_to_63_characters_with_a_hash() {
        assert_eq!(label_value("Pay_API"), "Pay_API");
        let long = "x".repeat(70);
        let value = label_value(&long);
        assert_eq!(value.len(), MAX_LABEL_LEN);
        assert_ne!(value, label_value(&"x".repeat(71)));
    }
}
