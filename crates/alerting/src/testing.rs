//! Test support (feature `testing`): a real SMTP server for the tests of
//! this and other crates.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A real SMTP server that keeps every message it receives.
pub struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Settings that send to a test server on 127.0.0.1:`port`, unencrypted.
    pub fn settings(port: u16) -> crate::SmtpSettings {
        crate::SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security: crate::SmtpSecurity::Plain,
            username: None,
            password: None,
            from: "Sightline <alerts@sightline.test>".into(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Starts aiosmtpd on 127.0.0.1:`port` and waits until it answers.
    pub fn start(port: u16) -> Self {
        Self::start_answering_after(port, Duration::ZERO)
    }

    /// Starts aiosmtpd on 127.0.0.1:`port`, answering each message's data
    /// only after `delay` (a brown-out: up, but slow), several at once.
    pub fn start_answering_after(port: u16, delay: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        std::fs::write(dir.path().join("slow_mailbox.py"), SLOW_MAILBOX).unwrap();
        let python =
            std::env::var("SIGHTLINE_SMTP_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
        let child = Command::new(python)
            .env("PYTHONPATH", dir.path())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "slow_mailbox.SlowMailbox"])
            .arg(&maildir)
            .arg(delay.as_secs_f64().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (cargo xtask test installs it)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            child,
            maildir,
            _dir: dir,
        }
    }

    /// The raw messages received so far.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect()
    }
}

/// An aiosmtpd handler that keeps each message in a maildir, as
/// `aiosmtpd.handlers.Mailbox` does, after waiting the seconds it is given.
const SLOW_MAILBOX: &str = r#"
import asyncio
from aiosmtpd.handlers import Mailbox


class SlowMailbox(Mailbox):
    def __init__(self, maildir, delay):
        super().__init__(maildir)
        self.delay = float(delay)

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 2:
            parser.error("SlowMailbox takes a maildir and a delay in seconds")
        return cls(args[0], args[1])
"#;

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
