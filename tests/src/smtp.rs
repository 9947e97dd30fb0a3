//! A real SMTP server for the tests: it speaks enough SMTP (EHLO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT) for a client library to deliver to it, and
//! keeps every message it accepts.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and body).
    pub data: String,
}

/// Run once, when the next message has been received in full and before
/// the server answers that it accepted it.
pub type BeforeAccepting = Box<dyn FnOnce() + Send>;

/// The running server.
#[derive(Clone)]
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Every message accepted.
    pub messages: Arc<Mutex<Vec<Received>>>,
    before_accepting: Arc<Mutex<Option<BeforeAccepting>>>,
}

impl SmtpSink {
    /// Listen on a free port.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let messages: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = messages.clone();
        let hook: Arc<Mutex<Option<BeforeAccepting>>> = Arc::default();
        let before_accepting = hook.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let kept = kept.clone();
                let hook = hook.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut to = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("HELO") || upper.starts_with("MAIL") {
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT") {
                            let address = line
                                .split_once('<')
                                .and_then(|(_, r)| r.split_once('>'))
                                .map(|(a, _)| a.to_owned())
                                .unwrap_or_default();
                            to.push(address);
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            kept.lock().expect("messages").push(Received {
                                to: std::mem::take(&mut to),
                                data,
                            });
                            let before = hook.lock().expect("hook").take();
                            if let Some(before) = before {
                                before();
                            }
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink {
            port,
            messages,
            before_accepting,
        }
    }

    /// Run `f` once the next message is in and before it is accepted (to
    /// kill the sender between its send and its mark, say).
    pub fn before_accepting_next(&self, f: impl FnOnce() + Send + 'static) {
        *self.before_accepting.lock().expect("hook") = Some(Box::new(f));
    }

    /// The messages so far.
    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().expect("messages").clone()
    }

    /// Wait (up to 20 s) until `n` messages are in.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("expected {n} messages, got {:?}", self.received());
    }
}

impl Received {
    /// The message with quoted-printable undone (soft line breaks joined,
    /// `=XX` decoded), as a reader sees its text.
    pub fn text(&self) -> String {
        let joined = self.data.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (
                bytes[i],
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (b'=', Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The value of header `name` (first occurrence).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}
