//! `irpstack completions SHELL` and `irpstack man DIR`: shell completions and man pages
//! generated from the command-line definitions (clap_complete, clap_mangen), so they never
//! drift from `--help`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// `irpstack completions`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  irpstack completions bash > /etc/bash_completion.d/irpstack\n  \
irpstack completions zsh > \"${fpath[1]}/_irpstack\"\n  irpstack completions fish > ~/.config/fish/completions/irpstack.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// `irpstack man`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  irpstack man /usr/local/share/man/man1 && man irpstack-serve")]
pub struct ManArgs {
    /// The directory to write irpstack.1 and irpstack-COMMAND.1 into (created if missing).
    dir: PathBuf,
}

/// Prints the completion script of `C` for the shell asked for.
pub fn completions<C: CommandFactory>(args: &CompletionsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = C::command();
    let name = cmd.get_name().to_owned();
    // clap_complete panics when its writer fails (`| head`): render first, then write.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    out.write_all(&script)?;
    Ok(())
}

/// Writes the man page of `C` and one per subcommand (nested ones too, as
/// `irpstack-fs-ls.1`), then names them on `out`.
pub fn man_pages<C: CommandFactory>(args: &ManArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let mut cmd = C::command();
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, &args.dir, &mut written)?;
    for path in &written {
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
}

fn write_pages(cmd: &clap::Command, dir: &std::path::Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page).with_context(|| format!("rendering {name}.1"))?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
