//! The email templates: plain text and HTML for each kind of email, from the files in
//! `templates/email/`, embedded at compile time and rendered with MiniJinja. HTML templates
//! (`.html`) escape every value; plain-text ones (`.txt`) do not. A value a template names
//! but the content does not give is an error, not an empty string.

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior, Value, context, value::Serde};
use serde::Serialize;

use crate::error::{AppError, AppResult};

/// Every template file, by the name templates use for it (`{% extends %}`).
const FILES: &[(&str, &str)] = &[
    (
        "_layout.html",
        include_str!("../../../templates/email/_layout.html"),
    ),
    (
        "booking_confirmation.txt",
        include_str!("../../../templates/email/booking_confirmation.txt"),
    ),
    (
        "booking_confirmation.html",
        include_str!("../../../templates/email/booking_confirmation.html"),
    ),
    (
        "certificate_ready.txt",
        include_str!("../../../templates/email/certificate_ready.txt"),
    ),
    (
        "certificate_ready.html",
        include_str!("../../../templates/email/certificate_ready.html"),
    ),
    (
        "renewal_reminder.txt",
        include_str!("../../../templates/email/renewal_reminder.txt"),
    ),
    (
        "renewal_reminder.html",
        include_str!("../../../templates/email/renewal_reminder.html"),
    ),
];

static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in FILES {
        env.add_template(name, source)?;
    }
    Ok(env)
});

/// An email's two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub html: String,
}

/// Renders `{template}.txt` and `{template}.html` with `content`, plus `portal_url` (a
/// checked http(s) address without quotes or angle brackets).
pub fn render(template: &str, content: &impl Serialize, portal_url: &str) -> AppResult<Rendered> {
    let failed = |e: &minijinja::Error| {
        AppError::internal(anyhow::anyhow!("rendering the {template} email: {e:#}"))
    };
    let env = TEMPLATES.as_ref().map_err(failed)?;
    // The portal's URL is configuration, checked at start (`config::public_url`), so it is
    // put in links as it is; everything else is escaped in HTML.
    let ctx = context! {
        portal_url => Value::from_safe_string(portal_url.to_string()),
        ..Value::from(Serde(content))
    };
    let body = |ext: &str| {
        env.get_template(&format!("{template}.{ext}"))
            .and_then(|t| t.render(ctx.clone()))
            .map_err(|e| failed(&e))
    };
    Ok(Rendered {
        text: body("txt")?,
        html: body("html")?,
    })
}
