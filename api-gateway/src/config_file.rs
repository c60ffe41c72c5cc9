//! The TOML configuration file: queues, agents and their queue rights, connectors.
//!
//! Parsing and validation only: every error names the file, the line and what is wrong, so an
//! operator can fix it without reading code. The result is the core's [`CentreConfig`]; no rule
//! of routing lives here.

use crate::access::{RoleName, RoleSpec};
use routing_core::access::{ApiKey, SecretDigest};
use routing_core::config::{
    AfterMaxWait, AgentConfig, AgentLostPolicy, CentreConfig, Channel, ConnectorConfig,
    DEFAULT_ANSWER_TARGET_MS, DEFAULT_OFFER_TIMEOUT_MS, MISSED_OFFER_PAUSE_REASON, MaxWait,
    PauseLimits, QueueConfig, Reminder, RoutingMode, RoutingStrategy, TransferDeclined,
};
use routing_core::{AgentId, ConnectorId, KeyId, QueueId};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use thiserror::Error;
use toml::Spanned;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("configuration file {path}: cannot be read: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration file {path}, line {line}, column {column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// Seconds a console may stay silent (after its first heartbeat) before its agent is taken
    /// as gone.
    heartbeat_timeout_s: Option<Spanned<u64>>,
    /// Seconds a pause may last before supervisors are told it overran, for reasons not listed
    /// in `pause_limits_s`.
    pause_limit_s: Option<Spanned<u64>>,
    /// Per pause reason, seconds it may last.
    #[serde(default)]
    pause_limits_s: BTreeMap<String, Spanned<u64>>,
    #[serde(default)]
    queues: Vec<Spanned<QueueEntry>>,
    #[serde(default)]
    agents: Vec<Spanned<AgentEntry>>,
    #[serde(default)]
    connectors: Vec<Spanned<ConnectorEntry>>,
    #[serde(default)]
    api_keys: Vec<Spanned<ApiKeyEntry>>,
    /// The statuses agents close conversations with, in the order offered.
    #[serde(default = "default_close_statuses")]
    close_statuses: Spanned<Vec<String>>,
    /// The reasons agents pause for, in the order offered.
    #[serde(default = "default_pause_reasons")]
    pause_reasons: Spanned<Vec<String>>,
}

fn no_templates() -> Spanned<Vec<String>> {
    Spanned::new(0..0, Vec::new())
}

fn default_close_statuses() -> Spanned<Vec<String>> {
    Spanned::new(
        0..0,
        ["resolved", "follow_up", "no_answer", "spam"]
            .map(String::from)
            .to_vec(),
    )
}

