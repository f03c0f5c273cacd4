//! `recommerce config check`: a misspelt `APP_ORDER__QUOTE_URL` is otherwise silently
//! ignored and the default wins, which is how a deployment ends up calling localhost. The
//! check deserializes every section with the service's own types and reports each key no
//! type consumed, so compose files and k8s ConfigMaps can be checked before they ship.

use std::collections::BTreeMap;

use platform::config::Layers;
use serde::de::DeserializeOwned;

use crate::services::ServiceName;

type SectionCheck = fn(config::Value, &str, &mut Vec<String>) -> Result<(), config::ConfigError>;

fn section<T: DeserializeOwned>(
    value: config::Value,
    name: &str,
    unknown: &mut Vec<String>,
) -> Result<(), config::ConfigError> {
    let _: T = serde_ignored::deserialize(value, |path| unknown.push(format!("{name}.{path}")))?;
    Ok(())
}

/// The sections every service reads (`BaseSettings`).
fn base_sections() -> Vec<(&'static str, SectionCheck)> {
    use platform::config::*;
    vec![
        ("profile", section::<Profile>),
        ("http", section::<HttpSettings>),
        ("database", section::<DatabaseSettings>),
        ("redis", section::<RedisSettings>),
        ("auth", section::<AuthSettings>),
        ("telemetry", section::<TelemetrySettings>),
        ("kafka", section::<platform::kafka::KafkaSettings>),
        ("outbox", section::<platform::outbox::RelaySettings>),
        ("consumer", section::<platform::consumer::ConsumerSettings>),
        ("sequencer", section::<SequencerSettings>),
    ]
}

/// What a component accepts: a service, or the edge.
#[derive(Debug, Clone, Copy)]
pub enum Component {
    Service(ServiceName),
    Edge,
}

impl Component {
    fn sections(self) -> Vec<(&'static str, SectionCheck)> {
        let own: (&'static str, SectionCheck) = match self {
            Component::Edge => {
                return vec![
                    ("http", section::<platform::config::HttpSettings>),
                    ("telemetry", section::<platform::config::TelemetrySettings>),
                    ("edge", section::<crate::edge::EdgeSettings>),
                ];
            }
            Component::Service(ServiceName::Catalog) => (
                "catalog",
                section::<catalog::configuration::CatalogSettings>,
            ),
            Component::Service(ServiceName::Quote) => (
                "quote",
                section::<quote_service::configuration::QuoteSettings>,
            ),
            Component::Service(ServiceName::Order) => {
                ("order", section::<order::configuration::OrderSettings>)
            }
            Component::Service(ServiceName::Fulfilment) => (
                "fulfilment",
                section::<fulfilment::configuration::FulfilmentSettings>,
            ),
            Component::Service(ServiceName::PartnerPortal) => (
                "partner_portal",
                section::<partner_portal::configuration::PortalSettings>,
            ),
            Component::Service(ServiceName::Reporting) => (
                "reporting",
                section::<reporting::configuration::ReportingSettings>,
            ),
        };
        let mut sections = base_sections();
        sections.push(own);
        sections
    }
}

/// Every key the operator `supplied` that `component` would not read, as `key (ENV_VAR)`.
/// `layers` is the full configuration (defaults included), so sections deserialize whole;
/// defaults the component does not read (the edge has no database) are nobody's mistake.
pub fn unknown_keys(
    component: Component,
    layers: &Layers,
    supplied: &config::Config,
) -> anyhow::Result<Vec<String>> {
    let top: BTreeMap<String, config::Value> = layers.raw().clone().try_deserialize()?;
    let sections = component.sections();
    let mut unknown = Vec::new();
    for (key, value) in top {
        // Names the file layer itself; read by the loader, not by a section.
        if key == "config_file" {
            continue;
        }
        match sections.iter().find(|(name, _)| *name == key) {
            Some((name, check)) => check(value, name, &mut unknown)?,
            None => unknown.push(key),
        }
    }
    Ok(unknown
        .into_iter()
        .filter(|key| supplied.get::<config::Value>(key).is_ok())
        .map(|key| format!("{key} ({})", platform::config::env_var_for(&key)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full configuration and what the operator supplied, from the same overrides.
    fn configured(
        defaults: platform::config::ServiceDefaults,
        overrides: &[(&str, &str)],
    ) -> (Layers, config::Config) {
        let mut layers = Layers::defaults(defaults).unwrap();
        let mut supplied = config::Config::builder();
        for (key, value) in overrides {
            layers = layers.set(key, *value).unwrap();
            supplied = supplied.set_override(*key, *value).unwrap();
        }
        (layers, supplied.build().unwrap())
    }

    fn unknown(component: Component, overrides: &[(&str, &str)]) -> Vec<String> {
        let defaults = match component {
            Component::Service(service) => service.defaults(),
            Component::Edge => crate::edge::EDGE,
        };
        let (layers, supplied) = configured(defaults, overrides);
        unknown_keys(component, &layers, &supplied).unwrap()
    }

    #[test]
    fn every_key_of_a_service_is_known_to_it() {
        let overrides = [
            ("profile", "production"),
            ("http.port", "8080"),
            ("database.url", "postgres://db/order"),
            ("redis.url", "redis://redis:6379"),
            ("auth.jwt_secret", "x"),
            ("telemetry.otlp_endpoint", "http://otel:4318/v1/traces"),
            ("kafka.brokers", "kafka:9092"),
            ("outbox.batch_size", "100"),
            ("sequencer.lease_ttl_ms", "5000"),
            ("order.quote_url", "http://quote:8080"),
        ];
        assert_eq!(
            unknown(Component::Service(ServiceName::Order), &overrides),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_misspelt_nested_key_is_reported_with_its_environment_variable() {
        let overrides = [("order.quote_ulr", "http://quote:8080")];
        assert_eq!(
            unknown(Component::Service(ServiceName::Order), &overrides),
            vec!["order.quote_ulr (APP_ORDER__QUOTE_ULR)".to_owned()]
        );
    }

    #[test]
    fn another_services_section_is_unknown() {
        let overrides = [("catalog.seed_on_start", "true")];
        assert_eq!(
            unknown(Component::Service(ServiceName::Quote), &overrides),
            vec!["catalog (APP_CATALOG)".to_owned()]
        );
    }

    #[test]
    fn the_edge_reads_its_upstreams_and_rejects_a_database() {
        assert!(unknown(Component::Edge, &[("edge.order_url", "http://order:8080")]).is_empty());
        assert_eq!(
            unknown(Component::Edge, &[("database.url", "postgres://db/x")]),
            vec!["database (APP_DATABASE)".to_owned()]
        );
    }
}
