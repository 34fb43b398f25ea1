//! `hwkitd`: holds GPIO lines for clients over D-Bus, so that a line keeps its state after
//! the program that asked for it has exited.
//!
//! It speaks libgpiod's `io.gpiod1` interface (gpio-manager's), so `gpiocli` and other
//! clients written for gpio-manager work with it unchanged. See the README.

mod board;
mod caller;
mod chip_object;
mod daemon;
mod edge_events;
mod error;
mod hotplug;
mod info_watch;
mod line_config;
mod line_object;
mod paths;
mod registry;
mod request_object;
mod state;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use zbus::connection;
use zbus::fdo::ObjectManager;

use crate::daemon::Daemon;

/// The well-known name, gpio-manager's.
const BUS_NAME: &str = "io.gpiod1";
/// hwkit's own name, for what gpio-manager does not have (the board object).
const HWKIT_BUS_NAME: &str = "io.hwkit1";

/// Holds GPIO lines for clients over D-Bus (libgpiod's io.gpiod1 interface).
#[derive(Parser, Debug)]
#[command(name = "hwkitd", version)]
struct Args {
    /// Serve on the session bus instead of the system bus.
    #[arg(long, conflicts_with = "bus_address")]
    session: bool,

    /// Serve on the bus at this D-Bus address (e.g. `unix:path=/run/test-bus`) instead of
    /// the system bus.
    #[arg(long, value_name = "ADDRESS")]
    bus_address: Option<String>,

    /// Keep the requests in this file (JSON, written atomically after every change) and
    /// restore them, with their values, when the daemon starts. Off by default.
    #[arg(long, value_name = "PATH")]
    state_file: Option<std::path::PathBuf>,

    /// The board whose header pins io.hwkit1.Board serves (`pi4`; `hwkit pinout
    /// --list-boards` lists them), for when the device tree does not say. Default: detected.
    #[arg(long, value_name = "NAME")]
    board: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hwkitd: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hwkitd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let forced = match &args.board {
        Some(name) => Some((
            boards::find_profile(name).map_err(|e| format!("--board: {e}"))?,
            name.clone(),
        )),
        None => None,
    };
    let (builder, bus) = match (&args.bus_address, args.session) {
        (Some(a), _) => (connection::Builder::address(a.as_str()), a.clone()),
        (None, true) => (connection::Builder::session(), "the session bus".to_owned()),
        (None, false) => (connection::Builder::system(), "the system bus".to_owned()),
    };
    let connection = builder
        .and_then(|b| {
            b.serve_at(paths::CHIPS, ObjectManager)?
                .serve_at(paths::REQUESTS, ObjectManager)
        })
        .map_err(|e| format!("connecting to {bus}: {e}"))?
        .build()
        .await
        .map_err(|e| format!("connecting to {bus}: {e}"))?;
    let daemon = Arc::new(Daemon::new(connection.clone()));
    // Watching first, so that a chip added while the others are exported is not missed.
    if let Err(e) = hotplug::start(daemon.clone()) {
        eprintln!("hwkitd: watching /dev: {e}; chips added or removed later will not be seen");
    }
    daemon.sync_chips().await;
    let saver = match &args.state_file {
        Some(path) => {
            let state = state::load(path)?;
            eprintln!(
                "hwkitd: restoring {} request(s) from {}",
                state.requests.len(),
                path.display()
            );
            daemon.restore(&state).await;
            Some(tokio::spawn(keep_state(daemon.clone(), path.clone())))
        }
        None => None,
    };
    let board = board::BoardObject {
        daemon: daemon.clone(),
        forced,
    };
    connection
        .object_server()
        .at(board::PATH, board)
        .await
        .map_err(|e| format!("serving {}: {e}", board::PATH))?;
    // The names last: a client that sees them finds every chip already there; gpio-manager's
    // last of all, which is what clients (and the tests) wait for.
    for name in [HWKIT_BUS_NAME, BUS_NAME] {
        connection
            .request_name(name)
            .await
            .map_err(|e| format!("taking the name {name} on {bus}: {e}"))?;
    }
    eprintln!("hwkitd: serving {BUS_NAME} and {HWKIT_BUS_NAME} on {bus}");
    wait_for_stop().await?;
    eprintln!(
        "hwkitd: stopping; releasing the lines held (outputs stay where the driver leaves them)"
    );
    // The state file keeps what was held: stopped before the release below empties it.
    if let Some(saver) = saver {
        saver.abort();
        let _ = saver.await;
        if let Some(path) = &args.state_file {
            if let Err(e) = state::save(path, &daemon.snapshot().await) {
                eprintln!("hwkitd: {e}");
            }
        }
    }
    daemon.release_all().await;
    Ok(())
}

/// Writes the state file after every change of what the daemon holds.
async fn keep_state(daemon: Arc<Daemon>, path: std::path::PathBuf) {
    loop {
        daemon.registry.changed().await;
        if let Err(e) = state::save(&path, &daemon.snapshot().await) {
            eprintln!("hwkitd: {e}");
        }
    }
}

/// Waits for SIGTERM (systemd's stop) or SIGINT.
async fn wait_for_stop() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("watching SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("watching SIGINT: {e}"))?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
