//! Shell completions, man pages and the log-level flags of the built `irpstack` binary.

use std::process::{Command, Output};

fn irpstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_irpstack")).args(args).output().expect("the irpstack binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The subcommands `irpstack --help` lists (but `help`).
fn subcommands() -> Vec<String> {
    let help = text(&irpstack(&["--help"]).stdout);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    let commands = subcommands();
    assert!(commands.len() >= 8, "{commands:?}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = irpstack(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
        }
    }
    let bash = text(&irpstack(&["completions", "bash"]).stdout);
    assert!(bash.contains("complete -F _irpstack"), "{}", &bash[..200.min(bash.len())]);
}

#[test]
fn a_completion_script_cut_short_by_its_reader_is_not_a_panic() {
    let bin = env!("CARGO_BIN_EXE_irpstack");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{bin}' completions bash | head -c 10 >/dev/null; exit 0"))
        .output()
        .unwrap();
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
}

#[test]
fn man_writes_a_page_per_command_that_man_can_render() {
    let dir = tempfile::tempdir().unwrap();
    let out = irpstack(&["man", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names = vec!["irpstack".to_owned()];
    names.extend(subcommands().iter().map(|c| format!("irpstack-{c}")));
    names.push("irpstack-fs-ls".to_owned());
    for name in &names {
        let path = dir.path().join(format!("{name}.1"));
        let page = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            page.starts_with(".ie \\n(.g .ds Aq") || page.contains(&format!(".TH {name} 1")),
            "{name}: {page:.200}"
        );
        assert!(text(&out.stdout).contains(&format!("{name}.1")), "not listed: {name}");
    }
    // An independent reader: man(1) renders the page, if it is installed.
    let serve = dir.path().join("irpstack-serve.1");
    match Command::new("man").arg("-l").arg(&serve).env("MANWIDTH", "100").env("MANPAGER", "cat").output() {
        Ok(o) if o.status.success() => {
            let shown = text(&o.stdout);
            assert!(shown.contains("NAME") && shown.contains("--listen"), "{shown:.400}");
        }
        _ => irp::testing::skip("man(1) is not installed: the pages were not rendered by it"),
    }
}

#[test]
fn verbosity_flags_choose_what_reaches_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("v.img");
    let spec = format!("file(path={},size=64M)", image.display());
    let made = irpstack(&["mkfs", "--stack", &spec]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    // locking=off warns; the read-only mount is an info line.
    let spec = format!("fs / file(path={},locking=off)", image.display());
    let quiet = irpstack(&["-q", "fs", "ls", "--stack", &spec, "/"]);
    let normal = irpstack(&["fs", "ls", "--stack", &spec, "/"]);
    let verbose = irpstack(&["fs", "ls", "-v", "--stack", &spec, "/"]);
    for o in [&quiet, &normal, &verbose] {
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("lost+found"));
    }
    assert_eq!(text(&quiet.stderr), "", "-q prints only errors");
    assert!(text(&normal.stderr).contains("WARN"), "{}", text(&normal.stderr));
    assert!(!text(&normal.stderr).contains("INFO"), "{}", text(&normal.stderr));
    assert!(text(&verbose.stderr).contains("INFO"), "{}", text(&verbose.stderr));
    let both = irpstack(&["-v", "-q", "drivers"]);
    assert!(!both.status.success() && text(&both.stderr).contains("cannot be used with"));
}