fn default_pause_reasons() -> Spanned<Vec<String>> {
    Spanned::new(
        0..0,
        ["break", "lunch", "training", "meeting"]
            .map(String::from)
            .to_vec(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyEntry {
    id: Spanned<String>,
    name: Option<String>,
    /// "connector", "agent", "supervisor", "auditor" or "admin", bound as [`RoleSpec`] says.
    role: RoleName,
    agent: Option<String>,
    users: Option<Vec<String>>,
    queues: Option<Vec<String>>,
    connectors: Option<Vec<String>>,
    /// The SHA-256 of the secret, in hexadecimal; never the secret itself.
    secret_sha256: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueEntry {
    id: Spanned<String>,
    name: Option<String>,
    channels: Spanned<Vec<Channel>>,
    /// "routed" (default), "collaboration" or "grab".
    #[serde(default = "default_mode")]
    mode: RoutingMode,
    #[serde(default = "default_strategy")]
    strategy: RoutingStrategy,
    /// Seconds an agent has to answer an offer.
    #[serde(default = "default_offer_timeout_s")]
    offer_timeout_s: Spanned<u64>,
    /// Whether an agent who lets an offer expire is put on an unpaid pause.
    #[serde(default)]
    pause_on_missed_offer: bool,
    /// Status board thresholds, in seconds of a customer waiting for an answer.
    #[serde(default = "default_soon_overdue_after_s")]
    soon_overdue_after_s: Spanned<u64>,
    #[serde(default = "default_overdue_after_s")]
    overdue_after_s: Spanned<u64>,
    /// Closed by the engine after this many seconds without a customer message.
    #[serde(default = "default_auto_close_after_s")]
    auto_close_after_s: Spanned<u64>,
    /// "off", "every_message", or "after_time" (with `reminder_after_s`).
    #[serde(default)]
    reminder: ReminderEntry,
    reminder_after_s: Option<Spanned<u64>>,
    /// Take a conversation from agents who have not answered for this many seconds.
    no_reply_limit_s: Option<Spanned<u64>>,
    /// "reroute" (default) or "keep": conversations waiting on an agent whose console vanished.
    #[serde(default = "default_on_agent_lost")]
    on_agent_lost: AgentLostPolicy,
    /// A contact writing again within this many seconds is offered to their last agent first.
    last_agent_window_s: Option<u64>,
    /// A conversation waiting with nobody in it this many seconds overflows to `overflow_to`, or
    /// is closed unanswered when that is not set.
    max_wait_s: Option<Spanned<u64>>,
    overflow_to: Option<Spanned<String>>,
    /// "return_to_sender" (default) or "to_queue": where a declined transfer goes.
    #[serde(default = "default_on_transfer_declined")]
    on_transfer_declined: TransferDeclined,
    /// Service level: taken within this many seconds counts as answered in time.
    answer_target_s: Option<Spanned<u64>>,
}

fn default_mode() -> RoutingMode {
    RoutingMode::Routed
}

fn default_on_transfer_declined() -> TransferDeclined {
    TransferDeclined::ReturnToSender
}

fn default_on_agent_lost() -> AgentLostPolicy {
    AgentLostPolicy::Reroute
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ReminderEntry {
    #[default]
    Off,
    EveryMessage,
    AfterTime,
}

fn default_soon_overdue_after_s() -> Spanned<u64> {
    Spanned::new(0..0, 180)
}

fn default_overdue_after_s() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}

fn default_auto_close_after_s() -> Spanned<u64> {
    Spanned::new(0..0, 86_400)
}

fn default_priority() -> Spanned<u8> {
    Spanned::new(0..0, 0)
}

fn default_offer_timeout_s() -> Spanned<u64> {
    Spanned::new(0..0, DEFAULT_OFFER_TIMEOUT_MS / 1000)
}

fn default_strategy() -> RoutingStrategy {
    RoutingStrategy::LongestIdle
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentEntry {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    queues: Vec<Spanned<String>>,
    #[serde(default)]
    capacity: BTreeMap<Channel, u32>,
    /// Queues whose team the agent administers (which gives rights to them).
    #[serde(default)]
    admin_of: Vec<Spanned<String>>,
    #[serde(default)]
    skills: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectorEntry {
    id: Spanned<String>,
    channel: Channel,
    queue: Spanned<String>,
    /// Conversations from this connector are served before lower-priority ones (0 to 9).
    #[serde(default = "default_priority")]
    priority: Spanned<u8>,
    /// Skills an agent needs to be offered this connector's conversations.
    #[serde(default)]
    skills: Vec<String>,
    /// The provider's approved message templates, by name (outside the reply window).
    #[serde(default = "no_templates")]
    templates: Spanned<Vec<String>>,
    /// The provider's signing secret (Meta's app secret; Viber's bot token), or the name of the
    /// environment variable holding it (`webhook_secret_env`), which keeps it out of the file.
    webhook_secret: Option<String>,
    webhook_secret_env: Option<Spanned<String>>,
    /// The token Meta's subscription handshake must present (WhatsApp, Messenger, Instagram).
    verify_token: Option<String>,
    verify_token_env: Option<Spanned<String>>,
    /// The provider account this connector is (WhatsApp's `phone_number_id`, the page's or
    /// Instagram account's id): one Meta app signs for all its numbers and pages, so items for
    /// another account are refused here.
    account: Option<Spanned<String>>,
}

/// What a provider's webhook for one connector is checked with. Its `Debug` hides the values:
/// a secret must never reach a log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// The key of the HMAC-SHA256 each call is signed with.
    pub secret: Option<String>,
    /// What Meta's subscription handshake must present.
    pub verify_token: Option<String>,
    /// The provider account the connector is; items addressed to another are refused.
    pub account: Option<String>,
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |value: &Option<String>| value.as_ref().map(|_| "<redacted>");
        f.debug_struct("WebhookSecrets")
            .field("secret", &shown(&self.secret))
            .field("verify_token", &shown(&self.verify_token))
            .field("account", &self.account)
            .finish()
    }
}

impl WebhookSecrets {
    fn is_empty(&self) -> bool {
        self.secret.is_none() && self.verify_token.is_none() && self.account.is_none()
    }
}

/// Everything the file configures: the contact centre as the core sees it, and what only the
/// service needs (the providers' webhook secrets, which never enter the log).
#[derive(Debug, Clone)]
pub struct Settings {
    pub centre: CentreConfig,
    pub webhooks: BTreeMap<ConnectorId, WebhookSecrets>,
}

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<CentreConfig, ConfigError> {
    load_settings(path).map(|settings| settings.centre)
}

/// Reads and validates the configuration file at `path`, with the service's own settings.
pub fn load_settings(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    parse_settings(path, &text)
}

/// Validates configuration text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<CentreConfig, ConfigError> {
    parse_settings(path, text).map(|settings| settings.centre)
}

/// A secret given in the file or, by name, in the environment.
fn secret(
    inline: Option<&String>,
    env: Option<&Spanned<String>>,
    what: &str,
    id: &Spanned<String>,
    at: &dyn Fn(usize, String) -> ConfigError,
) -> Result<Option<String>, ConfigError> {
    let (near, id) = (id.span().start, id.get_ref());
    match (inline, env) {
        (Some(_), Some(env)) => Err(at(
            env.span().start,
            format!("connector '{id}': give {what} or {what}_env, not both"),
        )),
        (Some(value), None) if value.trim().is_empty() => {
            Err(at(near, format!("connector '{id}': {what} is empty")))
        }
        (Some(value), None) => Ok(Some(value.clone())),
        (None, Some(env)) => match std::env::var(env.get_ref()) {
            Ok(value) if !value.trim().is_empty() => Ok(Some(value)),
            _ => Err(at(
                env.span().start,
                format!(
                    "connector '{id}': environment variable {} (its {what}) is not set",
                    env.get_ref()
                ),
            )),
        },
        (None, None) => Ok(None),
    }
}

/// Validates configuration text with the service's own settings; `path` is only used in
/// messages.
pub fn parse_settings(path: &Path, text: &str) -> Result<Settings, ConfigError> {
    let at = |offset: usize, message: String| {
        let (line, column) = line_and_column(text, offset);
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let file: File = toml::from_str(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        at(offset, error.message().trim().to_owned())
    })?;

    let mut config = CentreConfig::default();
    let mut webhooks = BTreeMap::new();
    if let Some(timeout) = &file.heartbeat_timeout_s {
        if !(5..=3600).contains(timeout.get_ref()) {
            return Err(at(
                timeout.span().start,
                "heartbeat_timeout_s must be between 5 and 3600 seconds".to_owned(),
            ));
        }
        config.heartbeat_timeout_ms = Some(timeout.get_ref() * 1000);
    }
    for limit in file
        .pause_limit_s
        .iter()
        .chain(file.pause_limits_s.values())
    {
        if *limit.get_ref() == 0 {
            return Err(at(
                limit.span().start,
                "a pause limit must be at least 1 second".to_owned(),
            ));
        }
    }
    for (name, list) in [
        ("close_statuses", &file.close_statuses),
        ("pause_reasons", &file.pause_reasons),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        if list.get_ref().is_empty() {
            return Err(at(
                list.span().start,
                format!("{name} must name at least one"),
            ));
        }
        for item in list.get_ref() {
            if item.trim().is_empty() || !seen.insert(item.as_str()) {
                return Err(at(
                    list.span().start,
                    format!("{name}: '{item}' is empty or named twice"),
                ));
            }
        }
    }
    // The automatic pause has its own reason; an agent must not take it by hand.
    if file
        .pause_reasons
        .get_ref()
        .iter()
        .any(|r| r == MISSED_OFFER_PAUSE_REASON)
    {
        return Err(at(
            file.pause_reasons.span().start,
            format!(
                "pause_reasons: '{MISSED_OFFER_PAUSE_REASON}' is the automatic pause's reason, not one to choose"
            ),
        ));
    }
    // A limit for a reason nobody can pause for would never apply: a typo, said at once.
    for reason in file.pause_limits_s.keys() {
        if reason != MISSED_OFFER_PAUSE_REASON && !file.pause_reasons.get_ref().contains(reason) {
            return Err(at(
                file.pause_limits_s[reason].span().start,
                format!(
                    "pause_limits_s: '{reason}' is not one of pause_reasons (nor '{MISSED_OFFER_PAUSE_REASON}')"
                ),
            ));
        }
    }
    config.close_statuses = file.close_statuses.get_ref().clone();
    config.pause_reasons = file.pause_reasons.get_ref().clone();
    config.pause_limits = PauseLimits {
        default_ms: file.pause_limit_s.as_ref().map(|s| s.get_ref() * 1000),
        by_reason: file
            .pause_limits_s
            .iter()
            .map(|(reason, s)| (reason.clone(), s.get_ref() * 1000))
            .collect(),
    };
    for queue in &file.queues {
        let entry = queue.get_ref();
        let id = check_id(&entry.id).map_err(|m| at(entry.id.span().start, m))?;
        if entry.channels.get_ref().is_empty() {
            return Err(at(
                entry.channels.span().start,
                format!("queue '{id}' must serve at least one channel"),
            ));
        }
        let offer_timeout_s = *entry.offer_timeout_s.get_ref();
        if !(1..=3600).contains(&offer_timeout_s) {
            return Err(at(
                entry.offer_timeout_s.span().start,
                format!("queue '{id}': offer_timeout_s must be between 1 and 3600 seconds"),
            ));
        }
        let soon = *entry.soon_overdue_after_s.get_ref();
        let overdue = *entry.overdue_after_s.get_ref();
        if soon == 0 || overdue <= soon {
            return Err(at(
                entry.overdue_after_s.span().start,
                format!(
                    "queue '{id}': overdue_after_s ({overdue}) must be greater than soon_overdue_after_s ({soon}), which must be at least 1"
                ),
            ));
        }
        let auto_close = *entry.auto_close_after_s.get_ref();
        if auto_close < 60 {
            return Err(at(
                entry.auto_close_after_s.span().start,
                format!("queue '{id}': auto_close_after_s must be at least 60"),
            ));
        }
        let reminder = match (entry.reminder, &entry.reminder_after_s) {
            (ReminderEntry::Off, None) => Reminder::Off,
            (ReminderEntry::EveryMessage, None) => Reminder::EveryMessage,
            (ReminderEntry::AfterTime, Some(after)) if *after.get_ref() > 0 => {
                Reminder::AfterMs(after.get_ref() * 1000)
            }
            (ReminderEntry::AfterTime, Some(after)) => {
                return Err(at(
                    after.span().start,
                    format!("queue '{id}': reminder_after_s must be at least 1"),
                ));
            }
            (ReminderEntry::AfterTime, None) => {
                return Err(at(
                    queue.span().start,
                    format!("queue '{id}': reminder = \"after_time\" needs reminder_after_s"),
                ));
            }
            (_, Some(after)) => {
                return Err(at(
                    after.span().start,
                    format!(
                        "queue '{id}': reminder_after_s only goes with reminder = \"after_time\""
                    ),
                ));
            }
        };
        let no_reply_limit_ms = match &entry.no_reply_limit_s {
            Some(limit) if *limit.get_ref() == 0 || *limit.get_ref() >= overdue => {
                return Err(at(
                    limit.span().start,
                    format!(
                        "queue '{id}': no_reply_limit_s must be at least 1 and below overdue_after_s ({overdue}), so that a conversation is offered again before it is overdue"
                    ),
                ));
            }
            Some(limit) => Some(limit.get_ref() * 1000),
            None => None,
        };
        let max_wait = match (&entry.max_wait_s, &entry.overflow_to) {
            (Some(limit), _) if *limit.get_ref() == 0 => {
                return Err(at(
                    limit.span().start,
                    format!("queue '{id}': max_wait_s must be at least 1"),
                ));
            }
            (Some(limit), overflow) => Some(MaxWait {
                after_ms: limit.get_ref() * 1000,
                then: match overflow {
                    Some(to) => AfterMaxWait::Overflow {
                        to: QueueId::new(to.get_ref()),
                    },
                    None => AfterMaxWait::Close,
                },
            }),
            (None, Some(to)) => {
                return Err(at(
                    to.span().start,
                    format!("queue '{id}': overflow_to only goes with max_wait_s"),
                ));
            }
            (None, None) => None,
        };
        let answer_target_ms = match &entry.answer_target_s {
            Some(target) if *target.get_ref() == 0 => {
                return Err(at(
                    target.span().start,
                    format!("queue '{id}': answer_target_s must be at least 1"),
                ));
            }
            Some(target) => target.get_ref().saturating_mul(1000),
            None => DEFAULT_ANSWER_TARGET_MS,
        };
        let queue_config = QueueConfig {
            name: entry.name.clone().unwrap_or_else(|| id.clone()),
            channels: entry.channels.get_ref().iter().copied().collect(),
            mode: entry.mode,
            max_wait,
            on_transfer_declined: entry.on_transfer_declined,
            strategy: entry.strategy,
            offer_timeout_ms: offer_timeout_s * 1000,
            pause_on_missed_offer: entry.pause_on_missed_offer,
            soon_overdue_after_ms: soon * 1000,
            overdue_after_ms: overdue * 1000,
            auto_close_after_ms: auto_close * 1000,
            reminder,
            no_reply_limit_ms,
            on_agent_lost: entry.on_agent_lost,
            last_agent_window_ms: entry.last_agent_window_s.map(|s| s.saturating_mul(1000)),
            answer_target_ms,
        };
        if config
            .queues
            .insert(QueueId::new(&id), queue_config)
            .is_some()
        {
            return Err(at(
                entry.id.span().start,
                format!("queue '{id}' is defined twice"),
            ));
        }
    }
    // Overflow targets may be defined after the queue that names them.
    for queue in &file.queues {
        let entry = queue.get_ref();
        let Some(to) = &entry.overflow_to else {
            continue;
        };
        let id = entry.id.get_ref();
        let target = QueueId::new(to.get_ref());
        let Some(target_config) = config.queues.get(&target) else {
            return Err(at(
                to.span().start,
                format!("queue '{id}' overflows to queue '{target}', which is not defined"),
            ));
        };
        if target.as_str() == id {
            return Err(at(
                to.span().start,
                format!("queue '{id}' cannot overflow to itself"),
            ));
        }
        if let Some(channel) = entry
            .channels
            .get_ref()
            .iter()
            .find(|c| !target_config.channels.contains(c))
        {
            return Err(at(
                to.span().start,
                format!(
                    "queue '{id}' overflows to queue '{target}', which does not serve {channel}"
                ),
            ));
        }
    }
    for agent in &file.agents {
        let entry = agent.get_ref();
        let id = check_id(&entry.id).map_err(|m| at(entry.id.span().start, m))?;
        let mut queues = BTreeSet::new();
        for queue in &entry.queues {
            let queue_id = QueueId::new(queue.get_ref());
            if !config.queues.contains_key(&queue_id) {
                return Err(at(
                    queue.span().start,
                    format!("agent '{id}' names queue '{queue_id}', which is not defined"),
                ));
            }
            queues.insert(queue_id);
        }
        let mut admin_of = BTreeSet::new();
        for queue in &entry.admin_of {
            let queue_id = QueueId::new(queue.get_ref());
            match config.queues.get(&queue_id).map(|q| q.mode) {
                None => {
                    return Err(at(
                        queue.span().start,
                        format!(
                            "agent '{id}' administers queue '{queue_id}', which is not defined"
                        ),
                    ));
                }
                Some(RoutingMode::Routed) => {
                    return Err(at(
                        queue.span().start,
                        format!(
                            "agent '{id}' administers queue '{queue_id}', which is routed: only collaboration and grab queues have team admins"
                        ),
                    ));
                }
                Some(_) => {}
            }
            admin_of.insert(queue_id);
        }
        let agent_config = AgentConfig {
            name: entry.name.clone().unwrap_or_else(|| id.clone()),
            queues,
            capacity: entry.capacity.clone(),
            admin_of,
            skills: entry.skills.iter().cloned().collect(),
        };
        if config
            .agents
            .insert(AgentId::new(&id), agent_config)
            .is_some()
        {
            return Err(at(
                entry.id.span().start,
                format!("agent '{id}' is defined twice"),
            ));
        }
    }
    for connector in &file.connectors {
        let entry = connector.get_ref();
        let id = check_id(&entry.id).map_err(|m| at(entry.id.span().start, m))?;
        let queue_id = QueueId::new(entry.queue.get_ref());
        let Some(queue) = config.queues.get(&queue_id) else {
            return Err(at(
                entry.queue.span().start,
                format!("connector '{id}' routes to queue '{queue_id}', which is not defined"),
            ));
        };
        if !queue.channels.contains(&entry.channel) {
            return Err(at(
                entry.queue.span().start,
                format!(
                    "connector '{id}' is a {} connector but queue '{queue_id}' does not serve {}",
                    entry.channel, entry.channel
                ),
            ));
        }
        if *entry.priority.get_ref() > 9 {
            return Err(at(
                entry.priority.span().start,
                format!("connector '{id}': priority must be between 0 and 9"),
            ));
        }
        let secrets = WebhookSecrets {
            secret: secret(
                entry.webhook_secret.as_ref(),
                entry.webhook_secret_env.as_ref(),
                "webhook_secret",
                &entry.id,
                &at,
            )?,
            verify_token: secret(
                entry.verify_token.as_ref(),
                entry.verify_token_env.as_ref(),
                "verify_token",
                &entry.id,
                &at,
            )?,
            account: match &entry.account {
                Some(account) if account.get_ref().trim().is_empty() => {
                    return Err(at(
                        account.span().start,
                        format!("connector '{id}': account is empty"),
                    ));
                }
                Some(account) => Some(account.get_ref().clone()),
                None => None,
            },
        };
        let signs = !matches!(entry.channel, Channel::Webchat);
        let handshakes = connectors::handshake::applies_to(entry.channel);
        if !signs && !secrets.is_empty() {
            return Err(at(
                entry.id.span().start,
                format!(
                    "connector '{id}': web chat posts Switchboard's own JSON with an API key; it has no webhook secret, verify token or account"
                ),
            ));
        }
        if !handshakes && secrets.verify_token.is_some() {
            return Err(at(
                entry.id.span().start,
                format!(
                    "connector '{id}': only Meta's channels (WhatsApp, Messenger, Instagram) have a verify token"
                ),
            ));
        }
        if !secrets.is_empty() {
            webhooks.insert(ConnectorId::new(&id), secrets);
        }
        let templates = &entry.templates;
        if !templates.get_ref().is_empty() && !entry.channel.has_reply_window() {
            return Err(at(
                templates.span().start,
                format!(
                    "connector '{id}': only WhatsApp and Messenger have a reply window, and so templates"
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for name in templates.get_ref() {
            if name.trim() != name || name.is_empty() || !seen.insert(name.as_str()) {
                return Err(at(
                    templates.span().start,
                    format!(
                        "connector '{id}': template '{name}' is empty, padded with spaces, or named twice"
                    ),
                ));
            }
        }
        let connector_config = ConnectorConfig {
            channel: entry.channel,
            queue: queue_id,
            priority: *entry.priority.get_ref(),
            skills: entry.skills.iter().cloned().collect(),
            templates: entry.templates.get_ref().clone(),
        };
        if config
            .connectors
            .insert(ConnectorId::new(&id), connector_config)
            .is_some()
        {
            return Err(at(
                entry.id.span().start,
                format!("connector '{id}' is defined twice"),
            ));
        }
    }
    let mut digests = BTreeSet::new();
    for key in &file.api_keys {
        let entry = key.get_ref();
        let id = check_id(&entry.id).map_err(|m| at(entry.id.span().start, m))?;
        let secret_sha256 =
            SecretDigest::try_from(entry.secret_sha256.get_ref().clone()).map_err(|e| {
                at(
                    entry.secret_sha256.span().start,
                    format!("API key '{id}': {e}"),
                )
            })?;
        if !digests.insert(secret_sha256.clone()) {
            return Err(at(
                entry.secret_sha256.span().start,
                format!("API key '{id}' has the same secret as another key"),
            ));
        }
        let role = RoleSpec {
            role: entry.role,
            agent: entry.agent.clone(),
            users: entry.users.clone(),
            queues: entry.queues.clone(),
            connectors: entry.connectors.clone(),
        }
        .into_role()
        .and_then(|role| {
            role.check(&config)
                .map(|()| role)
                .map_err(|e| e.to_string())
        })
        .map_err(|m| at(key.span().start, format!("API key '{id}': {m}")))?;
        let api_key = ApiKey {
            name: entry.name.clone().unwrap_or_else(|| id.clone()),
            role,
            secret_sha256,
        };
        if config.api_keys.insert(KeyId::new(&id), api_key).is_some() {
            return Err(at(
                entry.id.span().start,
                format!("API key '{id}' is defined twice"),
            ));
        }
    }
    Ok(Settings {
        centre: config,
        webhooks,
    })
}

/// Ids appear in URLs and stream names: keep them to a safe alphabet.
fn check_id(id: &Spanned<String>) -> Result<String, String> {
    let value = id.get_ref();
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if valid {
        Ok(value.clone())
    } else {
        Err(format!(
            "id '{value}' must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
        ))
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        parse(Path::new("centre.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../switchboard.toml");
        let config = load(&path).unwrap();
        assert!(!config.queues.is_empty());
        assert!(!config.agents.is_empty());
        assert!(!config.connectors.is_empty());
    }

    #[test]
    fn team_modes_admins_skills_waiting_limits_and_pause_limits_are_read() {
        let config = parse(
            Path::new("centre.toml"),
            r#"
pause_limit_s = 900
[pause_limits_s]
lunch = 3600

[[queues]]
id = "grabbers"
channels = ["webchat"]
mode = "grab"
max_wait_s = 120
overflow_to = "support"
on_transfer_declined = "to_queue"

[[queues]]
id = "support"
channels = ["webchat", "whatsapp"]
max_wait_s = 600

[[agents]]
id = "erin"
admin_of = ["grabbers"]
skills = ["spanish"]

[[connectors]]
id = "es"
channel = "webchat"
queue = "support"
skills = ["spanish"]
"#,
        )
        .unwrap();
        let grabbers = &config.queues[&QueueId::new("grabbers")];
        assert_eq!(grabbers.mode, RoutingMode::Grab);
        assert_eq!(grabbers.on_transfer_declined, TransferDeclined::ToQueue);
        assert_eq!(
            grabbers.max_wait,
            Some(MaxWait {
                after_ms: 120_000,
                then: AfterMaxWait::Overflow {
                    to: QueueId::new("support")
                }
            })
        );
        let support = &config.queues[&QueueId::new("support")];
        assert_eq!(support.mode, RoutingMode::Routed);
        assert_eq!(
            support.max_wait,
            Some(MaxWait {
                after_ms: 600_000,
                then: AfterMaxWait::Close
            })
        );
        let erin = &config.agents[&AgentId::new("erin")];
        assert!(erin.has_rights_to(&QueueId::new("grabbers")));
        assert!(erin.skills.contains("spanish"));
        assert!(
            config.connectors[&ConnectorId::new("es")]
                .skills
                .contains("spanish")
        );
        assert_eq!(config.pause_limits.for_reason("lunch"), Some(3_600_000));
        assert_eq!(config.pause_limits.for_reason("coffee"), Some(900_000));
    }

    #[test]
    fn an_overflow_to_a_queue_that_cannot_take_the_conversation_is_refused() {
        let queues = "[[queues]]\nid = \"support\"\nchannels = [\"webchat\", \"whatsapp\"]\nmax_wait_s = 60\noverflow_to = \"sales\"\n\n[[queues]]\nid = \"sales\"\nchannels = [\"webchat\"]\n";
        assert_eq!(
            error_of(queues),
            "configuration file centre.toml, line 5, column 15: queue 'support' overflows to queue 'sales', which does not serve whatsapp"
        );
        let error = error_of(&queues.replace("\"sales\"\n\n", "\"billing\"\n\n"));
        assert!(
            error.contains("queue 'billing', which is not defined"),
            "{error}"
        );
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\noverflow_to = \"support\"\n",
        );
        assert!(
            error.contains("overflow_to only goes with max_wait_s"),
            "{error}"
        );
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\nmax_wait_s = 60\noverflow_to = \"support\"\n",
        );
        assert!(error.contains("cannot overflow to itself"), "{error}");
    }

    #[test]
    fn an_unknown_mode_and_an_undefined_or_routed_administered_queue_are_refused() {
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\nmode = \"lottery\"\n",
        );
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("lottery"), "{error}");
        let error = error_of("[[agents]]\nid = \"erin\"\nadmin_of = [\"support\"]\n");
        assert!(
            error.contains("agent 'erin' administers queue 'support', which is not defined"),
            "{error}"
        );
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n[[agents]]\nid = \"erin\"\nadmin_of = [\"support\"]\n",
        );
        assert!(
            error.contains("line 6") && error.contains("which is routed"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = load(Path::new("/nonexistent/centre.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/centre.toml"), "{error}");
        assert!(error.contains("cannot be read"), "{error}");
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let error = error_of("[[queues]]\nid = \"support\"\nchannels = [\"webchat\"\n");
        assert!(
            error.starts_with("configuration file centre.toml, line 3"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_channel_names_the_line_and_the_value() {
        let error = error_of("[[queues]]\nid = \"support\"\nchannels = [\"fax\"]\n");
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains("fax"), "{error}");
    }

    #[test]
    fn an_agent_naming_an_undefined_queue_is_refused_at_that_line() {
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n\n[[agents]]\nid = \"alice\"\nqueues = [\"sales\"]\n",
        );
        assert_eq!(
            error,
            "configuration file centre.toml, line 7, column 11: agent 'alice' names queue 'sales', which is not defined"
        );
    }

    #[test]
    fn a_providers_webhook_secrets_come_from_the_file_or_the_environment() {
        const QUEUE: &str =
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\", \"whatsapp\", \"viber\"]\n";
        let settings = parse_settings(
            Path::new("centre.toml"),
            &format!(
                "{QUEUE}[[connectors]]\nid = \"wa\"\nchannel = \"whatsapp\"\nqueue = \"support\"\nwebhook_secret = \"s3cret\"\nverify_token_env = \"PATH\"\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let wa = &settings.webhooks[&ConnectorId::new("wa")];
        assert_eq!(wa.secret.as_deref(), Some("s3cret"));
        // PATH is set wherever tests run: the value is read from the environment.
        assert_eq!(wa.verify_token, std::env::var("PATH").ok());

        let unset = error_of(&format!(
            "{QUEUE}[[connectors]]\nid = \"wa\"\nchannel = \"whatsapp\"\nqueue = \"support\"\nwebhook_secret_env = \"SWITCHBOARD_TEST_NO_SUCH_VARIABLE\"\n"
        ));
        assert!(
            unset.contains("SWITCHBOARD_TEST_NO_SUCH_VARIABLE") && unset.contains("not set"),
            "{unset}"
        );
        let both = error_of(&format!(
            "{QUEUE}[[connectors]]\nid = \"wa\"\nchannel = \"whatsapp\"\nqueue = \"support\"\nwebhook_secret = \"a\"\nwebhook_secret_env = \"PATH\"\n"
        ));
        assert!(both.contains("not both"), "{both}");
        let webchat = error_of(&format!(
            "{QUEUE}[[connectors]]\nid = \"web\"\nchannel = \"webchat\"\nqueue = \"support\"\nwebhook_secret = \"a\"\n"
        ));
        assert!(webchat.contains("web chat"), "{webchat}");
        let viber = error_of(&format!(
            "{QUEUE}[[connectors]]\nid = \"vb\"\nchannel = \"viber\"\nqueue = \"support\"\nwebhook_secret = \"a\"\nverify_token = \"t\"\n"
        ));
        assert!(viber.contains("only Meta's channels"), "{viber}");
    }

    #[test]
    fn webhook_secrets_never_show_in_debug_output() {
        let secrets = WebhookSecrets {
            secret: Some("s3cret-value".into()),
            verify_token: Some("t0ken-value".into()),
            account: None,
        };
        let shown = format!("{secrets:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "{shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn a_connector_to_a_queue_without_its_channel_is_refused() {
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n\n[[connectors]]\nid = \"wa\"\nchannel = \"whatsapp\"\nqueue = \"support\"\n",
        );
        assert!(error.contains("line 8"), "{error}");
        assert!(error.contains("does not serve whatsapp"), "{error}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let error =
            error_of("[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\ncolour = \"red\"\n");
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn queue_timers_are_read_and_checked() {
        let base = "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n";
        let config = parse(
            Path::new("centre.toml"),
            &format!("{base}reminder = \"after_time\"\nreminder_after_s = 60\nno_reply_limit_s = 120\nauto_close_after_s = 3600\n"),
        )
        .unwrap();
        let queue = &config.queues[&QueueId::new("support")];
        assert_eq!(queue.reminder, Reminder::AfterMs(60_000));
        assert_eq!(queue.no_reply_limit_ms, Some(120_000));
        assert_eq!(queue.auto_close_after_ms, 3_600_000);
        assert_eq!(queue.soon_overdue_after_ms, 180_000);
        assert_eq!(queue.overdue_after_ms, 300_000);
        assert_eq!(queue.answer_target_ms, 60_000, "a minute when not said");
        let config = parse(
            Path::new("centre.toml"),
            &format!("{base}answer_target_s = 20\n"),
        )
        .unwrap();
        assert_eq!(
            config.queues[&QueueId::new("support")].answer_target_ms,
            20_000
        );
        let error = error_of(&format!("{base}answer_target_s = 0\n"));
        assert!(
            error.contains("line 4") && error.contains("answer_target_s must be at least 1"),
            "{error}"
        );

        let error = error_of(&format!("{base}no_reply_limit_s = 400\n"));
        assert!(
            error.contains("line 4") && error.contains("before it is overdue"),
            "{error}"
        );
        let error = error_of(&format!(
            "{base}soon_overdue_after_s = 300\noverdue_after_s = 200\n"
        ));
        assert!(
            error.contains("line 5") && error.contains("greater than"),
            "{error}"
        );
        let error = error_of(&format!("{base}reminder = \"after_time\"\n"));
        assert!(error.contains("needs reminder_after_s"), "{error}");
    }

    #[test]
    fn a_connectors_approved_templates_are_read() {
        let config = parse(
            Path::new("centre.toml"),
            "[[queues]]\nid = \"support\"\nchannels = [\"whatsapp\"]\n[[connectors]]\nid = \"wa\"\nchannel = \"whatsapp\"\nqueue = \"support\"\ntemplates = [\"order_update\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.templates_of(&ConnectorId::new("wa")),
            ["order_update".to_owned()]
        );
        assert!(config.templates_of(&ConnectorId::new("other")).is_empty());
        let web = "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n[[connectors]]\nid = \"web\"\nchannel = \"webchat\"\nqueue = \"support\"\n";
        let error = error_of(&format!("{web}templates = [\"hello\"]\n"));
        assert!(
            error.contains("line 8") && error.contains("only WhatsApp and Messenger"),
            "{error}"
        );
        let wa = web.replace("\"webchat\"", "\"whatsapp\"");
        let error = error_of(&format!("{wa}templates = [\"a\", \" b\"]\n"));
        assert!(error.contains("padded with spaces"), "{error}");
        let error = error_of(&format!("{wa}templates = [\"a\", \"a\"]\n"));
        assert!(error.contains("named twice"), "{error}");
    }

    #[test]
    fn close_statuses_and_pause_reasons_are_read_with_defaults_and_checked() {
        let base = "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n";
        let config = parse(Path::new("centre.toml"), base).unwrap();
        assert_eq!(
            config.close_statuses,
            ["resolved", "follow_up", "no_answer", "spam"]
        );
        assert_eq!(
            config.pause_reasons,
            ["break", "lunch", "training", "meeting"]
        );
        let config = parse(
            Path::new("centre.toml"),
            &format!("close_statuses = [\"sold\", \"lost\"]\npause_reasons = [\"coffee\"]\n{base}"),
        )
        .unwrap();
        assert_eq!(config.close_statuses, ["sold", "lost"]);
        assert_eq!(config.pause_reasons, ["coffee"]);
        let error = error_of(&format!("close_statuses = []\n{base}"));
        assert!(
            error.contains("line 1") && error.contains("close_statuses must name at least one"),
            "{error}"
        );
        let error = error_of(&format!("pause_reasons = [\"a\", \"a\"]\n{base}"));
        assert!(error.contains("'a' is empty or named twice"), "{error}");
        let error = error_of(&format!(
            "pause_reasons = [\"break\", \"missed offer\"]\n{base}"
        ));
        assert!(error.contains("the automatic pause's reason"), "{error}");
        let error = error_of(&format!("{base}[pause_limits_s]\nlunhc = 60\n"));
        assert!(
            error.contains("line 5") && error.contains("'lunhc' is not one of pause_reasons"),
            "{error}"
        );
        parse(
            Path::new("centre.toml"),
            &format!("{base}[pause_limits_s]\nlunch = 60\n\"missed offer\" = 600\n"),
        )
        .unwrap();
    }

    #[test]
    fn a_duplicate_id_is_refused() {
        let error = error_of(
            "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n",
        );
        assert!(error.contains("line 5"), "{error}");
        assert!(error.contains("defined twice"), "{error}");
    }

    #[test]
    fn api_keys_are_read_with_their_roles_and_checked() {
        let base = "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n[[agents]]\nid = \"ada\"\nqueues = [\"support\"]\n";
        let digest = "ab".repeat(32);
        let config = parse(
            Path::new("centre.toml"),
            &format!(
                "{base}[[api_keys]]\nid = \"ada-console\"\nrole = \"agent\"\nagent = \"ada\"\nsecret_sha256 = \"{digest}\"\n"
            ),
        )
        .unwrap();
        let key = &config.api_keys[&KeyId::new("ada-console")];
        assert_eq!(
            key.role,
            routing_core::access::Role::Agent {
                agent: AgentId::new("ada")
            }
        );
        assert_eq!(key.secret_sha256.as_str(), digest);

        let key = |body: &str| format!("{base}[[api_keys]]\nid = \"k\"\n{body}\n");
        let error = error_of(&key(&format!(
            "role = \"agent\"\nagent = \"bo\"\nsecret_sha256 = \"{digest}\""
        )));
        assert!(
            error.contains("line 7") && error.contains("agent 'bo' is not configured"),
            "{error}"
        );
        let error = error_of(&key(&format!(
            "role = \"supervisor\"\nqueues = [\"sales\"]\nsecret_sha256 = \"{digest}\""
        )));
        assert!(error.contains("queue 'sales' is not configured"), "{error}");
        let error = error_of(&key(
            "role = \"admin\"\nsecret_sha256 = \"sb_plain_secret\"",
        ));
        assert!(
            error.contains("line 10") && error.contains("64 hexadecimal digits"),
            "{error}"
        );
        let error = error_of(&key(&format!(
            "role = \"auditor\"\nagent = \"ada\"\nsecret_sha256 = \"{digest}\""
        )));
        assert!(error.contains("`agent` goes only with role"), "{error}");
        let twice = format!(
            "{}[[api_keys]]\nid = \"k2\"\nrole = \"admin\"\nsecret_sha256 = \"{digest}\"\n",
            key(&format!("role = \"admin\"\nsecret_sha256 = \"{digest}\""))
        );
        assert!(error_of(&twice).contains("same secret as another key"));
    }
}
