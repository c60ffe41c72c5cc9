//! The `switchboard` command line.

use crate::server::{ServeOptions, serve, shutdown_signal};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Routes customer conversations to contact-centre agents."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the HTTP API with the routing engine.
    Serve {
        /// The configuration file: queues, agents, connectors.
        #[arg(long, env = "SWITCHBOARD_CONFIG", default_value = "switchboard.toml")]
        config: PathBuf,
        /// Where the log lives: a directory for the embedded store, or a `postgres://` URL
        /// (`?schema=name` picks the schema, `switchboard` by default).
        #[arg(
            long,
            env = "SWITCHBOARD_STORE",
            default_value = "./data",
            hide_env_values = true
        )]
        store: String,
        /// The address to listen on; port 0 picks a free port (printed at start-up).
        #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        CliCommand::Serve {
            config,
            store,
            listen,
        } => {
            serve(
                ServeOptions {
                    config,
                    store,
                    listen,
                },
                shutdown_signal(),
            )
            .await
        }
    }
}
