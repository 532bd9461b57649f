//! Accord's server: the domain services and the HTTP facades over them.

pub mod api_doc;
pub mod app;
pub mod body_limit;
pub mod client_address;
pub mod config;
pub mod connections;
pub mod customerid;
pub mod http_status;
pub mod i18n;
pub mod igrant;
pub mod metrics;
pub mod per_source;
pub mod services;
pub mod telemetry;
pub mod web;

pub use app::{build_app, App};
pub use config::Config;
pub use connections::serve;
