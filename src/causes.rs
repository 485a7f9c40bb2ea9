//! An error in words with every cause after it: client errors (reqwest, lettre) say only
//! "error sending request" at the top, and the reason a person can act on is below.

/// `error: cause: cause's cause ...`.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
