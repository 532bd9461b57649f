//! Black-box HTTP tests: one binary (link time), every test on SQLite and PostgreSQL.

mod browser;
mod helpers;
mod oidc;
mod process;
mod receiver;

mod bad_input;
mod consents;
mod customerid;
mod customerid_bodies;
mod customerid_delegations;
mod customerid_errors;
mod customerid_golden;
mod customerid_invitations;
mod customerid_mandates;
mod data_requests;
mod discovery;
mod durability;
mod federation;
mod fuzz;
mod identity;
mod igrant_clients;
mod images;
mod matrix;
mod notices;
mod operations;
mod organizations;
mod passwords;
mod permissions;
mod purpose_versions;
mod scale_out;
mod store_stories;
mod traces;
mod trust;
mod web;
mod webhooks;
