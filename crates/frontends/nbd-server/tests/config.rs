//! Configuration: the TOML file form, and what `Server::bind` refuses.

mod common;

use std::os::unix::net::UnixListener;

use common::export;
use nbd_server::{ConfigError, FileConfig, Listen, Server, ServerConfig, ServerError};

#[test]
fn toml_file_with_exports_and_listeners() {
    let text = r#"
        listen = "127.0.0.1:0"
        socket = "/tmp/x.sock"
        default = "b"
        [[export]]
        name = "a"
        stack = "cache(size=1M) / memory(size=4M)"
        [[export]]
        name = "b"
        stack = "memory(size=1M)"
        read_only = true
        description = "second"
    "#;
    let file = FileConfig::parse(text, "t.toml").unwrap();
    assert_eq!(file.default.as_deref(), Some("b"));
    assert_eq!(file.listeners(), vec![Listen::Tcp("127.0.0.1:0".into()), Listen::Unix("/tmp/x.sock".into())]);
    let exports = file.exports().unwrap();
    assert_eq!(exports.len(), 2);
    assert!(!exports[0].read_only && exports[1].read_only);
    assert_eq!(exports[1].description.as_deref(), Some("second"));
}

#[test]
fn toml_mistakes_are_reported_with_their_place() {
    let error = FileConfig::parse("[[export]]\nname = \"a\"\nstak = \"memory\"\n", "t.toml").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("t.toml") && message.contains("stak") && message.contains("line 3"),
        "{message}"
    );
    assert!(matches!(FileConfig::parse("listen = \"x:1\"\n", "t.toml"), Err(ConfigError::NoExports { .. })));
    let bad = FileConfig::parse("[[export]]\nname = \"a\"\nstack = \"memory(size=1M\"\n", "t").unwrap();
    let message = bad.exports().unwrap_err().to_string();
    assert!(message.contains("export \"a\"") && message.contains("^"), "{message}");
}

fn bind_with_manager(config: ServerConfig) -> Result<Server, ServerError> {
    Server::bind(config, std::sync::Arc::new(irp::IoManager::new()))
}

fn bind(exports: Vec<nbd_server::ExportConfig>, default: Option<&str>) -> Result<Server, ServerError> {
    let mut config = ServerConfig::new().listen(Listen::Tcp("127.0.0.1:0".into()));
    config.exports = exports;
    config.default_export = default.map(str::to_owned);
    bind_with_manager(config)
}

#[test]
fn bind_refuses_inconsistent_configurations() {
    assert!(matches!(bind(vec![], None), Err(ServerError::NoExports)));
    let twice = vec![export("a", "memory(size=1M)"), export("a", "memory(size=1M)")];
    assert!(matches!(bind(twice, None), Err(ServerError::DuplicateExport { .. })));
    assert!(matches!(
        bind(vec![export("a\0b", "memory(size=1M)")], None),
        Err(ServerError::InvalidExportName { .. })
    ));
    let unknown = bind(vec![export("a", "memory(size=1M)")], Some("b"));
    assert!(matches!(unknown, Err(ServerError::UnknownDefault { .. })));
    let spec = bind(vec![export("a", "memory(size=1M) / memory(size=1M)")], None);
    assert!(matches!(spec, Err(ServerError::Stack { .. })));
    let none = bind_with_manager(ServerConfig::new().export(export("a", "memory(size=1M)")));
    assert!(matches!(none, Err(ServerError::NoListeners)));

    let server = bind(vec![export("a", "memory(size=1M)")], Some("a")).unwrap();
    let addr = server.local_addr().expect("a TCP listener");
    assert_ne!(addr.port(), 0, "port 0 became a real port");
    assert_eq!(server.uris(), vec![format!("nbd://{addr}")]);
    let exports = server.exports();
    assert_eq!((exports[0].name.as_str(), exports[0].size), ("a", 1 << 20));
    let taken = bind_with_manager(
        ServerConfig::new().listen(Listen::Tcp(addr.to_string())).export(export("a", "memory(size=1M)")),
    );
    let message = taken.unwrap_err().to_string();
    assert!(message.contains("already in use"), "{message}");

    // A host without a port says what is missing.
    let portless = bind_with_manager(
        ServerConfig::new().listen(Listen::Tcp("localhost".into())).export(export("a", "memory(size=1M)")),
    );
    let message = portless.unwrap_err().to_string();
    assert!(message.contains("needs HOST:PORT") && message.contains("localhost:10809"), "{message}");
}

#[test]
fn unix_sockets_stale_and_live() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    // A socket file nobody listens on any more is replaced.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let config =
        || ServerConfig::new().listen(Listen::Unix(path.clone())).export(export("", "memory(size=1M)"));
    let server = bind_with_manager(config()).unwrap();
    assert_eq!(server.socket_path(), Some(path.as_path()));
    // One a server listens on is not.
    let message = bind_with_manager(config()).unwrap_err().to_string();
    assert!(message.contains("listening"), "{message}");
    // Stopping removes the socket file.
    server.handle().stop();
    server.run().unwrap();
    assert!(!path.exists());
}

#[test]
fn an_export_stack_can_be_written_layer_by_layer() {
    let text = "[[export]]\nname = \"a\"\n[[export.layer]]\ndriver = \"cache\"\nsize = \"4M\"\n\
                [[export.layer]]\ndriver = \"memory\"\nsize = \"1M\"\n";
    let exports = FileConfig::parse(text, "t.toml").unwrap().exports().unwrap();
    let nbd_server::ExportStack::Spec(spec) = &exports[0].stack else { panic!("a spec") };
    assert_eq!(spec.to_string(), "cache(size=4M) / memory(size=1M)");
    let both =
        "[[export]]\nname = \"a\"\nstack = \"memory(size=1M)\"\n[[export.layer]]\ndriver = \"memory\"\n";
    let message = FileConfig::parse(both, "t.toml").unwrap().exports().unwrap_err().to_string();
    assert!(message.contains("not both"), "{message}");
    let none =
        FileConfig::parse("[[export]]\nname = \"a\"\n", "t.toml").unwrap().exports().unwrap_err().to_string();
    assert!(none.contains("has no stack"), "{none}");
}
