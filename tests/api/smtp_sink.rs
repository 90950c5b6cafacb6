//! A small SMTP server for the tests, on a free local port: it speaks enough of RFC 5321
//! for lettre (EHLO or HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT), keeps every
//! message it accepts, and can be told to refuse messages with a given reply.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope's sender (`MAIL FROM`).
    pub from: String,
    /// The envelope's recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent (headers and MIME body), dot-stuffing removed.
    pub data: String,
}

impl Received {
    /// The value of a top-level header (the first with that name).
    pub fn header(&self, name: &str) -> Option<String> {
        header_of(self.data.split("\r\n\r\n").next()?, name)
    }

    /// The decoded body of the MIME part whose type starts with `content_type`
    /// (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let boundary = self
            .header("Content-Type")?
            .split("boundary=")
            .nth(1)?
            .trim_matches('"')
            .to_string();
        self.data
            .split(&format!("--{boundary}"))
            .filter_map(|part| {
                let (head, body) = part.trim_start_matches("\r\n").split_once("\r\n\r\n")?;
                let kind = header_of(head, "Content-Type")?;
                kind.starts_with(content_type).then(|| {
                    decode(
                        header_of(head, "Content-Transfer-Encoding").as_deref(),
                        body.trim_end(),
                    )
                })
            })
            .next()
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        self.part("text/plain").expect("a text/plain part")
    }

    /// The HTML body.
    pub fn html(&self) -> String {
        self.part("text/html").expect("a text/html part")
    }
}

fn header_of(head: &str, name: &str) -> Option<String> {
    // Unfold continuation lines first.
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn decode(encoding: Option<&str>, body: &str) -> String {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        Some("quoted-printable") => String::from_utf8(
            quoted_printable::decode(body, quoted_printable::ParseMode::Robust).unwrap(),
        )
        .unwrap(),
        Some("base64") => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body.replace("\r\n", ""))
                .unwrap(),
        )
        .unwrap(),
        _ => body.to_string(),
    }
}

#[derive(Default)]
struct State {
    accepted: Vec<Received>,
    /// Messages that reached the end of DATA, accepted or refused.
    attempts: usize,
    /// Replies for the next messages' end of DATA, instead of accepting them.
    refusals: VecDeque<String>,
    /// A reply for every message once `refusals` is empty, instead of accepting it.
    refuse_all: Option<String>,
}

/// The running sink. Dropping it leaves the listener to the end of the test's runtime.
#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SmtpSink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        });
        Self { addr, state }
    }

    /// The URL for `RFT_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Refuses the next messages, one reply each (e.g. `451 4.3.0 Try again later`).
    pub fn refuse_next(&self, replies: &[&str]) {
        let mut s = self.state.lock().unwrap();
        s.refusals.extend(replies.iter().map(|r| r.to_string()));
    }

    /// Refuses every message with `reply` from now on.
    pub fn refuse_all(&self, reply: &str) {
        self.state.lock().unwrap().refuse_all = Some(reply.to_string());
    }

    /// The messages accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Messages offered so far (accepted or refused).
    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: String = match verb.as_str() {
            "EHLO" => "250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8".into(),
            "HELO" => "250 sink.test".into(),
            "MAIL" => {
                from = address(&command);
                to.clear();
                "250 OK".into()
            }
            "RCPT" => {
                to.push(address(&command));
                "250 OK".into()
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let mut s = state.lock().unwrap();
                s.attempts += 1;
                match s.refusals.pop_front().or_else(|| s.refuse_all.clone()) {
                    Some(refusal) => refusal,
                    None => {
                        s.accepted.push(Received {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                        });
                        "250 OK: queued".into()
                    }
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                "250 OK".into()
            }
            "NOOP" => "250 OK".into(),
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 Command not implemented".into(),
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}
