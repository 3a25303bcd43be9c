//! A fake Discord gateway on 127.0.0.1, for serenity's real client: Hello (heartbeat every
//! second), then on Identify a READY, heartbeat ACKs, and each interaction handed to
//! `dispatch` as INTERACTION_CREATE. It takes one connection (one shard, no resume).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

pub struct FakeGateway {
    /// `ws://…`, what the fake REST API answers `GET /gateway/bot` with.
    pub url: String,
    /// Interactions to dispatch, sent once the client is READY.
    pub dispatch: tokio::sync::mpsc::UnboundedSender<Value>,
    /// The client's Identify payload, once it came.
    pub identify: Arc<Mutex<Option<Value>>>,
    /// How many heartbeats the client sent (each acknowledged).
    pub heartbeats: Arc<AtomicU64>,
    pub task: tokio::task::JoinHandle<()>,
}

impl FakeGateway {
    pub async fn start() -> Self {
        use tokio_tungstenite::tungstenite::Message;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let (dispatch, mut queue) = tokio::sync::mpsc::unbounded_channel::<Value>();
        let identify = Arc::new(Mutex::new(None));
        let heartbeats = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (identify, heartbeats, url) = (identify.clone(), heartbeats.clone(), url.clone());
            async move {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let send = |v: Value| Message::Text(v.to_string());
                if ws
                    .send(send(
                        json!({ "op": 10, "d": { "heartbeat_interval": 1000 } }),
                    ))
                    .await
                    .is_err()
                {
                    return;
                }
                let mut seq = 0u64;
                let mut ready = false;
                loop {
                    tokio::select! {
                        frame = ws.next() => {
                            let Some(Ok(Message::Text(text))) = frame else {
                                match frame {
                                    Some(Ok(_)) => continue,
                                    _ => return,
                                }
                            };
                            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                            match v["op"].as_u64() {
                                Some(2) => {
                                    *identify.lock().expect("lock") = Some(v["d"].clone());
                                    seq += 1;
                                    let r = json!({ "op": 0, "t": "READY", "s": seq, "d": {
                                        "v": 10,
                                        "user": { "id": "1300000000000000009", "username": "mentorops",
                                                  "discriminator": "0", "global_name": null, "avatar": null,
                                                  "bot": true, "verified": true, "mfa_enabled": false, "flags": 0 },
                                        "guilds": [],
                                        "session_id": "fake-session",
                                        "resume_gateway_url": url,
                                        "shard": [0, 1],
                                        "application": { "id": "1300000000000000002", "flags": 0 }
                                    }});
                                    if ws.send(send(r)).await.is_err() {
                                        return;
                                    }
                                    ready = true;
                                }
                                Some(1) => {
                                    heartbeats.fetch_add(1, Ordering::SeqCst);
                                    if ws.send(send(json!({ "op": 11 }))).await.is_err() {
                                        return;
                                    }
                                }
                                _ => {}
                            }
                        }
                        Some(d) = queue.recv(), if ready => {
                            seq += 1;
                            let e = json!({ "op": 0, "t": "INTERACTION_CREATE", "s": seq, "d": d });
                            if ws.send(send(e)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Self {
            url,
            dispatch,
            identify,
            heartbeats,
            task,
        }
    }

    /// The client's Identify payload (Null before it came).
    pub fn identified(&self) -> Value {
        self.identify
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or_default()
    }
}
