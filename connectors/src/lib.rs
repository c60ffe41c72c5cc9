//! Channel providers' webhooks, read into what the routing core understands.
//!
//! Each provider posts its own JSON: WhatsApp's Cloud API (`whatsapp_business_account`),
//! Messenger's and Instagram's (`page`, `instagram`), Viber's bot callbacks. This crate checks a
//! delivery's signature over its raw bytes ([`signature`]), reads the body into [`Item`]s, one per
//! message, receipt or subscription event ([`whatsapp`], [`meta`], [`viber`]), and turns each
//! item into a core [`Command`](routing_core::Command) ([`inbound::command`]).
//!
//! It must never do IO or decide anything the core decides: whether a message starts a
//! conversation, whether a receipt is stale, whether a retry is a duplicate are the core's. A
//! body it cannot read at all is [`MalformedBody`]; an item it cannot read is refused on its
//! own, with its index and why, and the rest of the delivery stands.

mod fields;
pub mod handshake;
pub mod inbound;
pub mod meta;
pub mod signature;
pub mod viber;
pub mod whatsapp;

pub use inbound::{Delivery, Item, MalformedBody, Refused, command, parse};
