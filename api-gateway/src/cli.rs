//! The `switchboard` command line.

use crate::access;
use crate::replay::{ReplayOptions, replay};
use crate::server::{ServeOptions, serve, shutdown_signal};
use crate::snapshot;
use clap::{Args, Parser, Subcommand};
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

/// Where a contact centre's configuration, log and read-model snapshots are: what every command
/// that opens the log takes.
#[derive(Debug, Args)]
pub struct Centre {
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
    /// Where read-model snapshots are kept, so that a restart resumes instead of replaying the
    /// whole log; by default `snapshots` inside the store's directory (or in the working
    /// directory, for a PostgreSQL store).
    #[arg(long, env = "SWITCHBOARD_SNAPSHOTS")]
    snapshots: Option<PathBuf>,
}

impl Centre {
    /// The configuration, the store, and the snapshots' directory (the default filled in).
    fn resolve(self) -> (PathBuf, String, PathBuf) {
        let snapshots = self
            .snapshots
            .unwrap_or_else(|| snapshot::default_dir(&self.store));
        (self.config, self.store, snapshots)
    }
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the HTTP API with the routing engine.
    Serve {
        #[command(flatten)]
        centre: Centre,
        /// The address to listen on; port 0 picks a free port (printed at start-up).
        #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Rebuild every read model from the log (up to the live snapshot's checkpoint) into a scratch
    /// directory and report whether each matches the live one. Exits 1 if any differs.
    Replay {
        #[command(flatten)]
        centre: Centre,
        /// Where the rebuilt read models are written; by default `replay` inside the snapshots'
        /// directory.
        #[arg(long)]
        scratch: Option<PathBuf>,
    },
    /// Check the log's hash chain from its first event, and against checkpoints kept elsewhere;
    /// print where it breaks, if it does (exit 1), and the head to keep as the next checkpoint.
    Verify {
        /// Where the log lives: a directory for the embedded store (not while its server runs),
        /// or a `postgres://` URL.
        #[arg(
            long,
            env = "SWITCHBOARD_STORE",
            default_value = "./data",
            hide_env_values = true
        )]
        store: String,
        /// Checkpoints kept earlier, one JSON object per line (`{"position":…,"chain":"…"}`).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Append the head found, as a checkpoint line, to this file (when the chain holds).
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Draw a new API key: prints its secret (give it to whoever will use the key) and the
    /// `secret_sha256` line to put in the configuration file. Nothing is stored.
    Key,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        CliCommand::Serve { centre, listen } => {
            let (config, store, snapshots) = centre.resolve();
            serve(
                ServeOptions {
                    config,
                    store,
                    listen,
                    snapshots,
                },
                shutdown_signal(),
            )
            .await
        }
        CliCommand::Replay { centre, scratch } => {
            let (config, store, snapshots) = centre.resolve();
            let scratch = scratch.unwrap_or_else(|| snapshots.join("replay"));
            let all_match = replay(ReplayOptions {
                config,
                store,
                snapshots,
                scratch,
            })
            .await?;
            if !all_match {
                anyhow::bail!("the rebuilt read models differ from the live ones");
            }
            Ok(())
        }
        CliCommand::Verify {
            store,
            checkpoints,
            export,
        } => crate::verify::verify(&store, checkpoints.as_deref(), export.as_deref()).await,
        CliCommand::Key => {
            let secret = access::new_secret()?;
            println!("secret:        {secret}");
            println!("secret_sha256 = \"{}\"", access::digest(&secret));
            Ok(())
        }
    }
}
