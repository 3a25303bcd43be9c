//! A small SMTP server for the tests, on a loopback port chosen at run time. It speaks enough
//! of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and answers the end of
//! each message with the next scripted reply (`451 …`, `550 …`), then `250` once the script
//! is used up. Every accepted message is kept for the test to read.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub struct SmtpServer {
    pub addr: SocketAddr,
    accepted: Arc<Mutex<Vec<String>>>,
    attempts: Arc<Mutex<usize>>,
}

impl SmtpServer {
    pub async fn start(script: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(Mutex::new(0));
        let script: Arc<Mutex<VecDeque<String>>> =
            Arc::new(Mutex::new(script.iter().map(|s| s.to_string()).collect()));
        let (acc, att) = (accepted.clone(), attempts.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acc, att, script) = (acc.clone(), att.clone(), script.clone());
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 localhost ESMTP mentorops-test\r\n").await;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_uppercase();
                        let reply = match verb.as_str() {
                            "EHLO" => "250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8".to_string(),
                            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => "250 OK".to_string(),
                            "DATA" => {
                                let _ = w.write_all(b"354 go ahead\r\n").await;
                                let mut body = String::new();
                                while let Ok(Some(l)) = lines.next_line().await {
                                    if l == "." {
                                        break;
                                    }
                                    body.push_str(&l);
                                    body.push('\n');
                                }
                                *att.lock().expect("lock") += 1;
                                let next = script
                                    .lock()
                                    .expect("lock")
                                    .pop_front()
                                    .unwrap_or_else(|| "250 2.0.0 queued".into());
                                if next.starts_with('2') {
                                    acc.lock().expect("lock").push(body);
                                }
                                next
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => "502 not implemented".to_string(),
                        };
                        if w.write_all(format!("{reply}\r\n").as_bytes())
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            accepted,
            attempts,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }
    pub fn accepted(&self) -> Vec<String> {
        self.accepted.lock().expect("lock").clone()
    }
    /// How many messages were offered (DATA), accepted or not.
    pub fn attempts(&self) -> usize {
        *self.attempts.lock().expect("lock")
    }
}
