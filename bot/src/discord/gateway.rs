//! The gateway transport (the default): serenity's `Client` keeps the websocket to Discord
//! (Hello, Identify, heartbeats, resumes) and hands each INTERACTION_CREATE to [`Handler`], which
//! gives it to [`Interactions::answer`] — the same code the HTTP endpoint runs — and sends the
//! first answer over REST (`POST /interactions/{id}/{token}/callback`), then what follows it.
//!
//! Slash commands, buttons and forms need no gateway intent (none privileged), so the client
//! asks for none. serenity's own REST client only fetches the gateway URL (`GET /gateway`);
//! everything else goes through our paced [`super::Rest`].

use std::sync::Arc;

use anyhow::Context as _;
use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Ready};
use serenity::async_trait;
use serenity::http::Http;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::interact::{Answered, Interactions};

/// Answers interactions coming over the gateway.
pub struct Handler {
    interactions: Arc<Interactions>,
}

impl Handler {
    pub fn new(interactions: Arc<Interactions>) -> Self {
        Self { interactions }
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        info!(bot = %ready.user.name, "Discord gateway ready");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let (id, token) = (interaction.id().get(), interaction.token().to_string());
        let Answered { first, later } = self.interactions.answer(interaction).await;
        match self.interactions.rest().callback(id, &token, &first).await {
            Ok(()) => {
                if let Some(later) = later {
                    later.await;
                }
            }
            Err(e) => warn!(error = %e, "Discord did not take an interaction response"),
        }
    }
}

/// Connects to the gateway (its URL from `GET /gateway` on `http`'s API) and answers
/// interactions until `shutdown` is cancelled or the connection fails for good.
pub async fn run(
    interactions: Arc<Interactions>,
    http: Http,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut client = serenity::client::ClientBuilder::new_with_http(http, GatewayIntents::empty())
        .event_handler(Handler::new(interactions))
        .await
        .context("cannot set up the Discord gateway client")?;
    let shards = client.shard_manager.clone();
    info!("Discord gateway connecting");
    tokio::select! {
        r = client.start() => r.context("the Discord gateway connection failed"),
        _ = shutdown.cancelled() => {
            shards.shutdown_all().await;
            info!("Discord gateway stopped");
            Ok(())
        }
    }
}
