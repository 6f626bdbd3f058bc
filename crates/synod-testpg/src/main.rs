//! `synod-testpg`: starts a throwaway PostgreSQL cluster, prints its URL on one line, and
//! stops it when standard input closes (CI points the Windows test run at it).

use std::io::{Read, Write};

fn main() -> std::process::ExitCode {
    let cluster = match synod_testpg::PgCluster::start_own() {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", cluster.admin_url())
        .and_then(|()| out.flush())
        .is_err()
    {
        return std::process::ExitCode::from(1);
    }
    drop(out);
    // Serve until whoever started us closes our stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().lock().read_to_end(&mut sink);
    drop(cluster);
    std::process::ExitCode::SUCCESS
}
