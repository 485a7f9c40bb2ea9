//! The SMTP transport of the outbox ([`Channel::Email`]): sends a stored report's bytes as
//! they are, to the recipients its row names.
//!
//! STARTTLS (required, never downgraded) or TLS from the first byte, certificates checked
//! against the host name; plain SMTP only to a loopback host (refused at start otherwise).
//! A connection failure, a timeout or a 4xx reply is a [`Delivery::Retry`]; a 5xx reply (the
//! server refuses the sender, a recipient or the message for good) is a [`Delivery::Rejected`].

use futures::FutureExt;
use futures::future::BoxFuture;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{SmtpSettings, TlsMode};
use crate::causes::causes;
use crate::notify::{Delivery, Transport};
use crate::store::{Channel, OutboxMessage};

/// Sends report emails over SMTP.
pub struct SmtpTransport {
    /// lettre's client (connection settings, credentials).
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    /// The envelope sender.
    from: Address,
}

/// The transport could not be set up (a host name TLS cannot use).
#[derive(Debug, thiserror::Error)]
#[error("report.smtp.host: {0}")]
pub struct SmtpSetupError(String);

impl SmtpTransport {
    /// A transport for `settings`; connects only when it sends.
    pub fn new(settings: &SmtpSettings) -> Result<SmtpTransport, SmtpSetupError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_string()).map_err(|e| SmtpSetupError(e.to_string()))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(settings.timeout));
        builder = match settings.tls {
            TlsMode::Starttls => builder.tls(Tls::Required(tls(&settings.host)?)),
            TlsMode::Tls => builder.tls(Tls::Wrapper(tls(&settings.host)?)),
            TlsMode::None => builder.tls(Tls::None),
        };
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpTransport {
            mailer: builder.build(),
            from: settings.from.email.clone(),
        })
    }

    async fn send(&self, message: &OutboxMessage) -> Delivery {
        let to: Result<Vec<Address>, _> = message
            .target
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::parse::<Address>)
            .collect();
        let envelope = match to
            .map_err(|e| e.to_string())
            .and_then(|to| Envelope::new(Some(self.from.clone()), to).map_err(|e| e.to_string()))
        {
            Ok(envelope) => envelope,
            Err(e) => {
                return Delivery::Rejected {
                    reason: format!("recipients {:?}: {e}", message.target),
                };
            }
        };
        match self.mailer.send_raw(&envelope, &message.payload).await {
            Ok(_) => Delivery::Delivered,
            Err(e) => classify(&e),
        }
    }
}

/// A 5xx reply is final; everything else (4xx, connection, TLS handshake, timeout) may
/// pass on a later try.
fn classify(e: &lettre::transport::smtp::Error) -> Delivery {
    let reason = format!("SMTP: {}", causes(e));
    if e.is_permanent() {
        Delivery::Rejected { reason }
    } else {
        Delivery::Retry {
            reason,
            after: None,
        }
    }
}

impl Transport for SmtpTransport {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> BoxFuture<'a, Delivery> {
        self.send(message).boxed()
    }
}
